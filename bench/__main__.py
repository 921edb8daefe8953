"""The benchmark (not a test): `python -m bench [--only queries|import|browser|load] [--scales 1,3] [--repeats 15]
[--gen-repeats 3] [--import-repeats 3] [--scale 3] [--browser-repeats 5] [--sessions 25] [--seconds 120] [--think 6]
[--forces 43]`.

Queries: builds demo stores of 1 and 3 force-years (160,000 and 480,000 cases) and prints medians over
repeated runs: demo generation, the data behind Board overview and Rights compliance (warm),
the same figures from a straightforward pandas implementation with the speed ratio, and peak
memory. Results go to bench/out/results.{json,md}.

Import: 1,000,000 entitlement rows from CSV with full validation, into a store holding their parents,
into one holding a previous load, with 1% bad rows, and as a first load (bench/import_bench.py).
Results go to bench/out/import.{json,md}.

Browser: navigation to the Board overview and a district filter change to the page redrawn, in headless Chromium
against the dashboard on loopback, at --scale force-years (bench/browser_timings.py). Results go to
bench/out/browser.{json,md}.

Load: --sessions concurrent sessions (Streamlit's protocol, no browser) changing filters for --seconds, pausing
--think seconds on average between actions, with server memory sampled every second, one session closed mid-run
and one left idle (bench/load.py); only with --only load. Results go to bench/out/load.{json,md}.

Each measurement runs in its own process (browser and load: their own server). Without --only, queries, import
and browser run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

CASES_PER_FORCE_YEAR = 160_000
START = "2023-11"  # fixed, so every run builds the same stores
TARGETS = {"board_overview_3fy_s": 0.150, "pandas_ratio_min": 5.0, "generate_1fy_s": 30.0,
           # issue 7: with the summary cubes, at 3 force-years and at national scale
           "board_page_3fy_s": 0.050, "board_page_national_s": 0.250}


def run_worker(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "bench.worker", *args], capture_output=True, text=True,
                         cwd=Path(__file__).resolve().parent.parent)
    if out.returncode:
        sys.stderr.write(out.stderr[-3000:])
        raise RuntimeError(f"benchmark worker {args[0]} failed (exit {out.returncode})")
    return json.loads(out.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, Python {platform.python_version()}, {platform.system()}"


def bench_scale(force_years: int, workdir: Path, repeats: int, gen_repeats: int) -> dict:
    cases, months = CASES_PER_FORCE_YEAR * force_years, 12 * force_years
    db = workdir / f"demo_{force_years}fy.duckdb"
    generations = [run_worker("generate", "--db", str(db), "--cases", str(cases), "--months", str(months),
                              "--start", START) for _ in range(gen_repeats)]
    query = run_worker("query", "--db", str(db), "--repeats", str(repeats))
    baseline = run_worker("pandas", "--db", str(db), "--repeats", str(max(3, repeats // 3)))
    return {
        "force_years": force_years, "cases": cases, "months": months, "instances": query["instances"],
        "rows": generations[-1]["rows"],
        "generate_s": statistics.median(g["generate_s"] for g in generations),
        "build_s": statistics.median(g["build_s"] for g in generations),
        "generate_and_build_s": statistics.median(g["total_s"] for g in generations),
        "generate_peak_rss_mb": max(g["peak_rss_mb"] for g in generations),
        "board_overview_s": query["board_overview_s"],
        "board_overview_all_months_s": query["board_overview_all_months_s"],
        "rights_compliance_s": query["rights_compliance_s"],
        "board_page_s": query["board_page_s"],
        "board_page_facts_s": query["board_page_facts_s"],
        "rights_compliance_facts_s": query["rights_compliance_facts_s"],
        "cube_rows": query["cube_rows"],
        "cube_results_identical": query["cube_results_identical"],
        "keeping_informed_s": query["keeping_informed_s"],
        "query_peak_rss_mb": query["peak_rss_mb"],
        "pandas_load_s": baseline["load_s"],
        "pandas_board_overview_s": baseline["board_overview_s"],
        "pandas_rights_compliance_s": baseline["rights_compliance_s"],
        "pandas_peak_rss_mb": baseline["peak_rss_mb"],
        "board_ratio": baseline["board_overview_s"] / query["board_overview_s"],
        "rights_ratio": baseline["rights_compliance_s"] / query["rights_compliance_s"],
        "results_identical": baseline["board_results_identical"] and baseline["right_results_identical"],
        "gen_repeats": gen_repeats, "repeats": repeats,
    }


def markdown(results: list[dict], host: str) -> str:
    lines = [f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {host}.", "",
             "| | " + " | ".join(f"{r['force_years']} force-year{'s' if r['force_years'] > 1 else ''}" for r in results) + " |",
             "|---|" + "---|" * len(results)]

    def row(label: str, fmt) -> None:
        lines.append(f"| {label} | " + " | ".join(fmt(r) for r in results) + " |")

    row("cases / entitlement instances", lambda r: f"{r['cases']:,} / {r['instances']:,}")
    row("demo generation (median)", lambda r: f"{r['generate_s']:.1f} s")
    row("store build (median)", lambda r: f"{r['build_s']:.1f} s")
    row("generation + build (median)", lambda r: f"{r['generate_and_build_s']:.1f} s")
    row("Board overview data, default 12 months, warm (median)", lambda r: f"{r['board_overview_s'] * 1000:.0f} ms")
    row("Board overview data over every month in the store, warm (median)",
        lambda r: f"{r['board_overview_all_months_s'] * 1000:.0f} ms")
    row("Rights compliance data (Right 6), warm (median)", lambda r: f"{r['rights_compliance_s'] * 1000:.0f} ms")
    row("summary cube rows (force-wide / area)",
        lambda r: f"{r['cube_rows']['summary_force']:,} / {r['cube_rows']['summary_area']:,}")
    row("**Board overview page data** (period and SPC history) from the cubes, warm (median)",
        lambda r: f"**{r['board_page_s'] * 1000:.0f} ms**")
    row("the same read from the entitlement facts (median)", lambda r: f"{r['board_page_facts_s'] * 1000:.0f} ms")
    row("ratio facts / cubes, Board overview page data", lambda r: f"{r['board_page_facts_s'] / r['board_page_s']:.1f}×")
    row("Rights compliance data (Right 6) from the facts (median)",
        lambda r: f"{r['rights_compliance_facts_s'] * 1000:.0f} ms")
    row("cubes and facts give identical figures", lambda r: "yes" if r["cube_results_identical"] else "NO")
    row("Keeping victims informed data (contact log), warm (median)", lambda r: f"{r['keeping_informed_s'] * 1000:.0f} ms")
    row("pandas: Board overview (median)", lambda r: f"{r['pandas_board_overview_s'] * 1000:.0f} ms")
    row("pandas: Rights compliance (median)", lambda r: f"{r['pandas_rights_compliance_s'] * 1000:.0f} ms")
    row("ratio pandas / DuckDB, Board overview", lambda r: f"{r['board_ratio']:.1f}×")
    row("ratio pandas / DuckDB, Rights compliance", lambda r: f"{r['rights_ratio']:.1f}×")
    row("pandas: loading the facts into memory (once)", lambda r: f"{r['pandas_load_s']:.1f} s")
    row("peak memory: generation + build", lambda r: f"{r['generate_peak_rss_mb']:,.0f} MB")
    row("peak memory: dashboard queries", lambda r: f"{r['query_peak_rss_mb']:,.0f} MB")
    row("peak memory: pandas", lambda r: f"{r['pandas_peak_rss_mb']:,.0f} MB")
    row("pandas and DuckDB results identical", lambda r: "yes" if r["results_identical"] else "NO")
    lines.append("")
    lines.append(f"Medians over {results[0]['repeats']} warm runs of each query set (pandas: "
                 f"{max(3, results[0]['repeats'] // 3)}) and {results[0]['gen_repeats']} generations per scale.")
    return "\n".join(lines)


def national_markdown(result: dict, force_years: int) -> str:
    rows = result["cube_rows"]
    return "\n".join([
        f"National scale: {result['forces']} forces, each a copy of the {force_years} force-year store's area cube "
        "with its own area names (bench/national.py says why and how).", "",
        "| | national |", "|---|---|",
        f"| summary cube rows (force-wide / area) | {rows['summary_force']:,} / {rows['summary_area']:,} |",
        f"| eligible instances in the default 12 months | {result['eligible_in_period']:,} |",
        f"| export of one force's cube (Parquet) | {result['export_s']:.2f} s |",
        f"| **Board overview page data**, default 12 months, warm (median) | **{result['board_page_s'] * 1000:.0f} ms** |",
        f"| Board overview page data, every month (median) | {result['board_page_all_months_s'] * 1000:.0f} ms |",
        f"| Board overview page data, one district (median) | {result['board_page_one_district_s'] * 1000:.0f} ms |",
        f"| Rights compliance data (Right 6, by command area, district, offence group, victim type; median) | "
        f"{result['rights_compliance_s'] * 1000:.0f} ms |",
        f"| peak memory of the process | {result['peak_rss_mb']:,.0f} MB |",
    ])


def run_queries(args, out: Path, host: str) -> None:
    scales = [int(s) for s in args.scales.split(",")]
    results = []
    nation = None
    with tempfile.TemporaryDirectory(prefix="vcd-bench-") as tmp:
        for force_years in scales:
            print(f"measuring {force_years} force-year(s)…", file=sys.stderr, flush=True)
            results.append(bench_scale(force_years, Path(tmp), args.repeats, args.gen_repeats))
        if args.forces > 0:
            print(f"measuring {args.forces} forces' cubes…", file=sys.stderr, flush=True)
            nation = run_worker("national", "--db", str(Path(tmp) / f"demo_{max(scales)}fy.duckdb"),
                                "--forces", str(args.forces), "--repeats", str(args.repeats))
    table = markdown(results, host)
    if nation:
        table += "\n\n" + national_markdown(nation, max(scales))
    (out / "results.json").write_text(json.dumps({"machine": host, "results": results, "national": nation}, indent=2))
    (out / "results.md").write_text(table + "\n")
    print(table)
    by_scale = {r["force_years"]: r for r in results}
    if 3 in by_scale:
        print(f"\ntarget: Board overview within {TARGETS['board_overview_3fy_s'] * 1000:.0f} ms at 3 force-years: "
              f"{'met' if by_scale[3]['board_overview_s'] <= TARGETS['board_overview_3fy_s'] else 'MISSED'}")
        print(f"target: Board overview page data within {TARGETS['board_page_3fy_s'] * 1000:.0f} ms at 3 force-years: "
              f"{'met' if by_scale[3]['board_page_s'] <= TARGETS['board_page_3fy_s'] else 'MISSED'} "
              f"({by_scale[3]['board_page_s'] * 1000:.0f} ms)")
    if nation:
        print(f"target: Board overview page data within {TARGETS['board_page_national_s'] * 1000:.0f} ms at national "
              f"scale: {'met' if nation['board_page_s'] <= TARGETS['board_page_national_s'] else 'MISSED'} "
              f"({nation['board_page_s'] * 1000:.0f} ms)")
    if 1 in by_scale:
        print(f"target: 1 force-year generated within {TARGETS['generate_1fy_s']:.0f} s: "
              f"{'met' if by_scale[1]['generate_and_build_s'] <= TARGETS['generate_1fy_s'] else 'MISSED'}")
    ratio_ok = all(r["board_ratio"] >= TARGETS["pandas_ratio_min"] for r in results)
    print(f"target: at least {TARGETS['pandas_ratio_min']:.0f}× faster than pandas: {'met' if ratio_ok else 'MISSED'}")



def run_import(out: Path, host: str, repeats: int) -> None:
    from bench.import_bench import TARGET_ROWS_PER_S, bench_import, import_markdown

    with tempfile.TemporaryDirectory(prefix="vcd-bench-import-") as tmp:
        result = bench_import(Path(tmp), repeats, run_worker, lambda text: print(text, file=sys.stderr, flush=True))
    table = import_markdown(result, host)
    (out / "import.json").write_text(json.dumps({"machine": host, **result}, indent=2))
    (out / "import.md").write_text(table + "\n")
    print(table)
    for name, r in result["scenarios"].items():
        print(f"target: {name}: at least {TARGET_ROWS_PER_S:,} entitlement rows/s: "
              f"{'met' if r['rows_per_s'] >= TARGET_ROWS_PER_S else 'MISSED'} ({r['rows_per_s']:,.0f})")


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _write_results(out: Path, name: str, table: str, result: dict) -> None:
    """out/NAME.json and out/NAME.md, and the table printed."""
    (out / f"{name}.json").write_text(json.dumps(result, indent=2))
    (out / f"{name}.md").write_text(table + "\n")
    print(table)


def run_browser(out: Path, host: str, force_years: int, repeats: int) -> int:
    from bench.browser_timings import LABELS, TARGETS_S, BenchError, browser_markdown, measure, store_for_scale

    try:
        result = measure(store_for_scale(force_years, out / "stores", _stderr), repeats, _stderr)
    except BenchError as error:
        _stderr(f"browser timings failed: {error}")
        return 1
    _write_results(out, "browser", browser_markdown(result, host, force_years),
                   {"machine": host, "force_years": force_years, **result})
    for key, (label, target_name) in LABELS.items():
        if target_name is None:
            print(f"reported: {label}: {result[key]['median_s']:.2f} s")
            continue
        target = TARGETS_S[target_name]
        print(f"target: {label} within {target:.0f} s: "
              f"{'met' if result[key]['median_s'] <= target else 'MISSED'} ({result[key]['median_s']:.2f} s)")
    return 0


def run_load(out: Path, host: str, force_years: int, sessions: int, seconds: int, think_s: float) -> int:
    from bench.browser_timings import BenchError, store_for_scale
    from bench.load import load_markdown, load_targets, run

    try:
        result = run(store_for_scale(force_years, out / "stores", _stderr), sessions, seconds, _stderr, think_s)
    except BenchError as error:
        _stderr(f"load run failed: {error}")
        return 1
    _write_results(out, "load", load_markdown(result, host, force_years),
                   {"machine": host, "force_years": force_years, **result})
    for line in load_targets(result):
        print(line)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("queries", "import", "browser", "load"),
                        help="run one part of the benchmark (default: queries, import and browser)")
    parser.add_argument("--import-repeats", type=int, default=3, help="runs of each import scenario (default 3)")
    parser.add_argument("--scales", default="1,3", help="force-years to measure, comma-separated (default 1,3)")
    parser.add_argument("--repeats", type=int, default=15, help="warm query runs per measurement (default 15)")
    parser.add_argument("--gen-repeats", type=int, default=3, help="demo generations per scale (default 3)")
    parser.add_argument("--forces", type=int, default=43,
                        help="forces in the national-scale measurement, 0 to skip it (default 43)")
    parser.add_argument("--scale", type=int, default=3, help="force-years for browser and load (default 3)")
    parser.add_argument("--browser-repeats", type=int, default=5, help="repeats of each browser timing (default 5)")
    parser.add_argument("--sessions", type=int, default=25, help="concurrent sessions under load (default 25)")
    parser.add_argument("--seconds", type=int, default=120, help="how long the load runs (default 120)")
    parser.add_argument("--think", type=float, default=6.0,
                        help="average pause between a session's actions, in seconds; 0 for none (default 6)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    host = machine()
    if args.only in (None, "queries"):
        run_queries(args, out, host)
    if args.only in (None, "import"):
        if args.only is None:
            print(file=sys.stderr)
        run_import(out, host, max(args.import_repeats, 1))
    if args.only in (None, "browser"):
        return run_browser(out, host, args.scale, max(args.browser_repeats, 1))
    if args.only == "load":
        return run_load(out, host, args.scale, max(args.sessions, 1), max(args.seconds, 5), max(args.think, 0.0))
    return 0


if __name__ == "__main__":
    sys.exit(main())
