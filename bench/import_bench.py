"""The import benchmark: 1,000,000 entitlement rows from CSV, fully validated, into a store (issue 3, item 8).

Each import runs alone in a worker process (its peak memory is its own); the store it starts from is copied
into place before the clock starts. Scenarios, run round-robin so a burst of load on a shared machine hits
them all alike:

- fresh: entitlements.csv into a store holding only the cases and victims the rows name;
- monthly: a second extract into a store already holding the first: 750,000 ids updated, 250,000 new;
- bad: fresh with 1% of rows broken in 8 ways (each must be rejected, and only those);
- first: cases.csv, victims.csv and entitlements.csv together into no store (the first load).

Each import is checked (status, rows loaded, rejected, inserted, updated) before its time counts.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from bench.import_data import ImportFiles, bad_lines

TARGET_ROWS_PER_S = 250_000  # issue 3, item 8: 1 million entitlement rows with full validation, on 2 cores
STEPS = ("read", "validate", "load", "rejects", "prove rules", "facts", "summary cubes", "reconcile", "write", "swap")


def _scenarios(files: ImportFiles, parents: Path, previous: Path) -> dict[str, dict]:
    n, bad = files.rows, files.bad_rows
    return {
        "fresh": {"label": "1,000,000 new rows into a store holding their cases and victims", "base": parents,
                  "files": [files.fresh], "expect": {"loaded": n, "rejected": 0, "inserted": n, "updated": 0}},
        "monthly": {"label": "monthly extract into a store holding the previous one: 750,000 updated, 250,000 new",
                    "base": previous, "files": [files.monthly],
                    "expect": {"loaded": n, "rejected": 0, "inserted": files.monthly_new,
                               "updated": files.monthly_updated}},
        "bad": {"label": "1,000,000 rows, 1% broken (8 kinds), into a store holding their cases and victims",
                "base": parents, "files": [files.bad], "rejected_lines": bad_lines(files.rows),
                "expect": {"loaded": n - bad, "rejected": bad, "inserted": n - bad, "updated": 0}},
        "first": {"label": "first load: cases, victims and entitlements together into no store", "base": None,
                  "files": [*files.parents, files.fresh],
                  "expect": {"loaded": n, "rejected": 0, "inserted": n, "updated": 0}},
    }


def _entitlements(run: dict) -> dict:
    return next(f for f in run["files"] if f["table"] == "entitlements")


def _check(name: str, run: dict, expect: dict, table: str = "entitlements") -> None:
    """The benchmark measures what it says or fails: the import committed exactly the expected rows."""
    if run["status"] != "committed":
        raise RuntimeError(f"import benchmark {name}: the import did not commit ({run['message']})")
    counts = next(f for f in run["files"] if f["table"] == table)
    got = {key: counts[key] for key in expect}
    if got != expect:
        raise RuntimeError(f"import benchmark {name}: expected {expect} for {table}, got {got}")
    for f in run["files"]:
        if f["read"] != f["loaded"] + f["rejected"]:
            raise RuntimeError(f"import benchmark {name}: {f['name']} does not reconcile")


def bench_import(workdir: Path, repeats: int, run_worker: Callable[..., dict], log: Callable[[str], None]) -> dict:
    """Generate the files, prepare the stores, time every scenario `repeats` times; medians and peaks."""
    log("import: writing the benchmark's files (1,000,000 entitlement rows and their parents)…")
    generated = run_worker("import-files", "--dir", str(workdir / "files"))
    files = ImportFiles.load(workdir / "files")
    parents, previous = workdir / "parents.duckdb", workdir / "previous.duckdb"
    log("import: preparing the stores the imports start from…")
    prepared = run_worker("import", "--db", str(parents), *files.parents)
    _check("prepare", prepared, {"loaded": files.cases, "rejected": 0}, "cases")
    _check("prepare", prepared, {"loaded": files.victims, "rejected": 0}, "victims")
    earlier = run_worker("import", "--base", str(parents), "--db", str(previous), files.previous)
    _check("prepare", earlier, {"loaded": files.rows, "rejected": 0})
    scenarios = _scenarios(files, parents, previous)
    runs: dict[str, list[dict]] = {name: [] for name in scenarios}
    for repeat in range(repeats):
        for name, scenario in scenarios.items():
            log(f"import: {name}, run {repeat + 1} of {repeats}…")
            folder = workdir / "runs" / f"{name}-{repeat}"
            folder.mkdir(parents=True)
            base = ["--base", str(scenario["base"])] if scenario["base"] else []
            listed = ["--list-rejected"] if "rejected_lines" in scenario else []
            run = run_worker("import", "--db", str(folder / "store.duckdb"), *base, *listed, *scenario["files"])
            _check(name, run, scenario["expect"])
            if listed and run["rejected_lines"] != scenario["rejected_lines"]:
                raise RuntimeError(f"import benchmark {name}: the rejected lines are not the broken ones")
            runs[name].append(run)
            for path in sorted(folder.iterdir()):
                path.unlink()
            folder.rmdir()
    results = {}
    for name, scenario in scenarios.items():
        done = runs[name]
        seconds = statistics.median(r["seconds"] for r in done)
        rows = _entitlements(done[0])["read"]
        results[name] = {
            "label": scenario["label"], "entitlement_rows": rows,
            "rows_read": sum(f["read"] for f in done[0]["files"]), "expect": scenario["expect"],
            "seconds_median": seconds, "seconds_all": [r["seconds"] for r in done],
            "cpu_s_median": statistics.median(r["cpu_s"] for r in done),
            "load_median": statistics.median(r["load"] for r in done),
            "rows_per_s": rows / seconds, "ratio_to_target": rows / seconds / TARGET_ROWS_PER_S,
            "peak_rss_mb": max(r["peak_rss_mb"] for r in done),
            "steps_median": {step: statistics.median(r["steps"].get(step, 0.0) for r in done) for step in STEPS},
        }
    return {"measured_at": f"{datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC", "repeats": repeats,
            "target_rows_per_s": TARGET_ROWS_PER_S, "files_written_s": generated["seconds"],
            "scenarios": results}


def import_markdown(result: dict, host: str) -> str:
    names = list(result["scenarios"])
    rows = result["scenarios"]
    lines = [f"Measured {result['measured_at']} on {host}.", "",
             "| | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]

    def row(label: str, fmt) -> None:
        lines.append(f"| {label} | " + " | ".join(fmt(rows[n]) for n in names) + " |")

    row("entitlement rows read (all rows read)", lambda r: f"{r['entitlement_rows']:,}"
        + (f" ({r['rows_read']:,})" if r["rows_read"] != r["entitlement_rows"] else ""))
    row("loaded / rejected", lambda r: f"{r['expect']['loaded']:,} / {r['expect']['rejected']:,}")
    row("new / updated", lambda r: f"{r['expect']['inserted']:,} / {r['expect']['updated']:,}")
    row("whole import, wall clock (median)", lambda r: f"{r['seconds_median']:.2f} s")
    row("every run", lambda r: ", ".join(f"{s:.2f}" for s in r["seconds_all"]) + " s")
    row("CPU time, both cores together (median)", lambda r: f"{r['cpu_s_median']:.2f} s")
    row("machine load average (1 min) at the start (median)", lambda r: f"{r['load_median']:.1f}")
    row("**entitlement rows per second**", lambda r: f"**{r['rows_per_s']:,.0f}**")
    row("ratio to the 250,000 rows/s target", lambda r: f"{r['ratio_to_target']:.2f}")
    row("peak memory (RSS) of the import process", lambda r: f"{r['peak_rss_mb']:,.0f} MB")
    for step in STEPS:
        row(f"step: {step} (median)", lambda r, step=step: f"{r['steps_median'][step]:.2f} s")
    lines += ["", f"Medians of {result['repeats']} runs of each import, each in its own process, run in turn."]
    return "\n".join(lines)
