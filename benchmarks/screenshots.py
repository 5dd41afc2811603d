"""README pictures and report screenshots, made from the demo.

Runs ``mspathobiology demo`` (or reuses ``--demo DIR`` made by it), then:

* takes screenshots of the cohort page and of one case page at 1400 px wide with headless
  Chromium (Debian ``chromium``) into ``benchmarks/results/screenshot_cohort.png`` and
  ``screenshot_case.png``;
* measures, in Chromium, the width of each page and of the cohort summary table against the
  1400 px window (a copy of the page with a measuring script; the reports themselves allow no
  script), and prints whether anything scrolls sideways;
* copies the README pictures into ``Resources/Screenshots``: ``report.png`` (the case page's
  FLAIR mosaic), ``cohort_page.png`` (the top of the cohort page), ``case_page.png`` (the
  top of the case page) and ``phantom_preview.png`` (the demo's first phantom subject).

    python benchmarks/screenshots.py [--demo DIR] [--case sub-01_ses-02]
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SCREENSHOTS = ROOT / "Resources" / "Screenshots"
WIDTH = 1400
README_HEIGHT = 900
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--hide-scrollbars")
MEASURE = ("<script>window.addEventListener('load', function () {var d = document.documentElement;"
           "var t = document.querySelector('table');"
           "document.body.setAttribute('data-measure', [d.scrollWidth, d.scrollHeight, window.innerWidth,"
           " t ? t.getBoundingClientRect().right : 0].join('x'));});</script>")


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SystemExit("headless Chromium not found: apt-get install chromium")


def run_chromium(*args: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=180)


def measure(page: Path, height: int = 1000) -> dict:
    """{scroll_width, scroll_height, window_width, table_right} of ``page`` at WIDTH px, measured by
    Chromium on a copy with a measuring script (and without the page's CSP, which forbids scripts)."""
    text = re.sub(r"<meta http-equiv='Content-Security-Policy'[^>]*>", "", page.read_text())
    probe = page.with_name(f".measure-{page.name}")
    probe.write_text(text.replace("</body>", MEASURE + "</body>"))
    try:
        done = run_chromium(f"--window-size={WIDTH},{height}", "--virtual-time-budget=10000", "--dump-dom",
                            probe.as_uri())
    finally:
        probe.unlink()
    found = re.search(r'data-measure="(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)x(\d+(?:\.\d+)?)"', done.stdout)
    if not found:
        raise SystemExit(f"could not measure {page}: {done.stderr[-500:]}")
    sw, sh, ww, tr = (float(v) for v in found.groups())
    return {"scroll_width": sw, "scroll_height": sh, "window_width": ww, "table_right": tr}


def screenshot(page: Path, png: Path, height: int) -> Path:
    png.parent.mkdir(parents=True, exist_ok=True)
    done = run_chromium(f"--window-size={WIDTH},{height}", "--virtual-time-budget=10000", f"--screenshot={png}",
                        page.as_uri())
    if not png.exists() or png.stat().st_size == 0:
        raise SystemExit(f"no screenshot of {page}: {done.stderr[-500:]}")
    return png


def crop_top(png: Path, out: Path, height: int) -> Path:
    import matplotlib.image as mpimg

    image = mpimg.imread(png)
    mpimg.imsave(out, image[:height])
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--demo", help="a folder written by `mspathobiology demo` (default: run the demo now)")
    parser.add_argument("--case", default="sub-01_ses-02", help="case page to show (default sub-01_ses-02)")
    args = parser.parse_args()

    start = time.perf_counter()
    tmp = None
    if args.demo and (Path(args.demo) / "bids").exists():
        demo = Path(args.demo)
        from mspathobiology.cohort.report import write_reports

        write_reports(demo / "bids" / "derivatives" / "mspathobiology")
        print(f"demo: reused {demo}, reports rewritten")
    else:
        from mspathobiology.cohort.demo import run_demo

        demo = Path(args.demo) if args.demo else Path(tempfile.mkdtemp(prefix="demo_"))
        tmp = None if args.demo else demo
        done = run_demo(demo, progress=False, log=lambda text: None)
        print(f"demo: {len(done['result'].cases)} sessions, {len(done['result'].failed)} failed analyses, "
              f"{done['seconds']:.0f} s")
    reports = demo / "bids" / "derivatives" / "mspathobiology" / "reports"
    pages = {"cohort": reports / "index.html", "case": reports / f"{args.case}.html"}
    ok = True
    for name, page in pages.items():
        size = measure(page)
        scrolls = size["scroll_width"] > size["window_width"]
        table_fits = size["table_right"] <= size["window_width"]
        ok &= not scrolls and (name != "cohort" or table_fits)
        png = screenshot(page, RESULTS / f"screenshot_{name}.png", int(size["scroll_height"]) + 20)
        print(f"{name} page at {WIDTH} px: content {size['scroll_width']:.0f} x {size['scroll_height']:.0f} px in a "
              f"{size['window_width']:.0f} px window; horizontal scroll: {'YES' if scrolls else 'none'}; "
              f"first table ends at {size['table_right']:.0f} px -> {png.relative_to(ROOT)}")
        crop_top(png, SCREENSHOTS / f"{name}_page.png", README_HEIGHT)
    shutil.copyfile(reports / args.case / "lesion_mosaic.png", SCREENSHOTS / "report.png")

    from mspathobiology.defaults.cohort import DEMO_SEED
    from mspathobiology.phantom import generate_subject
    from mspathobiology.phantom.preview import write_preview

    write_preview(generate_subject(seed=DEMO_SEED, small=True, sessions=1).sessions[0],
                  SCREENSHOTS / "phantom_preview.png")
    print("README pictures: " + ", ".join(sorted(p.name for p in SCREENSHOTS.glob("*.png"))) +
          f" in {SCREENSHOTS.relative_to(ROOT)}")
    print(f"TARGET cohort summary and case page without horizontal scroll at {WIDTH} px: "
          f"{'MET' if ok else 'NOT MET'}")
    print(f"done in {time.perf_counter() - start:.0f} s")
    if tmp is not None:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
