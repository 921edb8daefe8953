"""Retention purge: erase closed cases, and everything about their victims, from the store for real.

    report = purge_closed_cases("data/store.duckdb", date(2019, 4, 1), user="j.smith", confirm=True)

Which cases: status ``closed`` with a ``closed_at`` before the cut-off date (compared as dates). A closed case
with no ``closed_at`` is kept (nothing says when its retention period began) and counted in the notes. With each
case go its victims; their contacts, entitlements and referrals; the case's surveys and complaints; the rows of
any other stored table with a ``case_id`` or ``victim_id`` column naming them; and every rejected import row
that mentions an erased id or was recorded by an import before the cut-off date. Panels, findings and actions
are about services, not victims, and stay. The rules, with their reasons: docs/data-contract.md, "Retention and
erasure".

DuckDB keeps deleted rows in free blocks of its file, so nothing is deleted in place. As an import does, a new
store is written beside the live one holding only the surviving rows (the live store attached read-only), the
calendar, ``entitlement_facts`` and the store metadata are rebuilt, the counts are checked, the audit trail
records the purge (counts only), and only then is the new file swapped onto the live path, under the import
lock. A refusal or a failure at any point leaves the live store byte-identical. The store's ``erasure_log``
keeps each purge's counts per table: no ids, no row data.
"""

from __future__ import annotations

import logging
import secrets
import traceback
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb

from data_access import audit
from data_access.importer import (
    TABLE_COLUMNS, _calendar_and_as_of, _clean_stale, clean_user, _failure_text, _inspect, _Lock, _Refused,
    _swap_into_place, _tables_of, _temp_prefix,
)
from data_access.schema import FACTS_SQL, LOAD_ORDER, SCHEMA_VERSION, schema_ddl
from data_access.store import SAFE_CONFIG, quote_identifier, write_meta, write_summaries

__all__ = ["PurgeReport", "purge_closed_cases", "ERASED_TABLES", "AUDIT_ROLE"]

log = logging.getLogger(__name__)

# The contract tables rows are erased from, in the order they are reported; import_rejects comes last.
ERASED_TABLES = ("cases", "victims", "contacts", "entitlements", "referrals", "surveys", "complaints")
AUDIT_ROLE = "admin"  # purging is an administrator's task (docs/security.md)
_BUILT_TABLES = {"store_meta", "calendar", "entitlement_facts"}  # rebuilt from the survivors, never copied
_NEVER_ERASED = {"import_log", "erasure_log"}  # history without row data
_REJECT_KEY = ("import_id", "file_no", "line")
# Why a rejected row is erased (the notes count each); the first that applies is counted.
_REJECT_WHY = {1: "mention an erased id", 2: "were recorded by an import before the cut-off date",
               3: "could not be read as a row, so could not be checked"}


@dataclass(frozen=True)
class PurgeReport:
    purge_id: str
    db_path: Path
    user: str
    closed_before: date
    status: str  # purged | not_confirmed | nothing_to_do | refused | failed
    message: str  # plain English; never ids or row data
    counts: tuple[tuple[str, int], ...] = ()  # (table, rows erased, or that would be) in report order
    notes: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        """True when the store now holds nothing the purge was asked to erase."""
        return self.status in ("purged", "nothing_to_do")

    @property
    def total(self) -> int:
        return sum(n for _, n in self.counts)


