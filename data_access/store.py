"""The only module that opens DuckDB: building a store file and opening one, read-only and hardened.

A store is built as a new file beside the target and moved into place with os.replace, so a
reader never sees a half-built store and a failed build leaves the old one exactly as it was.
Dashboards open stores read-only with extensions, external access and configuration locked,
and run every query on its own cursor with bound parameters and a time limit.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pandas as pd

from data_access.schema import FACTS_SQL, LOAD_ORDER, SCHEMA_VERSION, schema_ddl
from metrics.calendar import working_day_calendar
from metrics.catalogue import Catalogue, CatalogueError, default_catalogue
from metrics.cube import SUMMARY_CUBES, build_cube_sql, rollup_cube_sql, timescale_fingerprint

__all__ = ["Store", "StoreError", "StoreMeta", "build_store", "open_store", "QUERY_TIMEOUT_SECONDS",
           # shared with the importer, which builds stores the same way
           "SAFE_CONFIG", "describe_duckdb_error", "quote_identifier", "write_calendar", "write_meta", "write_summaries"]

log = logging.getLogger(__name__)

QUERY_TIMEOUT_SECONDS = 30.0
# Each dashboard connection attaches the store file under the name "store".
_ATTACH_STORE = "ATTACH $path AS store (READ_ONLY)"
_USE_STORE = "USE store"
CALENDAR_DAYS_AFTER = 400  # the calendar runs past the data so due dates of late instances exist
SAFE_CONFIG = {
    "autoload_known_extensions": False,
    "autoinstall_known_extensions": False,
    "allow_community_extensions": False,
}


class StoreError(RuntimeError):
    """A store cannot be used; the message says why in words a user can act on (no row data)."""


@dataclass(frozen=True)
class StoreMeta:
    path: Path
    schema_version: int
    built_at: str  # UTC, ISO 8601
    data_as_of: date  # the date the data was extracted: the default as-of date
    is_demo: bool  # synthetic data
    source: str  # how the store was made, e.g. "demo seed=7 cases=40000"
    first_month: date  # first month with entitlement instances
    last_month: date  # last month with entitlement instances
    calendar_first: date
    calendar_last: date
    summary_as_of: date | None = None  # the as-of date the summary cubes were classified at; None = no cubes
    summary_fingerprint: str = ""  # the catalogue they were built with (metrics.cube.timescale_fingerprint)


# --- building ----------------------------------------------------------------------------------

def build_store(path: str | Path, tables: Mapping[str, pd.DataFrame], *, data_as_of: date,
                is_demo: bool, source: str, threads: int | None = None) -> Path:
    """Write a new store at `path` from one DataFrame per contract table, atomically.

    Tables may omit columns that are optional in the contract; missing tables are left empty.
    Raises StoreError, leaving any existing file at `path` untouched, if anything fails.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.building-{os.getpid()}-{threading.get_ident()}")
    _remove_quietly(tmp)
    unknown = set(tables) - set(LOAD_ORDER)
    if unknown:
        raise StoreError(f"cannot build a store: unknown table(s) {', '.join(sorted(unknown))}")
    try:
        con = duckdb.connect(str(tmp), config={**SAFE_CONFIG, **({"threads": threads} if threads else {})})
        try:
            con.execute(schema_ddl())
            _write_calendar(con, tables, data_as_of)
            for name in LOAD_ORDER:
                if name in tables and len(tables[name]):
                    _insert(con, name, tables[name])
            con.execute(FACTS_SQL)
            write_meta(con, data_as_of=data_as_of, is_demo=is_demo, source=source)
            write_summaries(con, data_as_of)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        os.replace(tmp, path)
    except duckdb.Error as exc:
        _remove_quietly(tmp)
        log.error("store build failed for %s: %s", path, exc.__class__.__name__)
        raise StoreError(f"the store could not be built: {describe_duckdb_error(exc)}") from exc
    except BaseException:
        _remove_quietly(tmp)
        raise
    return path


