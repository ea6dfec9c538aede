"""The progress picture as SVG: departments reported or not, and each group's filled rows. Readable on a phone.

The text is real SVG text in the page's fonts; on a server without CJK fonts (a browser screenshot, a
converter) install Debian's fonts-noto-cjk so that no label shows as boxes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from desk.data import Row

WIDTH = 360
FONT = "'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif"


def progress_svg(title: str, rows: list[Row], groups: list[tuple[str, int, int]]) -> str:
    reported = sum(1 for r in rows if r.reported)
    parts: list[str] = []
    y = 28
    parts.append(_text(12, y, escape(title), 16, bold=True))
    y += 24
    parts.append(_text(12, y, f"已报数 {reported} 个单位，未报数 {len(rows) - reported} 个", 13))
    y += 14
    for row in rows:
        y += 26
        done = sum(1 for line in row.lines if line.done)
        colour = "#2e7d32" if row.reported else "#9e9e9e"
        parts.append(f'<rect x="12" y="{y - 15}" width="14" height="14" rx="3" fill="{colour}"/>')
        parts.append(_text(32, y - 3, escape(row.department.short), 13))
        state = "已报数" if row.reported else "未报数"
        parts.append(_text(190, y - 3, f"{state} · 材料 {done}/{len(row.lines)}", 12, fill=colour))
    y += 34
    parts.append(_text(12, y, "各组填报项目（全市）", 14, bold=True))
    for name, filled, total in groups:
        y += 26
        share = filled / total if total else 0
        parts.append(_text(12, y - 3, escape(name), 12))
        parts.append(f'<rect x="130" y="{y - 14}" width="170" height="12" rx="3" fill="#e0e0e0"/>')
        parts.append(f'<rect x="130" y="{y - 14}" width="{170 * share:.0f}" height="12" rx="3" fill="#1565c0"/>')
        parts.append(_text(306, y - 3, f"{filled}/{total}", 12))
    height = y + 20
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
            f'viewBox="0 0 {WIDTH} {height}" font-family="{FONT}">'
            f'<rect width="100%" height="100%" fill="#ffffff"/>{"".join(parts)}</svg>')


def _text(x: int, y: int, text: str, size: int, bold: bool = False, fill: str = "#212121") -> str:
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x}" y="{y}" font-size="{size}" fill="{fill}"{weight}>{text}</text>'
