"""A fake Telegram Bot API server on 127.0.0.1 over HTTP, for end-to-end tests of the real bot process.

It speaks the Bot API's real JSON ({"ok": true, "result": …} / {"ok": false, "error_code": …}) for the
methods python-telegram-bot calls: getMe, getUpdates (long polling with offset confirmation), sendMessage,
sendDocument (multipart; the file bytes are kept), editMessageText, answerCallbackQuery, setMyCommands,
getMyCommands, deleteWebhook, setWebhook, getWebhookInfo. Requests come form-encoded (PTB's way: strings
raw, everything else JSON), multipart, or as JSON.

Tests push updates and wait on what the bot calls: every call is recorded, and waiting is on a condition
variable, never on sleeps. fail_next() makes the next call of a method fail (429 flood control, 5xx, 400).
"""

from __future__ import annotations

import contextlib
import email.parser
import email.policy
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote

# Form fields PTB sends as raw strings; every other field is JSON ("123", "true", "{…}").
STRING_FIELDS = frozenset({"text", "caption", "callback_query_id", "url", "secret_token", "parse_mode",
                           "inline_message_id", "language_code", "ip_address", "filename"})
BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "三明报数", "username": "sanming_test_bot",
            "can_join_groups": True, "can_read_all_group_messages": False, "supports_inline_queries": False}


@dataclass
class Call:
    """One request the bot made, decoded, with what the fake answered."""

    method: str
    params: dict[str, Any]
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    status: int = 200
    result: Any = None

    @property
    def chat_id(self) -> int | None:
        value = self.params.get("chat_id")
        return int(value) if isinstance(value, int | str) and str(value).lstrip("-").isdigit() else None

    @property
    def text(self) -> str:
        return str(self.params.get("text") or self.params.get("caption") or "")


