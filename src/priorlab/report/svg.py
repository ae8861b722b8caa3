"""Inline SVG charts for the report: a forest-plot row (effect, 95% CI, zero line) and a
horizontal bar chart of wall times. Plain strings, no JavaScript, crisp at any zoom."""

from __future__ import annotations

import math
from html import escape

from priorlab.report import fmt

VERDICT_COLOURS = {"holds": "#1a7f37", "contradicted": "#cf222e", "no effect detected": "#0969da",
                   "underpowered": "#9a6700", "instrument failed": "#6e7781", "not run": "#868e96"}
KIND_COLOURS = {"prior": "#3b5bdb", "rl": "#c2255c", "diagnostic": "#0c8599"}
OTHER_COLOUR = "#868e96"


def _ok(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def forest_row(effect, lo, hi, verdict: str, width: int = 180, height: int = 22, zero_label: bool = False) -> str:
    """One forest-plot row: the CI as a line with caps, the effect as a dot, a dashed zero line.

    The axis spans ``[min(0, lo, effect), max(0, hi, effect)]`` plus 8% padding, so zero is always
    in view; each row has its own scale (the statistics of different claims have different units).
    ``zero_label`` writes "0" under the zero line (in 12 extra px). Returns ``""`` when there is no
    effect to draw.
    """
    if not _ok(effect):
        return ""
    lo, hi = (lo, hi) if _ok(lo) and _ok(hi) else (effect, effect)
    a, b = min(0.0, lo, effect), max(0.0, hi, effect)
    span = (b - a) or 1.0
    a, b = a - 0.08 * span, b + 0.08 * span
    x = lambda v: round(4 + (v - a) / (b - a) * (width - 8), 1)  # noqa: E731
    y, colour = height / 2, VERDICT_COLOURS.get(verdict, OTHER_COLOUR)
    full = height + 12 * zero_label
    title = escape(f"effect {fmt.effect_ci(effect, lo, hi)}; dashed line = 0")
    parts = [(f'<svg class="forest" width="{width}" height="{full}" viewBox="0 0 {width} {full}" '
              f'role="img" aria-label="{title}"><title>{title}</title>'),
             f'<line x1="{x(0)}" x2="{x(0)}" y1="2" y2="{height - 2}" stroke="#adb5bd" stroke-dasharray="3 2"/>',
             (f'<line x1="{x(lo)}" x2="{x(hi)}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2.5" '
              f'stroke-linecap="round"/>')]
    for end in (lo, hi):
        parts.append(f'<line x1="{x(end)}" x2="{x(end)}" y1="{y - 5}" y2="{y + 5}" stroke="{colour}" '
                     f'stroke-width="2"/>')
    parts.append(f'<circle cx="{x(effect)}" cy="{y}" r="4.5" fill="{colour}" stroke="white" stroke-width="1.5"/>')
    if zero_label:
        parts.append(f'<text x="{x(0)}" y="{full - 1}" text-anchor="middle" font-size="11" fill="#656d76">0</text>')
    return "".join(parts) + "</svg>"


def walltime_bars(rows: list[dict], width: int = 1000) -> str:
    """Horizontal bars of ``rows`` ``[{name, kind, wall_s, reused}]``, longest first, coloured by
    kind; reused runs (not recomputed this time) are drawn hollow. ``""`` when ``rows`` is empty."""
    rows = sorted((r for r in rows if _ok(r.get("wall_s"))), key=lambda r: -r["wall_s"])
    if not rows:
        return ""
    longest = max(min(len(str(r.get("name", ""))), 34) for r in rows)
    label_w, value_w, bar_h, gap = max(80, 7 * longest + 16), 150, 16, 6  # ~7 px per character at 12 px
    top = max(r["wall_s"] for r in rows) or 1.0
    height = len(rows) * (bar_h + gap) + gap
    parts = [(f'<svg class="bars" width="{width}" height="{height}" viewBox="0 0 {width} {height}" role="img" '
              f'aria-label="wall time per run">')]
    for i, r in enumerate(rows):
        y = gap + i * (bar_h + gap)
        colour = KIND_COLOURS.get(r.get("kind"), OTHER_COLOUR)
        w = max(1.5, r["wall_s"] / top * (width - label_w - value_w))
        name = str(r.get("name", ""))
        short = name if len(name) <= 34 else name[:33] + "…"
        fill = f'fill="white" stroke="{colour}" stroke-dasharray="4 2"' if r.get("reused") else f'fill="{colour}"'
        note = ", reused" if r.get("reused") else ""
        tip = escape(f"{name} [{r.get('kind', '?')}]: {fmt.duration(r['wall_s'])}{note}")
        parts.append(f'<g><title>{tip}</title><text x="{label_w - 8}" y="{y + bar_h - 4}" text-anchor="end">'
                     f'{escape(short)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" rx="2" {fill}/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + bar_h - 4}" class="v">'
                     f'{escape(fmt.duration(r["wall_s"]) + note)}</text></g>')
    return "".join(parts) + "</svg>"


def legend(colours: dict[str, str]) -> str:
    """An inline HTML legend: a swatch and a name per entry."""
    return "".join(f'<span class="key"><i style="background:{c}"></i>{escape(k)}</span>' for k, c in colours.items())
