"""Check a claim re-test report in headless Chromium: the page loads, logs no console error, requests
nothing but file:/data: URLs (it works offline), and renders; writes a screenshot and prints timings.

    python benchmarks/check_report.py                       # the constructed example (made-up numbers)
    python benchmarks/check_report.py runs/retest           # a real DIR (re-rendered first, as `priorlab report`)
    python benchmarks/check_report.py --screenshot docs/img/report.png --max-height 2600

Needs a Chromium binary (Debian: apt-get install chromium; or PRIORLAB_CHROMIUM=/path). Exit code 1
when the check fails. See docs/report.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from priorlab.report import write_report
from priorlab.report.browser import check_page, find_chromium


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", nargs="?", type=Path, help="retest directory (default: render the constructed example)")
    ap.add_argument("--screenshot", type=Path, help="PNG path (default DIR/report.png)")
    ap.add_argument("--width", type=int, default=1280, help="viewport width in CSS px")
    ap.add_argument("--max-height", type=int, default=16000, help="crop the full-page screenshot to this height")
    args = ap.parse_args()
    chrome = find_chromium()
    if chrome is None:
        print("no Chromium found: apt-get install chromium, or set PRIORLAB_CHROMIUM", file=sys.stderr)
        return 2
    out = args.dir or Path(tempfile.mkdtemp(prefix="priorlab-report-"))
    t = time.perf_counter()
    if args.dir is None:
        from priorlab.report.example import example_meta, example_results

        path = write_report(example_results(out), out, example_meta())
    else:
        from priorlab.claims.result import load_results
        from priorlab.report.meta import load_meta

        results = load_results(out)
        path = write_report(results, out, load_meta(out, results))
    render_s = time.perf_counter() - t
    t = time.perf_counter()
    res = check_page(path, args.screenshot or out / "report.png", args.width, args.max_height, chrome=chrome)
    check_s = time.perf_counter() - t
    print(f"{path}: {path.stat().st_size / 1e6:.2f} MB, rendered in {render_s:.2f} s")
    print(f"{chrome}: loaded={res.loaded} errors={len(res.errors)} warnings={len(res.warnings)} "
          f"non-local requests={len(res.external)} height={res.height}px in {check_s:.1f} s")
    for line in res.errors + res.warnings + res.external:
        print("  ", line)
    print(f"screenshot: {res.screenshot}")
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
