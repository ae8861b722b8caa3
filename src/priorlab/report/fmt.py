"""Numbers as a reader wants them: 3 significant digits, signed effects, CIs in brackets, durations."""

from __future__ import annotations

import math

DASH = "—"
#: Terminal colours of the verdicts (rich markup), for the CLI tables.
RICH_COLOURS = {"holds": "green", "contradicted": "red", "no effect detected": "blue", "underpowered": "yellow",
                "instrument failed": "magenta", "not run": "white"}
MINUS = "−"  # U+2212: the typographic minus


def num(x, sig: int = 3) -> str:
    """``x`` to at most ``sig`` significant digits, trailing zeros dropped, scientific notation only
    below 1e-4: 0.0123, 0.1, 12.3, 1,230 (ints are printed whole: 1,234); ``—`` for None/NaN."""
    if x is None or isinstance(x, bool):
        return DASH if x is None else str(x)
    if isinstance(x, int):
        return f"{x:,}".replace("-", MINUS)
    if not isinstance(x, float):
        return str(x)
    if not math.isfinite(x):
        return DASH if math.isnan(x) else ("∞" if x > 0 else f"{MINUS}∞")
    if x == 0:
        return "0"
    x = float(f"{x:.{sig - 1}e}")  # round first: 0.9996 -> 1.00, not 1.000
    mag = math.floor(math.log10(abs(x)))
    if mag >= sig - 1:
        s = f"{round(x):,}"
    elif mag < -4:
        s = f"{x:.{sig - 1}e}"
    else:
        s = f"{x:.{sig - 1 - mag}f}".rstrip("0").rstrip(".")
    return s.replace("-", MINUS)


def signed(x, sig: int = 3) -> str:
    """:func:`num` with an explicit ``+`` on positive values (effects are differences)."""
    s = num(x, sig)
    return "+" + s if isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 and s != DASH else s


def ci(lo, hi, sig: int = 3) -> str:
    """``[lo, hi]`` with signs, or ``""`` when either end is missing."""
    if lo is None or hi is None:
        return ""
    return f"[{signed(lo, sig)}, {signed(hi, sig)}]"


def effect_ci(effect, lo, hi) -> str:
    """``+0.123 [+0.05, +0.2]``; ``no estimate`` when ``effect`` is None."""
    if effect is None or (isinstance(effect, float) and math.isnan(effect)):
        return "no estimate"
    return f"{signed(effect)} {ci(lo, hi)}".strip()


def duration(seconds) -> str:
    """``0.4 s``, ``12 s``, ``3 min 05 s``, ``1 h 02 min``; ``—`` when unknown."""
    if seconds is None:
        return DASH
    s = float(seconds)
    if s < 10:
        return f"{s:.1f} s"
    if s < 60:
        return f"{s:.0f} s"
    m, s = divmod(round(s), 60)
    if m < 60:
        return f"{m} min {s:02d} s"
    h, m = divmod(m, 60)
    return f"{h} h {m:02d} min"


def slug(verdict) -> str:
    """A verdict as a CSS class: ``no effect detected`` -> ``no-effect-detected``."""
    return "-".join(str(verdict).split())


def mde_vs_paper(mde, paper) -> str:
    """``MDE 0.12 vs the paper's 0.05`` with the comparison spelled out."""
    if mde is None:
        return "MDE: no interval"
    if paper is None:
        return f"MDE {num(mde)}; the paper's effect was not retrieved"
    rel = "above" if mde > abs(paper) else "at or below"
    return f"MDE {num(mde)}, {rel} the paper's effect {signed(paper)}"
