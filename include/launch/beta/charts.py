"""Hand-written SVG line charts (no plotting dependency): one criterion over the window so far."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT = 640, 260
LEFT, RIGHT, TOP, BOTTOM = 60, 20, 36, 40


def line_chart(title: str, points: list[tuple[int, float | None]], days: int, threshold: float | None = None,
               passed: dict[int, bool] | None = None, unit: str = "") -> str:
    """An SVG of value per day (x: day 1..days), a dashed threshold line, green/red points."""
    values = [v for _, v in points if v is not None]
    candidates = values + ([threshold] if threshold is not None else [])
    low, high = (min(candidates), max(candidates)) if candidates else (0.0, 1.0)
    if high == low:
        low, high = low - 1.0, high + 1.0
    pad = (high - low) * 0.1
    low, high = low - pad, high + pad
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(day: int) -> float:
        return LEFT + (day - 1) * plot_w / max(days - 1, 1)

    def y(value: float) -> float:
        return TOP + (high - value) * plot_h / (high - low)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
        f'<title>{escape(title)}</title>',
        '<rect width="100%" height="100%" fill="white"/>',
        f'<text x="{LEFT}" y="20" font-size="14" font-weight="bold">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="#333"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="#333"/>',
    ]
    for k in range(5):
        value = low + (high - low) * k / 4
        parts.append(f'<text x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">{value:.3g}{escape(unit)}</text>')
        parts.append(f'<line x1="{LEFT}" y1="{y(value):.1f}" x2="{LEFT + plot_w}" y2="{y(value):.1f}" '
                     'stroke="#eee"/>')
    for day in range(1, days + 1):
        parts.append(f'<text x="{x(day):.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{day}</text>')
    parts.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 6}" text-anchor="middle">beta day</text>')
    if threshold is not None:
        parts.append(f'<line x1="{LEFT}" y1="{y(threshold):.1f}" x2="{LEFT + plot_w}" y2="{y(threshold):.1f}" '
                     'stroke="#c60" stroke-dasharray="6,4"/>')
        parts.append(f'<text x="{LEFT + plot_w}" y="{y(threshold) - 4:.1f}" text-anchor="end" fill="#c60">'
                     f'threshold {threshold:g}{escape(unit)}</text>')
    known = [(day, v) for day, v in points if v is not None]
    if len(known) > 1:
        path = " ".join(f"{x(day):.1f},{y(v):.1f}" for day, v in known)
        parts.append(f'<polyline points="{path}" fill="none" stroke="#36c" stroke-width="2"/>')
    for day, v in known:
        colour = "#393" if (passed or {}).get(day, True) else "#c33"
        parts.append(f'<circle cx="{x(day):.1f}" cy="{y(v):.1f}" r="4" fill="{colour}">'
                     f'<title>day {day}: {v:g}</title></circle>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"
