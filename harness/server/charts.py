"""Server-made SVG for the web pages (:mod:`harness.server.pages`): no JavaScript, no library.

Every chart is a string of SVG marked safe for the templates; every piece of text in it (names,
numbers) goes through :func:`markupsafe.escape`. Colours come from SVG presentation attributes
(never ``style=``), so the pages' Content-Security-Policy can forbid inline styles. Each chart
has a ``role="img"``, a ``<title>`` and an ``aria-label``; the tables beside them hold the same
numbers for a screen reader.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

INK = "#1f2933"
MUTED = "#616e7c"
ACCENT = "#0b5cad"
GOOD = "#1b7f3b"
BAD = "#b3261e"
GRID = "#d9dee3"


def _num(x: float) -> str:
    return f"{x:.1f}".rstrip("0").rstrip(".")


def _finite(*xs: float | None) -> bool:
    return all(x is not None and math.isfinite(x) for x in xs)


def _ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / n for i in range(n + 1)]


def _fmt(value: float) -> str:
    return f"{value:.4g}" if abs(value) >= 1e-3 or value == 0 else f"{value:.2e}"


def interval_bar(
    score: float | None,
    low: float | None,
    high: float | None,
    axis: tuple[float, float],
    *,
    width: int = 120,
    height: int = 16,
) -> Markup:
    """A row's 95% interval as a bar on the board's common axis, the score as a dot."""
    lo_axis, hi_axis = axis
    span = hi_axis - lo_axis or 1.0

    def x(v: float) -> float:
        return 4 + (width - 8) * (v - lo_axis) / span

    parts = [
        f'<svg class="bar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        'focusable="false" aria-hidden="true">',
        f'<line x1="4" y1="{height / 2}" x2="{width - 4}" y2="{height / 2}" stroke="{GRID}"/>',
    ]
    if _finite(low, high):
        assert low is not None and high is not None
        parts.append(
            f'<rect x="{_num(x(low))}" y="{height / 2 - 3}" '
            f'width="{_num(max(x(high) - x(low), 1))}" height="6" rx="3" fill="{ACCENT}" '
            'fill-opacity="0.35"/>'
        )
    if _finite(score):
        assert score is not None
        parts.append(f'<circle cx="{_num(x(score))}" cy="{height / 2}" r="3.5" fill="{ACCENT}"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


@dataclass(frozen=True)
class Point:
    t: float  # seconds since the epoch
    public: float | None
    cv: float | None = None


def history(
    points: Sequence[Point], *, greater_is_better: bool, metric: str, width: int = 640
) -> Markup:
    """Public score over time (dots), the best so far (a step line) and CV where recorded
    (hollow squares)."""
    height, left, right, top, bottom = 240, 56, 12, 14, 36
    scored = [p for p in points if _finite(p.public)]
    values = [v for p in points for v in (p.public, p.cv) if v is not None and _finite(v)]
    label = f"{metric} over time: {len(scored)} scored submissions"
    if not values:
        return Markup(f'<p class="muted">{escape(label)}.</p>')
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12:
        lo, hi = lo - 0.5 * (abs(lo) or 1) * 0.01, hi + 0.5 * (abs(hi) or 1) * 0.01
    pad = (hi - lo) * 0.08
    lo, hi = lo - pad, hi + pad
    t0, t1 = min(p.t for p in points), max(p.t for p in points)
    tspan = t1 - t0 or 1.0
    plot_w, plot_h = width - left - right, height - top - bottom

    def x(t: float) -> float:
        return left + plot_w * ((t - t0) / tspan if t1 > t0 else 0.5)

    def y(v: float) -> float:
        return top + plot_h * (1 - (v - lo) / (hi - lo))

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    for tick in _ticks(lo, hi):
        out.append(
            f'<line x1="{left}" x2="{width - right}" y1="{_num(y(tick))}" y2="{_num(y(tick))}" '
            f'stroke="{GRID}"/><text x="{left - 6}" y="{_num(y(tick) + 4)}" font-size="11" '
            f'text-anchor="end" fill="{MUTED}">{escape(_fmt(tick))}</text>'
        )
    best: float | None = None
    steps: list[str] = []
    for p in sorted(scored, key=lambda p: p.t):
        assert p.public is not None
        if best is None or (p.public > best if greater_is_better else p.public < best):
            if best is not None:
                steps.append(f"L{_num(x(p.t))},{_num(y(best))}")
            best = p.public
            steps.append(("M" if not steps else "L") + f"{_num(x(p.t))},{_num(y(best))}")
    if best is not None:
        steps.append(f"L{_num(x(t1))},{_num(y(best))}")
        out.append(f'<path d="{" ".join(steps)}" fill="none" stroke="{GOOD}" stroke-width="2"/>')
    for p in points:
        if p.cv is not None and _finite(p.cv):
            out.append(
                f'<rect x="{_num(x(p.t) - 3.5)}" y="{_num(y(p.cv) - 3.5)}" width="7" height="7" '
                f'fill="none" stroke="{MUTED}" stroke-width="1.5"/>'
            )
    for p in scored:
        assert p.public is not None
        out.append(
            f'<circle cx="{_num(x(p.t))}" cy="{_num(y(p.public))}" r="3.5" fill="{ACCENT}"/>'
        )
    legend_y = height - 10
    out.append(
        f'<circle cx="{left}" cy="{legend_y - 4}" r="3.5" fill="{ACCENT}"/>'
        f'<text x="{left + 8}" y="{legend_y}" font-size="12" fill="{INK}">public score</text>'
        f'<line x1="{left + 110}" x2="{left + 130}" y1="{legend_y - 4}" y2="{legend_y - 4}" '
        f'stroke="{GOOD}" stroke-width="2"/>'
        f'<text x="{left + 136}" y="{legend_y}" font-size="12" fill="{INK}">best so far</text>'
        f'<rect x="{left + 230}" y="{legend_y - 7.5}" width="7" height="7" fill="none" '
        f'stroke="{MUTED}" stroke-width="1.5"/>'
        f'<text x="{left + 243}" y="{legend_y}" font-size="12" fill="{INK}">your CV</text>'
        "</svg>"
    )
    return Markup("".join(out))


@dataclass(frozen=True)
class Move:
    participant: str
    public_rank: int
    private_rank: int | None


def slope(moves: Sequence[Move], *, width: int = 520) -> Markup:
    """Public rank (left) to private rank (right) for every participant: green up, red down."""
    ranked = [m for m in moves if m.private_rank is not None]
    n = max([m.public_rank for m in moves] + [m.private_rank or 0 for m in moves] + [1])
    row, top = 22, 30
    height = top + row * n + 10
    left_x, right_x = 170, width - 170
    label = f"Public rank to private rank for {len(ranked)} participants"

    def y(rank: int) -> float:
        return top + row * (rank - 0.5)

    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>',
        f'<text x="{left_x}" y="16" font-size="12" text-anchor="middle" fill="{MUTED}">'
        f'public</text><text x="{right_x}" y="16" font-size="12" text-anchor="middle" '
        f'fill="{MUTED}">private</text>',
    ]
    for m in moves:
        name = escape(m.participant if len(m.participant) <= 22 else m.participant[:21] + "…")
        out.append(
            f'<text x="{left_x - 10}" y="{_num(y(m.public_rank) + 4)}" font-size="12" '
            f'text-anchor="end" fill="{INK}">{m.public_rank}. {name}</text>'
        )
        if m.private_rank is None:
            continue
        moved = m.private_rank - m.public_rank
        colour = GOOD if moved < 0 else BAD if moved > 0 else MUTED
        out.append(
            f'<line x1="{left_x}" y1="{_num(y(m.public_rank))}" x2="{right_x}" '
            f'y2="{_num(y(m.private_rank))}" stroke="{colour}" stroke-width="2"/>'
            f'<circle cx="{left_x}" cy="{_num(y(m.public_rank))}" r="3" fill="{colour}"/>'
            f'<circle cx="{right_x}" cy="{_num(y(m.private_rank))}" r="3" fill="{colour}"/>'
            f'<text x="{right_x + 10}" y="{_num(y(m.private_rank) + 4)}" font-size="12" '
            f'fill="{INK}">{m.private_rank}. {name}</text>'
        )
    out.append("</svg>")
    return Markup("".join(out))


def compare(bars: Sequence[tuple[str, float]], *, unit: str, width: int = 520) -> Markup:
    """Horizontal bars, one per (label, value): the actual against the forecast shake-up."""
    row, left = 28, 190
    height = row * len(bars) + 8
    top = max([v for _, v in bars if _finite(v)] + [1e-9])
    label = "; ".join(f"{name} {value:.2f} {unit}" for name, value in bars)
    out = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}"><title>{escape(label)}</title>'
    ]
    for i, (name, value) in enumerate(bars):
        y = 4 + i * row
        w = (width - left - 70) * (value / top if _finite(value) else 0)
        out.append(
            f'<text x="{left - 8}" y="{y + 16}" font-size="12" text-anchor="end" fill="{INK}">'
            f"{escape(name)}</text>"
            f'<rect x="{left}" y="{y + 4}" width="{_num(max(w, 1))}" height="16" '
            f'fill="{ACCENT if i == 0 else MUTED}"/>'
            f'<text x="{_num(left + max(w, 1) + 6)}" y="{y + 16}" font-size="12" fill="{INK}">'
            f"{escape(f'{value:.2f}')}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))
