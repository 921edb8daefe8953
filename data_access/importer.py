"""Import a force's exports into the store: validated row by row, reconciled, all or nothing.

    report = import_files("data/store.duckdb", [Path("exports/"), ("cases.csv", raw_bytes)], user="alice")

Each file is named after a contract table (``cases.csv``, ``victims.parquet``, ``entitlements.xlsx``...).
Every value is read as text first, so nothing is coerced silently, and the rows are counted by a
separate pass that does not share the parser's code. Each row is then checked against the data contract
(types, required fields, allowed values, date order, foreign keys, catalogue codes, duplicate ids,
spreadsheet formulas); a row with any problem is rejected whole, with its line, column(s) and
plain-English reason(s), into the store's ``import_rejects`` table; the rest load. Before anything is
committed the code checks, for every file, that rows read = rows loaded + rows rejected.

All or nothing: the new store is built as a new file beside the live one (the live store attached
read-only, every table copied across with the new rows merged in: the same id replaces the old row),
checkpointed, closed and then moved onto the live path with ``os.replace``. A refused file, a failed
check, an error, a full disk or a killed process leaves the live store byte-identical; dashboards keep
reading it until the swap. Stale temporary files from a killed import are removed by the next one.

An import that commits is recorded in the store's ``import_log``. One that does not (refused, failed or
with nothing new to load) is recorded in a journal file beside the store
(``<store>.import-journal.jsonl``), since the store itself must not change. Neither holds row data.
"""

from __future__ import annotations

import csv
import errno
import fcntl
import getpass
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import stat
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from itertools import islice
from pathlib import Path
from time import perf_counter

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from data_access.schema import FACTS_SQL, LOAD_ORDER, SCHEMA_VERSION, schema_ddl
from data_access.store import (
    SAFE_CONFIG, describe_duckdb_error, open_store, quote_identifier, write_calendar, write_meta, write_summaries,
)
from metrics import contract as c
from metrics.catalogue import Catalogue, default_catalogue

__all__ = [
    "ImportReport", "FileReport", "RejectedLine", "Column", "TABLE_COLUMNS", "FORMATS",
    "import_files", "list_imports", "list_rejects", "journal_path", "REJECT_SAMPLE",
]

log = logging.getLogger(__name__)

FORMATS = {".csv": "csv", ".parquet": "parquet", ".xlsx": "xlsx"}
REJECT_SAMPLE = 20  # rejected lines (reasons only) carried in each FileReport
FIRST_YEAR, LAST_YEAR = 1990, 2099  # a date outside these years is a typo, not a record
# Store layouts an import can read the current data from: version 1 had the same contract tables and no
# import tables, version 2 no erasure_log, so both are carried across (and upgraded) like the current one.
READABLE_VERSIONS = (1, 2, SCHEMA_VERSION)
_CHUNK = 100_000  # CSV/XLSX rows turned into Arrow at a time
_BUILT_TABLES = {"store_meta", "calendar", "entitlement_facts"}  # rebuilt by every import, never copied
_FORMULA_RE = r"^[\t\r]|^\s*[=+@-]"
_TIMESTAMP_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?)?"
_DATE_RE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T00:00(:00)?)?"
_INT_RE = r"-?[0-9]+"
_NUMBER_RE = r"-?[0-9]+([.][0-9]+)?"
_TRUE, _FALSE = ("true", "yes", "1"), ("false", "no", "0")


# --- the contract, as the importer checks it --------------------------------------------------

@dataclass(frozen=True)
class Column:
    """One contract column. kind: id | text | enum | code | themes | timestamp | date | bool | int | number."""

    name: str
    kind: str
    required: bool = False
    values: tuple[str, ...] = ()  # enum and themes: the allowed values
    low: float | None = None  # int and number: inclusive bounds
    high: float | None = None
    references: str | None = None  # the parent table whose key this column names


def _columns() -> dict[str, tuple[Column, ...]]:
    C = Column  # noqa: N806 - a short name keeps the table readable
    return {
        "districts": (C("district", "id", True), C("command_area", "text", True)),
        "cases": (
            C("case_id", "id", True), C("reported_at", "timestamp", True), C("recorded_at", "timestamp"),
            C("offence_group", "enum", True, c.OFFENCE_GROUPS), C("offence_code", "text"),
            C("district", "text", True), C("team", "text"), C("domestic_abuse", "bool"), C("hate_crime", "bool"),
            C("status", "enum", True, c.CASE_STATUSES), C("outcome", "text"), C("closed_at", "timestamp")),
        "victims": (
            C("victim_id", "id", True), C("case_id", "id", True, references="cases"),
            C("enhanced_category", "enum", False, c.ENHANCED_CATEGORIES), C("age_band", "enum", False, c.AGE_BANDS),
            C("sex", "enum", False, c.SEXES), C("ethnicity", "enum", False, c.ETHNICITIES),
            C("disability", "enum", False, c.DISABILITY), C("update_frequency_days", "int", low=1)),
        "contacts": (
            C("contact_id", "id", True), C("victim_id", "id", True, references="victims"),
            C("contact_at", "timestamp", True), C("kind", "enum", True, c.CONTACT_KINDS),
            C("channel", "enum", False, c.CONTACT_CHANNELS), C("team", "text")),
        "entitlements": (
            C("delivery_id", "id", True), C("victim_id", "id", True, references="victims"),
            C("entitlement", "code", True), C("triggered_at", "timestamp", True), C("delivered_at", "timestamp"),
            C("outcome", "enum", False, c.ENTITLEMENT_OUTCOMES), C("exception_reason", "text"), C("team", "text")),
        "referrals": (
            C("referral_id", "id", True), C("victim_id", "id", True, references="victims"),
            C("service", "enum", True, c.REFERRAL_SERVICES), C("offered_at", "timestamp"),
            C("consent", "enum", True, c.CONSENT), C("referred_at", "timestamp"), C("contacted_at", "timestamp"),
            C("engaged", "bool")),
        "surveys": (
            C("response_id", "id", True), C("case_id", "id", references="cases"),
            C("survey", "enum", True, c.SURVEYS), C("responded_at", "timestamp", True),
            C("overall", "int", low=1, high=5), C("kept_informed", "int", low=1, high=5),
            C("treated_fairly", "int", low=1, high=5), C("aware_of_code", "bool")),
        "complaints": (
            C("complaint_id", "id", True), C("case_id", "id", references="cases"),
            C("received_at", "timestamp", True), C("right_no", "int", low=1, high=12),
            C("acknowledged_at", "timestamp"), C("closed_at", "timestamp"),
            C("outcome", "enum", False, c.COMPLAINT_OUTCOMES)),
        "panels": (
            C("panel_id", "id", True), C("held_on", "date", True), C("title", "text"),
            C("themes", "themes", True, c.PANEL_THEMES), C("format", "enum", False, c.PANEL_FORMATS),
            C("staff_attendees", "int", low=0), C("victims_live", "int", low=0),
            C("victims_recorded", "int", low=0), C("victims_via_support_worker", "int", low=0),
            C("staff_feedback_score", "number", low=1, high=5)),
        "panel_findings": (
            C("finding_id", "id", True), C("panel_id", "id", True, references="panels"),
            C("kind", "enum", True, c.FINDING_KINDS), C("right_no", "int", low=1, high=12),
            C("entitlement", "code"), C("summary", "text", True)),
        "actions": (
            C("action_id", "id", True), C("finding_id", "id", references="panel_findings"),
            C("title", "text", True), C("owner", "text"), C("raised_on", "date", True), C("due_on", "date"),
            C("status", "enum", True, c.ACTION_STATUSES), C("completed_on", "date"), C("measure", "text")),
    }


# The key of every table is its first column. Order follows LOAD_ORDER (parents before children).
TABLE_COLUMNS: dict[str, tuple[Column, ...]] = {name: _columns()[name] for name in LOAD_ORDER}
_PARENT_NOUN = {"cases": "case", "victims": "victim", "panels": "panel", "panel_findings": "panel finding"}

# Row rules across columns: (column blamed, condition that is TRUE for a bad row, reason). Conditions use
# t_<col> (the typed value), v_<col> (the trimmed text, NULL when empty) and, for contacts, xc (the case).
_ROW_RULES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "cases": (
        ("recorded_at", "CAST(t_recorded_at AS DATE) < CAST(t_reported_at AS DATE)",
         "recorded_at is before reported_at"),
        ("closed_at", "CAST(t_closed_at AS DATE) < CAST(t_reported_at AS DATE)", "closed_at is before reported_at"),
    ),
    "contacts": (
        ("contact_at", "CAST(t_contact_at AS DATE) < CAST(xc.reported_at AS DATE)",
         "contact_at is before the victim's case was reported (its reported_at)"),
        ("contact_at", "CAST(t_contact_at AS DATE) > CAST(xc.closed_at AS DATE)",
         "contact_at is after the victim's case was closed (its closed_at)"),
    ),
    "entitlements": (
        ("delivered_at", "t_outcome IN ('delivered', 'declined') AND v_delivered_at IS NULL",
         "delivered_at is empty, but an outcome of delivered or declined needs the date it was delivered or offered"),
        ("delivered_at", "t_outcome = 'not_delivered' AND v_delivered_at IS NOT NULL",
         "delivered_at is given, but the outcome is not_delivered: remove the date or correct the outcome"),
        ("exception_reason", "t_outcome = 'not_applicable' AND v_exception_reason IS NULL",
         "exception_reason is empty, but an outcome of not_applicable needs the reason"),
        ("delivered_at", "CAST(t_delivered_at AS DATE) < CAST(t_triggered_at AS DATE)",
         "delivered_at is before triggered_at"),
    ),
    "referrals": (
        ("referred_at", "CAST(t_referred_at AS DATE) < CAST(t_offered_at AS DATE)", "referred_at is before offered_at"),
        ("contacted_at", "CAST(t_contacted_at AS DATE) < CAST(t_referred_at AS DATE)",
         "contacted_at is before referred_at"),
    ),
    "complaints": (
        ("acknowledged_at", "CAST(t_acknowledged_at AS DATE) < CAST(t_received_at AS DATE)",
         "acknowledged_at is before received_at"),
        ("closed_at", "CAST(t_closed_at AS DATE) < CAST(t_received_at AS DATE)", "closed_at is before received_at"),
    ),
    "actions": (
        ("due_on", "t_due_on < t_raised_on", "due_on is before raised_on"),
        ("completed_on", "t_completed_on < t_raised_on", "completed_on is before raised_on"),
    ),
}
# Extra joins a table's row rules need (aliases used in _ROW_RULES).
_RULE_JOINS = {
    "contacts": "LEFT JOIN main.victims AS xv ON xv.victim_id = b.v_victim_id "
                "LEFT JOIN main.cases AS xc ON xc.case_id = xv.case_id",
}
# Columns whose latest date (up to today) is the store's default as-of date when none is given.
_EVENT_COLUMNS = {
    "cases": ("reported_at", "recorded_at", "closed_at"), "contacts": ("contact_at",),
    "entitlements": ("triggered_at", "delivered_at"), "referrals": ("offered_at", "referred_at", "contacted_at"),
    "surveys": ("responded_at",), "complaints": ("received_at", "acknowledged_at", "closed_at"),
}


