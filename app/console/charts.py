"""Charts as inline SVG, drawn on the server: no chart library, no script, nothing fetched from elsewhere.

Every chart is an <svg role="img"> with an aria-label, a <title> per bar (the browser's tooltip) and CSS
classes for colours (console.css), so the pages stay within a strict Content-Security-Policy.
"""
from decimal import Decimal

from markupsafe import Markup, escape

ROW = 22
BAR = 14
LABEL_W = 300
VALUE_W = 70
WIDTH = 1040


def _num(value):
    if value is None:
        return None
    return float(Decimal(str(value)))


def _fmt(value, places=1):
    return f"{value:.{places}f}"


def _clip(text, limit):
    text = str(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _svg(height, label, body, css="chart"):
    return Markup(
        f'<svg class="{css}" viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{"".join(body)}</svg>'
    )


def _axis(top, bottom, max_value, ticks, fmt):
    plot_w = WIDTH - LABEL_W - VALUE_W
    parts = []
    for i in range(ticks + 1):
        x = LABEL_W + plot_w * i / ticks
        parts.append(f'<line class="grid" x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}"/>')
        parts.append(f'<text class="tick" x="{x:.1f}" y="{bottom + 14}" text-anchor="middle">'
                     f'{escape(fmt(max_value * i / ticks))}</text>')
    return parts


def _bar(row, y, width):
    return (f'<rect class="bar {escape(row.get("css", ""))}" x="{LABEL_W}" y="{y + 4}" width="{width:.1f}" '
            f'height="{BAR}"><title>{escape(row.get("tip") or row["label"])}</title></rect>')


def progress_bars(rows, label, marker=None, marker_label=None):
    """Horizontal bars of a share 0–1 per row: rows = [{label, value, css, tip}]; marker draws a dashed line
    (e.g. 序时进度, the share of the plan year gone)."""
    plot_w = WIDTH - LABEL_W - VALUE_W
    top = 24
    bottom = top + ROW * len(rows)
    body = _axis(top, bottom, 1, 5, lambda v: f"{v * 100:.0f}%")
    for i, row in enumerate(rows):
        y = top + i * ROW
        value = min(max(_num(row["value"]) or 0.0, 0.0), 1.0)
        width = plot_w * value
        body.append(f'<text class="label" x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">'
                    f'{escape(_clip(row["label"], 22))}</text>')
        body.append(_bar(row, y, width))
        body.append(f'<text class="value" x="{LABEL_W + plot_w + 8}" y="{y + 15}">{_fmt(value * 100)}%</text>')
    if marker is not None:
        x = LABEL_W + plot_w * min(max(_num(marker), 0.0), 1.0)
        body.append(f'<line class="marker" x1="{x:.1f}" y1="{top - 6}" x2="{x:.1f}" y2="{bottom}"/>')
        body.append(f'<text class="marker-label" x="{x:.1f}" y="{top - 10}" text-anchor="middle">'
                    f'{escape(marker_label or "")} {_fmt(_num(marker) * 100)}%</text>')
    return _svg(bottom + 22, label, body)


def value_bars(rows, label, max_value, places=2, suffix=""):
    """Horizontal bars of a value on 0..max_value (e.g. satisfaction 1–5); rows without a value say 暂无."""
    plot_w = WIDTH - LABEL_W - VALUE_W
    top = 8
    bottom = top + ROW * len(rows)
    body = _axis(top, bottom, max_value, 5, lambda v: _fmt(v, 0))
    for i, row in enumerate(rows):
        y = top + i * ROW
        body.append(f'<text class="label" x="{LABEL_W - 8}" y="{y + 15}" text-anchor="end">'
                    f'{escape(_clip(row["label"], 22))}</text>')
        value = _num(row["value"])
        if value is None:
            body.append(f'<text class="value none" x="{LABEL_W + 6}" y="{y + 15}">暂无</text>')
            continue
        width = plot_w * min(max(value / max_value, 0.0), 1.0)
        body.append(_bar(row, y, width))
        body.append(f'<text class="value" x="{LABEL_W + plot_w + 8}" y="{y + 15}">{_fmt(value, places)}{suffix}</text>')
    return _svg(bottom + 22, label, body)


def grouped_rates(groups, series, label):
    """Per group (a unit), one bar per series (响应率, 解决率, 满意率), each a share 0–1 or None (暂无)."""
    plot_w = WIDTH - LABEL_W - VALUE_W
    per = len(series)
    group_h = per * 12 + 10
    top = 30
    bottom = top + group_h * len(groups)
    body = []
    for j, (name, css) in enumerate(series):
        x = LABEL_W + j * 110
        body.append(f'<rect class="bar {css}" x="{x}" y="4" width="12" height="12"/>'
                    f'<text class="legend" x="{x + 18}" y="15">{escape(name)}</text>')
    body += _axis(top, bottom, 1, 5, lambda v: f"{v * 100:.0f}%")
    for i, group in enumerate(groups):
        y = top + i * group_h
        body.append(f'<text class="label" x="{LABEL_W - 8}" y="{y + group_h / 2 + 4:.1f}" text-anchor="end">'
                    f'{escape(_clip(group["label"], 22))}</text>')
        for j, (name, css) in enumerate(series):
            value = _num(group["values"][j])
            by = y + 4 + j * 12
            if value is None:
                body.append(f'<text class="value none small" x="{LABEL_W + 4}" y="{by + 9}">{escape(name)}暂无</text>')
                continue
            width = plot_w * min(max(value, 0.0), 1.0)
            body.append(f'<rect class="bar {css}" x="{LABEL_W}" y="{by}" width="{width:.1f}" height="10">'
                        f'<title>{escape(group["label"])} {escape(name)} {_fmt(value * 100)}%</title></rect>')
            body.append(f'<text class="value small" x="{LABEL_W + plot_w + 8}" y="{by + 9}">'
                        f'{_fmt(value * 100)}%</text>')
    return _svg(bottom + 22, label, body)


def stacked_share(parts, label):
    """One bar split into parts [(name, count, css)], with a legend: e.g. items by status."""
    total = sum(count for _, count, _ in parts) or 1
    body = []
    x = 0.0
    for name, count, css in parts:
        width = WIDTH * count / total
        if count:
            body.append(f'<rect class="bar {css}" x="{x:.1f}" y="0" width="{width:.1f}" height="26">'
                        f'<title>{escape(name)}：{count}</title></rect>')
            if width > 60:
                body.append(f'<text class="inbar" x="{x + width / 2:.1f}" y="18" text-anchor="middle">'
                            f'{escape(name)} {count}</text>')
        x += width
    lx = 0
    for name, count, css in parts:
        body.append(f'<rect class="bar {css}" x="{lx}" y="36" width="12" height="12"/>'
                    f'<text class="legend" x="{lx + 18}" y="47">{escape(name)} {count}</text>')
        lx += 150
    return _svg(56, label, body, css="chart stacked")
