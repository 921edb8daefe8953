"""Export a store's monthly summary cube as Parquet partitioned by force and month, for a regional or national
collation that combines forces' aggregates without moving any personal data (docs/collation.md).

`python -m data_access export-summary --db PATH --force CODE --out DIR [--replace]` writes

    DIR/force=CODE/month=YYYY-MM/data_0.parquet     one file per month: the area cube's rows for that month
    DIR/force=CODE/_manifest.json                   what the counts mean and what they were built with

The rows are counts (eligible, delivered, on time, ...) per trigger month, entitlement, command area, district,
offence group and standard or enhanced victims: no ids, no dates finer than a month, nothing about a person.
Small counts are kept, because sums across forces must be exact; whoever publishes figures made from a collation
applies disclosure control first (docs/security.md). A force's folder is written beside the target and renamed
into place, so a collation never reads half an export.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from data_access.store import SAFE_CONFIG, StoreError, describe_duckdb_error, open_store
from metrics.compliance import COUNT_COLUMNS
from metrics.cube import SUMMARY_CUBES

__all__ = ["ExportReport", "export_summary", "FORCE_CODE", "EXPORT_CUBE"]

FORCE_CODE = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # becomes a folder name: no dots, slashes or spaces
EXPORT_CUBE = SUMMARY_CUBES[-1]  # the finest cube: the force-wide one is a sum of its rows
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class ExportReport:
    folder: Path
    months: int
    rows: int
    manifest: dict


def export_summary(db_path: str | Path, force: str, out_dir: str | Path, *, replace: bool = False) -> ExportReport:
    """Write the store's area cube under out_dir/force=<force>/; raise StoreError (nothing written) if it cannot."""
    if not FORCE_CODE.fullmatch(force or ""):
        raise StoreError(f"the force code {force!r} is not allowed: use 1 to 40 lower-case letters, digits, '-' or '_', "
                         "starting with a letter or digit (for example 'essex')")
    store = open_store(db_path)
    meta = store.meta
    store.close()
    if meta.summary_as_of is None:
        raise StoreError(f"{db_path} has no summary cube (it was built before cubes existed, or the catalogue could "
                         "not be read when it was built); import the latest exports again to build it")
    target = Path(out_dir) / f"force={force}"
    if target.exists() and not replace:
        raise StoreError(f"{target} already exists; add --replace to overwrite that force's export")
    target.parent.mkdir(parents=True, exist_ok=True)
    building = target.with_name(f".{target.name}.building-{os.getpid()}")
    shutil.rmtree(building, ignore_errors=True)
    counts = ", ".join(COUNT_COLUMNS)
    columns = ", ".join(EXPORT_CUBE.dimensions)
    con = duckdb.connect(":memory:", config=dict(SAFE_CONFIG))
    try:
        con.execute("ATTACH $path AS store (READ_ONLY)", {"path": str(Path(db_path))})
        # Names come from metrics.cube and metrics.compliance, never from input; the folder is bound.
        con.execute(f"""COPY (
            SELECT strftime(trigger_month, '%Y-%m') AS month, entitlement, right_no, {columns}, {counts}
            FROM store.{EXPORT_CUBE.table} ORDER BY month, entitlement, {columns}
        ) TO '{_sql_text(building)}' (FORMAT parquet, PARTITION_BY (month), COMPRESSION zstd)""")
        months, rows = con.execute(f"SELECT count(DISTINCT trigger_month), count(*) "
                                   f"FROM store.{EXPORT_CUBE.table}").fetchone()
    except duckdb.Error as exc:
        shutil.rmtree(building, ignore_errors=True)
        raise StoreError(f"the summary could not be exported: {describe_duckdb_error(exc)}") from None
    finally:
        con.close()
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "force": force,
        "exported_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data": "synthetic demonstration data" if meta.is_demo else "the force's own records",
        "data_as_of": meta.data_as_of.isoformat(),
        "counts_as_of": meta.summary_as_of.isoformat(),
        "catalogue_fingerprint": meta.summary_fingerprint,
        "first_month": f"{meta.first_month:%Y-%m}",
        "last_month": f"{meta.last_month:%Y-%m}",
        "months": int(months),
        "rows": int(rows),
        "grain": ["month", "entitlement", *EXPORT_CUBE.dimensions],
        "counts": list(COUNT_COLUMNS),
        "definitions": "docs/measurement.md and docs/collation.md of the Victims' Code compliance dashboard",
    }
    building.mkdir(parents=True, exist_ok=True)  # COPY writes no folder for a cube with no rows
    (building / "_manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(building, target)
    shutil.rmtree(old, ignore_errors=True)
    return ExportReport(target, int(months), int(rows), manifest)


def _sql_text(path: Path) -> str:
    """A path as the text of a SQL string literal (COPY's target cannot be a bound parameter)."""
    text = str(path.resolve())
    if "\x00" in text:
        raise StoreError("refusing an output folder whose name holds a NUL character")
    return text.replace("'", "''")