@contextmanager
def _timed(step: str) -> Iterator[None]:
    """Log how long a step of an import took (debug level; python -m bench reads these to show where time goes)."""
    began = perf_counter()
    try:
        yield
    finally:
        log.debug("import step %s took %.3f s", step, perf_counter() - began)


# --- reports -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class RejectedLine:
    line: int  # as a person counts lines in the file: the header is line 1
    column: str  # the column(s) at fault, comma-separated; '' when the whole line is wrong
    reason: str  # plain English; never quotes row data


@dataclass(frozen=True)
class FileReport:
    name: str
    table: str | None
    file_format: str | None
    sha256: str | None
    size: int | None
    status: str  # loaded | already_loaded | refused | not_loaded
    message: str  # plain English; never quotes row data
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    rows_inserted: int = 0  # loaded rows with a new id
    rows_updated: int = 0  # loaded rows that replaced the stored row with the same id
    notes: tuple[str, ...] = ()  # unknown columns ignored, optional columns missing, trailing sheets...
    rejects: tuple[RejectedLine, ...] = ()  # the first REJECT_SAMPLE rejected lines

    @property
    def counts(self) -> str:
        return f"read {self.rows_read:,} = loaded {self.rows_loaded:,} + rejected {self.rows_rejected:,}"


@dataclass(frozen=True)
class ImportReport:
    import_id: str
    db_path: Path
    user: str
    started_at: datetime  # UTC
    finished_at: datetime  # UTC
    status: str  # committed | nothing_to_do | refused | failed
    message: str
    files: tuple[FileReport, ...]
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the store now holds everything this import could load (rows may have been rejected)."""
        return self.status in ("committed", "nothing_to_do")


class _Refused(Exception):
    """The whole import is refused before anything is written; the message is for the user."""


class _FileRefused(Exception):
    """One file is refused whole; the message names the file and says why."""


class _ReconciliationError(Exception):
    """Counts did not add up: nothing may be committed."""


# --- reading files -----------------------------------------------------------------------------

@dataclass
class _Input:
    name: str  # the file name as the user gave it (basename)
    path: Path | None
    data: bytes | None


@dataclass
class _Staged:
    """A file read as text: one Arrow row per counted data row (good rows and rows already rejected)."""

    file_no: int
    name: str
    table: str
    fmt: str
    sha256: str
    size: int
    header: list[str] = field(default_factory=list)  # the file's column names, as written (trimmed)
    positions: dict[str, int] = field(default_factory=dict)  # contract column -> position in the file
    data: pa.Table | None = None  # __line, __pre (reason already known), __raw (JSON for those), c0..cN
    counted: int = 0  # data rows counted independently of the parser
    notes: list[str] = field(default_factory=list)
    previous: str | None = None  # set when identical to an earlier committed file


def _display(text: str, limit: int = 80) -> str:
    """A name from outside (file, column, sheet) made safe to print: no control characters, bounded."""
    cleaned = "".join(ch if ch.isprintable() else "?" for ch in str(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def _expand(files: Iterable[Path | str | tuple[str, bytes]]) -> tuple[list[_Input], list[tuple[str, str]], list[str]]:
    """Inputs, in the order given; a folder means every file in it named like a data file.

    Returns (inputs, refusals, notes). A folder's files that are not data files (README.md, hidden files)
    are noted and skipped; one with a data extension but an unknown name is kept, to be refused by name.
    """
    inputs: list[_Input] = []
    refusals: list[tuple[str, str]] = []
    notes: list[str] = []
    seen: set[Path] = set()
    for item in files:
        if isinstance(item, tuple):
            name, data = item
            inputs.append(_Input(Path(str(name).replace("\\", "/")).name, None, bytes(data)))
            continue
        path = Path(item)
        if path.is_dir():
            found = 0
            try:
                children = sorted(path.iterdir(), key=lambda p: p.name.lower())
            except OSError as exc:
                refusals.append((_display(path.name), f"the folder {_display(str(path), 300)} could not be read "
                                                      f"({exc.strerror or 'error'})"))
                continue
            for child in children:
                suffix = child.suffix.lower()
                if child.name.startswith(".") or not child.is_file():
                    continue  # hidden files (the store's lock file, editors' back-ups) and sub-folders
                if suffix not in FORMATS and suffix not in (".xls", ".xlsm", ".tsv", ".txt"):
                    notes.append(f"{_display(child.name)} in folder {_display(path.name)} is not a data file; skipped")
                    continue
                found += 1
                if child.resolve() not in seen:
                    seen.add(child.resolve())
                    inputs.append(_Input(child.name, child, None))
            if not found:
                refusals.append((_display(path.name), f"the folder {_display(str(path), 300)} holds no data files "
                                                          "(cases.csv, victims.parquet, ...)"))
        elif path.is_file():
            if path.resolve() not in seen:
                seen.add(path.resolve())
                inputs.append(_Input(path.name, path, None))
        else:
            refusals.append((_display(path.name), f"{_display(str(path), 300)} does not exist (or is not a file or "
                                                  "folder)"))
    return inputs, refusals, notes


def _table_and_format(name: str) -> tuple[str, str]:
    base = Path(name)
    suffix = base.suffix.lower()
    stem = base.stem.lower()
    if suffix == ".xls":
        raise _FileRefused(f"{_display(name)}: the old Excel .xls format cannot be read; save it as .xlsx or as "
                           "CSV UTF-8")
    if suffix == ".xlsm":
        raise _FileRefused(f"{_display(name)}: macro-enabled workbooks (.xlsm) are not accepted; save it as .xlsx")
    if suffix not in FORMATS:
        raise _FileRefused(f"{_display(name)}: files must be CSV (.csv), Parquet (.parquet) or Excel (.xlsx)")
    if stem not in TABLE_COLUMNS:
        raise _FileRefused(f"{_display(name)}: the file name must be a table of the data contract "
                           f"({', '.join(LOAD_ORDER)}), e.g. cases.csv")
    return stem, FORMATS[suffix]


def _blank(values: Sequence) -> bool:
    return all(v is None or (isinstance(v, str) and not v.strip()) for v in values)


def _raw_json(header: list[str], values: Sequence) -> str:
    """The row as exported, as a JSON object (column -> text). Personal data: only ever stored in the store."""
    row: dict[str, object] = {}
    for i, value in enumerate(values):
        key = header[i] if i < len(header) and header[i] else f"(column {i + 1})"
        if i >= len(header):
            key = f"(extra value {i - len(header) + 1})"
        while key in row:
            key += " (again)"
        row[key] = value
    return json.dumps(row, ensure_ascii=False)


class _Sink:
    """Collects rows into Arrow batches: __line, __pre, __raw and c0..c{n-1}, all text."""

    def __init__(self, header: list[str]):
        self.header = header
        self.n = len(header)
        self.names = ["__line", "__pre", "__raw"] + [f"c{i}" for i in range(self.n)]
        self.schema = pa.schema([("__line", pa.int64()), ("__pre", pa.string()), ("__raw", pa.string())]
                                + [(f"c{i}", pa.string()) for i in range(self.n)])
        self.lines: list[int] = []
        self.rows: list[Sequence[str | None]] = []
        self.batches: list[pa.RecordBatch] = []
        self.pre: list[tuple[int, str, str]] = []
        self.pending_blank: list[int] = []

    def add(self, line: int, values: Sequence[str | None]) -> None:
        self._settle_blanks()
        self.lines.append(line)
        self.rows.append(values)
        if len(self.rows) >= _CHUNK:
            self._flush()

    def add_many(self, lines: Sequence[int], rows: Sequence[Sequence[str | None]]) -> None:
        if self.pending_blank:
            self._settle_blanks()
        self.lines.extend(lines)
        self.rows.extend(rows)
        if len(self.rows) >= _CHUNK:
            self._flush()

    def blank(self, line: int) -> None:
        """A blank line counts only if data follows it; trailing blank lines are not data."""
        self.pending_blank.append(line)

    def reject(self, line: int, reason: str, values: Sequence) -> None:
        self._settle_blanks()
        self.pre.append((line, reason, _raw_json(self.header, values)))

    def _settle_blanks(self) -> None:
        for line in self.pending_blank:
            self.pre.append((line, "the line is blank", "{}"))
        self.pending_blank.clear()

    def _flush(self) -> None:
        if not self.rows:
            return
        columns = list(zip(*self.rows)) if self.n else []
        arrays = [pa.array(self.lines, pa.int64()), pa.nulls(len(self.lines), pa.string()),
                  pa.nulls(len(self.lines), pa.string())] + [pa.array(col, pa.string()) for col in columns]
        self.batches.append(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        self.lines, self.rows = [], []

    def table(self) -> pa.Table:
        self._flush()
        if self.pre:
            k = len(self.pre)
            lines, reasons, raws = zip(*self.pre)
            arrays = [pa.array(lines, pa.int64()), pa.array(reasons, pa.string()), pa.array(raws, pa.string())] + [
                pa.nulls(k, pa.string()) for _ in range(self.n)]
            self.batches.append(pa.RecordBatch.from_arrays(arrays, schema=self.schema))
        return pa.Table.from_batches(self.batches, schema=self.schema)


# CSV --------------------------------------------------------------------------------------------

def _decode_csv(name: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise _FileRefused(f"{_display(name)} is saved as UTF-16 text; save it as CSV UTF-8")
    if b"\x00" in data:
        raise _FileRefused(f"{_display(name)} contains NUL bytes, so it is not a UTF-8 text CSV (it may be UTF-16 "
                           "text or a file of another kind renamed .csv)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise _FileRefused(f"{_display(name)} is not UTF-8 text: line {line} holds bytes that are not valid UTF-8 "
                           "(the file may be saved as Latin-1 or Windows-1252); save it as CSV UTF-8") from None


def _csv_reader(text: str):
    return csv.reader(io.StringIO(text, newline=""), strict=True)


@dataclass(frozen=True)
class _CsvShape:
    """What the csv module sees in a file, counted on its own (not by the parser that stages the rows)."""

    records: int  # data records after the header, up to the last non-blank one: the rows read
    total: int  # every record, the header and blank ones included
    lines: int  # physical lines read
    empty: int  # records with no value at all (empty lines)
    ragged: int  # records whose number of values differs from the header's
    header: tuple[str, ...] | None  # the first record


class _CsvBroken(Exception):
    def __init__(self, line: int, problem: str):
        super().__init__(problem)
        self.line, self.problem = line, problem


def _csv_shape(text: str) -> _CsvShape:
    """The file's shape: from its bytes when every record is one line (_csv_shape_fast), else record by record."""
    return _csv_shape_fast(text.encode("utf-8")) or _csv_shape_records(text)


