"""One benchmark task per process, so each reports its own peak memory. Prints one JSON object.

    python -m bench.worker generate --db PATH --cases N --months M --start YYYY-MM [--seed S]
    python -m bench.worker query    --db PATH --repeats R
    python -m bench.worker national --db PATH --forces N --repeats R
    python -m bench.worker pandas   --db PATH --repeats R
    python -m bench.worker import-files --dir DIR
    python -m bench.worker import   --db PATH [--base STORE] FILE...
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import shutil
import statistics
import sys
import time
from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd

from data_access import queries
from data_access.store import build_store, open_store
from metrics.catalogue import default_catalogue
from metrics.compliance import compliance_counts_sql
from metrics.cube import SUMMARY_CUBES
from metrics.filters import Filters, default_period
from metrics.contact_measures import contact_measure_rates
from metrics.summaries import BOARD_BREAKDOWNS, RIGHT_BREAKDOWNS, board_overview, right_detail

RIGHT_TIMED = 6  # the right with the most entitlements: the heaviest Rights compliance page


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def default_filters(store) -> Filters:
    """The filters a page opens with: the last 12 months of data, everyone."""
    meta = store.meta
    first, last = default_period(meta.first_month, meta.last_month, meta.data_as_of)
    return Filters(first_month=first, last_month=last, as_of=meta.data_as_of)


def median_seconds(task, repeats: int) -> float:
    task()  # warm: caches, page cache, lazy imports
    times = []
    for _ in range(repeats):
        began = time.perf_counter()
        task()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def generate(args) -> dict:
    from data_access.demo import generate_demo

    began = time.perf_counter()
    tables, as_of = generate_demo(cases=args.cases, start=date.fromisoformat(args.start + "-01"),
                                  months=args.months, seed=args.seed)
    generated = time.perf_counter()
    build_store(args.db, tables, data_as_of=as_of, is_demo=True, source="benchmark")
    built = time.perf_counter()
    return {"generate_s": generated - began, "build_s": built - generated, "total_s": built - began,
            "rows": {name: len(frame) for name, frame in tables.items()}, "peak_rss_mb": peak_rss_mb()}


def board_data(store, catalogue, filters):
    return board_overview(queries.compliance_counts(store, catalogue, filters, BOARD_BREAKDOWNS), catalogue)


def board_page_data(store, catalogue, filters, counts=queries.compliance_counts):
    """Everything the Board overview page reads: the period's counts by month, and every month's counts from the
    store's first month to the period's end for the SPC charts."""
    overview = board_overview(counts(store, catalogue, filters, BOARD_BREAKDOWNS), catalogue)
    history = counts(store, catalogue, replace(filters, first_month=store.meta.first_month), ("month",))
    return overview, history


def facts_counts(store, catalogue, filters, breakdowns=("total",), codes=None):
    """compliance_counts read from the entitlement facts, never a cube: what every page read before the cubes."""
    return store.query(*compliance_counts_sql(catalogue, filters, breakdowns, codes))


def right_data(store, catalogue, filters, counts=queries.compliance_counts):
    codes = [e.code for e in catalogue.right(RIGHT_TIMED).measured_entitlements]
    counts = counts(store, catalogue, filters, RIGHT_BREAKDOWNS, codes)
    queries.not_applicable_reasons(store, catalogue, filters, codes)
    return right_detail(counts, catalogue, RIGHT_TIMED)


def contact_data(store, catalogue, filters):
    """What Keeping victims informed computes: the contact measures by breakdown, the channel mix and
    the first page of the overdue list (window functions over the contact log)."""
    counts = queries.contact_measure_counts(store, catalogue, filters, RIGHT_BREAKDOWNS)
    queries.channel_mix(store, catalogue, filters)
    queries.overdue_updates(store, catalogue, filters, role="victim_services")
    return contact_measure_rates(counts, catalogue)


def query(args) -> dict:
    catalogue = default_catalogue()
    store = open_store(args.db)
    filters = default_filters(store)
    everything = Filters(first_month=store.meta.first_month, last_month=store.meta.last_month, as_of=store.meta.data_as_of)
    result = {
        "board_overview_s": median_seconds(lambda: board_data(store, catalogue, filters), args.repeats),
        "board_overview_all_months_s": median_seconds(lambda: board_data(store, catalogue, everything), args.repeats),
        "board_page_s": median_seconds(lambda: board_page_data(store, catalogue, filters), args.repeats),
        "board_page_facts_s": median_seconds(lambda: board_page_data(store, catalogue, filters, facts_counts),
                                             args.repeats),
        "rights_compliance_s": median_seconds(lambda: right_data(store, catalogue, filters), args.repeats),
        "rights_compliance_facts_s": median_seconds(lambda: right_data(store, catalogue, filters, facts_counts),
                                                    args.repeats),
        "keeping_informed_s": median_seconds(lambda: contact_data(store, catalogue, filters), args.repeats),
        "instances": int(store.query("SELECT count(*) AS n FROM entitlement_facts")["n"].iloc[0]),
        "cube_rows": {cube.table: int(store.query(f"SELECT count(*) AS n FROM {cube.table}")["n"].iloc[0])
                      for cube in SUMMARY_CUBES},
        "peak_rss_mb": peak_rss_mb(),
    }
    # The cubes must give exactly the facts' figures, or their speed means nothing.
    (overview, history), (facts_overview, facts_history) = (board_page_data(store, catalogue, filters),
                                                            board_page_data(store, catalogue, filters, facts_counts))
    pairs = [(overview.rights, facts_overview.rights), (overview.entitlements, facts_overview.entitlements),
             (overview.rights_monthly, facts_overview.rights_monthly), (history, facts_history),
             (right_data(store, catalogue, filters).entitlements,
              right_data(store, catalogue, filters, facts_counts).entitlements)]
    for ours, theirs in pairs:
        pd.testing.assert_frame_equal(ours, theirs)
    result["cube_results_identical"] = True
    store.close()
    return result


def national(args) -> dict:
    from bench.national import measure_national

    return {**measure_national(Path(args.db), args.forces, args.repeats), "peak_rss_mb": peak_rss_mb()}


def pandas_baseline(args) -> dict:
    from bench.pandas_reference import compliance_counts_pandas

    catalogue = default_catalogue()
    store = open_store(args.db)
    filters = default_filters(store)
    began = time.perf_counter()
    facts = store.query("SELECT * FROM entitlement_facts")
    calendar = store.query("SELECT * FROM calendar")
    for column in ("trigger_date", "trigger_month", "delivered_date"):
        facts[column] = pd.to_datetime(facts[column])
    calendar["day"] = pd.to_datetime(calendar["day"])
    loaded = time.perf_counter() - began
    codes = [e.code for e in catalogue.right(RIGHT_TIMED).measured_entitlements]

    def board():
        return board_overview(compliance_counts_pandas(facts, calendar, catalogue, filters, BOARD_BREAKDOWNS), catalogue)

    def right():
        return right_detail(compliance_counts_pandas(facts, calendar, catalogue, filters, RIGHT_BREAKDOWNS, codes),
                            catalogue, RIGHT_TIMED)

    result = {"load_s": loaded,
              "board_overview_s": median_seconds(board, args.repeats),
              "rights_compliance_s": median_seconds(right, args.repeats),
              "peak_rss_mb": peak_rss_mb()}
    # The two implementations must agree exactly, or the comparison means nothing.
    for name, ours, theirs in (("board", board_data(store, catalogue, filters).rights, board().rights),
                               ("right", right_data(store, catalogue, filters).entitlements, right().entitlements)):
        keys = [c for c in ("right_no", "entitlement", "breakdown", "level") if c in ours.columns or c == ours.index.name]
        a = ours.reset_index().sort_values(keys).reset_index(drop=True)
        b = theirs.reset_index().sort_values(keys).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_dtype=False, check_like=True)
        result[f"{name}_results_identical"] = True
    store.close()
    return result


def import_files_task(args) -> dict:
    from bench.import_data import write_import_files

    began = time.perf_counter()
    files = write_import_files(Path(args.dir))
    return {"seconds": time.perf_counter() - began, "folder": files.folder}


class _Steps(logging.Handler):
    """Adds up the importer's "import step X took S s" debug lines by step."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "import step %s took %.3f s":
            step, seconds = record.args
            self.seconds[step] = self.seconds.get(step, 0.0) + seconds


