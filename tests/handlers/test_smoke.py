from bot.app import App
from tests.support import Chat


def test_report_is_booked_and_confirmed(app: App) -> None:
    chat = Chat(app, "方广成")
    assert "累计 3 件" in chat.say("查处网络违法案件 3")
    assert "累计 5 件" in chat.say("1 2")