def _csv_shape_records(text: str) -> _CsvShape:
    reader = _csv_reader(text)
    last = total = empty = ragged = width = 0
    header = None
    while True:
        start = reader.line_num + 1
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise _CsvBroken(start, _csv_problem(exc)) from None
        if header is None:
            header, width = record, len(record)
            continue
        total += 1
        size = len(record)
        if size != width:
            if not size:
                empty += 1
                continue
            ragged += 1
        if record[0].strip() or "".join(record).strip():
            last = total
    return _CsvShape(records=last, total=total + (header is not None), lines=reader.line_num, empty=empty,
                     ragged=ragged, header=tuple(header) if header is not None else None)


_LONGEST_FAST_LINE = 100_000  # bytes; a longer line could hold a value over the csv module's field limit
# Bytes that are never whitespace and never a separator.
_NOT_BLANK_BYTE = np.zeros(256, dtype=bool)
_NOT_BLANK_BYTE[0x21:0x7F] = True
_NOT_BLANK_BYTE[ord(",")] = False


def _csv_shape_fast(data: bytes) -> _CsvShape | None:
    """What _csv_shape_records finds, worked out from the bytes with numpy for the usual file, or None to let it
    decide.

    Usual means: every line break is \\n or \\r\\n, no line longer than _LONGEST_FAST_LINE, and every line that
    holds a quote is one whole record. Lines without a quote are split at commas; lines with one are read one
    by one by the csv module (strict), so a quote left open at the end of a line (a record spanning lines, or a
    broken file) sends the whole file to _csv_shape_records. Nothing here shares code with the Arrow reader.
    """
    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    if not body or (b"\r" in body and body.count(b"\r") != body.count(b"\r\n")):
        return None
    raw = np.frombuffer(body, dtype=np.uint8)
    breaks = np.flatnonzero(raw == 0x0A)
    starts = np.concatenate(([0], breaks + 1))
    stops = np.concatenate((breaks, [len(body)]))
    if starts[-1] == len(body):  # the file ends with a line break: no line after it
        starts, stops = starts[:-1], stops[:-1]
    filled = stops > starts
    stops[filled] -= raw[stops[filled] - 1] == 0x0D  # \r\n ends the line as \n does
    lengths = stops - starts
    if lengths.max() > _LONGEST_FAST_LINE:
        return None
    commas = np.flatnonzero(raw == 0x2C)
    values = np.searchsorted(commas, stops) - np.searchsorted(commas, starts) + 1
    values[lengths == 0] = 0  # an empty line is a record with no value
    # A line starting with a byte that is neither whitespace nor a comma is not blank; the rest (usually none),
    # and the lines holding a quote, are read by Python, whose str.strip() decides what whitespace is.
    unsure = (lengths > 0) & ~_NOT_BLANK_BYTE[raw[np.minimum(starts, len(raw) - 1)]]
    blank = np.zeros(len(starts), dtype=bool)
    quoted = set((np.searchsorted(starts, _positions(body, raw, b'"'), side="right") - 1).tolist())
    unsure = set(np.flatnonzero(unsure).tolist()) | quoted
    header = None
    for line in sorted(unsure | {0}):
        text = body[starts[line]:stops[line]].decode("utf-8")
        if line in quoted:
            try:
                records = list(csv.reader([text], strict=True))
            except csv.Error:
                return None
            if len(records) != 1:
                return None
            record = records[0]
        else:
            record = text.split(",") if text else []
        values[line] = len(record)
        blank[line] = bool(record) and not "".join(record).strip()
        if line == 0:
            header = record
    if not header or not "".join(header).strip():
        return None  # no column names: _csv_shape_records and the refusal that follows it
    width = len(header)
    values, blank = values[1:], blank[1:]
    kept = np.flatnonzero((values > 0) & ~blank)
    return _CsvShape(records=int(kept[-1]) + 1 if len(kept) else 0, total=len(starts), lines=len(starts),
                     empty=int(np.count_nonzero(values == 0)),
                     ragged=int(np.count_nonzero((values != width) & (values > 0))), header=tuple(header))


def _positions(body: bytes, raw: np.ndarray, byte: bytes) -> np.ndarray:
    """Where a byte occurs: by bytes.find when it is rare (no pass over the whole file), else by numpy."""
    if body.count(byte) > 10_000:
        return np.flatnonzero(raw == byte[0])
    found, at = [], body.find(byte)
    while at >= 0:
        found.append(at)
        at = body.find(byte, at + 1)
    return np.array(found, dtype=np.int64)


_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # how io.StringIO(newline="") splits lines, so csv's line_num agrees


def _record_lines(chunk: list[list[str]], before: int, after: int) -> Sequence[int]:
    """The line each record of a chunk starts on, given the lines read before and after it."""
    if after - before == len(chunk):  # no record spans lines: the usual case, no per-record work
        return range(before + 1, after + 1)
    lines, at = [], before + 1
    for record in chunk:
        lines.append(at)
        at += 1 + sum(len(_LINE_BREAK.findall(f)) for f in record if "\n" in f or "\r" in f)
    if at - 1 != after:
        raise _ReconciliationError(f"line numbers do not add up: {at - 1} counted, {after} read")
    return lines


def _parse_csv(staged: _Staged, text: str, data: bytes, shape: _CsvShape) -> None:
    """Stage a CSV. Fast path: pyarrow's reader, when every record is one line and none is empty or ragged, so
    record k is on line k + 2. Otherwise, or if pyarrow and the csv module disagree, the csv module itself."""
    header = list(shape.header) if shape.header is not None else None
    if header is None or not "".join(header).strip():
        raise _FileRefused(f"{_display(staged.name)} is empty or its first line is blank: the first line must "
                           "hold the column names")
    if shape.lines == shape.total and not shape.empty and not shape.ragged:
        notes_before = len(staged.notes)
        _set_header(staged, header)
        table = _arrow_csv(data, len(staged.header), shape)
        if table is not None:
            staged.data = table
            return
        del staged.notes[notes_before:]  # _set_header runs again below
    _parse_csv_records(staged, text)


def _arrow_csv(data: bytes, width: int, shape: _CsvShape) -> pa.Table | None:
    import pyarrow.csv as pa_csv

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    names = [f"c{i}" for i in range(width)]
    try:
        table = pa_csv.read_csv(
            pa.BufferReader(body),
            read_options=pa_csv.ReadOptions(skip_rows=1, column_names=names),
            parse_options=pa_csv.ParseOptions(delimiter=",", quote_char='"', double_quote=True, escape_char=False,
                                              newlines_in_values=False, ignore_empty_lines=False),
            convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()),
                                                  strings_can_be_null=False, quoted_strings_can_be_null=False))
    except (pa.ArrowException, ValueError):
        return None
    if table.num_rows != shape.total - 1:
        return None
    blank = _blank_rows(table)
    filled = pc.indices_nonzero(pc.invert(blank))
    kept = int(pc.max(filled).as_py()) + 1 if len(filled) else 0
    if kept != shape.records:
        return None  # the two readers disagree on what is blank: let the csv module decide
    table = table.slice(0, kept)
    blank = blank.slice(0, kept)
    pre = pc.if_else(blank, pa.scalar("the line is blank"), pa.scalar(None, pa.string()))
    raw = pc.if_else(blank, pa.scalar("{}"), pa.scalar(None, pa.string()))
    # The columns keep Arrow's chunks (DuckDB scans them as they are); one table, one row per record.
    arrays = [pa.chunked_array([np.arange(2, kept + 2, dtype=np.int64)]), pre, raw] + table.columns
    return pa.Table.from_arrays(arrays, names=["__line", "__pre", "__raw"] + names)


def _blank_rows(table: pa.Table) -> pa.Array:
    """True for a row whose every value is empty or whitespace. Only a row whose first value is blank can be,
    so the other columns are looked at for those rows alone (usually none)."""
    first = pc.equal(pc.utf8_trim_whitespace(table.column(0)), "").combine_chunks()
    candidates = pc.indices_nonzero(first)
    if not len(candidates):
        return first
    for column in table.columns[1:]:
        candidates = pc.filter(candidates, pc.equal(pc.utf8_trim_whitespace(pc.take(column, candidates)), ""))
    blank = np.zeros(table.num_rows, dtype=bool)
    blank[candidates.to_numpy()] = True
    return pa.array(blank)


def _parse_csv_records(staged: _Staged, text: str) -> None:
    reader = _csv_reader(text)
    try:
        header = next(reader, None)
        if header is None or not "".join(header).strip():
            raise _FileRefused(f"{_display(staged.name)} is empty or its first line is blank: the first line must "
                               "hold the column names")
        _set_header(staged, header)
        sink = _Sink(staged.header)
        width = len(header)
        after = reader.line_num
        while True:
            chunk = list(islice(reader, _CHUNK))  # the csv module at C speed; Python only for odd rows
            if not chunk:
                break
            before, after = after, reader.line_num
            lines = _record_lines(chunk, before, after)
            odd = [i for i, r in enumerate(chunk) if len(r) != width or not r[0].strip()]
            start = 0
            for i in odd + [len(chunk)]:
                if i > start:
                    sink.add_many(lines[start:i], chunk[start:i])
                if i < len(chunk):
                    record = chunk[i]
                    if not "".join(record).strip():
                        sink.blank(lines[i])
                    elif len(record) == width:  # only its first value is empty
                        sink.add(lines[i], record)
                    else:
                        sink.reject(lines[i], f"the line has {len(record)} values but the header has {width} "
                                              "columns (a value may hold an unquoted comma, or a quote may be "
                                              "missing)", record)
                start = i + 1
    except csv.Error as exc:
        raise _FileRefused(f"{_display(staged.name)} could not be read as CSV at line {reader.line_num} "
                           f"({_csv_problem(exc)}); nothing was loaded from it") from None
    staged.data = sink.table()


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "unexpected end of data" in text:
        return "a quoted value is never closed"
    if "field larger than field limit" in text:
        return "a value is too long, which usually means a quote is never closed"
    if "expected after" in text:
        return "a closing quote is followed by other characters"
    return "the line is not valid CSV"


# XLSX -------------------------------------------------------------------------------------------

