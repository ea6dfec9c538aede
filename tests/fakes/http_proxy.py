"""A tiny forward HTTP proxy on 127.0.0.1: it records every request line and passes the request on.

Enough for plain-http targets (the fake WeCom): the client sends `GET http://host:port/path HTTP/1.1`, the
proxy forwards it directly (never through another proxy) and copies the answer back.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
_HOP_BY_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "te", "upgrade",
               "proxy-authorization", "host", "content-length"}


class FakeProxy:
    def __init__(self) -> None:
        self.requests: list[str] = []  # "GET http://127.0.0.1:1234/cgi-bin/gettoken?…"
        self.changed = threading.Condition()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                proxy._forward(self)

            def do_POST(self) -> None:
                proxy._forward(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, part: str, timeout: float = 15.0) -> str:
        with self.changed:
            found = self.changed.wait_for(lambda: next((r for r in self.requests if part in r), None), timeout)
        if not found:
            raise AssertionError(f"proxy: no request with {part!r} within {timeout} s; saw {self.requests}")
        return found

    def _forward(self, req: BaseHTTPRequestHandler) -> None:
        with self.changed:
            self.requests.append(f"{req.command} {req.path}")
            self.changed.notify_all()
        if not req.path.startswith("http://127.0.0.1:"):  # tests talk to 127.0.0.1 only
            req.send_error(403)
            return
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0)) or None
        headers = {k: v for k, v in req.headers.items() if k.lower() not in _HOP_BY_HOP}
        forwarded = urllib.request.Request(req.path, data=body, headers=headers, method=req.command)
        try:
            with _DIRECT.open(forwarded, timeout=30) as resp:
                status, answer, content_type = resp.status, resp.read(), resp.headers.get("Content-Type", "")
        except urllib.error.HTTPError as exc:
            status, answer, content_type = exc.code, exc.read(), exc.headers.get("Content-Type", "")
        req.send_response(status)
        req.send_header("Content-Type", content_type or "application/octet-stream")
        req.send_header("Content-Length", str(len(answer)))
        req.end_headers()
        req.wfile.write(answer)
