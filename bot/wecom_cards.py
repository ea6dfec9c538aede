"""WeCom template cards (button_interaction) for a reply's choices, and the application menu.

A reply with choices (an ambiguous report, a proposal to confirm) becomes its text as a normal message
and a card whose buttons carry each choice's text as their key. A press comes back as a
template_card_event with that key; the transport runs it as the member's message and then greys the
card's buttons out (update_template_card) with what was chosen. WeCom's card limits: at most 6 buttons,
a key of at most 1024 bytes, short button texts; a reply that does not fit falls back to lines to copy.
"""

from __future__ import annotations

import uuid
from typing import Any

from handlers.messages import Reply

MAX_BUTTONS = 6
MAX_KEY_BYTES = 1024
BUTTON_TEXT = 10  # characters WeCom shows on a button
SUB_TITLE = 120  # characters of the card's text kept (the full text went out as a message first)
MENU_TOP = 3  # WeCom: at most 3 top-level menu buttons, each with at most 5 under it
MENU_SUB = 5


def fits_card(reply: Reply) -> bool:
    return 0 < len(reply.choices) <= MAX_BUTTONS and all(
        0 < len(c.text.encode("utf-8")) <= MAX_KEY_BYTES for c in reply.choices)


def button_text(n: int, label: str) -> str:
    return label if len(label) <= BUTTON_TEXT else f"选第{n}项"


def card_of(reply: Reply, task_id: str | None = None) -> tuple[str, dict[str, Any]]:
    """(task id, template_card) for a reply's choices; the task id is unique per card."""
    task = task_id or uuid.uuid4().hex
    lines = [f"第{n}项：{c.label}" for n, c in enumerate(reply.choices, 1) if len(c.label) > BUTTON_TEXT]
    card: dict[str, Any] = {
        "card_type": "button_interaction",
        "main_title": {"title": "请选择", "desc": "点一下即可，不用再打字"},
        "task_id": task,
        "button_list": [{"text": button_text(n, c.label), "style": 1, "key": c.text}
                        for n, c in enumerate(reply.choices, 1)],
    }
    if lines:
        card["sub_title_text"] = "\n".join(lines)[:SUB_TITLE]
    return task, card


def label_of(reply: Reply, key: str) -> str:
    """The label of the choice whose text is `key`, for the card's grey 已选择 line."""
    return next((c.label for c in reply.choices if c.text == key), key)


def menu_buttons(words: tuple[str, ...]) -> list[dict[str, Any]]:
    """menu/create's buttons: each a click whose key is its command word; past three, a 更多 sub-menu."""
    def click(word: str) -> dict[str, Any]:
        return {"type": "click", "name": word, "key": word}

    if len(words) <= MENU_TOP:
        return [click(w) for w in words]
    head, rest = words[:MENU_TOP - 1], words[MENU_TOP - 1:MENU_TOP - 1 + MENU_SUB]
    return [*(click(w) for w in head), {"name": "更多", "sub_button": [click(w) for w in rest]}]