def _cell_text(value) -> str | None:
    """An Excel or Parquet value as the text the contract expects; dates as ISO 8601."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        value = (value + timedelta(microseconds=500_000)).replace(microsecond=0) if value.microsecond else value
        if value.tzinfo is not None:
            value = value.replace(tzinfo=None)
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else str(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _open_workbook(name: str, data: bytes):
    import openpyxl  # only imports of Excel files need it

    if data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _FileRefused(f"{_display(name)} is an old-format or password-protected Excel file; save it as an "
                           "unprotected .xlsx workbook or as CSV UTF-8")
    if not data.startswith(b"PK"):
        raise _FileRefused(f"{_display(name)} is not an Excel .xlsx workbook (its content is of another kind)")
    try:
        return openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except Exception:  # noqa: BLE001 - openpyxl raises many kinds for a damaged workbook
        raise _FileRefused(f"{_display(name)} could not be opened as an Excel .xlsx workbook (damaged or not a "
                           "workbook)") from None


def _count_xlsx_rows(name: str, data: bytes) -> int:
    """The used data rows of the first sheet, counted on their own: rows after row 1 up to the last non-blank."""
    book = _open_workbook(name, data)
    try:
        last = 0
        for index, row in enumerate(book.worksheets[0].iter_rows(values_only=True), start=1):
            if any(v is not None and not (isinstance(v, str) and not v.strip()) for v in row):
                last = index
        return max(last - 1, 0)
    finally:
        book.close()


def _parse_xlsx(staged: _Staged, data: bytes) -> None:
    book = _open_workbook(staged.name, data)
    try:
        if not book.worksheets:
            raise _FileRefused(f"{_display(staged.name)} has no worksheet")
        sheet = book.worksheets[0]
        if len(book.sheetnames) > 1:
            others = ", ".join(_display(s, 40) for s in book.sheetnames[1:])
            staged.notes.append(f"only the first sheet ({_display(sheet.title, 40)}) was read; other sheets ignored: "
                                f"{others}")
        rows = sheet.iter_rows(values_only=True)
        first = next(rows, None)
        if first is None or _blank(first):
            raise _FileRefused(f"{_display(staged.name)}: row 1 of the first sheet is empty; it must hold the "
                               "column names")
        header = [_cell_text(v) or "" for v in first]
        while header and not header[-1].strip():
            header.pop()
        width = len(header)
        _set_header(staged, header)
        sink = _Sink(staged.header)
        beyond = False
        for line, row in enumerate(rows, start=2):
            values = [_cell_text(v) for v in row]
            if _blank(values):
                sink.blank(line)
                continue
            if len(values) > width:
                beyond = beyond or not _blank(values[width:])
                values = values[:width]
            elif len(values) < width:
                values += [None] * (width - len(values))
            sink.add(line, values)
        if beyond:
            staged.notes.append("some rows have values in columns with no name in row 1; those values were ignored")
        staged.data = sink.table()
    finally:
        book.close()


# Parquet ----------------------------------------------------------------------------------------

def _parquet_text(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """A Parquet column as text, the way a CSV export would write it."""
    kind = column.type
    if pa.types.is_dictionary(kind):
        column = column.cast(kind.value_type)
        kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return column.cast(pa.string())
    if pa.types.is_boolean(kind):
        return pc.if_else(column, "true", "false")
    if pa.types.is_integer(kind):
        return column.cast(pa.string())
    if pa.types.is_date(kind):
        return column.cast(pa.date32()).cast(pa.string())
    if pa.types.is_timestamp(kind):
        if kind.tz is not None:  # a zoned instant: the UK wall-clock time it was
            column = pc.local_timestamp(column.cast(pa.timestamp(kind.unit, "Europe/London")))
        return pc.strftime(column.cast(pa.timestamp("s"), safe=False), format="%Y-%m-%dT%H:%M:%S")
    if pa.types.is_floating(kind):
        return pc.if_else(pc.is_nan(column), pa.scalar(None, pa.string()), column.cast(pa.string()))
    if pa.types.is_null(kind):
        return pa.chunked_array([pa.nulls(len(column), pa.string())])
    if pa.types.is_nested(kind):  # lists, structures and maps have no place in a one-value-per-cell contract
        raise TypeError(f"a nested column ({kind})")
    # decimals, binary and anything else: value by value
    return pa.chunked_array([pa.array([_cell_text(v) for v in column.to_pylist()], pa.string())])


def _parse_parquet(staged: _Staged, data: bytes) -> None:
    if not (data[:4] == b"PAR1" and data[-4:] == b"PAR1"):
        raise _FileRefused(f"{_display(staged.name)} is not a Parquet file (its content is of another kind)")
    try:
        table = pq.read_table(pa.BufferReader(data))
    except Exception:  # noqa: BLE001 - pyarrow raises several kinds for a damaged file
        raise _FileRefused(f"{_display(staged.name)} could not be read as Parquet (the file is damaged)") from None
    header = [str(n) for n in table.column_names]
    _set_header(staged, header)
    try:
        texts = [_parquet_text(table.column(i)) for i in range(table.num_columns)]
    except (pa.ArrowException, ValueError, TypeError):
        raise _FileRefused(f"{_display(staged.name)} has a column whose values cannot be read as text "
                           "(lists or structures are not part of the contract)") from None
    n = table.num_rows
    # Parquet has no header line: row k (from 1) is reported as line k + 1, as in a CSV export of it.
    arrays = [pa.array(np.arange(2, n + 2, dtype=np.int64)), pa.nulls(n, pa.string()), pa.nulls(n, pa.string())]
    arrays += [t.combine_chunks() if t.num_chunks else pa.array([], pa.string()) for t in texts]
    staged.data = pa.Table.from_arrays(arrays, schema=_Sink(staged.header).schema)


def _count_parquet_rows(data: bytes) -> int:
    return pq.ParquetFile(pa.BufferReader(data)).metadata.num_rows


# Header -----------------------------------------------------------------------------------------

def _set_header(staged: _Staged, header: list[str]) -> None:
    """Match the file's columns to the contract: refuse missing required or repeated columns, note the rest."""
    staged.header = [h.strip() for h in header]
    spec = TABLE_COLUMNS[staged.table]
    known = {col.name for col in spec}
    positions: dict[str, int] = {}
    unknown: list[str] = []
    unnamed = 0
    for i, raw in enumerate(staged.header):
        name = raw.lower()
        if not name:
            unnamed += 1
        elif name in known:
            if name in positions:
                raise _FileRefused(f"{_display(staged.name)}: the column {name} appears twice in the header")
            positions[name] = i
        else:
            unknown.append(raw)
    missing = [col.name for col in spec if col.required and col.name not in positions]
    if missing:
        hint = ""
        if len(staged.header) == 1 and any(sep in staged.header[0] for sep in (";", "\t", "|")):
            hint = " (the header has a single column: is the file separated by semicolons or tabs instead of commas?)"
        raise _FileRefused(f"{_display(staged.name)}: missing required column(s) {', '.join(missing)} for table "
                           f"{staged.table}{hint}; nothing was loaded from it")
    staged.positions = positions
    if unknown:
        staged.notes.append(f"column(s) not in the contract for {staged.table}, ignored: "
                            + ", ".join(_display(u, 40) for u in unknown))
    if unnamed:
        staged.notes.append(f"{unnamed} column(s) with no name in the header, ignored")
    absent = [col.name for col in spec if not col.required and col.name not in positions]
    if absent:
        staged.notes.append("optional column(s) not in the file, so empty for its rows: " + ", ".join(absent))


def _read_file(staged: _Staged, data: bytes) -> None:
    if staged.fmt == "csv":
        text = _decode_csv(staged.name, data)
        try:
            shape = _csv_shape(text)  # first, so a file that is not valid CSV is refused before any staging
        except _CsvBroken as exc:
            raise _FileRefused(f"{_display(staged.name)} could not be read as CSV: in the line(s) from line "
                               f"{exc.line}, {exc.problem}; nothing was loaded from it") from None
        _parse_csv(staged, text, data, shape)
        staged.counted = shape.records
    elif staged.fmt == "xlsx":
        _parse_xlsx(staged, data)
        staged.counted = _count_xlsx_rows(staged.name, data)
    else:
        _parse_parquet(staged, data)
        staged.counted = _count_parquet_rows(data)
    if staged.data.num_rows != staged.counted:
        raise _ReconciliationError(f"{staged.name}: {staged.counted} rows counted but {staged.data.num_rows} read")


# --- the live store ----------------------------------------------------------------------------

@dataclass
class _Live:
    exists: bool
    version: int | None = None
    is_demo: bool = False
    loaded: dict[tuple[str, str], tuple[str, str, int]] = field(default_factory=dict)  # (sha, table) -> earlier


def _inspect(db: Path) -> _Live:
    if not db.exists():
        return _Live(exists=False)
    if not db.is_file():
        raise _Refused(f"{db} is a folder, not a store file")
    if db.with_name(db.name + ".wal").exists():
        raise _Refused(f"{db} has unfinished writes from another program (a {db.name}.wal file beside it); "
                       "nothing was imported. Ask the administrator to check what wrote to the store.")
    con = duckdb.connect(":memory:", config=dict(SAFE_CONFIG))
    try:
        try:
            con.execute("ATTACH $path AS live (READ_ONLY)", {"path": str(db)})
        except duckdb.Error as exc:
            raise _Refused(f"{db} cannot be read as a store ({describe_duckdb_error(exc)})") from None
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = 'live'").fetchall()}
        if "store_meta" not in tables:
            raise _Refused(f"{db} is a DuckDB database but not a dashboard store (it has no store_meta table)")
        meta = dict(con.execute("SELECT key, value FROM live.store_meta").fetchall())
        try:
            version = int(meta.get("schema_version", "0"))
        except ValueError:
            version = 0
        if version not in READABLE_VERSIONS:
            raise _Refused(f"{db} has store layout version {version}, which this version cannot import into; "
                           "nothing was imported")
        live = _Live(exists=True, version=version, is_demo=meta.get("is_demo") == "true")
        if "import_log" in tables:
            rows = con.execute("SELECT sha256, table_name, import_id, CAST(imported_at AS VARCHAR), rows_rejected "
                               "FROM live.import_log WHERE status = 'loaded' ORDER BY imported_at").fetchall()
            for sha, table, import_id, at, rejected in rows:
                earlier = live.loaded.get((sha, table))
                if earlier is None or earlier[2] > 0:  # a clean load wins over one with rejects
                    live.loaded[(sha, table)] = (import_id, at[:19], int(rejected))
        return live
    finally:
        con.close()


# --- validation and merge (SQL over the staged text) ---------------------------------------------

def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _in_list(values: Iterable[str]) -> str:
    return ", ".join(_quote(v) for v in values)


