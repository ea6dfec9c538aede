"""A throwaway PostgreSQL cluster for the test run: initdb into a temp folder, socket only, stopped at the end.

Debian's postgresql-15 keeps its programs off PATH (/usr/lib/postgresql/15/bin), and initdb refuses
to run as root, so as root the cluster runs as the package's `postgres` user.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path


def find_bin() -> Path | None:
    """The folder holding initdb/pg_ctl: PG_BIN, PATH, or Debian's versioned folders, newest first."""
    if os.environ.get("PG_BIN"):
        return Path(os.environ["PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(p.split("/")[4]), reverse=True)
    return Path(found[0]).parent if found else None


@dataclass
class Cluster:
    bin: Path
    root: Path
    user: str | None  # run the server as this user (when we are root)

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def _run(self, *args: str | Path) -> subprocess.CompletedProcess[str]:
        cmd = [str(a) for a in args]
        if self.user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)

    def start(self) -> None:
        data = self.root / "data"
        self.socket_dir.mkdir(parents=True)
        if self.user:
            entry = pwd.getpwnam(self.user)
            os.chown(self.root, entry.pw_uid, entry.pw_gid)
            os.chown(self.socket_dir, entry.pw_uid, entry.pw_gid)
        init = self._run(self.bin / "initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                         "--no-locale")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed: {init.stderr}")
        self.resume()

    def resume(self) -> None:
        """Start the server on the existing data folder."""
        options = (f"-k {self.socket_dir} -c listen_addresses='' -c fsync=off -c synchronous_commit=off "
                   "-c full_page_writes=off -c max_connections=200")
        started = self._run(self.bin / "pg_ctl", "-D", str(self.root / "data"), "-o", options, "-w", "-l",
                            str(self.root / "log"), "start")
        if started.returncode != 0:
            log = (self.root / "log").read_text() if (self.root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {started.stderr}{log}")

    def pause(self) -> None:
        """Stop the server, keeping its data: the database is unreachable until resume()."""
        stopped = self._run(self.bin / "pg_ctl", "-D", str(self.root / "data"), "-m", "fast", "-w", "stop")
        if stopped.returncode != 0:
            raise RuntimeError(f"pg_ctl stop failed: {stopped.stderr}")

    def stop(self) -> None:
        self._run(self.bin / "pg_ctl", "-D", str(self.root / "data"), "-m", "immediate", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.socket_dir}"


def start_cluster() -> Cluster | None:
    """Start a cluster, or return None when PostgreSQL is not installed here."""
    bin_dir = find_bin()
    if bin_dir is None:
        return None
    user = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="bot-pg-"))
    cluster = Cluster(bin_dir, root, user)
    cluster.start()
    return cluster
