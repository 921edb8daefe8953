"""National scale (issue 7, item 3): the Board overview and Rights compliance data over all 43 forces' cubes.

A real national store of 43 forces x 3 years (about 20 million cases, 200 million entitlement instances) does not
fit the time and disk of a benchmark run on this machine (3 force-years take 30 s and 3 GB to generate and build;
129 would take over 20 minutes and roughly 130 GB of generator memory). The cube is what the board's pages read, so
that is what is built at full size: the 3-force-year store's area cube is exported with `export-summary` once,
copied as 43 forces' exports (each with its own district and command-area names, as real forces have), and loaded
back into a copy of the store in place of its own cube; the force-wide cube is then added up from it, as every
build does. The queries run exactly as the pages run them, through data_access.queries.compliance_counts.

What this does not measure: the facts-based pages (any filter the cubes do not hold, such as age band) at
national scale; they read entitlement_facts, whose cost grows with the instances in the period (see the 1 and 3
force-year figures), and a national store is not what a force runs.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import duckdb  # the benchmark assembles its national store directly; the dashboard's code never does this

from bench.worker import board_page_data, default_filters, median_seconds, right_data  # as at 1 and 3 force-years
from data_access.collation import EXPORT_CUBE, export_summary
from data_access.store import open_store
from metrics.catalogue import default_catalogue
from metrics.cube import SUMMARY_CUBES, rollup_cube_sql


def build_national_store(db: Path, forces: int, folder: Path) -> dict:
    """A copy of `db` whose cubes hold `forces` copies of its own, each force's areas named apart."""
    began = time.perf_counter()
    exports = folder / "collation"
    export_summary(db, "force-00", exports)
    exported = time.perf_counter() - began
    for number in range(1, forces):
        shutil.copytree(exports / "force=force-00", exports / f"force=force-{number:02d}")
    national = folder / "national.duckdb"
    shutil.copyfile(db, national)
    columns = ", ".join(EXPORT_CUBE.dimensions)
    con = duckdb.connect(str(national))
    try:
        con.execute(f"DELETE FROM {EXPORT_CUBE.table}")
        con.execute(f"""INSERT INTO {EXPORT_CUBE.table} BY NAME
            SELECT CAST(strptime(month, '%Y-%m') AS DATE) AS trigger_month, entitlement, right_no,
                   * EXCLUDE (month, entitlement, right_no, force, command_area, district),
                   force || ' ' || command_area AS command_area, force || ' ' || district AS district
            FROM read_parquet($files, hive_partitioning = true)
            ORDER BY trigger_month, entitlement, {columns}""", {"files": str(exports / "*" / "*" / "*.parquet")})
        for cube in SUMMARY_CUBES[:-1]:
            con.execute(rollup_cube_sql(cube, EXPORT_CUBE))
        con.execute("CHECKPOINT")
        rows = {cube.table: con.execute(f"SELECT count(*) FROM {cube.table}").fetchone()[0] for cube in SUMMARY_CUBES}
    finally:
        con.close()
    return {"export_s": exported, "assemble_s": time.perf_counter() - began, "cube_rows": rows}


def measure_national(db: Path, forces: int, repeats: int) -> dict:
    with tempfile.TemporaryDirectory(prefix="vcd-national-") as folder:
        built = build_national_store(db, forces, Path(folder))
        catalogue = default_catalogue()
        store = open_store(Path(folder) / "national.duckdb")
        try:
            filters = default_filters(store)
            everything = type(filters)(first_month=store.meta.first_month, last_month=store.meta.last_month,
                                       as_of=store.meta.data_as_of)
            one_district = filters.with_selection("district", ("force-17 Tendring",))
            overview, _ = board_page_data(store, catalogue, filters)
            result = {
                "forces": forces, **built,
                "eligible_in_period": int(overview.rights["eligible"].sum()),
                "board_page_s": median_seconds(lambda: board_page_data(store, catalogue, filters), repeats),
                "board_page_all_months_s": median_seconds(lambda: board_page_data(store, catalogue, everything),
                                                          repeats),
                "board_page_one_district_s": median_seconds(lambda: board_page_data(store, catalogue, one_district),
                                                            repeats),
                "rights_compliance_s": median_seconds(lambda: right_data(store, catalogue, filters), repeats),
            }
        finally:
            store.close()
    return result
