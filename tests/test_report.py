"""The claim re-test report on constructed claim results: one self-contained HTML file, the
verdicts.json contract, the ClaimResult round trip, `priorlab report DIR`, and (when Chromium is
installed) a headless-browser load with no console errors."""

import base64
import json
import math
import re

import pytest
from typer.testing import CliRunner

from priorlab.claims.result import CONTROL_KEYS, PART_KEYS, VERDICT_KEYS, VERDICTS, ClaimResult, load_results, \
    verdicts_json
from priorlab.cli import app
from priorlab.config import ConfigError
from priorlab.errors import InputDataError
from priorlab.report import fmt, svg, write_report
from priorlab.report.browser import check_page, find_chromium
from priorlab.report.html import breakdown

# a valid 1x1 PNG
PNG = base64.b64decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwAD"
                       "hgGAWjR9awAAAABJRU5ErkJggg==")
NASTY = '<script>alert("x")</script> & pass@k < 1'


def claim(id="C1", verdict="holds", **kw) -> ClaimResult:
    base = dict(id=id, title=f"title of {id}", statement=f"statement of {id}",
                source={"arxiv": "2506.10947", "date": "2025-06", "authors": "Shao et al.", "title": "Spurious"},
                statistic="Δ verified pass@1", verdict=verdict, reason=f"reason of {id}", effect=0.12, ci_low=0.05,
                ci_high=0.2, seeds=3, scale="small",
                runs=[{"name": "prior", "kind": "prior", "path": "p", "summary": "s", "reused": True, "wall_s": 9.0},
                      {"name": f"{id}/rl", "kind": "rl", "path": "r", "summary": "s", "reused": False, "wall_s": 3.5}],
                table=[{"arm": "rl", "seed": 0, "pass1": 0.5, "ok": True}],
                negative_control={"description": "random reward", "detected": False, "effect": 0.0, "ci_low": -0.1,
                                  "ci_high": 0.1},
                positive_control={"description": "planted", "detected": True, "effect": 0.3, "ci_low": 0.1,
                                  "ci_high": 0.5},
                parts=[{"name": "primary", "statistic": "Δ", "effect": 0.12, "ci_low": 0.05, "ci_high": 0.2,
                        "verdict": verdict, "reason": "r", "mde": 0.04, "paper_effect": 0.2, "level": 0.95, "units": 3},
                       {"name": "second", "statistic": "Δ2", "effect": 0.0, "ci_low": -0.1, "ci_high": 0.1,
                        "verdict": "no effect detected", "reason": "Holm", "level": 0.975, "units": 3}],
                mde=0.04, paper_effect=0.2,
                next_steps=["more seeds"], wall_s=12.5, notes=["a caveat"])
    return ClaimResult(**(base | kw))


@pytest.fixture
def results(tmp_path):
    (tmp_path / "claims" / "C1").mkdir(parents=True)
    (tmp_path / "claims" / "C1" / "fig.png").write_bytes(PNG)
    return [claim("C1", figures=["claims/C1/fig.png", str(tmp_path / "claims" / "C1" / "fig.png")]),
            claim("C2", "contradicted", effect=-0.3, ci_low=-0.5, ci_high=-0.1, negative_control=None,
                  positive_control=None, statement=NASTY),
            claim("C10", "underpowered", effect=None, ci_low=None, ci_high=None, figures=["missing.png"],
                  table=[], runs=[])]


META = {"scale": "small", "started": "2025-01-01T00:00:00", "wall_s": 60.0, "version": "0.1.0", "commit": "abc",
        "machine": {"cores": 2, "device": "cpu"}, "command": "priorlab retest --scale small",
        "breakdown": [{"name": "prior", "kind": "prior", "wall_s": 9.0, "reused": True}]}


