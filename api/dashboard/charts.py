"""The dashboard's charts: SVG drawn here, on the server (docs/dashboard.md#charts).

No chart library and nothing from a CDN: a page works offline and needs no build step. Each
chart is an `<svg role="img">` with an `aria-label` saying what it shows; the page puts the
same numbers in a table beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 260
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 40
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac")  # fmt: skip
GAIN, LOSS, TOTAL = "#e15759", "#59a14f", "#4e79a7"


def _svg(label: str, body: list[str], height: int = HEIGHT) -> Markup:
    return Markup(
        f'<svg role="img" aria-label="{escape(label)}" viewBox="0 0 {WIDTH} {height}" '
        f'width="100%" xmlns="http://www.w3.org/2000/svg" class="chart">'
        f"<title>{escape(label)}</title>{''.join(body)}</svg>"
    )


def _money(value: float) -> str:
    return f"-${-value:,.2f}" if value < 0 else f"${value:,.2f}"


def _number(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value % 1 else f"{value:,.0f}"


def _axis(
    top_value: float, height: int, shown: Callable[[float], str] = _money
) -> tuple[list[str], float]:
    """Horizontal grid lines with labels (dollars by default); the scale (pixels per unit)."""
    plot = height - TOP - BOTTOM
    top_value = top_value or 1.0
    scale = plot / top_value
    lines = []
    for n in range(5):
        value = top_value * n / 4
        y = height - BOTTOM - value * scale
        lines.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="#ddd"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="11">'
            f"{escape(shown(value))}</text>"
        )
    return lines, scale


def _labels(labels: list[str], step: float, height: int) -> list[str]:
    every = max(1, len(labels) // 12)  # at most ~12 labels under the axis
    return [
        f'<text x="{LEFT + step * (n + 0.5):.1f}" y="{height - BOTTOM + 16}" '
        f'text-anchor="middle" font-size="11">{escape(label)}</text>'
        for n, label in enumerate(labels)
        if n % every == 0
    ]


def _legend(names: list[str], top: int) -> tuple[list[str], int]:
    """Color keys from `top`, in rows that fit the width; the height they take."""
    items, x, y = [], LEFT, top
    for n, name in enumerate(names):
        width = 24 + 7 * len(name)
        if x + width > WIDTH and x > LEFT:
            x, y = LEFT, y + 16
        items.append(
            f'<rect x="{x}" y="{y}" width="10" height="10" fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{x + 14}" y="{y + 9}" font-size="11">{escape(name)}</text>'
        )
        x += width
    return items, y + 16 - top


def stacked_bars(label: str, columns: list[str], series: list[tuple[str, list[float]]]) -> Markup:
    """One bar per column, each series a colored part of it, in order from the bottom."""
    totals = [sum(values[n] for _, values in series) for n in range(len(columns))]
    body, scale = _axis(max(totals, default=0.0), HEIGHT)
    step = (WIDTH - LEFT - RIGHT) / max(1, len(columns))
    for n in range(len(columns)):
        base = HEIGHT - BOTTOM
        for k, (name, values) in enumerate(series):
            size = values[n] * scale
            if size <= 0:
                continue
            base -= size
            body.append(
                f'<rect x="{LEFT + step * n + 1:.1f}" y="{base:.1f}" width="{max(step - 2, 1):.1f}" '
                f'height="{size:.1f}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{escape(columns[n])} {escape(name)}: {_money(values[n])}</title></rect>"
            )
    body += _labels(columns, step, HEIGHT)
    legend, taken = _legend([name for name, _ in series], HEIGHT - 8)
    return _svg(label, body + legend, HEIGHT + taken)


def bars(label: str, names: list[str], values: list[float], money: bool = True) -> Markup:
    """One horizontal bar per name, in the order given; dollars, or plain numbers."""
    shown = _money if money else _number
    row = 22
    height = TOP + row * max(1, len(names)) + 8
    widest = max(values, default=0.0) or 1.0
    left = 180
    body = []
    for n, (name, value) in enumerate(zip(names, values, strict=True)):
        y = TOP + row * n
        size = (WIDTH - left - 90) * value / widest
        body.append(
            f'<text x="{left - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{escape(name[:28])}</text>"
            f'<rect x="{left}" y="{y + 3}" width="{max(size, 0):.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"/>'
            f'<text x="{left + max(size, 0) + 6:.1f}" y="{y + 14}" font-size="12">'
            f"{escape(shown(value))}</text>"
        )
    return _svg(label, body, height)


def waterfall(label: str, start: tuple[str, float], steps: list[tuple[str, float]],
              end: tuple[str, float]) -> Markup:  # fmt: skip
    """From a starting total through signed steps to the ending total."""
    columns = [start, *steps, end]
    running, levels = start[1], []
    for _, value in steps:
        levels.append((running, running + value))
        running += value
    spans = [(0.0, start[1]), *levels, (0.0, end[1])]
    low = min(0.0, *(min(a, b) for a, b in spans))
    high = max(0.0, *(max(a, b) for a, b in spans)) or 1.0
    plot = HEIGHT - TOP - BOTTOM
    scale = plot / (high - low)

    def y(value: float) -> float:
        return TOP + (high - value) * scale

    step = (WIDTH - LEFT - RIGHT) / len(columns)
    body = [
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#999"/>'
    ]
    for n, ((name, value), (a, b)) in enumerate(zip(columns, spans, strict=True)):
        color = TOTAL if n in (0, len(columns) - 1) else (GAIN if value > 0 else LOSS)
        top, bottom = y(max(a, b)), y(min(a, b))
        body.append(
            f'<rect x="{LEFT + step * n + 8:.1f}" y="{top:.1f}" width="{step - 16:.1f}" '
            f'height="{max(bottom - top, 1):.1f}" fill="{color}">'
            f"<title>{escape(name)}: {_money(value)}</title></rect>"
            f'<text x="{LEFT + step * (n + 0.5):.1f}" y="{top - 4:.1f}" text-anchor="middle" '
            f'font-size="11">{escape(_money(value))}</text>'
        )
    body += _labels([name for name, _ in columns], step, HEIGHT)
    return _svg(label, body)


def line(label: str, columns: list[str], values: list[float], money: bool = True) -> Markup:
    """One value per column, joined; dollars, or plain numbers."""
    body, scale = _axis(max(values, default=0.0), HEIGHT, _money if money else _number)
    step = (WIDTH - LEFT - RIGHT) / max(1, len(columns))
    points = " ".join(
        f"{LEFT + step * (n + 0.5):.1f},{HEIGHT - BOTTOM - value * scale:.1f}"
        for n, value in enumerate(values)
    )
    body.append(f'<polyline points="{points}" fill="none" stroke="{PALETTE[0]}" stroke-width="2"/>')
    body += _labels(columns, step, HEIGHT)
    return _svg(label, body)


def meter(label: str, percent: float) -> Markup:
    """A share of a limit used: a bar to 100 %, past it in red."""
    height, left, width = 30, 8, WIDTH - 120
    filled = width * min(percent, 100.0) / 100
    color = GAIN if percent >= 100 else PALETTE[0]
    body = [
        f'<rect x="{left}" y="6" width="{width}" height="18" fill="#eee"/>',
        f'<rect x="{left}" y="6" width="{filled:.1f}" height="18" fill="{color}"/>',
        f'<text x="{left + width + 8}" y="20" font-size="12">{percent:.2f}%</text>',
    ]
    return _svg(label, body, height)
