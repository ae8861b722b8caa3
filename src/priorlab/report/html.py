"""``DIR/report.html``: one self-contained page (inline CSS and SVG, PNGs as base64 data URIs, no
JavaScript, no external fonts) that answers "does RLVR create reasoning or select what the prior
holds?" claim by claim; plus ``DIR/verdicts.json`` and ``DIR/meta.json`` (to rebuild the page).

Layout: header with the question and verdict counts; summary table (verdict badge, the primary
part's effect with its 95% CI as an inline forest-plot row, controls, MDE vs the paper's effect,
seeds, arXiv link); one section per claim (statement and source, verdict and reason, the primary
effect, a parts table, positive and negative controls, figures, collapsible measurements and runs,
caveats, next experiments); a compute section (wall-time bars and run metadata). Every string of
a result is escaped; numbers go through :mod:`.fmt`.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from html import escape
from importlib import resources
from pathlib import Path

from priorlab.claims.result import VERDICTS, ClaimResult, verdicts_json
from priorlab.report import fmt, svg
from priorlab.runs import write_json

QUESTION = "Does RLVR create reasoning or select what the prior holds?"
MAX_ROWS = 300  # measurement rows shown per claim (all of them are in result.json)
MIME = {".png": "image/png", ".svg": "image/svg+xml", ".jpg": "image/jpeg", ".jpeg": "image/jpeg"}
META_KEYS = {"scale": "scale", "started": "started", "wall_s": "wall time", "version": "priorlab",
             "commit": "git commit", "machine": "machine", "command": "command"}


def write_report(results: list[ClaimResult], out: str | Path, meta: dict) -> Path:
    """Write ``out/report.html``, ``out/verdicts.json`` and ``out/meta.json``; return the HTML path.

    ``meta`` (see :func:`priorlab.report.meta.collect_meta`): ``scale``, ``started``, ``wall_s``,
    ``version``, ``commit``, ``machine`` ``{cores, device}``, ``command``, ``breakdown``
    ``[{name, kind, wall_s, reused}]``; missing keys render as ``—``, extra keys are listed.
    Figure paths that are relative are taken relative to ``out``.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "verdicts.json", verdicts_json(results))
    write_json(out / "meta.json", meta)
    path = out / "report.html"
    path.write_text(render(results, out, meta), encoding="utf-8")
    return path


def render(results: list[ClaimResult], out: Path, meta: dict) -> str:
    """The whole page as one string."""
    body = [_header(results, meta), _summary(results)]
    body += [_claim(r, out) for r in results]
    body += [_compute(results, meta)]
    css = resources.files("priorlab.report").joinpath("style.css").read_text(encoding="utf-8")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>priorlab claim re-tests</title><style>{css}</style></head>'
            f'<body><main>{"".join(body)}</main></body></html>\n')


def _e(x) -> str:
    return escape("" if x is None else str(x))


def badge(verdict: str | None, small: bool = False) -> str:
    """A coloured verdict pill (``holds`` green, ``contradicted`` red, ``no effect detected`` blue,
    ``underpowered`` amber, ``instrument failed`` grey)."""
    if verdict is None:
        return fmt.DASH
    return f'<span class="badge {_e(fmt.slug(verdict))}{" small" if small else ""}">{_e(verdict)}</span>'


def arxiv_link(source: dict, sep: str = " · ") -> str:
    """``Authors (date) · arXiv:ID`` with the ID linked to arxiv.org/abs; plain text without an ID."""
    who = " ".join(x for x in (_e(source.get("authors")), f"({_e(source['date'])})" if source.get("date") else "") if x)
    aid = source.get("arxiv")
    if not aid:
        return who or fmt.DASH
    link = f'<a href="https://arxiv.org/abs/{escape(str(aid), quote=True)}">arXiv:{_e(aid)}</a>'
    return f"{who}{sep}{link}" if who else link


