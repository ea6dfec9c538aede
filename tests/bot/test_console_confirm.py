"""The 确认 step on the console: a typed word, since the terminal has no buttons."""

from __future__ import annotations

from pathlib import Path

from tests.bot.test_console import run_bot


def test_console_proposes_and_books_on_the_typed_word(tmp_path: Path) -> None:
    lines = ["本周我局查处网络违法案件3起，督促关停违法违规账号12个，清理有害信息860条。下一步……", "确认", "确认",
             "截至8月20日，查处网络违法案件12件", "累计", "今天查处网络违法案件2起", "取消", "确认", "汇总"]
    out = run_bot(tmp_path, "console", "--as", "方广成", stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "请核对（10分钟内有效）" in text and "回复“确认”记录" in text
    assert "→ 发送" not in text.split("请核对")[1].split("已记录")[0]
    assert "· 1. 查处网络违法案件 +3 件" in text and "· 4. 清理网上违法有害信息 +860 条" in text
    assert "督促互联网企业关停违法违规账号 +12 个，累计 12 个" in text
    assert "已经确认记过了" in text
    assert "是新增12件，还是累计为12件？" in text
    assert "累计改为 12 件（原 3 件）" in text
    assert "已取消，没有记录任何数据" in text
    assert "1. 查处网络违法案件：12 件" in text
    assert "Traceback" not in out.stderr
