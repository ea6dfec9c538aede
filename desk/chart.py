"""The progress picture as SVG: the units of the viewer's scope reported or not (the city: its departments and a
line per county), and each group's filled rows. Readable on a phone.

The text is real SVG text in the page's fonts; on a server without CJK fonts (a browser screenshot, a
converter) install Debian's fonts-noto-cjk so that no label shows as boxes.
"""

from __future__ import annotations

from xml.sax.saxutils import escape

from desk.data import Progress

WIDTH = 360
FONT = "'Noto Sans CJK SC','Noto Sans SC','PingFang SC','Microsoft YaHei',sans-serif"
DONE, SOME, NONE = "#2e7d32", "#f9a825", "#9e9e9e"


def progress_svg(title: str, progress: Progress, groups: list[tuple[str, int, int]]) -> str:
    units = progress.units
    reported = progress.reported
    parts: list[str] = []
    y = 28
    parts.append(_text(12, y, escape(title), 16, bold=True))
    y += 24
    parts.append(_text(12, y, f"已报数 {reported} 个单位，未报数 {len(units) - reported} 个", 13))
    y += 14
    for row in progress.rows:
        y += 26
        done = sum(1 for line in row.lines if line.done)
        colour = DONE if row.reported else NONE
        parts.append(f'<rect x="12" y="{y - 15}" width="14" height="14" rx="3" fill="{colour}"/>')
        parts.append(_text(32, y - 3, escape(row.department.short), 13))
        state = "已报数" if row.reported else "未报数"
        parts.append(_text(190, y - 3, f"{state} · 材料 {done}/{len(row.lines)}", 12, fill=colour))
    if progress.counties:
        y += 34
        parts.append(_text(12, y, "各县（市、区）", 14, bold=True))
    for county in progress.counties:
        y += 26
        colour = DONE if county.reporting and county.done == county.reporting else SOME if county.done else NONE
        parts.append(f'<rect x="12" y="{y - 15}" width="14" height="14" rx="3" fill="{colour}"/>')
        parts.append(_text(32, y - 3, escape(county.county.name), 13))
        parts.append(_text(190, y - 3, f"{county.done}/{county.reporting}个部门已报数", 12, fill=colour))
    y += 34
    parts.append(_text(12, y, f"各组填报项目（{escape(progress.scope.label)}）", 14, bold=True))
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
