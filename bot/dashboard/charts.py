"""Server-rendered SVG charts: no JavaScript, no CDN, the page works offline and prints."""

from __future__ import annotations

from markupsafe import Markup, escape

WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 150, 30, 46
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")


def bar_chart(categories: list[str], series: list[str],
              values: dict[str, dict[str, float]], *, title: str) -> Markup:
    """Stacked bars, one per category (month), one colour per series (right), with a legend."""
    top = max((sum(values.get(c, {}).values()) for c in categories), default=0) or 1
    parts = [_open(title), _axis(top)]
    slot = (WIDTH - LEFT - RIGHT) / max(len(categories), 1)
    for i, category in enumerate(categories):
        parts.append(_stack(LEFT + i * slot, slot, values.get(category, {}), series, top,
                            category))
    parts += _legend(series)
    if not categories:
        parts.append(f'<text x="{LEFT + 10}" y="{HEIGHT / 2:.0f}">no data yet</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _open(title: str) -> str:
    t = escape(title)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" aria-label="{t}" '
            f'font-family="sans-serif" font-size="11"><title>{t}</title>'
            f'<text x="{LEFT}" y="16" font-size="13" font-weight="bold">{t}</text>')


def _axis(top: float) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    lines = []
    for fraction in (0.0, 0.5, 1.0):
        y = TOP + plot_h * (1 - fraction)
        lines.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                     f'stroke="#ccc"/><text x="{LEFT - 6}" y="{y + 4:.1f}" '
                     f'text-anchor="end">{_num(top * fraction)}</text>')
    return "".join(lines)


def _stack(x: float, slot: float, stack: dict[str, float], series: list[str], top: float,
           category: str) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    bar_w = max(slot * 0.7, 2)
    y = TOP + plot_h
    out = []
    for i, name in enumerate(series):
        value = stack.get(name, 0)
        if value <= 0:
            continue
        h = plot_h * value / top
        y -= h
        out.append(f'<rect x="{x + slot * 0.15:.1f}" y="{y:.1f}" width="{bar_w:.1f}" '
                   f'height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
                   f'<title>{escape(category)} {escape(name)}: {_num(value)}</title></rect>')
    total = sum(stack.values())
    if total:
        out.append(f'<text x="{x + slot / 2:.1f}" y="{y - 3:.1f}" text-anchor="middle">'
                   f'{_num(total)}</text>')
    out.append(f'<text x="{x + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
               f'text-anchor="middle">{escape(category)}</text>')
    return "".join(out)


def _legend(series: list[str]) -> list[str]:
    x = WIDTH - RIGHT + 14
    return [f'<rect x="{x}" y="{TOP + i * 18}" width="12" height="12" '
            f'fill="{PALETTE[i % len(PALETTE)]}"/><text x="{x + 18}" y="{TOP + i * 18 + 10}">'
            f'{escape(name)}</text>' for i, name in enumerate(series)]


def _num(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.1f}"