def _insert(con: duckdb.DuckDBPyConnection, table: str, frame: pd.DataFrame) -> None:
    target = [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE table_name = ? ORDER BY column_index", [table]).fetchall()]
    extra = set(frame.columns) - set(target)
    if extra:
        raise StoreError(f"table {table} has unknown column(s): {', '.join(sorted(extra))}")
    # Identifiers cannot be bound as parameters: these come from the store's own schema (the allow-list),
    # and only the frame's columns that the schema also has are named.
    column_list = ", ".join(quote_identifier(c) for c in target if c in frame.columns)
    insert = f"INSERT INTO {quote_identifier(table)} ({column_list}) SELECT {column_list} FROM incoming_frame"  # noqa: S608
    con.register("incoming_frame", frame)
    try:
        con.execute(insert)
    finally:
        con.unregister("incoming_frame")


def quote_identifier(name: str) -> str:
    """A schema name as a quoted SQL identifier (names come from the schema, never from input)."""
    if '"' in name or "\x00" in name:
        raise StoreError(f"refusing an unsafe identifier {name!r}")
    return f'"{name}"'


def _write_calendar(con: duckdb.DuckDBPyConnection, tables: Mapping[str, pd.DataFrame], data_as_of: date) -> None:
    dates = [data_as_of]
    for frame in tables.values():
        for column in frame.columns:
            if column.endswith(("_at", "_on")) and len(frame):
                values = pd.to_datetime(frame[column], errors="coerce").dropna()
                if len(values):
                    dates += [values.min().date(), values.max().date()]
    write_calendar(con, min(dates), max(dates))


def write_calendar(con: duckdb.DuckDBPyConnection, earliest: date, latest: date) -> None:
    """Fill the calendar table from a month before `earliest` to CALENDAR_DAYS_AFTER days after `latest`."""
    calendar = working_day_calendar(earliest - timedelta(days=31), latest + timedelta(days=CALENDAR_DAYS_AFTER))
    con.register("calendar_frame", calendar)
    try:
        con.execute("INSERT INTO calendar SELECT day, is_working_day, holiday_name, wd_seq, wd_seq_next FROM calendar_frame")
    finally:
        con.unregister("calendar_frame")


def write_meta(con: duckdb.DuckDBPyConnection, *, data_as_of: date, is_demo: bool, source: str) -> None:
    months = con.execute("SELECT min(trigger_month), max(trigger_month) FROM entitlement_facts").fetchone()
    first_month, last_month = months if months[0] is not None else (data_as_of.replace(day=1),) * 2
    cal = con.execute("SELECT min(day), max(day) FROM calendar").fetchone()
    meta = {
        "schema_version": str(SCHEMA_VERSION),
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "data_as_of": data_as_of.isoformat(),
        "is_demo": "true" if is_demo else "false",
        "source": source,
        "first_month": first_month.isoformat(),
        "last_month": last_month.isoformat(),
        "calendar_first": cal[0].isoformat(),
        "calendar_last": cal[1].isoformat(),
    }
    con.executemany("INSERT INTO store_meta VALUES (?, ?)", list(meta.items()))


def write_summaries(con: duckdb.DuckDBPyConnection, data_as_of: date, catalogue: Catalogue | None = None) -> None:
    """Build the monthly summary cubes (metrics.cube) from entitlement_facts and record what they were built with.

    Call after write_meta. A catalogue that cannot be read leaves the store without cubes (the pages then read
    the facts, as they do for anything a cube cannot answer); it never stops a build or an import.
    """
    try:
        catalogue = catalogue or default_catalogue()
    except CatalogueError as exc:
        log.warning("no summary cubes: the catalogue cannot be read (%s)", exc.__class__.__name__)
        catalogue = None
    for cube in SUMMARY_CUBES:
        con.execute(f"DROP TABLE IF EXISTS {quote_identifier(cube.table)}")
    fingerprint = ""
    if catalogue is not None and catalogue.measured_entitlements:
        first, last = con.execute("SELECT min(trigger_month), max(trigger_month) FROM entitlement_facts").fetchone()
        first, last = (first, last) if first is not None else (data_as_of.replace(day=1),) * 2
        finest = SUMMARY_CUBES[-1]  # from the facts; the others are added up from it
        con.execute(*build_cube_sql(finest, catalogue, first, last, data_as_of))
        for cube in SUMMARY_CUBES[:-1]:
            con.execute(rollup_cube_sql(cube, finest))
        fingerprint = timescale_fingerprint(catalogue)
    con.execute("DELETE FROM store_meta WHERE key IN ('summary_as_of', 'summary_fingerprint')")
    con.executemany("INSERT INTO store_meta VALUES (?, ?)",
                    [("summary_as_of", data_as_of.isoformat() if fingerprint else ""),
                     ("summary_fingerprint", fingerprint)])


def _remove_quietly(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass


# --- reading -----------------------------------------------------------------------------------

class Store:
    """A read-only, hardened connection to one store file. Thread-safe: a cursor per query."""

    def __init__(self, path: Path, connection: duckdb.DuckDBPyConnection, meta: StoreMeta):
        self.path = path
        self._con = connection
        self.meta = meta

    def query(self, sql: str, params: Mapping | list | None = None,
              timeout: float = QUERY_TIMEOUT_SECONDS) -> pd.DataFrame:
        """Run one query on its own cursor with bound parameters; interrupt it after `timeout` seconds."""
        cursor = self._con.cursor()
        timer = threading.Timer(timeout, cursor.interrupt)
        timer.daemon = True
        timer.start()
        try:
            cursor.execute(_USE_STORE)  # a cursor starts in the in-memory database, not the store
            return cursor.execute(sql, params or {}).df()
        except duckdb.InterruptException as exc:
            raise StoreError(f"a query took longer than {timeout:g} seconds and was stopped") from exc
        except duckdb.OutOfMemoryException:
            # A store grown beyond the memory the dashboard may use: a message, not a crash; the next query
            # (a shorter period, fewer breakdowns) runs as usual. DuckDB's text is not passed on.
            log.error("a query ran out of memory on %s", self.path)
            raise StoreError("a query needed more memory than the dashboard may use and was stopped; choose a "
                             "shorter period or fewer breakdowns") from None
        finally:
            timer.cancel()
            cursor.close()

    def close(self) -> None:
        self._con.close()


def open_store(path: str | Path, *, threads: int = 2, memory_limit: str = "2GB") -> Store:
    """Open a store read-only and locked down, after checking it is a store this version can read."""
    path = Path(path)
    if not path.exists():
        raise StoreError(f"No store at {path}: the file does not exist. Check the path, or build the demo store "
                         f"with `python -m data_access demo --db {path}`.")
    if not path.is_file():
        raise StoreError(f"{path} is a folder, not a store file.")
    # The store is attached to a fresh in-memory database rather than opened with duckdb.connect(path):
    # DuckDB caches one instance per path in a process, so a second open would get the first, already
    # locked, instance and, after a new store was swapped in at the path, would keep serving the old file.
    con = duckdb.connect(":memory:", config={**SAFE_CONFIG, "threads": threads, "memory_limit": memory_limit})
    try:
        con.execute(_ATTACH_STORE, {"path": str(path)})
        con.execute(_USE_STORE)
    except duckdb.Error as exc:
        con.close()
        log.warning("cannot open %s as DuckDB: %s", path, exc.__class__.__name__)
        raise StoreError(f"{path} is not a DuckDB store this dashboard can open ({describe_duckdb_error(exc)}).") from None
    try:
        # Order matters: external access off, then lock the configuration so no query can undo it.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
        meta = _read_meta(con, path)
    except BaseException:
        con.close()
        raise
    return Store(path, con, meta)


def _read_meta(con: duckdb.DuckDBPyConnection, path: Path) -> StoreMeta:
    try:
        rows = dict(con.execute("SELECT key, value FROM store_meta").fetchall())
    except duckdb.CatalogException:
        raise StoreError(f"{path} is a DuckDB database but not a dashboard store (it has no store_meta table).") from None
    try:
        version = int(rows.get("schema_version", "0"))
    except ValueError:
        version = 0
    if version != SCHEMA_VERSION:
        age = "an older" if version < SCHEMA_VERSION else "a newer"
        raise StoreError(
            f"{path} was built with {age} store layout (schema version {version}); this dashboard reads "
            f"version {SCHEMA_VERSION}. Rebuild the store from the force's exports (or the demo) with this version. "
            "The file has not been changed.")
    try:
        return StoreMeta(
            path=path,
            schema_version=version,
            built_at=rows["built_at"],
            data_as_of=date.fromisoformat(rows["data_as_of"]),
            is_demo=rows.get("is_demo") == "true",
            source=rows.get("source", ""),
            first_month=date.fromisoformat(rows["first_month"]),
            last_month=date.fromisoformat(rows["last_month"]),
            calendar_first=date.fromisoformat(rows["calendar_first"]),
            calendar_last=date.fromisoformat(rows["calendar_last"]),
            # Stores built before the cubes existed have neither key: they are read from the facts.
            summary_as_of=date.fromisoformat(rows["summary_as_of"]) if rows.get("summary_as_of") else None,
            summary_fingerprint=rows.get("summary_fingerprint", ""),
        )
    except (KeyError, ValueError) as exc:
        raise StoreError(f"{path} has incomplete store metadata ({exc.__class__.__name__}: {exc}).") from None


def describe_duckdb_error(exc: duckdb.Error) -> str:
    """The kind of DuckDB error without its message, which can quote row data."""
    text = str(exc)
    if "not a valid DuckDB database file" in text:
        return "not a valid DuckDB database file"
    if "Could not set lock" in text or "Conflicting lock" in text:
        return "another program has it open for writing"
    if isinstance(exc, duckdb.ConstraintException):
        return "a row broke a rule of the store (a key, a required value or an allowed value)"
    return exc.__class__.__name__
