"""python -m bot materials add|pack: the command line keeps a file and writes the zip, as the chat does."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.fakes.process import PROJECT, clean_env
from tests.materials_support import shifted_config


def run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", *args], cwd=PROJECT, env=env, text=True,
                          capture_output=True, timeout=60)


def test_add_then_pack(tmp_path: Path) -> None:
    env = clean_env(BOT_CONFIG=str(shifted_config(tmp_path)), BOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}",
                    BOT_MATERIALS_DIR=str(tmp_path / "materials"), BOT_WEB_LISTEN="off")
    report = tmp_path / "总结.docx"
    report.write_bytes(b"forestry summary")
    added = run(env, "materials", "add", "--as", "陈彬", "--kind", "总结报告", str(report))
    assert added.returncode == 0 and "已保存：市林业局-总结报告-" in added.stdout, added.stderr
    again = run(env, "materials", "add", "--as", "陈彬", "--kind", "summary", str(report))
    assert "未重复保存" in again.stdout
    refused = run(env, "materials", "add", "--as", "陈彬", "--kind", "summary", str(tmp_path / "bot.db"))
    assert refused.returncode == 1 and "不能接收" in refused.stderr
    assert run(env, "materials", "add", "--as", "陈彬", "--kind", "简历", str(report)).returncode == 2
    out = tmp_path / "pack.zip"
    packed = run(env, "materials", "pack", "--deadline", "final", "--out", str(out))
    assert packed.returncode == 0, packed.stderr
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    assert "清单.xlsx" in names and any(n.startswith("市林业局/市林业局-总结报告-") for n in names)
