"""The WeCom start-up check: one line that names what is wrong, in Chinese and English.

A first deployment inside a government network fails in a few known ways: a wrong corp id or secret, the
server's outgoing IP missing from the app's 企业可信IP (apps created after 2022-06-20 need it), or no way out
to the WeCom API (a proxy missing, or the wrong one). WeCom itself answers only with a number, so at start
the bot calls gettoken and one read (agent/get) and, when either fails, logs a single line an operator can
act on without looking anything up.
"""

from __future__ import annotations

import logging
import urllib.request
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from bot.wecom_api import WeComApi, WeComApiError

log = logging.getLogger(__name__)

CAUSES = {
    40013: ("企业ID（WECOM_CORP_ID）不对，请在 管理后台→我的企业→企业信息 核对",
            "invalid corp id (WECOM_CORP_ID): check My Company → Company Info"),
    40001: ("应用Secret（WECOM_SECRET）不对，请在 应用管理→本应用 重新查看",
            "invalid secret (WECOM_SECRET): view it again on the app's page"),
    60020: ("本服务器的出口IP不在应用的“企业可信IP”中，请在 应用管理→本应用→企业可信IP 添加",
            "this server's IP is not in the app's trusted IPs (企业可信IP): add it on the app's page"),
    301002: ("WECOM_AGENT_ID 与 Secret 不属于同一个应用", "WECOM_AGENT_ID does not belong to this secret's app"),
}


def proxy_for(url: str) -> str:
    """The proxy aiohttp (trust_env) will use for `url`, without any password, or "" for none."""
    host = urlsplit(url).hostname or ""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme, "")
    if not proxy or urllib.request.proxy_bypass(host):
        return ""
    parts = urlsplit(proxy)
    return urlunsplit((parts.scheme, parts.hostname or "", "", "", "")) + (f":{parts.port}" if parts.port else "")


def explain(exc: Exception, base_url: str) -> str:
    """One line: the cause in Chinese, then in English."""
    if isinstance(exc, WeComApiError):
        zh, en = CAUSES.get(exc.errcode, (f"企业微信返回错误 {exc.errcode}", f"WeCom answered errcode {exc.errcode}"))
        return (f"企业微信启动检查失败：{zh}（{exc.call}: {exc.errcode} {exc.errmsg}）"
                f" / WeCom start-up check failed: {en}")
    proxy = proxy_for(base_url)
    via_zh, via_en = (f"经代理 {proxy}", f"via proxy {proxy}") if proxy else ("未使用代理", "no proxy")
    detail = f"{type(exc).__name__}: {exc}".strip()
    return (f"企业微信启动检查失败：无法连接 {base_url}（{via_zh}，可设置 HTTPS_PROXY/NO_PROXY）（{detail}）"
            f" / WeCom start-up check failed: cannot reach {base_url} ({via_en}; set HTTPS_PROXY/NO_PROXY)")


async def check(api: WeComApi, *, again: bool = False) -> bool:
    """gettoken and agent/get; on failure log the one line and return False.

    again: a re-check after a failed start (bot/wecom.py): the line was logged then, so now only at debug level.
    """
    try:
        await api.access_token()
        await api.agent()
    except (WeComApiError, aiohttp.ClientError, TimeoutError, OSError) as exc:
        log.log(logging.DEBUG if again else logging.ERROR, "%s", explain(exc, api.settings.api_base_url))
        return False
    log.info("WeCom start-up check passed (gettoken, agent/get)")
    return True