def test_report_is_one_self_contained_file(results, tmp_path):
    path = write_report(results, tmp_path, META)
    html = path.read_text()
    assert path == tmp_path / "report.html" and (tmp_path / "verdicts.json").exists()
    # nothing fetched from anywhere: only in-page anchors, data URIs and arXiv links
    for ref in re.findall(r'(?:src|href)="([^"]*)"', html):
        assert ref.startswith(("#", "data:image/png;base64,", "https://arxiv.org/abs/")), ref
    assert all(u.startswith("https://arxiv.org/abs/") for u in re.findall(r"https?://[^\s\"'<>]+", html))
    assert not re.search(r"<script|<link|@import|url\(", html)
    for r in results:
        assert f'id="{r.id}"' in html and f'href="#{r.id}"' in html
        assert f'class="badge {r.verdict.replace(" ", "-")}"' in html
    # the figure (given relative and absolute) is embedded twice, byte for byte; a missing one is named
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    assert len(uris) == 2 and all(base64.b64decode(u) == PNG for u in uris)
    assert "figure not found" in html and "missing.png" in html
    # user text is escaped, numbers formatted, the None effect is said, the table is collapsible
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; pass@k &lt; 1" in html
    assert 'alert("x")' not in html
    assert "+0.12 [+0.05, +0.2]" in html and "−0.3 [−0.5, −0.1]" in html and "no estimate" in html
    assert html.count("<details>") == 4 and "none for this claim" in html
    assert html.count('<table class="data parts">') == 3 and "Holm, 97.5%" in html and "MDE 0.04" in html
    assert "priorlab retest --scale small" in html and "9.0 s, reused" in html
    # without a breakdown the compute chart shows the claims' runs, a shared prior once
    assert [r["name"] for r in breakdown(results, {})] == ["prior", "C1/rl", "C2/rl"]
    assert svg.walltime_bars([]) == ""


def test_verdicts_json_has_exactly_the_contract_keys(results, tmp_path):
    write_report(results, tmp_path, META)
    rows = json.loads((tmp_path / "verdicts.json").read_text())
    assert [r["id"] for r in rows] == ["C1", "C2", "C10"]
    assert all(list(r) == list(VERDICT_KEYS) for r in rows)
    assert rows[2]["effect"] is None and rows[0]["source"]["arxiv"] == "2506.10947"
    assert [list(p) for p in rows[0]["parts"]] == [list(PART_KEYS)] * 2
    assert list(rows[0]["negative_control"]) == list(CONTROL_KEYS) and rows[1]["negative_control"] is None
    assert rows[0]["positive_control"]["detected"] is True and rows[0]["mde"] == 0.04
    assert verdicts_json([claim(effect=math.nan)])[0]["effect"] is None  # JSON has no NaN


def test_claim_result_round_trip_and_errors(results):
    for r in results:
        assert ClaimResult.from_json(json.loads(json.dumps(r.to_json()))) == r
    with pytest.raises(ConfigError, match="Did you mean 'notes'"):
        ClaimResult.from_json(results[0].to_json() | {"note": []})
    with pytest.raises(ConfigError, match="missing key"):
        ClaimResult.from_json({k: v for k, v in results[0].to_json().items() if k != "verdict"})
    with pytest.raises(ConfigError, match="Did you mean 'holds'"):
        claim(verdict="hold")
    with pytest.raises(ConfigError, match=r"parts\[0\].verdict"):
        claim(parts=[{"verdict": "yes"}])
    assert VERDICTS == ("holds", "contradicted", "no effect detected", "underpowered", "instrument failed", "not run")


HOSTILE = '<script>alert("pwn")</script>'


@pytest.mark.parametrize("field,value", [
    ("seeds", HOSTILE), ("effect", "0.1<b>"), ("wall_s", "soon"), ("parts", {"name": "x"}),
    ("parts", [{"name": "p", "statistic": "s", "effect": "big", "ci_low": None, "ci_high": None, "verdict": "holds"}]),
    ("negative_control", {"description": "d", "effect": 0.0, "ci_low": None, "ci_high": None, "detected": "no"}),
    ("runs", [{"name": "r", "wall_s": HOSTILE}]), ("notes", [1]), ("source", {"arxiv": ["x"]}), ("table", [3])])
def test_hostile_result_json_is_rejected_naming_file_and_field(results, tmp_path, field, value):
    path = tmp_path / "claims" / "C1" / "result.json"
    results[0].save(path)
    path.write_text(json.dumps(results[0].to_json() | {field: value}))
    with pytest.raises(InputDataError, match=f"C1/result.json.*{field}"):
        load_results(tmp_path)
    path.write_text("[1, 2]")
    with pytest.raises(InputDataError, match="C1/result.json"):
        load_results(tmp_path)


