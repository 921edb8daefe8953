"""The Explore page's SQL box: one read-only SELECT over the store, in a connection of its own.

DuckDB's own advice is that SQL typed by users is code, so each query gets a fresh in-memory database with
the store attached read-only, external access off (no files, no network, no other databases: the audit
trail's SQLite file included), no extensions, little memory, one thread, no spilling to disk, and then
the configuration locked. Only a single statement that DuckDB's parser calls a SELECT is run; a watchdog
interrupts it after a time limit; at most `row_cap` rows are fetched. Nothing the query does outlives the
call, and what reaches the user is a message chosen by error type: DuckDB's text is shown only for
errors about the SQL as typed (parser, binder, catalogue), never for errors raised while reading data,
which can quote values.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pandas as pd

from data_access.store import SAFE_CONFIG

__all__ = ["SQL_ROLES", "SandboxError", "run_readonly_sql", "MAX_SQL_CHARS", "MEMORY_LIMIT", "EXAMPLE_QUERY"]

log = logging.getLogger(__name__)

SQL_ROLES = frozenset({"victim_services", "admin"})
EXAMPLE_QUERY = "SELECT team, count(*) AS instances FROM entitlement_facts GROUP BY team ORDER BY team"
MAX_SQL_CHARS = 20_000
MAX_ROW_CAP = 10_000
MAX_TIMEOUT_S = 60.0
MEMORY_LIMIT = "256MB"
_INTERRUPT_RETRY_S = 0.05  # an interrupt sent before execution starts is lost, so it is repeated
# Errors about the statement as typed, raised before any row is read: their text quotes only the SQL.
_ERRORS_ABOUT_THE_SQL = (duckdb.ParserException, duckdb.BinderException, duckdb.CatalogException)
_MAX_MESSAGE_CHARS = 600


class SandboxError(Exception):
    """The SQL was refused or failed. The message is safe to show: it never quotes data from the store."""


def run_readonly_sql(store_path: str | Path, sql: str, *, role: str, row_cap: int = 1000,
                     timeout_s: float = 10) -> tuple[pd.DataFrame, bool]:
    """Run one SELECT on the store, sandboxed; return at most `row_cap` rows and whether there were more.

    Raises PermissionError for a role outside SQL_ROLES, ValueError for impossible limits and SandboxError
    (with a message fit to show) when the SQL is refused, fails or runs out of time.
    """
    if role not in SQL_ROLES:
        raise PermissionError(f"the {role!r} role may not run SQL")
    if not 1 <= row_cap <= MAX_ROW_CAP or not 0 < timeout_s <= MAX_TIMEOUT_S:
        raise ValueError(f"row_cap must be 1 to {MAX_ROW_CAP} and timeout_s above 0 and at most {MAX_TIMEOUT_S:g}")
    if not isinstance(sql, str) or not sql.strip():
        raise SandboxError("Type a SELECT statement to run.")
    if len(sql) > MAX_SQL_CHARS:
        raise SandboxError(f"The SQL is {len(sql):,} characters long; the SQL box takes at most {MAX_SQL_CHARS:,}.")
    con = _locked_connection(Path(store_path))
    try:
        statement = _single_select(con, sql)
        with _interrupt_after(con, timeout_s):
            cursor = con.execute(statement)
            records = cursor.fetchmany(row_cap + 1)
            names = [column[0] for column in cursor.description]
    except duckdb.Error as exc:
        log.info("SQL box query refused or failed: %s", exc.__class__.__name__)  # never the text: it can hold data
        raise SandboxError(_message_for(exc, timeout_s)) from None
    finally:
        con.close()
    truncated = len(records) > row_cap
    return pd.DataFrame.from_records(records[:row_cap], columns=_unique(names)), truncated


def _locked_connection(path: Path) -> duckdb.DuckDBPyConnection:
    """A fresh in-memory database with the store attached read-only, then everything else shut and locked."""
    if not path.is_file():
        raise SandboxError("The store file could not be found, so no SQL can run.")
    config = {**SAFE_CONFIG, "threads": 1, "memory_limit": MEMORY_LIMIT,
              "temp_directory": ""}  # no spilling: a query may not write anywhere, not even temporary files
    con = duckdb.connect(":memory:", config=config)
    try:
        con.execute("ATTACH $path AS store (READ_ONLY)", {"path": str(path)})
        con.execute("USE store")
        # Order matters: external access off, then the configuration locked so no statement can undo it.
        con.execute("SET enable_external_access = false")
        con.execute("SET lock_configuration = true")
    except duckdb.Error as exc:
        con.close()
        log.warning("SQL box could not open the store: %s", exc.__class__.__name__)
        raise SandboxError("The store could not be opened for the SQL box.") from None
    return con


def _single_select(con: duckdb.DuckDBPyConnection, sql: str):
    """The one statement in `sql`, parsed by DuckDB, if it is a SELECT; otherwise SandboxError."""
    statements = con.extract_statements(sql)  # a ParserException is reported by the caller, with its text
    if len(statements) != 1:
        raise SandboxError(f"The SQL box runs exactly one statement; this text has {len(statements)}. "
                           "Remove the others (a semicolon ends a statement).")
    statement = statements[0]
    if statement.type != duckdb.StatementType.SELECT:
        kind = statement.type.name.replace("_", " ")
        raise SandboxError(f"The SQL box runs only SELECT statements (queries that read); this is a {kind} "
                           "statement. Nothing was run.")
    return statement


@contextmanager
def _interrupt_after(con: duckdb.DuckDBPyConnection, timeout_s: float):
    """Interrupt `con` once `timeout_s` has passed, and keep interrupting until the block ends."""
    finished = threading.Event()

    def watchdog() -> None:
        if finished.wait(timeout_s):
            return
        while not finished.is_set():
            con.interrupt()
            finished.wait(_INTERRUPT_RETRY_S)

    thread = threading.Thread(target=watchdog, name="sql-box-watchdog", daemon=True)
    thread.start()
    try:
        yield
    finally:
        finished.set()
        thread.join()


def _message_for(exc: duckdb.Error, timeout_s: float) -> str:
    if isinstance(exc, duckdb.InterruptException):
        return (f"The query took longer than {timeout_s:g} seconds and was stopped. Narrow it (fewer rows, fewer "
                "joins, a filter) and try again.")
    if isinstance(exc, duckdb.PermissionException):
        return ("The query tried to reach outside the store (a file, a web address, another database, an "
                "extension or a setting). The SQL box can read only the store's own tables.")
    if isinstance(exc, duckdb.OutOfMemoryException):
        return (f"The query needed more memory than the SQL box allows ({MEMORY_LIMIT}). Aggregate or filter "
                "before sorting or joining large tables.")
    if isinstance(exc, _ERRORS_ABOUT_THE_SQL):
        text = str(exc)
        if len(text) > _MAX_MESSAGE_CHARS:
            text = text[:_MAX_MESSAGE_CHARS] + " …"
        return f"DuckDB could not run this SQL: {text}"
    return (f"The query failed while reading data ({exc.__class__.__name__}). DuckDB's message is not shown "
            "because it can quote values from the store; check casts, conversions and functions applied to "
            "columns.")


def _unique(names: list[str]) -> list[str]:
    """Column names made unique ('n', 'n (2)'), so the result can be shown as a table."""
    seen: dict[str, int] = {}
    out = []
    for name in names:
        seen[name] = seen.get(name, 0) + 1
        out.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return out