class ApiError(Exception):
    def __init__(self, status: int, description: str, parameters: dict[str, Any] | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.parameters = status, description, parameters


class FakeBotApi:
    def __init__(self, token: str) -> None:
        self.token = token
        self.calls: list[Call] = []
        self.commands: dict[str, list[dict[str, str]]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}  # the bot's messages, by (chat, message id)
        self.files: dict[str, bytes] = {}  # files users sent, by file id (getFile, then a GET of its path)
        self.unsized: set[str] = set()  # file ids whose size neither the message nor getFile nor the download states
        self.slow_files: dict[str, threading.Event] = {}  # file ids whose download waits for the event
        self._cond = threading.Condition()
        self._pending: list[dict[str, Any]] = []  # updates not yet confirmed by an offset
        self._again: list[dict[str, Any]] = []  # delivered once more, as if the confirmation got lost
        self._redeliver: set[int] = set()
        # The highest getUpdates offset the bot sent: Telegram forgets every update below it, so these are
        # the updates the bot has acknowledged. A restarted bot gets everything from here on again.
        self.confirmed = 0
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, itertools.count[int]] = {}
        self._chats: dict[int, dict[str, Any]] = {}
        self._failures: dict[str, list[ApiError]] = {}
        self._closed = False
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # -- the test's side -------------------------------------------------------------------------------

    def start(self) -> str:
        """Serve on a free port; return the base URL for TELEGRAM_BASE_URL."""
        fake = self

        class Handler(_Handler):
            api = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        threading.Thread(target=self._server.serve_forever, name="fake-bot-api", daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/bot"
        return self.url

    def stop(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()  # release the long polls
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def push(self, update: dict[str, Any], *, twice: bool = False) -> int:
        """Queue an update (its update_id is set here); twice: deliver it again after the bot took it."""
        with self._cond:
            update_id = next(self._update_ids)
            update = {"update_id": update_id, **update}
            for part in ("message", "edited_message", "callback_query"):
                body = update.get(part) or {}
                chat = body.get("chat") or (body.get("message") or {}).get("chat")
                if chat:
                    self._chats.setdefault(chat["id"], chat)
            self._pending.append(update)
            if twice:
                self._redeliver.add(update_id)
            self._cond.notify_all()
        return update_id

    def next_message_id(self, chat_id: int) -> int:
        """Message ids count per chat, shared by the user's and the bot's messages, as in Telegram."""
        with self._cond:
            return next(self._message_ids.setdefault(chat_id, itertools.count(1)))

    def fail_next(self, method: str, status: int, description: str, retry_after: int | None = None) -> None:
        parameters = {"retry_after": retry_after} if retry_after is not None else None
        with self._cond:
            self._failures.setdefault(method, []).append(ApiError(status, description, parameters))

    def mark(self) -> int:
        with self._cond:
            return len(self.calls)

    def since(self, mark: int) -> list[Call]:
        with self._cond:
            return self.calls[mark:]

    def wait_confirmed(self, offset: int, timeout: float = 15) -> None:
        """Wait until the bot has acknowledged every update below `offset` (sent it as getUpdates offset)."""
        self.wait_until(lambda: self.confirmed >= offset, timeout, f"the bot to confirm offset {offset}")

    def wait_until(self, condition: Callable[[], bool], timeout: float = 15, what: str = "a condition") -> None:
        """Wait until condition() holds; it is checked again after each recorded call and confirmation."""
        with self._cond:
            if not self._cond.wait_for(condition, timeout):
                raise AssertionError(f"waited {timeout} s for {what}; confirmed offset {self.confirmed}, "
                                     f"{len(self.calls)} calls")

    def wait_for(self, predicate: Callable[[Call], bool], since: int = 0, timeout: float = 15) -> Call:
        """The first call from `since` on that matches; waits for it to come."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self.calls[since:]:
                    if predicate(call):
                        return call
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = "\n".join(f"  {c.method} {c.params}" for c in self.calls[since:])
                    raise AssertionError(f"no matching call within {timeout} s; calls since {since}:\n{seen}")
                self._cond.wait(left)

    # -- the Bot API side ------------------------------------------------------------------------------

    def call(self, method: str, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> tuple[int, Any]:
        record = Call(method, params, files)
        try:
            with self._cond:
                failures = self._failures.get(method)
                failure = failures.pop(0) if failures else None
            if failure is not None:
                raise failure
            handler = getattr(self, "api_" + method.lower(), None)
            if handler is None:
                raise ApiError(404, "Not Found")
            record.result = handler(params, files)
            body: dict[str, Any] = {"ok": True, "result": record.result}
        except ApiError as exc:
            record.status = exc.status
            body = {"ok": False, "error_code": exc.status, "description": exc.description}
            if exc.parameters:
                body["parameters"] = exc.parameters
        if method != "getUpdates" or record.result:  # empty polls would only bury the interesting calls
            with self._cond:
                self.calls.append(record)
                self._cond.notify_all()
        return record.status, body

    def api_getfile(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        file_id = str(params["file_id"])
        if file_id not in self.files:
            raise ApiError(400, "Bad Request: invalid file_id")
        if file_id in self.unsized:  # Telegram may leave file_size out
            return {"file_id": file_id, "file_unique_id": file_id, "file_path": f"documents/{file_id}"}
        return {"file_id": file_id, "file_unique_id": file_id, "file_size": len(self.files[file_id]),
                "file_path": f"documents/{file_id}"}

    def api_getme(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return BOT_USER

    def api_getupdates(self, params: dict[str, Any], files: Any) -> list[dict[str, Any]]:
        offset, limit = params.get("offset"), int(params.get("limit") or 100)
        deadline = time.monotonic() + min(float(params.get("timeout") or 0), 60)
        with self._cond:
            while True:
                if offset is not None:  # an offset confirms every update below it
                    if int(offset) > self.confirmed:
                        self.confirmed = int(offset)
                        self._cond.notify_all()  # wake wait_confirmed()
                    self._pending = [u for u in self._pending if u["update_id"] >= int(offset)]
                ready = (self._again + self._pending)[:limit]
                left = deadline - time.monotonic()
                if ready or self._closed or left <= 0:
                    break
                self._cond.wait(left)
            self._again = [u for u in self._again if u not in ready]
            for update in ready:
                if update["update_id"] in self._redeliver:
                    self._redeliver.discard(update["update_id"])
                    self._again.append(update)
            return ready

    def api_sendmessage(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        message = self._new_message(params, text=params["text"])
        markup = params.get("reply_markup")
        if isinstance(markup, dict) and "inline_keyboard" in markup:  # only inline keyboards are echoed
            message["reply_markup"] = markup
        return message

    def api_senddocument(self, params: dict[str, Any], files: dict[str, tuple[str, bytes]]) -> dict[str, Any]:
        if "document" not in files:
            raise ApiError(400, "Bad Request: there is no document in the request")
        name, data = files["document"]
        message = self._new_message(params, document={
            "file_id": f"doc{len(self.messages)}", "file_unique_id": f"u{len(self.messages)}", "file_name": name,
            "mime_type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "file_size": len(data),
        })
        if params.get("caption"):
            message["caption"] = params["caption"]
        return message

    def api_editmessagetext(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        key = (int(params["chat_id"]), int(params["message_id"]))
        with self._cond:
            message = self.messages.get(key)
            if message is None:
                raise ApiError(400, "Bad Request: message to edit not found")
            markup = params.get("reply_markup")
            if message.get("text") == params["text"] and message.get("reply_markup") == markup:
                raise ApiError(400, "Bad Request: message is not modified: specified new message content and "
                                    "reply markup are exactly the same as a current content and reply markup")
            message["text"] = params["text"]
            message["edit_date"] = int(time.time())
            message.pop("reply_markup", None)
            if markup:
                message["reply_markup"] = markup
            return dict(message)

    def api_answercallbackquery(self, params: dict[str, Any], files: Any) -> bool:
        return True

    def api_setmycommands(self, params: dict[str, Any], files: Any) -> bool:
        scope = params.get("scope") or {"type": "default"}
        self.commands[scope["type"]] = params["commands"]
        return True

    def api_getmycommands(self, params: dict[str, Any], files: Any) -> list[dict[str, str]]:
        return self.commands.get((params.get("scope") or {"type": "default"})["type"], [])

    def api_deletewebhook(self, params: dict[str, Any], files: Any) -> bool:
        self.webhook = {"url": ""}
        return True

    def api_setwebhook(self, params: dict[str, Any], files: Any) -> bool:
        self.webhook = dict(params)
        return True

    def api_getwebhookinfo(self, params: dict[str, Any], files: Any) -> dict[str, Any]:
        return {"url": self.webhook.get("url", ""), "has_custom_certificate": False, "pending_update_count": 0}

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat_id = int(params["chat_id"])
        with self._cond:
            chat = self._chats.setdefault(chat_id, {"id": chat_id, "type": "private", "first_name": "用户"}
                                          if chat_id > 0 else {"id": chat_id, "type": "group", "title": "群"})
            message = {"message_id": next(self._message_ids.setdefault(chat_id, itertools.count(1))),
                       "from": BOT_USER, "chat": chat, "date": int(time.time()), **content}
            self.messages[(chat_id, message["message_id"])] = message
            return dict(message)


class _Handler(BaseHTTPRequestHandler):
    api: FakeBotApi
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects

    def do_POST(self) -> None:
        self._serve(self.rfile.read(int(self.headers.get("Content-Length") or 0)))

    def do_GET(self) -> None:
        file_prefix = f"/file/bot{self.api.token}/documents/"
        if unquote(self.path).startswith(file_prefix):  # httpx sends the token's ":" as %3A here
            self.path = unquote(self.path)  # a file download, as from the Bot API's file server
            file_id = self.path[len(file_prefix):]
            data = self.api.files.get(file_id)
            gate = self.api.slow_files.get(file_id)
            if gate is not None:
                gate.wait(30)  # a slow download: the test lets it finish
            self.send_response(200 if data is not None else 404)
            if file_id not in self.api.unsized:  # else the body simply ends when the connection closes
                self.send_header("Content-Length", str(len(data or b"")))
            self.end_headers()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the bot stopped reading: too big
                self.wfile.write(data or b"")
            return
        query = self.path.partition("?")[2]
        self.path = self.path.partition("?")[0]
        self._serve(query.encode(), "application/x-www-form-urlencoded")

    def _serve(self, body: bytes, content_type: str | None = None) -> None:
        prefix = f"/bot{self.api.token}/"
        if not self.path.startswith(prefix):
            status, answer = 401, {"ok": False, "error_code": 401, "description": f"Unauthorized: {self.path}"}
        else:
            params, files = decode(content_type or self.headers.get("Content-Type") or "", body)
            status, answer = self.api.call(self.path[len(prefix):], params, files)
        data = json.dumps(answer, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):  # the bot stopped during a long poll
            self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the tests read the recorded calls instead


def decode(content_type: str, body: bytes) -> tuple[dict[str, Any], dict[str, tuple[str, bytes]]]:
    """The request's parameters and files, however PTB (or anyone) encoded them."""
    if content_type.startswith("application/json"):
        return (json.loads(body) if body else {}), {}
    files: dict[str, tuple[str, bytes]] = {}
    fields: list[tuple[str, str]] = []
    if content_type.startswith("multipart/form-data"):
        parsed = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(
            f"Content-Type: {content_type}\r\n\r\n".encode() + body
        )
        for part in parsed.iter_parts():
            name = str(part.get_param("name", header="content-disposition"))
            payload = part.get_payload(decode=True)
            data = payload if isinstance(payload, bytes) else b""
            if part.get_filename() is not None:
                files[name] = (str(part.get_filename()), data)
            else:
                fields.append((name, data.decode()))
    else:
        fields = parse_qsl(body.decode(), keep_blank_values=True)
    params: dict[str, Any] = {}
    for name, value in fields:
        if name in STRING_FIELDS:
            params[name] = value
            continue
        try:
            params[name] = json.loads(value)
        except ValueError:
            params[name] = value
    return params, files