def purge_closed_cases(db_path: str | Path, closed_before: date, user: str | None = None, *,
                       confirm: bool = False, audit_db: str | Path | None = None,
                       today: date | None = None) -> PurgeReport:
    """Erase every case closed before `closed_before`, with all that refers to it, from the store at db_path.

    Without confirm nothing is written: the report gives the counts per table that would be erased
    (status "not_confirmed"). With confirm the purge is recorded in the audit trail (audit_db, default beside
    the store) before the new store is swapped in; if that record cannot be written nothing is erased.
    Never raises for bad input: only a report with status "purged" changed the store.
    """
    db = Path(db_path)
    started = datetime.now(timezone.utc)
    purge_id = f"purge-{started:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
    user = clean_user(user)

    def finish(status: str, message: str, counts=(), notes=()) -> PurgeReport:
        log.info("purge %s of %s by %s: %s", purge_id, db, user, status)
        return PurgeReport(purge_id, db, user, closed_before, status, message, tuple(counts), tuple(notes))

    today = today or started.date()
    if closed_before > today:
        return finish("refused", f"the cut-off date {closed_before:%Y-%m-%d} is after today; a retention cut-off "
                                 "is a date in the past. Nothing was erased")
    if not db.exists():
        return finish("refused", f"no store at {db}; nothing was erased")
    try:
        if not confirm:
            live = _inspect(db)
            counts, notes = _dry_run(db, closed_before)
            notes = _store_notes(live) + notes
            if not any(n for _, n in counts):
                return finish("not_confirmed", "nothing is due for erasure; the store was not changed", counts, notes)
            return finish("not_confirmed", "nothing was erased, because the purge was not confirmed", counts, notes)
        with _Lock(db):
            _clean_stale(db)
            live = _inspect(db)
            tmp = db.with_name(_temp_prefix(db) + purge_id)
            try:
                counts, notes = _build(db, tmp, closed_before, purge_id, user, started)
                notes = _store_notes(live) + notes
                total = sum(n for _, n in counts)
                if not total:
                    return finish("nothing_to_do", f"no case was closed before {closed_before:%Y-%m-%d} and no "
                                                   "rejected row was due for erasure; the store was not changed",
                                  counts, notes)
                trail = Path(audit_db) if audit_db else audit.default_audit_path(db)
                audit.record(trail, user=user, role=AUDIT_ROLE, action="purge", row_count=total,
                             detail={"purge_id": purge_id, "closed_before": closed_before.isoformat(),
                                     "rows_erased": dict(counts)})
                try:
                    _swap_into_place(tmp, db)
                except Exception:
                    _record_not_done(trail, user, purge_id, closed_before)
                    raise
            finally:
                _clean_stale(db)  # the new file if it was not swapped in, its WAL and spill folder
        return finish("purged", f"erased {total:,} row(s) about cases closed before {closed_before:%Y-%m-%d}; "
                                f"recorded as purge {purge_id} in the store's erasure_log (counts only)",
                      counts, notes)
    except _Refused as exc:
        return finish("refused", f"{exc}; nothing was erased")
    except audit.AuditError as exc:  # its message names the trail's file and why, never row data
        log.error("purge %s of %s: the audit record could not be written", purge_id, db)
        return finish("failed", f"{exc} Nothing was erased and the store was not changed")
    except Exception as exc:  # noqa: BLE001 - any failure: the live store is untouched; say what kind, no row data
        # DuckDB's messages can quote row data: log the kind of failure and where, never its text.
        log.error("purge %s of %s failed: %s", purge_id, db, exc.__class__.__name__)
        log.debug("where it failed:\n%s", "".join(traceback.format_tb(exc.__traceback__)))
        why = "the checks of the new store did not add up" if isinstance(exc, _PurgeCheckError) else _failure_text(exc)
        return finish("failed", f"the purge failed ({why}); nothing was erased and the store was "
                                "not changed")


def _record_not_done(trail: Path, user: str, purge_id: str, closed_before: date) -> None:
    """The trail already says this purge is happening: add, if it can, that it did not happen after all."""
    try:
        audit.record(trail, user=user, role=AUDIT_ROLE, action="purge", row_count=0,
                     detail={"purge_id": purge_id, "closed_before": closed_before.isoformat(),
                             "outcome": "not done: the new store could not be put in place; nothing was erased"})
    except (audit.AuditError, ValueError):
        log.error("purge %s: could not record in the audit trail that it was not done", purge_id)


def _store_notes(live) -> list[str]:
    notes = []
    if live.is_demo:
        notes.append("the store holds the synthetic demo data (no real victims); purged like any other store")
    if live.version != SCHEMA_VERSION:
        notes.append(f"the store's layout is upgraded from version {live.version} to {SCHEMA_VERSION}")
    return notes


# --- what is erased ------------------------------------------------------------------------------

