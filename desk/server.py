"""The desk's aiohttp server: sign-in by link, then 进度 / 统计表 / 材料 pages, downloads and uploads.

Every page calls the store and handler functions the chat uses; the database work runs in a worker thread.
Who sees what is the chat's one rule (campaign.scopes.viewer_scope): 网监科 admins the city (its departments and a
line per county), a county admin its county, a city department its system, a county unit its own rows; the xlsx
is store.statistics.build_export of that scope, the chat's 导出.
No session, no data: without a valid session cookie every page answers with the sign-in page.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import tempfile
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from bot.app import App
from bot.transport import Transport
from campaign import Department
from campaign.materials import split_listen, web_settings
from campaign.scopes import Scope
from desk import data
from desk.chart import progress_svg
from handlers import materials as chat_materials
from store import checklist, desk_auth, materials
from store.desk_auth import Signed
from store.material_pack import build_pack
from store.statistics import build_export

log = logging.getLogger(__name__)
COOKIE = "desk_session"
TEMPLATES = Path(__file__).resolve().parent / "templates"
WHO: web.AppKey[App] = web.AppKey("app", App)


def _env() -> Environment:
    return Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(default=True))


ENV = _env()


def render(name: str, status: int = 200, **context: Any) -> web.Response:
    html = ENV.get_template(name).render(**context)
    return web.Response(text=html, content_type="text/html", charset="utf-8", status=status,
                        headers={"Cache-Control": "no-store", "X-Frame-Options": "DENY",
                                 "Referrer-Policy": "no-referrer"})


class Desk:
    def __init__(self, app: App) -> None:
        self.app = app
        self.runner: web.AppRunner | None = None
        self.port = 0

    @property
    def campaign(self) -> Any:
        return self.app.campaign

    def web_app(self) -> web.Application:
        biggest = max(c.max_bytes for c in self.app.campaign.storage.classes)
        application = web.Application(client_max_size=biggest + 1024 * 1024)
        application.add_routes([
            web.get("/", self.home),
            web.get("/login/{token}", self.login_page),
            web.post("/login/{token}", self.login),
            web.post("/logout", self.logout),
            web.get("/progress", self.progress),
            web.post("/remind", self.remind),
            web.get("/chart.svg", self.chart),
            web.get("/table", self.table),
            web.get("/table.xlsx", self.table_xlsx),
            web.get("/materials", self.materials_page),
            web.get("/materials.zip", self.materials_zip),
            web.get("/file/{id}", self.file),
            web.post("/upload", self.upload),
        ])
        from desk.oauth import WeComOAuth

        application.add_routes(WeComOAuth(self.app).routes())
        from desk.oauth_dingtalk import DingTalkOAuth

        application.add_routes(DingTalkOAuth(self.app).routes())
        return application

    async def start(self) -> None:
        settings = web_settings(self.app.campaign.web)
        if settings.listen == "off":
            return
        address = split_listen(settings.listen)
        assert address is not None  # checked when the config was read
        self.runner = web.AppRunner(self.web_app(), access_log=None)
        await self.runner.setup()
        site = web.TCPSite(self.runner, address[0], address[1])
        try:
            await site.start()
        except OSError as exc:  # the port is taken (a second instance on one machine): the chat still works
            log.error("desk: cannot listen on %s (%s); the web pages are off", settings.listen, exc)
            await self.runner.cleanup()
            self.runner = None
            return
        server = site._server  # the only way to learn the port when listening on :0
        sockets = getattr(server, "sockets", None) or []
        self.port = sockets[0].getsockname()[1] if sockets else address[1]
        log.info("desk: http://%s:%d", address[0], self.port)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # -- sessions ------------------------------------------------------------------------------------

    async def who(self, request: web.Request) -> Signed | None:
        sid = request.cookies.get(COOKIE, "")
        if not sid:
            return None
        return await asyncio.to_thread(self._signed, sid)

    def _signed(self, sid: str) -> Signed | None:
        with self.app.db.session() as s:
            return desk_auth.signed_in(s, sid, self.app.now())

    def sign_in_page(self, status: int = 200, note: str = "") -> web.Response:
        return render("signin.html", status, note=note, title=self.app.campaign.title)

    async def home(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        overseer = who.person.is_admin or who.person.is_county_admin
        raise web.HTTPSeeOther("/progress" if overseer else "/materials")

    async def login_page(self, request: web.Request) -> web.Response:
        # A GET spends nothing: chat apps fetch links for their previews. The button below posts.
        return render("login.html", token=request.match_info["token"], title=self.app.campaign.title)

    async def login(self, request: web.Request) -> web.StreamResponse:
        token = request.match_info["token"]
        opened = await asyncio.to_thread(self._redeem, token)
        if opened is None:
            return self.sign_in_page(403, "这个链接已失效（超过15分钟或已经用过）。请在聊天里重新发“看板”或“上传”。")
        response = web.HTTPSeeOther("/")
        secure = request.secure or request.headers.get("X-Forwarded-Proto", "") == "https" or \
            web_settings(self.app.campaign.web).public_url.startswith("https://")
        response.set_cookie(COOKIE, opened[0], httponly=True, samesite="Lax", secure=secure, path="/",
                            max_age=int(desk_auth.SESSION_TTL.total_seconds()))
        raise response

    def _redeem(self, token: str) -> tuple[str, str] | None:
        with self.app.db.session() as s:
            return desk_auth.redeem_link(s, token, self.app.now())

    async def logout(self, request: web.Request) -> web.StreamResponse:
        sid = request.cookies.get(COOKIE, "")
        if sid:
            await asyncio.to_thread(self._sign_out, sid)
        response = web.HTTPSeeOther("/")
        response.del_cookie(COOKIE, path="/")
        raise response

    def _sign_out(self, sid: str) -> None:
        with self.app.db.session() as s:
            desk_auth.sign_out(s, sid)

    async def _form(self, request: web.Request, who: Signed) -> dict[str, Any]:
        form = dict(await request.post())
        if form.get("csrf") != who.csrf:
            raise web.HTTPForbidden(text="表单已过期，请返回刷新页面后再试。")
        return form

    def page(self, name: str, who: Signed, **context: Any) -> web.Response:
        return render(name, who=who.person, csrf=who.csrf, admin=who.person.is_admin,
                      overseer=who.person.is_admin or who.person.is_county_admin,
                      own=self.app.campaign.department(who.person.department), title=self.app.campaign.title,
                      **context)

    # -- pages ---------------------------------------------------------------------------------------

    def _own(self, who: Signed) -> Scope:
        """What the viewer may see: the chat's one rule (campaign.scopes.viewer_scope)."""
        return data.own_scope(self.app.campaign, who.person)

    async def progress(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        shown = await asyncio.to_thread(data.progress, self.app.db, self.app.campaign, self.app.now(),
                                        self._own(who))
        note = request.query.get("note", "")
        return self.page("progress.html", who, progress=shown, note=note)

    async def remind(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        await self._form(request, who)
        if not (who.person.is_admin or who.person.is_county_admin):  # the chat's 催报: admins and county admins
            raise web.HTTPForbidden(text="只有管理员可以催报。")
        among = None if who.person.is_admin else set(self._own(who).members)
        sent, unreachable = await asyncio.to_thread(
            chat_materials.remind_missing, self.app.db, self.app.campaign, self.app.now(), self.app.core.transports,
            among)
        note = f"已催报 {sent} 人" + (f"；收不到：{'、'.join(unreachable)}" if unreachable else "")
        raise web.HTTPSeeOther(f"/progress?note={quote(note)}")

    async def chart(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            raise web.HTTPForbidden(text="请先登录。")
        scope = self._own(who)
        shown = await asyncio.to_thread(data.progress, self.app.db, self.app.campaign, self.app.now(), scope)
        groups = await asyncio.to_thread(data.group_totals, self.app.db, self.app.campaign, scope)
        title = "报数和材料进度" if scope.kind == "city" else f"{scope.label}报数和材料进度"
        svg = progress_svg(title, shown, groups)
        return web.Response(text=svg, content_type="image/svg+xml", headers={"Cache-Control": "no-store"})

    def _scope(self, who: Signed, wanted: str) -> Scope:
        """The scope a table is about: the viewer's own, or one they asked for within it (admins: any)."""
        own = self._own(who)
        found = data.choose_scope(self.app.campaign, own, wanted, who.person.department)
        if found is None:
            raise web.HTTPNotFound(text=f"没有这个单位，或不在{own.label}的范围内。")
        return found

    def _unit(self, who: Signed, wanted: str) -> Department:
        """The unit a materials page is about: admins the one asked for; a county admin one of the county's units;
        members (and anything outside the viewer's scope) their own."""
        campaign = self.app.campaign
        own = campaign.department(who.person.department)
        if not wanted or not (who.person.is_admin or who.person.is_county_admin):
            return own
        if who.person.is_admin:
            found = campaign.find_department(wanted)
            if found is None:
                raise web.HTTPNotFound(text="没有这个单位。")
            return found
        return campaign.department(wanted) if wanted in self._own(who).members else own

    def _may_see_unit(self, who: Signed, department: str) -> bool:
        """Materials: admins every unit's, a county admin its county's, a member its own."""
        if who.person.is_admin:
            return True
        if who.person.is_county_admin:
            return department in self._own(who).members
        return department == who.person.department

    def _as_of(self, request: web.Request) -> dt.date:
        text = request.query.get("as_of", "")
        try:
            return dt.date.fromisoformat(text) if text else data.today(self.app.campaign, self.app.now())
        except ValueError:
            raise web.HTTPBadRequest(text="日期格式应为 2023-08-20。") from None

    async def table(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        scope = self._scope(who, request.query.get("dep", ""))
        as_of = self._as_of(request)
        groups = await asyncio.to_thread(data.table_rows, self.app.db, self.app.campaign, scope, as_of)
        return self.page("table.html", who, scope=scope, value=data.scope_value(scope), as_of=as_of, groups=groups,
                         choices=data.scope_choices(self.app.campaign, self._own(who)))

    async def table_xlsx(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        scope = self._scope(who, request.query.get("dep", ""))
        if not scope.groups:
            raise web.HTTPNotFound(text="这个单位在统计表中没有项目。")
        # The chat's 导出 of the same scope: one builder, the same workbook.
        built = await asyncio.to_thread(build_export, self.app.db, self.app.campaign, scope, self._as_of(request))
        return web.Response(body=built.data, headers=_download(built.filename, "application/vnd.openxmlformats-"
                                                                              "officedocument.spreadsheetml.sheet"))

    async def materials_page(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        dep = self._unit(who, request.query.get("dep", ""))
        deadline = checklist.next_deadline(self.app.campaign, dep, data.today(self.app.campaign, self.app.now()))
        lines: list[checklist.Line] = []
        kept: list[materials.MaterialFile] = []
        if deadline is not None:
            lines, kept = await asyncio.to_thread(self._materials_of, deadline.collection, dep)
        campaign = self.app.campaign
        units = campaign.departments if who.person.is_admin else tuple(
            campaign.department(k) for k in self._own(who).members) if who.person.is_county_admin else ()
        return self.page("materials.html", who, dep=dep, deadline=deadline, lines=lines, files=kept,
                         note=request.query.get("note", ""), kinds=chat_materials.BUTTONS, departments=units,
                         upload=dep.key == who.person.department)

    def _materials_of(self, collection: str, dep: Department) -> tuple[list[checklist.Line],
                                                                       list[materials.MaterialFile]]:
        with self.app.db.read() as s:
            return (materials.lines_for(s, self.app.campaign, collection, dep),
                    materials.files(s, collection, dep.key))

    async def materials_zip(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None or not who.person.is_admin:
            raise web.HTTPForbidden(text="只有管理员可以下载材料包。")
        campaign = self.app.campaign
        wanted = request.query.get("deadline", "")
        today = data.today(campaign, self.app.now())
        deadline = checklist.find_deadline(campaign, wanted) if wanted else checklist.next_deadline(
            campaign, campaign.department(campaign.coordinator), today)
        if deadline is None:
            raise web.HTTPNotFound(text="没有这个期限。")
        with tempfile.TemporaryDirectory(prefix="desk-pack-") as folder:
            built = await asyncio.to_thread(build_pack, self.app.db, campaign, deadline, Path(folder) / "pack.zip",
                                            today)
            response = web.StreamResponse(headers=_download(built.filename, "application/zip"))
            response.content_length = built.path.stat().st_size
            await response.prepare(request)
            with built.path.open("rb") as stream:  # sent in pieces, never read whole
                while chunk := stream.read(256 * 1024):
                    await response.write(chunk)
            await response.write_eof()
        return response

    async def file(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        number = request.match_info["id"]
        f = await asyncio.to_thread(self._file, int(number)) if number.isdigit() else None
        if f is None or not self._may_see_unit(who, f.department):
            raise web.HTTPNotFound(text="没有这个文件。")
        path = materials.path_of(self.app.campaign.storage, f)
        return web.FileResponse(path, headers=_download(f.stored_name, "application/octet-stream"))

    def _file(self, material_id: int) -> materials.MaterialFile | None:
        with self.app.db.read() as s:
            return materials.get(s, material_id)

    async def upload(self, request: web.Request) -> web.StreamResponse:
        who = await self.who(request)
        if who is None:
            return self.sign_in_page()
        form = await self._form(request, who)
        upload = form.get("file")
        kind = str(form.get("kind", ""))
        if not isinstance(upload, web.FileField) or kind not in {k for _, k in chat_materials.BUTTONS} | {"table"}:
            raise web.HTTPSeeOther("/materials?note=" + quote("请选择类别和文件后再上传。"))
        content = upload.file.read()
        campaign = self.app.campaign
        dep = campaign.department(who.person.department)
        deadline = checklist.next_deadline(campaign, dep, data.today(campaign, self.app.now()))
        if deadline is None:
            raise web.HTTPSeeOther("/materials?note=" + quote("现在没有需要报送材料的期限。"))
        suffix = materials.suffix_of(upload.filename)
        media = "image" if suffix in _types(campaign, "pictures") else "video" if suffix in _types(
            campaign, "video") else "document"
        try:
            saved = await asyncio.to_thread(
                materials.save, self.app.db, campaign, collection=deadline.collection, department=dep, kind=kind,
                filename=upload.filename, data=content, media=media, contact_id=who.person.id, source="desk",
                now=self.app.now())
        except materials.Refused as exc:
            raise web.HTTPSeeOther("/materials?note=" + quote(str(exc))) from None
        note = ("这个文件已经交过了：" if saved.duplicate else "已上传：") + saved.file.stored_name
        raise web.HTTPSeeOther("/materials?note=" + quote(note))


def _types(campaign: Any, name: str) -> tuple[str, ...]:
    return next((c.types for c in campaign.storage.classes if c.name == name), ())


def _download(filename: str, content_type: str) -> dict[str, str]:
    return {"Content-Type": content_type, "Cache-Control": "no-store",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(filename)}"}


def desk_service() -> Callable[[App, dict[str, Transport]], Awaitable[Callable[[], Awaitable[None]]]]:
    """The runner's service hook: serve the desk beside the transports; return its stopper."""

    async def start(app: App, transports: dict[str, Transport]) -> Callable[[], Awaitable[None]]:
        desk = Desk(app)
        await desk.start()
        return desk.stop

    return start


def serve_in_thread(app: App) -> Callable[[], None]:
    """Serve the desk from a thread of its own (while the console chat owns the main thread); the stopper."""
    loop = asyncio.new_event_loop()
    desk = Desk(app)
    started = threading.Event()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(desk.start())
        except Exception:
            log.exception("desk: could not start; the console chat works without it")
            return
        finally:
            started.set()
        loop.run_forever()
        loop.run_until_complete(desk.stop())
        loop.close()

    thread = threading.Thread(target=run, name="desk", daemon=True)
    thread.start()
    started.wait(10)

    def stop() -> None:
        if thread.is_alive():
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)

    return stop
