"""A fake WeCom on 127.0.0.1: its server API (the bot's calls land here) and its callback sender.

FakeWeComApi answers /cgi-bin/gettoken, /cgi-bin/message/send and /cgi-bin/media/upload the way WeCom
does, records every call, and lets a test wait for calls (a condition variable, no sleeps), expire the
current token, or hold message/send answers back. WeComSender encrypts and signs callbacks with
wechatpy's crypto and posts them to the bot, as WeCom would.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TypeVar

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

T = TypeVar("T")
# Straight to 127.0.0.1, whatever HTTP_PROXY the machine has.
_DIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}))
CORP_ID = "ww0123456789abcdef"
AGENT_ID = 1000002
SECRET = "fake-corp-secret"
TOKEN = "FakeCallbackToken42"
AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"  # 43 characters, as WeCom generates


@dataclass
class ApiCall:
    path: str  # "gettoken", "message/send", "media/upload"
    query: dict[str, str]
    body: dict[str, Any] = field(default_factory=dict)  # the JSON of message/send
    errcode: int = 0  # what the fake answered
    filename: str = ""  # media/upload
    data: bytes = field(default=b"", repr=False)
    media_id: str = ""

    @property
    def token(self) -> str:
        return self.query.get("access_token", "")

    @property
    def touser(self) -> str:
        return str(self.body.get("touser", ""))

    @property
    def text(self) -> str:
        return str(self.body.get("text", {}).get("content", ""))


class FakeWeComApi:
    """WeCom's server API in a thread. Use as a context manager; base_url is what the bot calls."""

    def __init__(self, corp_id: str = CORP_ID, secret: str = SECRET, *, blocked_ip: str = "",
                 mobiles: dict[str, str] | None = None) -> None:
        self.corp_id, self.secret = corp_id, secret
        self.blocked_ip = blocked_ip  # set: gettoken answers 60020, as for a server outside 企业可信IP
        self.mobiles = dict(mobiles or {})  # mobile -> userid, for user/getuserid
        self.media: dict[str, bytes] = {}  # media_id -> bytes, for media/get
        self.used_codes: set[str] = set()
        self.calls: list[ApiCall] = []
        self.changed = threading.Condition()
        self.release = threading.Event()  # cleared by hold_sends(): message/send waits until set
        self.release.set()
        self._tokens = itertools.count(1)
        self._media = itertools.count(1)
        self.token = ""
        self.expired: set[str] = set()
        # Scripted answers for the next message/send calls, one per call: "-1" (system busy), "45009",
        # "81013" (outside the visible range), "500" (HTTP 500) or "hang" (no answer for hang_seconds, then
        # the connection closes: nothing delivered). refuse: userids always answered 81013.
        self.faults: deque[str] = deque()
        self.fault_user = ""  # when set, only message/send calls to this member take the scripted faults
        self.refuse: set[str] = set()
        self.hang_seconds = 5.0
        self.dropped = threading.Event()  # set (and release consulted) by hold_and_drop()
        self.held = 0  # message/send calls waiting for release right now
        self.oauth_codes: dict[str, str] = {}  # OAuth code -> userid, each answered once
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._handle(self)

            def do_POST(self) -> None:
                fake._handle(self)

            def log_message(self, format: str, *args: Any) -> None:  # quiet test output
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeWeComApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    # -- what tests use -------------------------------------------------------------------------------

    def expire_token(self) -> str:
        """Expire the current token: WeCom answers 42001 to it, and gettoken issues a new one."""
        with self.changed:
            old = self.token
            self.expired.add(old)
            return old

    def hold_sends(self) -> None:
        """Keep message/send answers back until release.set(): the bot is then busy with its reply."""
        self.release.clear()

    def fail_next(self, *faults: str, touser: str = "") -> None:
        """Answer the next message/send calls with these faults, in order (see self.faults); with touser, only
        the calls to that member (a notice the bot sends an admin meanwhile must not take the fault)."""
        with self.changed:
            self.faults.extend(faults)
            self.fault_user = touser

    def hold_and_drop(self) -> None:
        """Keep message/send answers back until release.set(), then answer them -1: nothing held is delivered
        (as when the bot is killed while WeCom has not taken the message yet)."""
        self.dropped.set()
        self.release.clear()

    def wait_held(self, timeout: float = 15.0) -> None:
        """Wait until a message/send call is being held back (the bot is in the middle of a send)."""
        with self.changed:
            if not self.changed.wait_for(lambda: self.held > 0, timeout):
                raise AssertionError(f"WeCom API: no send held within {timeout} s")

    def wait_for(self, found: Callable[[list[ApiCall]], T | None], timeout: float = 15.0) -> T:
        """Wait until found(calls) is truthy and return it; fail after timeout seconds."""
        with self.changed:
            result = self.changed.wait_for(lambda: found(list(self.calls)), timeout)
            if not result:
                raise AssertionError(f"WeCom API: not seen within {timeout} s; calls: {self.calls}")
            return result

    def sent(self, userid: str) -> list[ApiCall]:
        """The message/send calls to one member that WeCom accepted, in order."""
        with self.changed:
            return [c for c in self.calls if c.path == "message/send" and c.touser == userid and c.errcode == 0]

    def wait_sent(self, userid: str, contains: str, after: int = 0, timeout: float = 15.0) -> ApiCall:
        """Wait for an accepted text message to `userid` containing `contains`, skipping the first `after`."""

        def found(calls: list[ApiCall]) -> ApiCall | None:
            sent = [c for c in calls if c.path == "message/send" and c.errcode == 0 and c.touser == userid]
            return next((c for c in sent[after:] if contains in c.text), None)

        return self.wait_for(found, timeout)

    # -- the fake server ------------------------------------------------------------------------------

    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        url = urllib.parse.urlsplit(req.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        body = req.rfile.read(int(req.headers.get("Content-Length") or 0))
        path = url.path.removeprefix("/cgi-bin/")
        call = ApiCall(path, query)
        if path == "gettoken":
            answer = self._gettoken(call)
        elif path == "message/send":
            held = not self.release.is_set()
            drop = held and self.dropped.is_set()  # decided now: the test may clear it right after releasing
            if held:
                with self.changed:
                    self.held += 1
                    self.changed.notify_all()
            self.release.wait(30)
            if held:
                with self.changed:
                    self.held -= 1
            call.body = json.loads(body)
            with self.changed:
                mine = not self.fault_user or call.touser == self.fault_user
                fault = self.faults.popleft() if self.faults and mine else ""
                if call.touser in self.refuse:
                    fault = "81013"
                if drop:
                    fault = "-1"
            if fault in ("500", "hang"):
                if fault == "hang":
                    threading.Event().wait(self.hang_seconds)  # the bot's timeout is shorter: it gives up
                call.errcode = -500 if fault == "500" else -999
                with self.changed:
                    self.calls.append(call)
                    self.changed.notify_all()
                if fault == "500":
                    req.send_error(500)
                return
            answer = (self._check_token(call) or
                      ({"errcode": int(fault), "errmsg": "scripted fault"} if fault else
                       {"errcode": 0, "errmsg": "ok", "invaliduser": ""}))
        elif path == "media/upload":
            answer = self._check_token(call) or self._upload(call, req.headers.get("Content-Type", ""), body)
        elif path in ("agent/get", "menu/create", "message/update_template_card", "user/getuserid"):
            call.body = json.loads(body) if body else {}
            answer = self._check_token(call) or self._extra(call)
        elif path == "media/get":
            answer = self._check_token(call) or {"errcode": 40007, "errmsg": "invalid media_id"}
            if answer["errcode"] == 40007 and call.query.get("media_id") in self.media:
                self._record(call)
                self._reply(req, self.media[call.query["media_id"]], "image/jpeg")
                return
        elif path == "auth/getuserinfo":  # OAuth 网页授权: a code the test handed out -> that member's userid
            userid = self.oauth_codes.pop(query.get("code", ""), None)
            answer = self._check_token(call) or ({"errcode": 0, "errmsg": "ok", "userid": userid} if userid else
                                                 {"errcode": 40029, "errmsg": "invalid code"})
        else:
            req.send_error(404)
            return
        call.errcode = int(answer["errcode"])
        self._record(call)
        self._reply(req, json.dumps(answer).encode(), "application/json; charset=utf-8")

    def _record(self, call: ApiCall) -> None:
        with self.changed:
            self.calls.append(call)
            self.changed.notify_all()

    @staticmethod
    def _reply(req: BaseHTTPRequestHandler, data: bytes, content_type: str) -> None:
        req.send_response(200)
        req.send_header("Content-Type", content_type)
        req.send_header("Content-Length", str(len(data)))
        req.end_headers()
        req.wfile.write(data)

    def _extra(self, call: ApiCall) -> dict[str, Any]:
        """agent/get, menu/create, update_template_card and user/getuserid, as WeCom answers them."""
        if call.path == "agent/get":
            return {"errcode": 0, "errmsg": "ok", "agentid": int(call.query.get("agentid", 0)), "name": "报数助手"}
        if call.path == "user/getuserid":
            userid = self.mobiles.get(str(call.body.get("mobile", "")))
            return {"errcode": 0, "errmsg": "ok", "userid": userid} if userid else {
                "errcode": 46004, "errmsg": "user not exist"}
        if call.path == "message/update_template_card":
            code = str(call.body.get("response_code", ""))
            if code in self.used_codes:
                return {"errcode": 40072, "errmsg": "response_code already used"}  # once per press (W-94945)
            self.used_codes.add(code)
        return {"errcode": 0, "errmsg": "ok"}

    def _gettoken(self, call: ApiCall) -> dict[str, Any]:
        if self.blocked_ip:  # an app created after 2022-06-20 without this server's IP in 企业可信IP
            return {"errcode": 60020, "errmsg": f"not allow to access from your ip, from ip: {self.blocked_ip}"}
        if call.query.get("corpid") != self.corp_id or call.query.get("corpsecret") != self.secret:
            return {"errcode": 40001, "errmsg": "invalid credential"}
        with self.changed:
            if not self.token or self.token in self.expired:
                self.token = f"token-{next(self._tokens)}"
            return {"errcode": 0, "errmsg": "ok", "access_token": self.token, "expires_in": 7200}

    def _check_token(self, call: ApiCall) -> dict[str, Any] | None:
        with self.changed:
            if call.token in self.expired:
                return {"errcode": 42001, "errmsg": "access_token expired"}
            if not call.token or call.token != self.token:
                return {"errcode": 40014, "errmsg": "invalid access_token"}
        return None

    def _upload(self, call: ApiCall, content_type: str, body: bytes) -> dict[str, Any]:
        if call.query.get("type") != "file" or "boundary=" not in content_type:
            return {"errcode": 40004, "errmsg": "invalid media type"}
        boundary = content_type.split("boundary=", 1)[1].strip('"').encode()
        for part in body.split(b"--" + boundary):
            head, _, data = part.partition(b"\r\n\r\n")
            if b'name="media"' not in head:
                continue
            # WeCom reads the filename as raw UTF-8 between the quotes.
            call.filename = head.split(b'filename="', 1)[1].split(b'"', 1)[0].decode()
            call.data = data.removesuffix(b"\r\n")
            call.media_id = f"media-{next(self._media)}"
            return {"errcode": 0, "errmsg": "ok", "type": "file", "media_id": call.media_id, "created_at": "1"}
        return {"errcode": 41001, "errmsg": "media data missing"}


class WeComSender:
    """Posts callbacks to the bot as WeCom does: AES-encrypted XML, signed with the callback token."""

    def __init__(self, callback_url: str, token: str = TOKEN, aes_key: str = AES_KEY, corp_id: str = CORP_ID) -> None:
        self.url = callback_url
        self.token, self.corp_id = token, corp_id
        self.crypto = WeChatCrypto(token, aes_key, corp_id)
        self.aes_key = aes_key
        self._ids = itertools.count(7_300_000_000_000_000_001)

    def new_msg_id(self) -> int:
        return next(self._ids)

    def sign(self, timestamp: str, nonce: str, encrypted: str) -> str:
        return hashlib.sha1("".join(sorted([self.token, timestamp, nonce, encrypted])).encode()).hexdigest()

    def verify_url(self, echo: str, forged: bool = False) -> tuple[int, str]:
        """WeCom's GET when an admin saves the callback URL."""
        encrypted = PrpCrypto(self.crypto.key).encrypt(echo, self.corp_id).decode()
        timestamp, nonce = "1692064800", "verify"
        signature = "0" * 40 if forged else self.sign(timestamp, nonce, encrypted)
        query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce,
                                        "echostr": encrypted})
        return self._open(urllib.request.Request(f"{self.url}?{query}"))

    def text(self, userid: str, content: str, msg_id: int | None = None, *, forged: bool = False,
             aes_key: str | None = None) -> tuple[int, str]:
        mid = self.new_msg_id() if msg_id is None else msg_id
        xml = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><FromUserName><![CDATA[{userid}]]>"
               f"</FromUserName><CreateTime>1692064800</CreateTime><MsgType><![CDATA[text]]></MsgType>"
               f"<Content><![CDATA[{content}]]></Content><MsgId>{mid}</MsgId><AgentID>{AGENT_ID}</AgentID></xml>")
        return self.post(xml, forged=forged, aes_key=aes_key)

    def post(self, xml: str, *, forged: bool = False, aes_key: str | None = None) -> tuple[int, str]:
        """Encrypt, sign and post one callback; return the HTTP status and body."""
        crypto = self.crypto if aes_key is None else WeChatCrypto(self.token, aes_key, self.corp_id)
        timestamp, nonce = "1692064800", "n" + str(self.new_msg_id())[-8:]
        sealed = crypto.encrypt_message(xml, nonce, timestamp)
        encrypted = sealed.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        signature = "f" * 40 if forged else self.sign(timestamp, nonce, encrypted)
        body = (f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
                f"<AgentID><![CDATA[{AGENT_ID}]]></AgentID></xml>").encode()
        query = urllib.parse.urlencode({"msg_signature": signature, "timestamp": timestamp, "nonce": nonce})
        return self._open(urllib.request.Request(f"{self.url}?{query}", data=body, method="POST"))

    @staticmethod
    def _open(request: urllib.request.Request) -> tuple[int, str]:
        try:
            with _DIRECT.open(request, timeout=10) as resp:
                return resp.status, resp.read().decode()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read().decode()