def import_task(args) -> dict:
    """One import, timed alone: the store it starts from is copied into place first (untimed)."""
    from data_access.importer import import_files, list_rejects

    db = Path(args.db)
    if args.base:
        shutil.copyfile(args.base, db)
    steps = _Steps()
    logger = logging.getLogger("data_access.importer")
    logger.setLevel(logging.DEBUG)
    logger.addHandler(steps)
    load = os.getloadavg()[0]  # how busy the machine was: other work shares the cores
    began, cpu = time.perf_counter(), time.process_time()
    report = import_files(db, [Path(f) for f in args.files], user="bench")
    seconds, cpu = time.perf_counter() - began, time.process_time() - cpu
    rejected = []
    if args.list_rejected and report.status == "committed":
        rejected = sorted(int(line) for line in list_rejects(db, report.import_id, role="admin")["line"])
    return {"status": report.status, "message": report.message, "seconds": seconds, "cpu_s": cpu, "load": load,
            "rejected_lines": rejected,
            "peak_rss_mb": peak_rss_mb(), "steps": steps.seconds,
            "files": [{"name": f.name, "table": f.table, "read": f.rows_read, "loaded": f.rows_loaded,
                       "rejected": f.rows_rejected, "inserted": f.rows_inserted, "updated": f.rows_updated}
                      for f in report.files]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.worker")
    parser.add_argument("task", choices=("generate", "query", "national", "pandas", "import-files", "import"))
    parser.add_argument("--forces", type=int, default=43, help="national: forces in the collation")
    parser.add_argument("--db")
    parser.add_argument("--dir")
    parser.add_argument("--base", help="import: the store to start from (copied to --db first)")
    parser.add_argument("--list-rejected", action="store_true", help="import: report every rejected line (untimed)")
    parser.add_argument("files", nargs="*", help="import: the files to import")
    parser.add_argument("--cases", type=int)
    parser.add_argument("--months", type=int)
    parser.add_argument("--start")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_intermixed_args(argv)  # the files may follow the options
    task = {"generate": generate, "query": query, "national": national, "pandas": pandas_baseline, "import-files": import_files_task,
            "import": import_task}[args.task]
    print(json.dumps(task(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