# The pattern a column's text must fully match before it is cast; matched once per row (m_<col>) and used by
# both the cast and the check, since a regular expression costs more than anything else per value.
_PATTERN = {"timestamp": _TIMESTAMP_RE, "date": _DATE_RE, "int": _INT_RE, "number": _NUMBER_RE}
# The first characters with which _FORMULA_RE can match (RE2's \s is [\t\n\f\r ]): the expression is
# evaluated only for values starting with one of them (tests/test_import_fast_paths.py checks the list).
_FORMULA_FIRST = (9, 10, 12, 13, 32, 43, 45, 61, 64)


def _trimmed(raw: str) -> str:
    """NULLIF(trim(raw), ''), with trim (which copies every value) skipped where it cannot change the value: DuckDB
    trims Unicode space separators, and an ASCII value's only one is the space."""
    return (f"NULLIF(CASE WHEN starts_with({raw}, ' ') OR suffix({raw}, ' ') OR strlen({raw}) <> length({raw}) "
            f"THEN trim({raw}) ELSE {raw} END, '')")


def _typed(col: Column) -> str:
    v, m = f"v_{col.name}", f"m_{col.name}"
    if col.kind == "timestamp":
        return f"CASE WHEN {m} THEN try_cast({v} AS TIMESTAMP) END"
    if col.kind == "date":
        return f"CASE WHEN {m} THEN try_cast(left({v}, 10) AS DATE) END"
    if col.kind == "bool":
        return (f"CASE WHEN lower({v}) IN ({_in_list(_TRUE)}) THEN TRUE "
                f"WHEN lower({v}) IN ({_in_list(_FALSE)}) THEN FALSE END")
    if col.kind == "int":
        return f"CASE WHEN {m} THEN try_cast({v} AS INTEGER) END"
    if col.kind == "number":
        return f"CASE WHEN {m} THEN try_cast({v} AS DOUBLE) END"
    return v


def _bounds(col: Column) -> str:
    if col.low is not None and col.high is not None:
        return f"between {col.low:g} and {col.high:g}"
    if col.low is not None:
        return "0 or more" if col.low == 0 else f"{col.low:g} or more"
    return f"{col.high:g} or less"


def _column_check(table: str, col: Column, codes: dict[str, tuple[str, ...]], parent_files: dict[str, int]) -> str:
    """One CASE per column: its first problem in plain English (never quoting the value), or NULL."""
    name, v, t, r, m = col.name, f"v_{col.name}", f"t_{col.name}", f"r_{col.name}", f"m_{col.name}"
    parts = [f"WHEN {v} IS NULL THEN " + (_quote(f"{name} is empty, but it is required") if col.required else "NULL")]
    if col.kind in ("id", "text"):
        parts.append(f"WHEN ascii({r}) IN ({', '.join(map(str, _FORMULA_FIRST))}) "
                     f"AND regexp_matches({r}, '{_FORMULA_RE}') THEN "
                     + _quote(f"{name} starts with =, +, -, @, a tab or a carriage return, which a spreadsheet could "
                              "run as a formula; correct it at source"))
    if col.kind == "timestamp":
        parts += [f"WHEN NOT {m} THEN " + _quote(f"{name} is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"),
                  f"WHEN {t} IS NULL THEN " + _quote(f"{name} is not a real date or time (e.g. 30 February)"),
                  f"WHEN year({t}) NOT BETWEEN {FIRST_YEAR} AND {LAST_YEAR} THEN "
                  + _quote(f"{name} is outside the years {FIRST_YEAR} to {LAST_YEAR}")]
    elif col.kind == "date":
        parts += [f"WHEN regexp_full_match({v}, '{_TIMESTAMP_RE}') AND NOT {m} THEN "
                  + _quote(f"{name} is a date: write YYYY-MM-DD, without a time"),
                  f"WHEN NOT {m} THEN " + _quote(f"{name} is not a date written YYYY-MM-DD"),
                  f"WHEN {t} IS NULL THEN " + _quote(f"{name} is not a real date (e.g. 30 February)"),
                  f"WHEN year({t}) NOT BETWEEN {FIRST_YEAR} AND {LAST_YEAR} THEN "
                  + _quote(f"{name} is outside the years {FIRST_YEAR} to {LAST_YEAR}")]
    elif col.kind == "bool":
        parts.append(f"WHEN {t} IS NULL THEN " + _quote(f"{name} is not true or false (yes/no and 1/0 are accepted)"))
    elif col.kind == "int":
        parts.append(f"WHEN {t} IS NULL THEN " + _quote(f"{name} is not a whole number"))
    elif col.kind == "number":
        parts.append(f"WHEN {t} IS NULL THEN " + _quote(f"{name} is not a number (write it like 3 or 3.5)"))
    elif col.kind == "enum":
        parts.append(f"WHEN {v} NOT IN ({_in_list(col.values)}) THEN "
                     + _quote(f"{name} is not one of the allowed values: {', '.join(col.values)}"))
    elif col.kind == "themes":
        theme = "(" + "|".join(re.escape(x) for x in col.values) + ")"
        parts.append(f"WHEN NOT regexp_full_match({v}, '\\s*{theme}\\s*(;\\s*{theme}\\s*)*') THEN "
                     + _quote(f"{name} must be one or more of {', '.join(col.values)}, separated by ;"))
    elif col.kind == "code":
        allowed = codes["measured"] if table == "entitlements" else codes["all"]
        which = "a measured entitlement code" if table == "entitlements" else "an entitlement code"
        parts.append(f"WHEN {v} NOT IN ({_in_list(allowed)}) THEN "
                     + _quote(f"{name} is not {which} of the catalogue (see docs/catalogue.md)"))
    if col.kind in ("int", "number") and (col.low is not None or col.high is not None):
        low = f"{t} < {col.low!r}" if col.low is not None else "FALSE"
        high = f"{t} > {col.high!r}" if col.high is not None else "FALSE"
        parts.append(f"WHEN {low} OR {high} THEN " + _quote(f"{name} must be {_bounds(col)}"))
    if col.references:
        parent = col.references
        key = TABLE_COLUMNS[parent][0].name
        noun = _PARENT_NOUN[parent]
        missing = f"fk_{name}.{quote_identifier(key)} IS NULL"
        if parent in parent_files:
            parts.append(f"WHEN {missing} AND st_{name}.k IS NOT NULL THEN "
                         + _quote(f"{name} names a {noun} whose row in this import was rejected, and the store has "
                                  f"no such {noun}"))
        parts.append(f"WHEN {missing} THEN "
                     + _quote(f"{name} names a {noun} that is neither in the store nor in this import"))
    return "CASE " + " ".join(parts) + " END"


def _check_sql(staged: _Staged, codes: dict[str, tuple[str, ...]], parent_files: dict[str, int]) -> tuple[str, list]:
    """SQL creating chk_<n>: per staged row its typed values and one problem column per check.

    Returns the SQL and the checks as (problem column, blamed column, order)."""
    table, n = staged.table, staged.file_no
    spec = TABLE_COLUMNS[table]
    key = spec[0].name
    base = []
    for col in spec:
        pos = staged.positions.get(col.name)
        raw = f"s.c{pos}" if pos is not None else "CAST(NULL AS VARCHAR)"
        base += [f"{raw} AS r_{col.name}", f"{_trimmed(raw)} AS v_{col.name}"]
    matched = [f"regexp_full_match(v_{col.name}, '{_PATTERN[col.kind]}') AS m_{col.name}"
               for col in spec if col.kind in _PATTERN]
    typed = [f"{_typed(col)} AS t_{col.name}" for col in spec]
    key_pos = staged.positions.get(key)
    key_raw = f"c{key_pos}" if key_pos is not None else "CAST(NULL AS VARCHAR)"
    joins, checks, problems = [], [], []
    # Repeated ids: each one's first line, from the (usually empty) list of keys found more than once. An empty
    # key's group may be in it, but NULL never joins.
    joins.append(f"LEFT JOIN (SELECT k, min(__line) AS first_line FROM (SELECT __line, {_trimmed(key_raw)} AS k "
                 f"FROM stg_{n} WHERE __pre IS NULL) GROUP BY k HAVING count(*) > 1) AS dup ON dup.k = b.v_{key}")
    for col in spec:
        if col.references:
            parent = col.references
            pkey = quote_identifier(TABLE_COLUMNS[parent][0].name)
            joins.append(f"LEFT JOIN main.{quote_identifier(parent)} AS fk_{col.name} "
                         f"ON fk_{col.name}.{pkey} = b.v_{col.name}")
            if parent in parent_files:
                joins.append(f"LEFT JOIN (SELECT DISTINCT v_{TABLE_COLUMNS[parent][0].name} AS k FROM "
                             f"chk_{parent_files[parent]}) AS st_{col.name} ON st_{col.name}.k = b.v_{col.name}")
    for i, col in enumerate(spec):
        checks.append((f"p{i}", col.name, i))
        problems.append(f"{_column_check(table, col, codes, parent_files)} AS p{i}")
    checks.append(("pdup", key, -1))
    problems.append(f"CASE WHEN b.v_{key} IS NOT NULL AND dup.first_line < b.__line THEN "
                    f"{_quote(key + ' repeats the ' + key + ' on line ')} || dup.first_line || "
                    f"{_quote(' of this file; an id may appear only once in a file')} END AS pdup")
    for j, (col_name, condition, reason) in enumerate(_ROW_RULES.get(table, ())):
        checks.append((f"prule{j}", col_name, len(spec) + j))
        problems.append(f"CASE WHEN {condition} THEN {_quote(reason)} END AS prule{j}")
    # Kept: the line, the key (children in the same import look it up), the typed values and the problems.
    kept = ["b.__line", f"b.v_{key}"] + [f"b.t_{col.name}" for col in spec]
    sql = f"""
CREATE TEMP TABLE chk_{n} AS
WITH base AS (
    SELECT s.__line, {', '.join(base)} FROM stg_{n} AS s WHERE s.__pre IS NULL
), matched AS (
    SELECT *{''.join(', ' + m for m in matched)} FROM base
), typed AS (
    SELECT *, {', '.join(typed)} FROM matched
)
SELECT {', '.join(kept)}, {', '.join(problems)}
FROM typed AS b {' '.join(joins)} {_RULE_JOINS.get(table, '')}
"""
    return sql, checks


@dataclass
class _Result:
    loaded: int = 0
    rejected: int = 0
    inserted: int = 0
    updated: int = 0
    rejects: tuple[RejectedLine, ...] = ()


