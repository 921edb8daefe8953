"""Deterministic files for the import benchmark: 1,000,000 entitlement rows as a force would export them.

The rows come from the demo generator (same seed, same rows every time), so their mix of outcomes, codes
and dates is the one the dashboard is built for. The cases and victims they name are written too, and
loaded into a prepared store before anything is timed: the target is about entitlement rows, so the
timed import is entitlements.csv alone, into a store that already holds its parents (as a monthly load
does). Files written under the folder given:

    parents/cases.csv, parents/victims.csv   the parents of every entitlement below
    fresh/entitlements.csv                   1,000,000 rows, all valid (the first by trigger time)
    previous/entitlements.csv                the same ids as fresh, as an earlier extract saw them (the
                                             latest quarter of them still open: no delivery or outcome)
    monthly/entitlements.csv                 1,000,000 rows: 750,000 ids of previous (now delivered,
                                             declined...) and 250,000 new ids
    bad/entitlements.csv                     fresh with every 100th row broken in one of 8 ways (1%)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

ROWS = 1_000_000
NEW_IN_MONTHLY = 250_000  # ids the monthly file adds; the rest of it updates stored rows
OPEN_IN_PREVIOUS = 250_000  # rows of the previous extract not yet delivered then (updated by the monthly file)
BAD_EVERY = 100  # every 100th row of bad/ is broken: 1%
CASES = 135_000  # enough demo cases for ROWS + NEW_IN_MONTHLY entitlement rows (about 1.28 million)
START = date(2023, 11, 1)
SEED = 7

# How each broken row of bad/ is broken: (name, the importer's check it trips). Each makes the row invalid
# in exactly one way the importer must catch; the benchmark checks that exactly these lines are rejected.
DEFECTS = (
    ("impossible_date", "triggered_at is not a real date"),
    ("unknown_code", "entitlement is not a measured entitlement code"),
    ("unknown_victim", "victim_id names a victim that is nowhere"),
    ("repeated_id", "delivery_id repeats the id of the line before"),
    ("unknown_outcome", "outcome is not an allowed value"),
    ("delivered_before_triggered", "delivered_at is before triggered_at"),
    ("formula", "team starts with ="),
    ("missing_trigger", "triggered_at is empty"),
)


@dataclass(frozen=True)
class ImportFiles:
    folder: str
    parents: list[str]  # cases.csv and victims.csv
    cases: int
    victims: int
    fresh: str
    previous: str
    monthly: str
    bad: str
    rows: int
    monthly_new: int
    monthly_updated: int
    bad_rows: int

    def save(self) -> None:
        (Path(self.folder) / "manifest.json").write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, folder: Path) -> ImportFiles:
        return cls(**json.loads((Path(folder) / "manifest.json").read_text()))


def _text(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """A column as the text a force's export holds: ISO 8601 timestamps, true/false, empty for null."""
    kind = column.type
    if pa.types.is_timestamp(kind):
        return pc.strftime(column.cast(pa.timestamp("s")), format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    return column.cast(pa.string())


def _as_text(frame) -> pd.DataFrame:
    table = pa.Table.from_pandas(frame, preserve_index=False)
    return pa.table({name: _text(table.column(name)) for name in table.column_names}).to_pandas()


def _write_csv(frame: pd.DataFrame, path: Path) -> None:
    """As a spreadsheet's "CSV UTF-8" export writes it: quotes only where a value needs them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    _as_text(frame).to_csv(path, index=False, na_rep="", lineterminator="\n")


def _broken_rows(count: int) -> np.ndarray:
    """Which rows of bad/ are broken (from 0): every BAD_EVERY-th, from the 50th."""
    return np.arange(BAD_EVERY // 2, count, BAD_EVERY)


def bad_lines(count: int = ROWS) -> list[int]:
    """The lines of bad/entitlements.csv the import must reject, as a person counts them (the header is line 1)."""
    return (_broken_rows(count) + 2).tolist()


def _break_rows(frame):
    """Every broken row of bad/ broken by the next defect in turn."""
    frame = frame.copy()
    rows = _broken_rows(len(frame))
    col = {name: frame.columns.get_loc(name) for name in frame.columns}
    for k, row in enumerate(rows):
        defect = DEFECTS[k % len(DEFECTS)][0]
        if defect == "impossible_date":
            frame.iat[row, col["triggered_at"]] = "2024-02-30T10:00:00"
        elif defect == "unknown_code":
            frame.iat[row, col["entitlement"]] = "r99_no_such_entitlement"
        elif defect == "unknown_victim":
            frame.iat[row, col["victim_id"]] = f"VX{row:08d}"
        elif defect == "repeated_id":
            frame.iat[row, col["delivery_id"]] = frame.iat[row - 1, col["delivery_id"]]
        elif defect == "unknown_outcome":
            frame.iat[row, col["outcome"]] = "done"
        elif defect == "delivered_before_triggered":
            frame.iat[row, col["delivered_at"]] = "2001-01-01T09:00:00"
            frame.iat[row, col["outcome"]] = "delivered"
        elif defect == "formula":
            frame.iat[row, col["team"]] = "=cmd|' /C calc'!A0"
        else:
            frame.iat[row, col["triggered_at"]] = None
    return frame, len(rows)


def write_import_files(folder: Path) -> ImportFiles:
    """Write the benchmark's files under folder (about 10 s and 1.5 GB of memory); return what is where."""
    from data_access.demo import generate_demo

    folder = Path(folder)
    tables, _ = generate_demo(cases=CASES, start=START, months=12, seed=SEED)
    entitlements = tables["entitlements"].sort_values(["triggered_at", "delivery_id"], kind="stable",
                                                      ignore_index=True)
    if len(entitlements) < ROWS + NEW_IN_MONTHLY:
        raise RuntimeError(f"the demo made only {len(entitlements):,} entitlement rows")
    entitlements = entitlements.iloc[: ROWS + NEW_IN_MONTHLY]
    # Text from here on, as read from a file: the bad rows need values no typed column could hold.
    as_text = _as_text(entitlements)

    _write_csv(tables["cases"], folder / "parents" / "cases.csv")
    _write_csv(tables["victims"], folder / "parents" / "victims.csv")
    fresh = as_text.iloc[:ROWS]
    _write_csv(fresh, folder / "fresh" / "entitlements.csv")
    previous = fresh.copy()
    still_open = slice(ROWS - OPEN_IN_PREVIOUS, ROWS)  # the latest triggered were not delivered at that extract
    previous.iloc[still_open, previous.columns.get_loc("delivered_at")] = None
    previous.iloc[still_open, previous.columns.get_loc("outcome")] = None
    previous.iloc[still_open, previous.columns.get_loc("exception_reason")] = None
    _write_csv(previous, folder / "previous" / "entitlements.csv")
    _write_csv(as_text.iloc[NEW_IN_MONTHLY:], folder / "monthly" / "entitlements.csv")
    bad, broken = _break_rows(fresh)
    _write_csv(bad, folder / "bad" / "entitlements.csv")
    files = ImportFiles(
        folder=str(folder), parents=[str(folder / "parents" / "cases.csv"), str(folder / "parents" / "victims.csv")],
        cases=len(tables["cases"]), victims=len(tables["victims"]),
        fresh=str(folder / "fresh" / "entitlements.csv"), previous=str(folder / "previous" / "entitlements.csv"),
        monthly=str(folder / "monthly" / "entitlements.csv"), bad=str(folder / "bad" / "entitlements.csv"),
        rows=ROWS, monthly_new=NEW_IN_MONTHLY, monthly_updated=ROWS - NEW_IN_MONTHLY, bad_rows=broken)
    files.save()
    return files
