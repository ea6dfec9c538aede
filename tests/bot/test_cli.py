"""The server-side subcommands as real processes."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from openpyxl import load_workbook

from tests.bot.test_console import run_bot


def test_schedule_prints_one_line_per_message(tmp_path: Path) -> None:
    out = run_bot(tmp_path, "schedule", "--from", "2023-08-18", "--to", "2023-08-18")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines and all(line.startswith("2023-08-18 09:00  ") for line in lines)
    expected = "2023-08-18 09:00  方广成  市公安局  截止提醒  【报送提醒】中期行动总结报告和统计表：今天截止"
    assert expected + "（8月20日是休息日）" in lines
    assert any("王永辉  市市场监管局  报送进度" in line for line in lines)
    assert not any("戴超颖  市商务局  催报" in line for line in lines)  # no table rows: never nudged for counts
    holiday = run_bot(tmp_path, "schedule", "--from", "2023-09-29", "--to", "2023-10-06")
    assert holiday.stdout.strip() == "这段时间没有安排提醒。"
    assert "日期格式应为" in run_bot(tmp_path, "schedule", "--from", "8月1日").stderr


def test_export_and_contacts_round_trip(tmp_path: Path) -> None:
    run_bot(tmp_path, "console", "--as", "方广成", stdin="1 3\n")
    out = run_bot(tmp_path, "export", "--agency", "公安局", "--as-of", "2099-01-01", "--out", "t.xlsx")
    assert out.returncode == 0, out.stderr
    sheet = load_workbook(BytesIO((tmp_path / "t.xlsx").read_bytes()))["统计表"]
    assert [row[2] for row in sheet.iter_rows(min_row=4, max_row=4, values_only=True)] == [3]
    assert run_bot(tmp_path, "contacts", "export", "c.xlsx").returncode == 0
    back = run_bot(tmp_path, "contacts", "import", "c.xlsx")
    assert back.returncode == 0 and "未变12人" in back.stdout
    (tmp_path / "bad.xlsx").write_text("not excel")
    bad = run_bot(tmp_path, "contacts", "import", "bad.xlsx")
    assert bad.returncode == 2 and "无法读取Excel文件" in bad.stderr