def _validate_and_merge(con: duckdb.DuckDBPyConnection, staged: _Staged, import_id: str, has_old: bool,
                        codes: dict[str, tuple[str, ...]], parent_files: dict[str, int]) -> _Result:
    table, n = staged.table, staged.file_no
    spec = TABLE_COLUMNS[table]
    key = spec[0].name
    con.register(f"stg_{n}", staged.data)
    sql, checks = _check_sql(staged, codes, parent_files)
    with _timed("validate"):
        _validate(con, staged, sql, checks)
    columns = ", ".join(quote_identifier(col.name) for col in spec)
    typed_columns = ", ".join(f"t_{col.name}" for col in spec)
    target = quote_identifier(table)
    updated = 0
    with _timed("load"):
        if has_old:
            updated = con.execute(f"SELECT count(*) FROM old.{target} AS o SEMI JOIN acc_{n} AS a "
                                  f"ON o.{quote_identifier(key)} = a.t_{key}").fetchall()[0][0]
            con.execute(f"INSERT INTO main.{target} ({columns}) SELECT {columns} FROM old.{target} AS o "
                        f"ANTI JOIN acc_{n} AS a ON o.{quote_identifier(key)} = a.t_{key}")
        con.execute(f"INSERT INTO main.{target} ({columns}) SELECT {typed_columns} FROM acc_{n}")
    loaded = con.execute(f"SELECT count(*) FROM acc_{n}").fetchall()[0][0]
    rejected = con.execute(f"SELECT count(*) FROM rej_{n}").fetchall()[0][0]
    with _timed("rejects"):
        _store_rejects(con, staged, import_id)
    sample = con.execute(f"SELECT line, column_name, reason FROM rej_{n} ORDER BY line "
                         f"LIMIT {REJECT_SAMPLE}").fetchall()
    return _Result(loaded=loaded, rejected=rejected, inserted=loaded - updated, updated=updated,
                   rejects=tuple(RejectedLine(int(a), b, r) for a, b, r in sample))


def _validate(con: duckdb.DuckDBPyConnection, staged: _Staged, sql: str, checks: list) -> None:
    """chk_<n> (typed values and problems), rej_<n> (each rejected line with its reasons), acc_<n> (the rest)."""
    n, spec = staged.file_no, TABLE_COLUMNS[staged.table]
    con.execute(sql)
    problem_columns = ", ".join(name for name, _, _ in checks)
    check_rows = ", ".join(f"({_quote(p)}, {_quote(col)}, {order})" for p, col, order in checks)
    con.execute(f"""
CREATE TEMP TABLE rej_{n} AS
WITH probs AS (
    UNPIVOT (SELECT __line, {problem_columns} FROM chk_{n}) ON {problem_columns} INTO NAME check_name VALUE reason
), named AS (
    SELECT p.__line, m.column_name, m.ord, p.reason
    FROM probs AS p JOIN (VALUES {check_rows}) AS m (check_name, column_name, ord) USING (check_name)
), cols AS (
    SELECT __line, column_name, min(ord) AS ord FROM named GROUP BY __line, column_name
)
SELECT r.__line AS line, c.column_name, r.reason FROM
    (SELECT __line, string_agg(reason, '; ' ORDER BY ord) AS reason FROM named GROUP BY __line) AS r
    JOIN (SELECT __line, string_agg(column_name, ', ' ORDER BY ord) AS column_name FROM cols GROUP BY __line) AS c
    USING (__line)
""")
    # Rows already rejected while reading (blank, wrong number of values) join those rejected here.
    con.execute(f"INSERT INTO rej_{n} SELECT __line, '', __pre FROM stg_{n} WHERE __pre IS NOT NULL")
    typed_columns = ", ".join(f"t_{col.name}" for col in spec)
    con.execute(f"CREATE TEMP TABLE acc_{n} AS SELECT __line, {typed_columns} FROM chk_{n} "
                f"WHERE __line NOT IN (SELECT line FROM rej_{n})")


def _store_rejects(con: duckdb.DuckDBPyConnection, staged: _Staged, import_id: str) -> None:
    """Copy this file's rejected lines, with the row as exported, into import_rejects."""
    n = staged.file_no
    cols = ", ".join(f"s.c{i}" for i in range(len(staged.header)))
    rows = con.execute(f"SELECT r.line, r.column_name, r.reason, s.__raw{', ' + cols if cols else ''} "
                       f"FROM rej_{n} AS r JOIN stg_{n} AS s ON s.__line = r.line ORDER BY r.line").fetchall()
    if not rows:
        return
    frame = pa.table({
        "import_id": pa.array([import_id] * len(rows), pa.string()),
        "file_no": pa.array([n] * len(rows), pa.int32()),
        "file_name": pa.array([staged.name] * len(rows), pa.string()),
        "table_name": pa.array([staged.table] * len(rows), pa.string()),
        "line": pa.array([r[0] for r in rows], pa.int64()),
        "column_name": pa.array([r[1] for r in rows], pa.string()),
        "reason": pa.array([r[2] for r in rows], pa.string()),
        "raw_row": pa.array([r[3] if r[3] is not None else _raw_json(staged.header, r[4:]) for r in rows],
                            pa.string()),
    })
    con.register("rejects_frame", frame)
    try:
        con.execute("INSERT INTO main.import_rejects BY NAME SELECT * FROM rejects_frame")
    finally:
        con.unregister("rejects_frame")


# --- building the new store --------------------------------------------------------------------

def _tables_of(con: duckdb.DuckDBPyConnection, database: str) -> dict[str, list[str]]:
    rows = con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE database_name = ? "
                       "AND schema_name = 'main' ORDER BY table_name, column_index", [database]).fetchall()
    tables: dict[str, list[str]] = {}
    for table, column in rows:
        tables.setdefault(table, []).append(column)
    return tables


def _calendar_and_as_of(con: duckdb.DuckDBPyConnection, data_as_of: date | None) -> date:
    selects = []
    for table, spec in TABLE_COLUMNS.items():
        for col in spec:
            if col.kind in ("timestamp", "date"):
                selects.append(f"SELECT min(CAST({quote_identifier(col.name)} AS DATE)) AS lo, "
                               f"max(CAST({quote_identifier(col.name)} AS DATE)) AS hi FROM main.{quote_identifier(table)}")
    lo, hi = con.execute(f"SELECT min(lo), max(hi) FROM ({' UNION ALL '.join(selects)})").fetchall()[0]
    today = datetime.now(timezone.utc).date()
    if data_as_of is None:
        events = [f"SELECT max(CAST({quote_identifier(col)} AS DATE)) AS d FROM main.{quote_identifier(table)}"
                  for table, cols in _EVENT_COLUMNS.items() for col in cols]
        latest = con.execute(f"SELECT max(d) FROM ({' UNION ALL '.join(events)})").fetchall()[0][0]
        data_as_of = min(latest, today) if latest is not None else today
    write_calendar(con, min(d for d in (lo, data_as_of) if d is not None),
                   max(d for d in (hi, data_as_of) if d is not None))
    return data_as_of


@dataclass
class _Plan:
    import_id: str
    user: str
    started: datetime
    db: Path
    tmp: Path
    fresh: bool  # start from an empty store (no store yet, or the demo replaced)
    staged: list[_Staged]  # files to load, in load order
    order: list[_Staged]  # every file, in the order given (for import_log)
    data_as_of: date | None
    codes: dict[str, tuple[str, ...]]
    catalogue: Catalogue


def _build(plan: _Plan) -> dict[int, _Result]:
    """Write the new store at plan.tmp; return each loaded file's result. Raises on any problem."""
    con = duckdb.connect(str(plan.tmp), config=dict(SAFE_CONFIG))
    results: dict[int, _Result] = {}
    try:
        con.execute("SET enable_progress_bar = false")  # no bar on the terminal of a long import
        if not plan.fresh:
            con.execute("ATTACH $path AS old (READ_ONLY)", {"path": str(plan.db)})
        new_db = con.execute("SELECT current_database()").fetchall()[0][0]
        deferred = _create_schema(con, new_db)
        old_tables = {} if plan.fresh else _tables_of(con, "old")
        old_counts = {t: con.execute(f"SELECT count(*) FROM old.{quote_identifier(t)}").fetchall()[0][0]
                      for t in LOAD_ORDER if t in old_tables}
        new_tables = _tables_of(con, new_db)
        by_table = {s.table: s for s in plan.staged}
        parent_files: dict[str, int] = {}  # table -> file_no of the files validated so far
        for table in LOAD_ORDER:
            staged = by_table.get(table)
            if staged is not None:
                results[staged.file_no] = _validate_and_merge(con, staged, plan.import_id, table in old_tables,
                                                              plan.codes, parent_files)
                parent_files[table] = staged.file_no
            elif table in old_tables:
                _copy(con, table, new_tables[table], old_tables[table])
        # Every other table (import history, and tables added to the schema later) is carried across as it was.
        for table, columns in new_tables.items():
            if table in LOAD_ORDER or table in _BUILT_TABLES or table not in old_tables:
                continue
            _copy(con, table, columns, old_tables[table])
        with _timed("prove rules"):
            _enforce(con, deferred)
        _write_import_log(con, plan, results)
        as_of = _calendar_and_as_of(con, plan.data_as_of)
        with _timed("facts"):
            con.execute(FACTS_SQL)
        write_meta(con, data_as_of=as_of, is_demo=False, source=f"imports (latest {plan.import_id} by {plan.user})")
        with _timed("summary cubes"):
            write_summaries(con, as_of, plan.catalogue)
        if "store_meta" in old_tables:  # keys other tools keep in store_meta survive the rebuild
            con.execute("INSERT INTO main.store_meta SELECT key, value FROM old.store_meta "
                        "WHERE key NOT IN (SELECT key FROM main.store_meta)")
        with _timed("reconcile"):
            _reconcile(con, plan, results, old_counts)
        with _timed("write"):
            con.execute("CHECKPOINT")
    finally:
        con.close()
    return results


@dataclass(frozen=True)
class _Deferred:
    """A contract table built without its key, foreign keys and checks, which _enforce then proves."""

    table: str
    key: tuple[str, ...]  # the primary key, put back once the rows are in
    references: tuple[tuple[tuple[str, ...], str, tuple[str, ...]], ...]  # (columns, parent, parent columns)
    checks: tuple[str, ...]  # CHECK expressions, as the schema states them