def _header(results: list[ClaimResult], meta: dict) -> str:
    counts = {v: sum(r.verdict == v for r in results) for v in VERDICTS}
    tiles = "".join(f'<div class="tile {fmt.slug(v)}"><b>{n}</b><span>{v}</span></div>' for v, n in counts.items())
    facts = [(f"{len(results)} published claim{'s' * (len(results) != 1)} re-tested on small priors "
              f"pretrained by priorlab in controlled, strictly verifiable worlds"),
             f"scale <b>{_e(meta.get('scale', fmt.DASH))}</b>", f"wall time {fmt.duration(meta.get('wall_s'))}"]
    if meta.get("started"):
        facts.append(f"started {_e(meta['started'])}")
    note = f'<p class="note">{_e(meta["note"])}</p>' if meta.get("note") else ""
    return (f'<header><p class="kicker">priorlab · claim re-tests</p><h1>{QUESTION}</h1>{note}'
            f'<p class="sub">{" · ".join(facts)}.</p><div class="tiles">{tiles}</div></header>')


def _summary(results: list[ClaimResult]) -> str:
    rows = []
    for r in results:
        ctl = f"{_control_word(r.positive_control, True)} / {_control_word(r.negative_control, False)}"
        rows.append(f'<tr><td><a class="cid" href="#{_e(r.id)}">{_e(r.id)}</a></td>'
                    f'<td class="title"><a href="#{_e(r.id)}">{_e(r.title)}</a></td><td>{badge(r.verdict)}</td>'
                    f'<td class="eff" title="{_e(r.statistic)}">'
                    f'<span class="num">{_e(fmt.effect_ci(r.effect, r.ci_low, r.ci_high))}</span>'
                    f'{svg.forest_row(r.effect, r.ci_low, r.ci_high, r.verdict, width=120)}</td>'
                    f'<td>{ctl}</td><td>{_e(fmt.mde_vs_paper(r.mde, r.paper_effect))}</td>'
                    f'<td class="num">{_e(r.seeds)}</td>'
                    f'<td class="src">{arxiv_link(r.source, "<br>")}</td></tr>')
    cols = ("claim", "title", "verdict", "primary effect [95% CI]", "controls (+ / −)", "power", "seeds", "source")
    head = "".join(f"<th>{c}</th>" for c in cols)
    return (f'<section id="summary"><h2>Summary</h2><div class="scroll"><table class="summary"><thead><tr>{head}'
            f'</tr></thead><tbody>{"".join(rows)}</tbody></table></div><p class="hint">Effect: dot = estimate, '
            'bar = 95% CI, dashed line = 0; each row has its own scale (the claims measure different statistics: '
            'hover for which).</p></section>')


def _claim(r: ClaimResult, out: Path) -> str:
    src = r.source
    title = f' “{_e(src["title"])}”' if src.get("title") else ""
    effect = (f'<p class="big">{_e(fmt.signed(r.effect))} <span class="ci">{_e(fmt.ci(r.ci_low, r.ci_high))}</span>'
              f'</p>{svg.forest_row(r.effect, r.ci_low, r.ci_high, r.verdict, width=340, height=28, zero_label=True)}'
              if r.effect is not None else '<p class="big muted">no estimate</p>')
    parts = [f'<section class="claim {_e(fmt.slug(r.verdict))}" id="{_e(r.id)}">',
             (f'<div class="claim-head"><span class="cid">{_e(r.id)}</span><h2>{_e(r.title)}</h2>'
              f'{badge(r.verdict)}</div>'),
             f'<blockquote>{_e(r.statement)}<footer>{arxiv_link(src)}{title}</footer></blockquote>',
             (f'<div class="pair"><div class="stack"><div class="box verdict"><h3>Verdict: {badge(r.verdict)}</h3>'
              f'<p>{_e(r.reason)}</p></div>{_control(r.positive_control, True)}'
              f'{_control(r.negative_control, False)}</div>'),
             (f'<div class="box"><h3>Primary effect</h3><p class="stat">{_e(r.statistic)}</p>{effect}'
              f'<p class="power">{_e(fmt.mde_vs_paper(r.mde, r.paper_effect))}</p>'
              f'<p class="muted">{_e(r.seeds)} units · scale {_e(r.scale)} · '
              f'{_e(fmt.duration(r.wall_s))}</p></div></div>'),
             _parts(r.parts),
             _figures(r.figures, out), _details_table(f"Measurements ({len(r.table)} rows"
                                                      f"{f', first {MAX_ROWS} shown' if len(r.table) > MAX_ROWS else ''})",
                                                      r.table[:MAX_ROWS]),
             _runs(r.runs), _list("Caveats", r.notes, "ul"), _list("Suggested next experiments", r.next_steps, "ol"),
             '<p class="up"><a href="#summary">↑ summary</a></p></section>']
    return "".join(parts)


