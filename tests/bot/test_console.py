"""The console chat as a real process: stdin lines in, replies out, the same core underneath."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.fakes.process import clean_env

ROOT = Path(__file__).resolve().parents[2]


def run_bot(tmp_path: Path, *args: str, stdin: str = "", extra_env: dict[str, str] | None = None,
            ) -> subprocess.CompletedProcess[str]:
    env = clean_env(BOT_DATABASE_URL=f"sqlite:///{tmp_path / 'bot.db'}", **(extra_env or {}))
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], input=stdin, capture_output=True, text=True, cwd=tmp_path, env=env,
        timeout=60,
    )


def test_console_books_and_answers(tmp_path: Path) -> None:
    out = run_bot(tmp_path, "console", "--as", "方广成",
                  stdin="查处网络违法案件 3\n查处网络违法案件3件\n撤销\n汇总\n你好\n0.1\n")
    assert out.returncode == 0, out.stderr
    assert "您是 方广成（市公安局）" in out.stdout
    assert "查处网络违法案件 +3 件，累计 3 件" in out.stdout
    assert "累计 6 件" in out.stdout
    assert "已撤销" in out.stdout
    assert "1. 查处网络违法案件：3 件" in out.stdout
    assert "没看懂" in out.stdout
    assert "Traceback" not in out.stderr


def test_counts_survive_a_restart_and_no_line_is_taken_for_a_redelivery(tmp_path: Path) -> None:
    run_bot(tmp_path, "console", "--as", "方广成", stdin="1 3\n")
    # The same text again within 10 minutes is asked about (刚才…已记过同样的内容), then booked on 确认.
    out = run_bot(tmp_path, "console", "--as", "方广成", stdin="1 3\n确认\n")
    assert "已记过同样的内容" in out.stdout
    assert "累计 6 件" in out.stdout


def test_run_without_a_messaging_account_opens_the_console_as_first_admin(tmp_path: Path) -> None:
    out = run_bot(tmp_path, "run", stdin="帮助\n汇总\n")
    assert out.returncode == 0, out.stderr
    assert "TELEGRAM_BOT_TOKEN" in out.stderr
    assert "您是 王永辉（市市场监管局）" in out.stdout
    assert "各单位报数情况" in out.stdout


def test_unknown_contact_and_bad_config_fail_clearly(tmp_path: Path) -> None:
    out = run_bot(tmp_path, "console", "--as", "张三")
    assert out.returncode == 2 and "没有联系人「张三」" in out.stderr
    bad = tmp_path / "bad.toml"
    bad.write_text((ROOT / "config.toml").read_text(encoding="utf-8").replace("week = 2", "week = 0"), "utf-8")
    out = run_bot(tmp_path, "console", "--as", "方广成", extra_env={"BOT_CONFIG": str(bad)})
    assert out.returncode == 2
    assert f"{bad}: wanghong.week: must be a week of the month" in out.stderr


def test_console_grammar_rules_end_to_end(tmp_path: Path) -> None:
    lines = [
        "网售药品违法案件处罚金额 0.1万元",  # exact decimals: 0.1 + 0.2 万元 is 0.3
        "网售药品违法案件处罚金额 2000元",
        "查处网络违法案件 3",  # 市公安局's row: refused
        "2 3，不存在的项目 5",  # all or nothing
        "2 三件",
        "移送公安机关的网售医疗器械违违法案件 1",  # the printed typo still matches
        "处罚金额 1",  # three rows share it: never guessed
        "2 1.5",  # a fraction of a whole count
        "更正 2 1",
        "撤销",
        "指标",
    ]
    out = run_bot(tmp_path, "console", "--as", "陈明栋", stdin="\n".join(lines) + "\n")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "网售药品违法案件处罚金额 +0.2 万元，累计 0.3 万元" in text
    assert "是公安局的项目" in text
    assert "没有找到「不存在的项目」" in text
    assert "查处网售药品违法案件 +3 件，累计 3 件" in text  # the all-or-nothing line booked nothing before
    assert "移送公安机关的网售医疗器械违法案件 +1 件，累计 1 件" in text
    assert "「处罚金额」对应3个项目" in text
    assert "只能填整数" in text
    assert "累计改为 1 件（原 3 件）" in text
    assert "已撤销" in text and "2. 查处网售药品违法案件：3 件" in text