def _select_erased(con: duckdb.DuckDBPyConnection, closed_before: date,
                   old_tables: dict[str, list[str]]) -> tuple[dict[str, str], list[tuple[str, int]], list[str]]:
    """Mark what goes, in temporary tables (memory, never the new store); return each table's erase
    condition (on alias x), the counts per table in report order and notes (counts only)."""
    cut = {"cut": closed_before}
    has_cases = "cases" in old_tables
    con.execute("CREATE TEMP TABLE purged_cases AS SELECT case_id FROM old.cases "
                "WHERE status = 'closed' AND CAST(closed_at AS DATE) < $cut" if has_cases else
                "CREATE TEMP TABLE purged_cases (case_id VARCHAR)", cut if has_cases else None)
    con.execute("CREATE TEMP TABLE purged_victims AS SELECT victim_id FROM old.victims "
                "WHERE case_id IN (SELECT case_id FROM temp.purged_cases)" if "victims" in old_tables else
                "CREATE TEMP TABLE purged_victims (victim_id VARCHAR)")
    conditions: dict[str, str] = {}
    for table, columns in old_tables.items():
        if table in _BUILT_TABLES or table in _NEVER_ERASED or table == "import_rejects":
            continue
        links = []
        if "case_id" in columns:
            links.append("x.case_id IN (SELECT case_id FROM temp.purged_cases)")
        if "victim_id" in columns:
            links.append("x.victim_id IN (SELECT victim_id FROM temp.purged_victims)")
        if links:
            conditions[table] = " OR ".join(links)
    counts = {t: _count(con, t, c) for t, c in conditions.items()}

    # Every id of an erased row (cases, victims and the contract tables' own keys) that a reject might mention.
    keys = [f"SELECT CAST(x.{quote_identifier(TABLE_COLUMNS[t][0].name)} AS VARCHAR) FROM old.{quote_identifier(t)} AS x "
            f"WHERE COALESCE({conditions[t]}, false)" for t in ERASED_TABLES if t in conditions]
    con.execute("CREATE TEMP TABLE purged_ids AS SELECT DISTINCT id FROM ("
                + " UNION ALL ".join(["SELECT NULL::VARCHAR AS id WHERE false", *keys]) + ") WHERE id IS NOT NULL")
    notes = []
    if "import_rejects" in old_tables:
        conditions["import_rejects"] = _select_erased_rejects(con, closed_before, old_tables)
        counts["import_rejects"] = _count(con, "import_rejects", conditions["import_rejects"])
        why = con.execute("SELECT why, count(*) FROM temp.erased_rejects GROUP BY why ORDER BY why").fetchall()
        if why:
            notes.append("rejected import rows: " + "; ".join(f"{n:,} {_REJECT_WHY[w]}" for w, n in why))
    if has_cases:
        undated = con.execute("SELECT count(*) FROM old.cases WHERE status = 'closed' AND closed_at IS NULL"
                              ).fetchall()[0][0]
        if undated:
            notes.append(f"{undated:,} closed case(s) have no closed_at and were kept: their retention cannot be "
                         "worked out until closed_at is filled in at source")
    order = [t for t in ERASED_TABLES if t in counts] + sorted(
        t for t in counts if t not in ERASED_TABLES and t != "import_rejects") + (
        ["import_rejects"] if "import_rejects" in counts else [])
    return conditions, [(t, counts[t]) for t in order], notes


def _select_erased_rejects(con: duckdb.DuckDBPyConnection, closed_before: date,
                           old_tables: dict[str, list[str]]) -> str:
    """Mark the rejected rows to erase in temp.erased_rejects; return their erase condition."""
    before_cut = ("SELECT import_id FROM old.import_log GROUP BY import_id "
                  "HAVING CAST(min(imported_at) AS DATE) < $cut") if "import_log" in old_tables else (
                  "SELECT NULL::VARCHAR AS import_id WHERE false")
    # raw_row is a JSON object (column -> text as exported). A value names an erased record when, spaces
    # around it removed, it equals an erased id: whichever column it sits in, since a line with too many or
    # too few values has its values under the wrong column names.
    con.execute(f"""
        CREATE TEMP TABLE erased_rejects AS
        SELECT import_id, file_no, line, min(why) AS why FROM (
            SELECT r.import_id, r.file_no, r.line, 1 AS why
            FROM old.import_rejects AS r,
                 json_each(CASE WHEN json_valid(r.raw_row) AND json_type(r.raw_row) = 'OBJECT' THEN r.raw_row
                                ELSE '{{}}' END) AS j
            WHERE regexp_replace(j.value ->> '$', '^\\s+|\\s+$', '', 'g') IN (SELECT id FROM temp.purged_ids)
            UNION ALL
            SELECT import_id, file_no, line, 2 FROM old.import_rejects WHERE import_id IN ({before_cut})
            UNION ALL
            SELECT import_id, file_no, line, 3 FROM old.import_rejects
            WHERE CASE WHEN json_valid(raw_row) THEN json_type(raw_row) <> 'OBJECT' ELSE true END
        ) GROUP BY import_id, file_no, line""", {"cut": closed_before} if "import_log" in old_tables else None)
    return ("EXISTS (SELECT 1 FROM temp.erased_rejects AS e WHERE e.import_id = x.import_id "
            "AND e.file_no = x.file_no AND e.line = x.line)")