def _control_word(c: dict | None, positive: bool) -> str:
    """``detected`` / ``undetected`` (positive), ``quiet`` / ``fired`` (negative), ``none``."""
    if not c:
        return '<span class="muted">none</span>'
    ok = bool(c.get("detected")) == positive
    word = ("detected" if c.get("detected") else "undetected") if positive else \
        ("fired" if c.get("detected") else "quiet")
    return badge("holds" if ok else "instrument failed", small=True).replace(
        f'>{"holds" if ok else "instrument failed"}<', f">{word}<")


def _control(c: dict | None, positive: bool) -> str:
    kind = "Positive control" if positive else "Negative control"
    if not c:
        return (f'<div class="box control"><h3>{kind}</h3><p class="muted">none for this claim (see the '
                f'caveats).</p></div>')
    verdict = "holds" if bool(c.get("detected")) == positive else "instrument failed"
    return (f'<div class="box control"><h3>{kind}: {_control_word(c, positive)}</h3>'
            f'<p>{_e(c.get("description"))}</p><p class="mid">'
            f'{_e(fmt.effect_ci(c.get("effect"), c.get("ci_low"), c.get("ci_high")))} '
            f'{svg.forest_row(c.get("effect"), c.get("ci_low"), c.get("ci_high"), verdict)}</p></div>')


def _parts(parts: list[dict]) -> str:
    """The parts table: the primary first (95%), the others Holm-corrected (their level shown)."""
    if not parts:
        return ""
    rows = []
    for i, p in enumerate(parts):
        level = p.get("level")
        lvl = "primary, 95%" if i == 0 else (f"Holm, {fmt.num(100 * level)}%" if isinstance(level, (int, float))
                                             and not isinstance(level, bool) else "Holm")
        rows.append(f'<tr><td>{_e(p.get("name"))}</td><td>{_e(p.get("statistic"))}</td>'
                    f'<td class="num">{_e(fmt.effect_ci(p.get("effect"), p.get("ci_low"), p.get("ci_high")))}'
                    f'{svg.forest_row(p.get("effect"), p.get("ci_low"), p.get("ci_high"), p.get("verdict"))}</td>'
                    f'<td>{_e(lvl)}</td><td>{badge(p.get("verdict"), small=True)}</td>'
                    f'<td class="reason">{_e(p.get("reason", ""))}</td></tr>')
    head = "".join(f"<th>{c}</th>" for c in ("part", "statistic", "effect [CI]", "level", "verdict", "reason"))
    return (f'<h3>Parts</h3><div class="scroll"><table class="data parts"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>')


def embed_image(path: str | Path, out: Path) -> str | None:
    """``data:`` URI of the image at ``path`` (relative paths are under ``out``); None if missing."""
    p = Path(path)
    p = p if p.is_absolute() else out / p
    if not p.is_file():
        return None
    mime = MIME.get(p.suffix.lower(), "image/png")
    return f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"


def _figures(paths: list[str], out: Path) -> str:
    figs = []
    for path in paths:
        uri = embed_image(path, out)
        name = _e(Path(path).name)
        figs.append(f'<figure><img src="{uri}" alt="{name}"><figcaption>{name}</figcaption></figure>' if uri else
                    f'<figure class="missing"><p>figure not found: <code>{_e(path)}</code></p></figure>')
    return f'<div class="figures">{"".join(figs)}</div>' if figs else ""