def _create_schema(con: duckdb.DuckDBPyConnection, database: str) -> list[_Deferred]:
    """Create the store's schema, then re-create each contract table with its columns and NOT NULLs only.

    Inserting into DuckDB's constrained tables checks each row against the key index, the parent's index and
    every CHECK, which was most of an import's time; every one of those rules is already a row check of the
    validation (a row breaking one is rejected), and _enforce proves them all again on the loaded tables, and
    puts each primary key back, before anything else is written. If the schema ever holds something this cannot
    re-create or prove (another kind of constraint, a column default), every table is left as declared.
    """
    con.execute(schema_ddl())
    constraints: dict[str, list[tuple]] = {table: [] for table in LOAD_ORDER}
    for table, *constraint in con.execute(
            "SELECT table_name, constraint_type, expression, constraint_column_names, referenced_table, "
            "referenced_column_names FROM duckdb_constraints() WHERE database_name = ? AND schema_name = 'main'",
            [database]).fetchall():
        if table in constraints:
            constraints[table].append(constraint)
    columns: dict[str, list[tuple]] = {table: [] for table in LOAD_ORDER}
    for table, *column in con.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
            "WHERE database_name = ? AND schema_name = 'main' ORDER BY table_name, column_index", [database]).fetchall():
        if table in columns:
            columns[table].append(column)
    kinds = {kind for rows in constraints.values() for kind, *_ in rows}
    if not kinds <= {"PRIMARY KEY", "FOREIGN KEY", "CHECK", "NOT NULL"} or any(
            default is not None for rows in columns.values() for *_, default in rows):
        return []
    deferred = []
    for table, rows in constraints.items():
        keys = [tuple(cols) for kind, _, cols, *_ in rows if kind == "PRIMARY KEY"]
        deferred.append(_Deferred(
            table, keys[0] if keys else (),
            tuple(sorted({(tuple(cols), parent, tuple(parent_cols))
                          for kind, _, cols, parent, parent_cols in rows if kind == "FOREIGN KEY"})),
            tuple(sorted({expression for kind, expression, *_ in rows if kind == "CHECK"}))))
    for d in reversed(deferred):  # children first: a parent cannot be dropped while a foreign key names it
        con.execute(f"DROP TABLE main.{quote_identifier(d.table)}")
    for d in deferred:
        definition = ", ".join(f"{quote_identifier(name)} {kind}{'' if nullable else ' NOT NULL'}"
                               for name, kind, nullable, _ in columns[d.table])
        con.execute(f"CREATE TABLE main.{quote_identifier(d.table)} ({definition})")
    return deferred


def _enforce(con: duckdb.DuckDBPyConnection, deferred: list[_Deferred]) -> None:
    """Prove on the loaded tables every rule _create_schema took off them, and put each primary key back (in
    one pass, far faster than row by row), so the key holds for whatever the import writes next. A repeated
    key, a CHECK that is FALSE (NULL passes, as in SQL) or a reference to a parent row that is not there raises
    a ConstraintException, as the constrained insert did: the import fails and the store is left as it was."""
    for d in deferred:
        table = quote_identifier(d.table)
        if d.key:
            con.execute(f"ALTER TABLE main.{table} ADD PRIMARY KEY ({', '.join(map(quote_identifier, d.key))})")
        counts = [f"count(*) FILTER (WHERE ({expression}) IS FALSE)" for expression in d.checks]
        for columns, parent, parent_columns in d.references:
            matches = " AND ".join(f"p.{quote_identifier(pc_)} = c.{quote_identifier(c_)}"
                                   for c_, pc_ in zip(columns, parent_columns, strict=True))
            present = " AND ".join(f"c.{quote_identifier(c_)} IS NOT NULL" for c_ in columns)
            counts.append(f"(SELECT count(*) FROM main.{table} AS c ANTI JOIN main.{quote_identifier(parent)} AS p "
                          f"ON {matches} WHERE {present})")
        if not counts:
            continue
        broken = con.execute(f"SELECT {', '.join(counts)} FROM main.{table}").fetchall()[0]
        rules = list(d.checks) + [f"{', '.join(cols)} references {parent}" for cols, parent, _ in d.references]
        failed = [rule for rule, count in zip(rules, broken, strict=True) if count]
        if failed:
            log.error("the new store breaks rule(s) of table %s: %s", d.table, "; ".join(failed))
            raise duckdb.ConstraintException(f"table {d.table} breaks its rule(s): {'; '.join(failed)}")


def _copy(con: duckdb.DuckDBPyConnection, table: str, new_columns: list[str], old_columns: list[str]) -> None:
    common = ", ".join(quote_identifier(col) for col in new_columns if col in old_columns)
    con.execute(f"INSERT INTO main.{quote_identifier(table)} ({common}) SELECT {common} FROM old.{quote_identifier(table)}")