def _count(con: duckdb.DuckDBPyConnection, table: str, condition: str) -> int:
    return con.execute(f"SELECT count(*) FROM old.{quote_identifier(table)} AS x "
                       f"WHERE COALESCE({condition}, false)").fetchall()[0][0]


def _dry_run(db: Path, closed_before: date) -> tuple[list[tuple[str, int]], list[str]]:
    con = duckdb.connect(":memory:", config=dict(SAFE_CONFIG))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("ATTACH $path AS old (READ_ONLY)", {"path": str(db)})
        _, counts, notes = _select_erased(con, closed_before, _tables_of(con, "old"))
        return counts, notes
    finally:
        con.close()


# --- the new store -------------------------------------------------------------------------------

class _PurgeCheckError(Exception):
    """The new store is not what the purge meant to write: nothing may be swapped in."""


def _build(db: Path, tmp: Path, closed_before: date, purge_id: str, user: str,
           started: datetime) -> tuple[list[tuple[str, int]], list[str]]:
    """Write the store without the erased rows at tmp; return the counts erased per table and notes."""
    con = duckdb.connect(str(tmp), config=dict(SAFE_CONFIG))
    try:
        con.execute("SET enable_progress_bar = false")
        con.execute("ATTACH $path AS old (READ_ONLY)", {"path": str(db)})
        new_db = con.execute("SELECT current_database()").fetchall()[0][0]
        con.execute(schema_ddl())
        old_tables = _tables_of(con, "old")
        new_tables = _tables_of(con, new_db)
        conditions, counts, notes = _select_erased(con, closed_before, old_tables)
        if not any(n for _, n in counts):
            return counts, notes
        old_counts = {}
        # Parents before children (foreign keys), then every other table the live store has.
        for table in [*LOAD_ORDER, *sorted(t for t in new_tables if t not in LOAD_ORDER)]:
            if table in _BUILT_TABLES or table not in old_tables or table not in new_tables:
                continue
            old_counts[table] = con.execute(f"SELECT count(*) FROM old.{quote_identifier(table)}").fetchall()[0][0]
            common = ", ".join(quote_identifier(c) for c in new_tables[table] if c in old_tables[table])
            keep = f"WHERE NOT COALESCE({conditions[table]}, false)" if table in conditions else ""
            con.execute(f"INSERT INTO main.{quote_identifier(table)} ({common}) "
                        f"SELECT {common} FROM old.{quote_identifier(table)} AS x {keep}")
        _check(con, conditions, dict(counts), old_counts)
        at = started.replace(tzinfo=None)
        con.executemany("INSERT INTO main.erasure_log VALUES (?, ?, ?, ?, ?, ?)",
                        [(purge_id, at, user, closed_before, table, n) for table, n in counts])
        meta = dict(con.execute("SELECT key, value FROM old.store_meta").fetchall())
        as_of = _calendar_and_as_of(con, _meta_date(meta.get("data_as_of")))  # the extract date stays
        con.execute(FACTS_SQL)
        write_meta(con, data_as_of=as_of, is_demo=meta.get("is_demo") == "true",
                   source=meta.get("source") or "a store purged for retention")
        write_summaries(con, as_of)
        con.execute("INSERT INTO main.store_meta SELECT key, value FROM old.store_meta "
                    "WHERE key NOT IN (SELECT key FROM main.store_meta)")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts, notes


def _check(con: duckdb.DuckDBPyConnection, conditions: dict[str, str], erased: dict[str, int],
           old_counts: dict[str, int]) -> None:
    """From the new store itself: every table has its old rows less the erased ones, and no erased row is left."""
    for table, before in old_counts.items():
        after = con.execute(f"SELECT count(*) FROM main.{quote_identifier(table)}").fetchall()[0][0]
        if after != before - erased.get(table, 0):
            raise _PurgeCheckError(f"table {table}: {before} rows less {erased.get(table, 0)} erased, found {after}")
    for table, condition in conditions.items():
        left = con.execute(f"SELECT count(*) FROM main.{quote_identifier(table)} AS x "
                           f"WHERE COALESCE({condition}, false)").fetchall()[0][0]
        if left:
            raise _PurgeCheckError(f"table {table}: {left} rows that should have been erased are still there")


def _meta_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None