def _is_num(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _cell(v) -> str:
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (dict, list)):
        return _e(json.dumps(v))
    return _e(fmt.num(v))


def _details_table(summary: str, rows: list[dict]) -> str:
    """A collapsed ``<details>`` holding ``rows`` as a table (columns: union of keys, first-seen order)."""
    if not rows:
        return ""
    cols = list(dict.fromkeys(k for row in rows for k in row))
    numeric = {c: ' class="num"' if all(_is_num(row.get(c)) for row in rows if row.get(c) is not None) else ""
               for c in cols}
    head = "".join(f"<th{numeric[c]}>{_e(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td{numeric[c]}>{_cell(row.get(c))}</td>" for c in cols) + "</tr>"
                   for row in rows)
    return (f'<details><summary>{_e(summary)}</summary><div class="scroll"><table class="data"><thead><tr>{head}</tr>'
            f'</thead><tbody>{body}</tbody></table></div></details>')


def _runs(runs: list[dict]) -> str:
    if not runs:
        return ""
    rows = [{"name": r.get("name"), "kind": r.get("kind"), "what": r.get("summary"),
             "reused": bool(r.get("reused")), "wall time": fmt.duration(r.get("wall_s")), "path": r.get("path")}
            for r in runs]
    total = sum(r.get("wall_s") or 0 for r in runs if not r.get("reused"))
    reused = sum(bool(r.get("reused")) for r in runs)
    return _details_table(f"Runs ({len(runs)}, {reused} reused; {fmt.duration(total)} computed)", rows)


def _list(title: str, items: list[str], tag: str) -> str:
    if not items:
        return ""
    return f'<h3>{title}</h3><{tag} class="items">{"".join(f"<li>{_e(i)}</li>" for i in items)}</{tag}>'


def breakdown(results: list[ClaimResult], meta: dict) -> list[dict]:
    """Wall-time rows: ``meta["breakdown"]`` when given, else the claims' runs (each distinct
    ``(name, path)`` once: a prior shared by several claims is one run)."""
    if meta.get("breakdown"):
        return meta["breakdown"]
    runs = {(r.get("name"), r.get("path")): r for c in results for r in c.runs}  # a shared run counts once
    return [{k: r.get(k) for k in ("name", "kind", "wall_s", "reused")} for r in runs.values()]


def _meta_value(key: str, value) -> str:
    if value is None:
        return fmt.DASH
    if key == "wall_s":
        return fmt.duration(value)
    if key == "command":
        return f"<code>{_e(value)}</code>"
    if isinstance(value, dict):
        return " · ".join(f"{_e(k)} {_e(v)}" for k, v in value.items())
    return _e(value)


def _compute(results: list[ClaimResult], meta: dict) -> str:
    rows = breakdown(results, meta)
    bars = svg.walltime_bars(rows)
    keys = svg.legend(svg.KIND_COLOURS) + '<span class="key"><i class="hollow"></i>reused (not recomputed)</span>'
    shown = [k for k in META_KEYS if k in meta] + [k for k in meta if k not in META_KEYS and k not in ("breakdown",
                                                                                                        "note")]
    dl = "".join(f"<dt>{_e(META_KEYS.get(k, k))}</dt><dd>{_meta_value(k, meta[k])}</dd>" for k in shown)
    dl += f"<dt>rendered</dt><dd>{datetime.now().isoformat(timespec='seconds')}</dd>"
    chart = f'<div class="legend">{keys}</div><div class="scroll">{bars}</div>' if bars else \
        '<p class="muted">no wall times recorded.</p>'
    return (f'<section id="compute"><h2>Compute</h2><p class="sub">Wall time per run, longest first '
            f'({len(rows)} runs).</p>{chart}<dl class="meta">{dl}</dl>'
            f'<p class="muted">Rebuild this page from the saved results without rerunning anything: '
            f'<code>priorlab report DIR</code>.</p></section>')