def _write_import_log(con: duckdb.DuckDBPyConnection, plan: _Plan, results: dict[int, _Result]) -> None:
    rows = []
    at = plan.started.replace(tzinfo=None)
    for s in plan.order:
        result = results.get(s.file_no)
        if result is not None:
            rows.append((plan.import_id, s.file_no, at, plan.user, s.name, s.table, s.fmt, s.size, s.sha256, "loaded",
                         s.counted, result.loaded, result.rejected, result.inserted, result.updated,
                         _file_message(s, result)))
        else:
            rows.append((plan.import_id, s.file_no, at, plan.user, s.name, s.table, s.fmt, s.size, s.sha256,
                         "already_loaded", 0, 0, 0, 0, 0, s.previous or "already loaded"))
    con.executemany("INSERT INTO main.import_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


def _file_message(s: _Staged, result: _Result) -> str:
    text = (f"read {s.counted:,} = loaded {result.loaded:,} + rejected {result.rejected:,} "
            f"({result.inserted:,} new, {result.updated:,} updated)")
    return "; ".join([text, *s.notes])


def _reconcile(con: duckdb.DuckDBPyConnection, plan: _Plan, results: dict[int, _Result],
               old_counts: dict[str, int]) -> None:
    """Check, from the new store itself, that every row read was either loaded or rejected, and no row was lost."""
    for s in plan.staged:
        n, result = s.file_no, results[s.file_no]
        key = TABLE_COLUMNS[s.table][0].name
        staged_rows, distinct_lines = con.execute(
            f"SELECT count(*), count(DISTINCT __line) FROM stg_{n}").fetchall()[0]
        in_store = con.execute(f"SELECT count(*) FROM main.{quote_identifier(s.table)} AS t SEMI JOIN acc_{n} AS a "
                               f"ON t.{quote_identifier(key)} = a.t_{key}").fetchall()[0][0]
        rejected_lines = con.execute("SELECT count(DISTINCT line) FROM main.import_rejects WHERE import_id = ? "
                                     "AND file_no = ?", [plan.import_id, n]).fetchall()[0][0]
        overlap = con.execute(f"SELECT count(*) FROM acc_{n} AS a SEMI JOIN rej_{n} AS r ON r.line = a.__line"
                              ).fetchall()[0][0]
        problems = []
        if not (s.counted == staged_rows == distinct_lines):
            problems.append(f"counted {s.counted} rows but staged {staged_rows} ({distinct_lines} distinct lines)")
        if in_store != result.loaded:
            problems.append(f"{result.loaded} rows accepted but {in_store} found in the new store")
        if rejected_lines != result.rejected:
            problems.append(f"{result.rejected} rows rejected but {rejected_lines} recorded")
        if s.counted != result.loaded + result.rejected:
            problems.append(f"read {s.counted} != loaded {result.loaded} + rejected {result.rejected}")
        if overlap:
            problems.append(f"{overlap} rows both loaded and rejected")
        if problems:
            raise _ReconciliationError(f"{s.name}: " + "; ".join(problems))
    for s in plan.staged:
        result = results[s.file_no]
        expected = old_counts.get(s.table, 0) - result.updated + result.loaded
        actual = con.execute(f"SELECT count(*) FROM main.{quote_identifier(s.table)}").fetchall()[0][0]
        if actual != expected:
            raise _ReconciliationError(f"table {s.table}: expected {expected} rows after the import, found {actual}")
    for table, count in old_counts.items():
        if table not in {s.table for s in plan.staged}:
            actual = con.execute(f"SELECT count(*) FROM main.{quote_identifier(table)}").fetchall()[0][0]
            if actual != count:
                raise _ReconciliationError(f"table {table}: {count} rows before the import, {actual} after")


# --- files on disk: lock, temporary files, swap, journal ---------------------------------------

def _temp_prefix(db: Path) -> str:
    return f".{db.name}.importing-"


def _clean_stale(db: Path) -> list[str]:
    """Remove what a killed import left beside the store. Only called while holding the import lock."""
    removed = []
    for path in db.parent.glob(_temp_prefix(db) + "*"):
        try:
            if path.is_dir():
                shutil.rmtree(path)
            else:
                path.unlink()
            removed.append(path.name)
        except FileNotFoundError:
            pass
    return removed


class _Lock:
    """One import at a time per store: an exclusive flock on a small file beside it (freed if the process dies)."""

    def __init__(self, db: Path):
        self.path = db.with_name(f".{db.name}.import-lock")
        self.fd: int | None = None

    def __enter__(self) -> _Lock:
        # Read-only is enough for flock, so an administrator's shell and the dashboard's service account can share it.
        self.fd = os.open(self.path, os.O_RDONLY | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            self.fd = None
            raise _Refused("another import into this store is running; try again when it has finished") from None
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing releases the lock


def _swap_into_place(tmp: Path, db: Path) -> None:
    """Make the finished store durable and move it onto the live path in one atomic step."""
    if db.exists():
        os.chmod(tmp, stat.S_IMODE(db.stat().st_mode))  # the new store keeps the old one's permissions
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, db)
    dir_fd = os.open(db.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def journal_path(db_path: str | Path) -> Path:
    """Where imports that did not change the store are recorded (no row data)."""
    db = Path(db_path)
    return db.with_name(db.name + ".import-journal.jsonl")


def _journal(report: ImportReport) -> None:
    entry = {
        "import_id": report.import_id, "started_at": report.started_at.isoformat(),
        "user": report.user, "status": report.status, "message": report.message,
        "files": [{"file_name": f.name, "table_name": f.table, "sha256": f.sha256, "file_bytes": f.size,
                   "status": f.status, "message": f.message} for f in report.files],
    }
    try:
        with open(journal_path(report.db_path), "a", encoding="utf-8") as out:
            out.write(json.dumps(entry, ensure_ascii=False) + "\n")
    except OSError as exc:
        log.warning("could not write the import journal for %s: %s", report.db_path, exc.__class__.__name__)


# --- the pipeline --------------------------------------------------------------------------------

def _new_import_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def clean_user(user: str | None) -> str:
    if not user:
        try:
            user = getpass.getuser()
        except Exception:  # noqa: BLE001 - no login name in some containers
            user = "unknown"
    return _display(user.strip(), 120) or "unknown"


def _failure_text(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC or "No space left" in str(exc):
        return "the disk is full"
    if isinstance(exc, duckdb.Error):
        return describe_duckdb_error(exc)
    if isinstance(exc, _ReconciliationError):
        return "the counts did not reconcile (rows read must equal rows loaded plus rows rejected)"
    if isinstance(exc, OSError):
        return f"a file could not be written ({exc.__class__.__name__}{', ' + exc.strerror if exc.strerror else ''})"
    return exc.__class__.__name__


def import_files(db_path: str | Path, files: Sequence[Path | str | tuple[str, bytes]], user: str | None = None, *,
                 replace_demo: bool = False, reload: bool = False, data_as_of: date | None = None,
                 catalogue: Catalogue | None = None,
                 expect: Callable[[Path], str | None] | None = None) -> ImportReport:
    """Import the files into the store at db_path (created if it does not exist), all or nothing.

    files: paths of files or folders, or (file name, content) pairs such as uploads. user: who is importing
    (default: the operating-system user). replace_demo: when the store holds the synthetic demo, start a new
    store from these files instead of refusing. reload: load files even if an identical file was loaded
    before. data_as_of: the store's default as-of date (default: the latest event date in the data, at most
    today). expect: a precondition on the live store, called with its path while the import lock is held and
    before anything is read or built; a message it returns refuses the import with that message (nothing
    changes), so a check and the write it guards are atomic (an edit refused if the row changed meanwhile).
    Never raises for bad input: the report says what happened; only an ImportReport with
    status "committed" changed the store.
    """
    db = Path(db_path)
    started = datetime.now(timezone.utc)
    import_id = _new_import_id(started)
    user = clean_user(user)
    reports: dict[int, FileReport] = {}
    notes: list[str] = []
    order: list[_Staged] = []

    extra: list[FileReport] = []  # paths that could not even be listed

    def finish(status: str, message: str) -> ImportReport:
        files_out = []
        for number, item in enumerate(inputs, start=1):  # every file given, in order, with what became of it
            report = reports.get(number)
            if report is None or report.status == "pending":
                staged = order[number - 1] if number <= len(order) else None
                report = FileReport(_display(item.name, 120), staged.table or None if staged else None,
                                    staged.fmt or None if staged else None, staged.sha256 or None if staged else None,
                                    staged.size or None if staged else None, "not_loaded",
                                    "not loaded: the import failed" if status == "failed" else
                                    "not loaded: the import was refused", notes=tuple(staged.notes) if staged else ())
            files_out.append(report)
        files_out += extra
        report = ImportReport(import_id, db, user, started, datetime.now(timezone.utc), status, message,
                              tuple(files_out), tuple(notes))
        if status != "committed":
            _journal(report)
        log.info("import %s into %s by %s: %s", import_id, db, user, status)
        return report

    inputs, refusals, folder_notes = _expand(files)
    notes += folder_notes
    for name, text in refusals:
        extra.append(FileReport(name, None, None, None, None, "refused", text))
    if not inputs and not refusals:
        return finish("refused", "no files were given")
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        with _Lock(db):
            stale = _clean_stale(db)
            if stale:
                notes.append(f"removed {len(stale)} temporary file(s) left by an import that did not finish")
            live = _inspect(db)
            fresh = not live.exists
            if live.exists and live.is_demo:
                if not replace_demo:
                    raise _Refused(f"{db} holds the synthetic demo data; importing real exports into it would mix "
                                   "the two. Import into another store path, or use --replace-demo to start a new "
                                   "store from these files (the demo data is discarded)")
                fresh = True
                notes.append("the demo data was discarded: the new store holds only imported data")
            elif replace_demo:
                notes.append("--replace-demo had no effect: the store does not hold demo data")
            if live.exists and live.version != SCHEMA_VERSION and not fresh:
                notes.append(f"the store's layout was upgraded from version {live.version} to {SCHEMA_VERSION}")
            if expect is not None:
                refusal = expect(db)
                if refusal:
                    raise _Refused(refusal)
            file_refused = False
            tables_seen: dict[str, str] = {}
            for number, item in enumerate(inputs, start=1):
                staged = _Staged(file_no=number, name=_display(item.name, 120), table="", fmt="", sha256="", size=0)
                order.append(staged)
                try:
                    staged.table, staged.fmt = _table_and_format(item.name)
                    try:
                        data = item.data if item.data is not None else item.path.read_bytes()
                    except OSError as exc:
                        raise _FileRefused(f"{staged.name} could not be read ({exc.strerror or 'error'})") from None
                    staged.size = len(data)
                    staged.sha256 = hashlib.sha256(data).hexdigest()
                    if staged.table in tables_seen:
                        raise _FileRefused(f"{staged.name}: this import already has a file for table {staged.table} "
                                           f"({tables_seen[staged.table]}); import one file per table at a time")
                    tables_seen[staged.table] = staged.name
                    earlier = None if fresh else live.loaded.get((staged.sha256, staged.table))
                    if earlier and earlier[2] == 0 and not reload:
                        staged.previous = (f"already loaded: identical (same SHA-256) to the file loaded by import "
                                           f"{earlier[0]} at {earlier[1]} UTC; not loaded again")
                        reports[number] = FileReport(staged.name, staged.table, staged.fmt, staged.sha256,
                                                     staged.size, "already_loaded", staged.previous)
                        continue
                    if earlier and earlier[2] > 0:
                        staged.notes.append(f"an identical file was loaded by import {earlier[0]} with "
                                            f"{earlier[2]:,} rejected row(s); loaded again")
                    with _timed("read"):
                        _read_file(staged, data)
                    reports[number] = FileReport(staged.name, staged.table, staged.fmt, staged.sha256, staged.size,
                                                 "pending", "", rows_read=staged.counted, notes=tuple(staged.notes))
                except _FileRefused as exc:
                    file_refused = True
                    reports[number] = FileReport(staged.name, staged.table or None, staged.fmt or None,
                                                 staged.sha256 or None, staged.size or None, "refused", str(exc),
                                                 notes=tuple(staged.notes))
            if file_refused or refusals:
                for number, report in reports.items():
                    if report.status == "pending":
                        reports[number] = replace(report, status="not_loaded", rows_read=0,
                                                  message="not loaded, because another file in this import was "
                                                          "refused")
                raise _Refused("the import was refused because of the refused file(s); nothing was loaded and the "
                               "store was not changed")
            to_load = sorted((s for s in order if reports[s.file_no].status == "pending"),
                             key=lambda s: LOAD_ORDER.index(s.table))
            if not to_load:
                return finish("nothing_to_do", "every file was already loaded; the store was not changed")
            cat = catalogue or default_catalogue()
            codes = {"measured": tuple(e.code for e in cat.measured_entitlements),
                     "all": tuple(e.code for e in cat.entitlements)}
            plan = _Plan(import_id, user, started, db, db.with_name(_temp_prefix(db) + import_id), fresh, to_load,
                         order, data_as_of, codes, cat)
            try:
                results = _build(plan)
                with _timed("swap"):
                    _swap_into_place(plan.tmp, db)
            finally:
                _clean_stale(db)  # the temporary file, its WAL and spill folder, whatever happened
            for s in to_load:
                r = results[s.file_no]
                reports[s.file_no] = FileReport(s.name, s.table, s.fmt, s.sha256, s.size, "loaded",
                                                _file_message(s, r), s.counted, r.loaded, r.rejected, r.inserted,
                                                r.updated, tuple(s.notes), r.rejects)
            rejected = sum(results[s.file_no].rejected for s in to_load)
            message = (f"imported {len(to_load)} file(s)" + (f"; {rejected:,} row(s) rejected: see the rejects"
                                                             if rejected else ""))
            return finish("committed", message)
    except _Refused as exc:
        return finish("refused", str(exc))
    except Exception as exc:  # noqa: BLE001 - any failure: the live store is untouched; say what kind, no row data
        # The exception's message can quote row data (DuckDB's do): log its kind, and where, never its text.
        log.error("import %s into %s failed: %s", import_id, db, exc.__class__.__name__)
        log.debug("where it failed:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
        return finish("failed", f"the import failed ({_failure_text(exc)}); nothing was loaded and the store was "
                                "not changed")


# --- history and rejects, for the Data page ------------------------------------------------------

def list_imports(db_path: str | Path) -> pd.DataFrame:
    """Every import, newest first, one row per file: committed ones from the store's import_log, the rest
    (refused, failed, nothing to do) from the journal. No row data. Columns: import_id, imported_at (UTC),
    imported_by, import_status, file_no, file_name, table_name, file_format, file_bytes, sha256, status,
    rows_read, rows_loaded, rows_rejected, rows_inserted, rows_updated, message."""
    columns = ["import_id", "imported_at", "imported_by", "import_status", "file_no", "file_name", "table_name",
               "file_format", "file_bytes", "sha256", "status", "rows_read", "rows_loaded", "rows_rejected",
               "rows_inserted", "rows_updated", "message"]
    frames = []
    db = Path(db_path)
    if db.exists():
        store = open_store(db)
        try:
            frames.append(store.query(
                "SELECT import_id, imported_at, imported_by, 'committed' AS import_status, file_no, file_name, "
                "table_name, file_format, file_bytes, sha256, status, rows_read, rows_loaded, rows_rejected, "
                "rows_inserted, rows_updated, message FROM import_log"))
        finally:
            store.close()
    rows = []
    try:
        with open(journal_path(db), encoding="utf-8") as journal:
            for text in journal:
                try:
                    entry = json.loads(text)
                except ValueError:
                    continue  # a line cut short by a crash
                at = pd.Timestamp(entry.get("started_at")).tz_localize(None) if entry.get("started_at") else pd.NaT
                for number, f in enumerate(entry.get("files") or [{}], start=1):
                    rows.append({"import_id": entry.get("import_id"), "imported_at": at,
                                 "imported_by": entry.get("user"), "import_status": entry.get("status"),
                                 "file_no": number, "file_name": f.get("file_name"), "table_name": f.get("table_name"),
                                 "file_format": None, "file_bytes": f.get("file_bytes"), "sha256": f.get("sha256"),
                                 "status": f.get("status"), "message": f.get("message") or entry.get("message")})
    except FileNotFoundError:
        pass
    if rows:
        frames.append(pd.DataFrame(rows))
    frames = [f for f in frames if len(f)]
    if not frames:
        return pd.DataFrame(columns=columns)
    history = pd.concat(frames, ignore_index=True).reindex(columns=columns)
    return history.sort_values(["imported_at", "import_id", "file_no"], ascending=[False, False, True],
                               ignore_index=True)


REJECTS_ROLE = "admin"  # the rows as exported are the data owner's to correct: administrators only


def list_rejects(db_path: str | Path, import_id: str, file_name: str | None = None, *, role: str) -> pd.DataFrame:
    """The rejected lines of one import (optionally one file), in file and line order. PERSONAL DATA: raw_row
    is the row as exported, so it is refused (PermissionError) for every role but admin, whatever the page does;
    neutralise cells starting with = + - @ before writing a spreadsheet.
    Columns: file_name, table_name, line, column_name, reason, raw_row."""
    if role != REJECTS_ROLE:
        raise PermissionError(f"the {role!r} role may not see rejected rows as exported")
    store = open_store(db_path)
    try:
        return store.query(
            "SELECT file_name, table_name, line, column_name, reason, raw_row FROM import_rejects "
            "WHERE import_id = $id AND ($file IS NULL OR file_name = $file) ORDER BY file_no, line",
            {"id": import_id, "file": file_name})
    finally:
        store.close()
