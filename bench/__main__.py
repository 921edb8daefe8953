"""The benchmark (not a test): `python -m bench [--only queries|import] [--scales 1,3] [--repeats 15]
[--gen-repeats 3] [--import-repeats 3]`.

Queries: builds demo stores of 1 and 3 force-years (160,000 and 480,000 cases) and prints medians over
repeated runs: demo generation, the data behind Board overview and Rights compliance (warm),
the same figures from a straightforward pandas implementation with the speed ratio, and peak
memory. Results go to bench/out/results.{json,md}.

Import: 1,000,000 entitlement rows from CSV with full validation, into a store holding their parents,
into one holding a previous load, with 1% bad rows, and as a first load (bench/import_bench.py).
Results go to bench/out/import.{json,md}.

Each measurement runs in its own process. Without --only, both run.
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
TARGETS = {"board_overview_3fy_s": 0.150, "pandas_ratio_min": 5.0, "generate_1fy_s": 30.0}


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


def run_queries(args, out: Path, host: str) -> None:
    scales = [int(s) for s in args.scales.split(",")]
    results = []
    with tempfile.TemporaryDirectory(prefix="vcd-bench-") as tmp:
        for force_years in scales:
            print(f"measuring {force_years} force-year(s)…", file=sys.stderr, flush=True)
            results.append(bench_scale(force_years, Path(tmp), args.repeats, args.gen_repeats))
    table = markdown(results, host)
    (out / "results.json").write_text(json.dumps({"machine": host, "results": results}, indent=2))
    (out / "results.md").write_text(table + "\n")
    print(table)
    by_scale = {r["force_years"]: r for r in results}
    if 3 in by_scale:
        print(f"\ntarget: Board overview within {TARGETS['board_overview_3fy_s'] * 1000:.0f} ms at 3 force-years: "
              f"{'met' if by_scale[3]['board_overview_s'] <= TARGETS['board_overview_3fy_s'] else 'MISSED'}")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=("queries", "import"), help="run one part of the benchmark (default: both)")
    parser.add_argument("--import-repeats", type=int, default=3, help="runs of each import scenario (default 3)")
    parser.add_argument("--scales", default="1,3", help="force-years to measure, comma-separated (default 1,3)")
    parser.add_argument("--repeats", type=int, default=15, help="warm query runs per measurement (default 15)")
    parser.add_argument("--gen-repeats", type=int, default=3, help="demo generations per scale (default 3)")
    parser.add_argument("--out", default=str(Path(__file__).resolve().parent / "out"))
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    host = machine()
    if args.only != "import":
        run_queries(args, out, host)
    if args.only != "queries":
        if args.only is None:
            print(file=sys.stderr)
        run_import(out, host, max(args.import_repeats, 1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