def test_every_string_of_a_result_is_escaped(tmp_path):
    """Quotes and markup in every string field (and in part and control strings) end up escaped."""
    evil = claim("C1", title=HOSTILE, statistic=HOSTILE + '"', reason=HOSTILE, scale=HOSTILE, notes=[HOSTILE],
                 next_steps=[HOSTILE], source={"arxiv": '1" onmouseover="x', "authors": HOSTILE, "title": HOSTILE},
                 table=[{HOSTILE: HOSTILE}], figures=[HOSTILE],
                 runs=[{"name": HOSTILE, "kind": HOSTILE, "path": HOSTILE, "summary": HOSTILE, "reused": False,
                        "wall_s": 1.0}],
                 parts=[{"name": HOSTILE, "statistic": HOSTILE, "effect": 0.1, "ci_low": 0.0, "ci_high": 0.2,
                         "verdict": "holds", "reason": HOSTILE}],
                 negative_control={"description": HOSTILE, "effect": 0.0, "ci_low": None, "ci_high": None,
                                   "detected": False})
    loaded = ClaimResult.from_json(json.loads(json.dumps(evil.to_json())))
    html = write_report([loaded], tmp_path, META | {"note": HOSTILE, "command": HOSTILE}).read_text()
    assert "<script" not in html and 'alert("pwn")' not in html and 'onmouseover="x' not in html


def test_cli_report_rerenders_from_saved_results(results, tmp_path):
    for r in results:
        r.save(tmp_path / "claims" / r.id / "result.json")
    assert [r.id for r in load_results(tmp_path)] == ["C1", "C2", "C10"]  # natural order
    write_report(results, tmp_path, META)
    (tmp_path / "report.html").unlink()
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 0, res.output
    html = (tmp_path / "report.html").read_text()
    assert "priorlab retest --scale small" in html and "contradicted" in res.output  # meta.json was kept
    (tmp_path / "meta.json").unlink()
    assert CliRunner().invoke(app, ["report", str(tmp_path)]).exit_code == 0
    assert "not recorded (no meta.json)" in (tmp_path / "report.html").read_text()
    (tmp_path / "claims" / "C2" / "result.json").write_text('{"id": "C2"}')
    res = CliRunner().invoke(app, ["report", str(tmp_path)])
    assert res.exit_code == 2 and "C2/result.json" in res.output and "missing key" in res.output
    res = CliRunner().invoke(app, ["report", str(tmp_path / "nowhere")])
    assert res.exit_code == 2 and "no claims/*/result.json" in res.output


def test_numbers_and_forest_rows():
    assert [fmt.num(x) for x in (0.9996, 1234.5, 12.34, 0.01234, -0.05, 0.0, 7, None)] == \
        ["1", "1,230", "12.3", "0.0123", "−0.05", "0", "7", "—"]
    assert fmt.effect_ci(0.1, -0.02, 0.3) == "+0.1 [−0.02, +0.3]" and fmt.duration(185) == "3 min 05 s"
    row = svg.forest_row(0.5, 0.2, 0.8, "holds", width=100)
    xs = [float(x) for x in re.findall(r'x1="([\d.]+)"', row)]
    assert 0 <= min(xs) and max(xs) <= 100 and "#1a7f37" in row  # zero line and CI inside the box
    assert svg.forest_row(None, None, None, "underpowered") == ""


@pytest.mark.skipif(find_chromium() is None, reason="no Chromium (apt-get install chromium)")
def test_report_loads_in_headless_chromium(results, tmp_path):
    path = write_report(results, tmp_path, META)
    res = check_page(path, tmp_path / "shot.png", timeout_s=120)
    assert res.ok, (res.errors, res.external)
    assert res.height > 900 and (tmp_path / "shot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    bad = tmp_path / "bad.html"
    bad.write_text('<img src="https://example.invalid/x.png"><script>console.error("boom")</script>')
    res = check_page(bad, timeout_s=120)
    assert not res.ok and "console.error: boom" in res.errors and res.external == ["https://example.invalid/x.png"]
