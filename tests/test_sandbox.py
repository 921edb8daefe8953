"""The SQL box (data_access.sandbox): security-and-reliability.md section 6, checks 1 to 5, through
run_readonly_sql. Every escape attempt is refused with a message that quotes no data, the store's bytes and the
folders around it are unchanged, a runaway query is stopped, and the row cap holds."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from data_access import audit, sandbox
from data_access.sandbox import SandboxError, run_readonly_sql
from data_access.store import build_store, open_store
from helpers import case, ent, tables, victim

FAKE_NAME = "Jane Fakename-Doe"
AUDITED_USER = "auditor.only@force.example"
# The fake name sits in a text column, as a careless export might put it.
FIXTURE = tables(cases=[case("C1")], victims=[victim("V1")],
                 entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04"),
                               ent("E2", "r7_vps_offered", "2025-03-03", outcome="not_applicable",
                                   exception_reason=f"{FAKE_NAME} asked not to be contacted")])


@pytest.fixture
def store_dir(tmp_path, monkeypatch) -> Path:
    """A folder holding only the store and its audit trail; also the working directory, so a relative path
    in an escape attempt would land here."""
    folder = tmp_path / "srv"
    folder.mkdir()
    path = build_store(folder / "store.duckdb", FIXTURE, data_as_of=date(2025, 3, 31), is_demo=False, source="test")
    audit.record(audit.default_audit_path(path), user=AUDITED_USER, role="victim_services",
                 action="view_case_level", page="explore", ids=["E2", "V1"], row_count=2)
    monkeypatch.chdir(folder)
    return folder


@pytest.fixture
def store_path(store_dir) -> Path:
    return store_dir / "store.duckdb"


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under the folder (the working directory, where relative paths would land) with its sha256."""
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in folder.rglob("*") if p.is_file()}


def refused(store_path: Path, sql: str, **options) -> str:
    with pytest.raises(SandboxError) as caught:
        run_readonly_sql(store_path, sql, role="victim_services", **options)
    return str(caught.value)


AUDIT = "store.duckdb.audit.sqlite"
ESCAPES = [
    # check 1: files, other databases, extensions, the network
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM read_blob('/etc/passwd')",
    "SELECT * FROM glob('/etc/*')",
    "SELECT * FROM sniff_csv('/etc/passwd')",
    "SELECT * FROM read_json('/etc/passwd')",
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "COPY cases TO 'out.csv'",
    "COPY (SELECT * FROM victims) TO 'out.parquet' (FORMAT parquet)",
    "EXPORT DATABASE 'exported'",
    "ATTACH 'other.duckdb' AS other",
    f"ATTACH '{AUDIT}' AS trail (TYPE sqlite)",
    f"SELECT * FROM sqlite_scan('{AUDIT}', 'events')",
    f"SELECT * FROM read_text('{AUDIT}')",
    f"SELECT * FROM read_blob('{AUDIT}')",
    "INSTALL httpfs",
    "LOAD httpfs",
    "INSTALL sqlite",
    "LOAD sqlite",
    "FORCE INSTALL httpfs FROM community",
    "SELECT * FROM read_csv('https://example.com/victims.csv')",
    "SELECT * FROM 'https://example.com/victims.parquet'",
    "CREATE SECRET leak (TYPE s3, KEY_ID 'x', SECRET 'y')",
    "SELECT getenv('HOME')",
    "SELECT * FROM query('COPY cases TO ''out.csv''')",
    # check 2: settings
    "SET enable_external_access = true",
    "SET memory_limit = '100GB'",
    "SET lock_configuration = false",
    "SET allowed_directories = ['/']",
    "RESET enable_external_access",
    "RESET memory_limit",
    "PRAGMA enable_profiling",
    "PRAGMA memory_limit = '100GB'",
    "SELECT * FROM query('SET enable_external_access = true')",
    # one statement only
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE cases",
    "SELECT * FROM cases; COPY cases TO 'out.csv'",
    # check 3: writes
    "INSERT INTO cases (case_id, reported_at, offence_group, district, status) "
    "VALUES ('C9', '2025-03-03', 'theft', 'Basildon', 'open')",
    "UPDATE entitlements SET outcome = 'delivered'",
    "DELETE FROM victims",
    "DROP TABLE cases",
    "CREATE TABLE copied AS SELECT * FROM cases",
    "CREATE TEMP TABLE copied AS SELECT * FROM cases",
    "CREATE MACRO leak(x) AS x",
    "ALTER TABLE cases ADD COLUMN extra INTEGER",
    "CHECKPOINT",
    "VACUUM",
    "DETACH store",
    "USE memory",
    "BEGIN TRANSACTION",
    "CALL pragma_version()",
    "EXPLAIN ANALYZE SELECT * FROM cases",
]


@pytest.mark.parametrize("sql", ESCAPES)
def test_escape_attempts_are_refused_and_change_nothing(store_dir, store_path, sql):
    before = snapshot(store_dir)
    message = refused(store_path, sql)
    assert snapshot(store_dir) == before  # store bytes, audit trail and folder unchanged; no file created
    assert FAKE_NAME not in message and AUDITED_USER not in message
    # the next query on a fresh connection still works
    frame, truncated = run_readonly_sql(store_path, "SELECT count(*) AS n FROM cases", role="admin")
    assert (frame["n"].tolist(), truncated) == ([1], False)


def test_settings_stay_locked_after_attempts_to_change_them(store_path):
    for attempt in ("SET enable_external_access = true", "RESET lock_configuration", "SET memory_limit = '100GB'"):
        refused(store_path, attempt)
    frame, _ = run_readonly_sql(store_path, "SELECT name, value FROM duckdb_settings() WHERE name IN "
                                "('enable_external_access', 'lock_configuration', 'autoload_known_extensions', "
                                "'autoinstall_known_extensions', 'allow_community_extensions', 'threads', "
                                "'temp_directory') ORDER BY name", role="victim_services")
    assert dict(zip(frame["name"], frame["value"])) == {
        "allow_community_extensions": "false", "autoinstall_known_extensions": "false",
        "autoload_known_extensions": "false", "enable_external_access": "false", "lock_configuration": "true",
        "temp_directory": "", "threads": "1"}


def test_the_connection_itself_refuses_what_the_statement_check_would_stop(store_path, store_dir):
    """Defence in depth: were the SELECT-only check bypassed, the locked connection still refuses."""
    before = snapshot(store_dir)
    con = sandbox._locked_connection(store_path)
    try:
        for sql in ("SET enable_external_access = true", "SET lock_configuration = false",
                    "SET memory_limit = '100GB'", "RESET memory_limit", "COPY cases TO 'out.csv'",
                    f"ATTACH '{AUDIT}' AS trail", "INSTALL httpfs", "LOAD sqlite", "EXPORT DATABASE 'exported'",
                    "INSERT INTO cases SELECT * FROM cases", "DROP TABLE cases", "CREATE TABLE store.x AS SELECT 1"):
            with pytest.raises(duckdb.Error):
                con.execute(sql)
        settings = dict(con.execute("SELECT name, value FROM duckdb_settings() WHERE name IN "
                                    "('enable_external_access', 'lock_configuration')").fetchall())
        assert settings == {"enable_external_access": "false", "lock_configuration": "true"}
    finally:
        con.close()
    assert snapshot(store_dir) == before


def test_messages_say_why_in_plain_words(store_path):
    assert "exactly one statement" in refused(store_path, "SELECT 1; SELECT 2")
    assert "only SELECT" in refused(store_path, "DROP TABLE cases")
    assert "reach outside the store" in refused(store_path, "SELECT * FROM read_text('/etc/passwd')")
    assert "syntax error" in refused(store_path, "SELEC * FROM cases")
    assert "Type a SELECT" in refused(store_path, "   ")


@pytest.mark.parametrize("sql", [
    "SELECT CAST(exception_reason AS INTEGER) FROM entitlements",
    "SELECT exception_reason::DATE FROM entitlements",
    "SELECT exception_reason::JSON FROM entitlements",
    "SELECT error(exception_reason) FROM entitlements",
    "SELECT regexp_matches('a', exception_reason || '(') FROM entitlements",
    "SELECT CAST(exception_reason AS STRUCT(a INTEGER)) FROM entitlements",
])
def test_errors_raised_while_reading_data_never_show_the_data(store_path, sql):
    message = refused(store_path, sql)
    assert FAKE_NAME not in message and "Fakename" not in message
    assert "failed while reading data" in message


def test_errors_about_the_sql_as_typed_are_shown_but_quote_only_the_sql(store_path):
    message = refused(store_path, "SELECT exception_reason FROM entitlements WHERE no_such_column = 1")
    assert "no_such_column" in message and "Fakename" not in message


def test_a_runaway_query_is_stopped_and_the_next_one_runs(store_path):
    started = time.monotonic()
    message = refused(store_path, "SELECT count(*) FROM range(200000) a, range(200000) b "
                                  "WHERE (a.range * b.range) % 7 = 3", timeout_s=1)
    assert time.monotonic() - started < 1 + 2  # the interrupt, not the query's end, finished it
    assert "longer than 1 seconds" in message
    frame, _ = run_readonly_sql(store_path, "SELECT 42 AS answer", role="victim_services", timeout_s=1)
    assert frame["answer"].tolist() == [42]


@pytest.mark.parametrize("rows, cap, shown, truncated", [(5000, 1000, 1000, True), (1000, 1000, 1000, False),
                                                         (1001, 1000, 1000, True), (3, 2, 2, True), (0, 5, 0, False)])
def test_the_row_cap_is_honoured(store_path, rows, cap, shown, truncated):
    frame, more = run_readonly_sql(store_path, f"SELECT range AS n FROM range({rows})", role="admin", row_cap=cap)
    assert (len(frame), more) == (shown, truncated)


def test_results_are_the_stores_rows_with_unique_column_names(store_path):
    frame, truncated = run_readonly_sql(store_path, "SELECT delivery_id AS id, entitlement AS id FROM entitlements "
                                        "ORDER BY delivery_id", role="victim_services")
    assert list(frame.columns) == ["id", "id (2)"]
    assert frame.values.tolist() == [["E1", "r4_referral_to_support_service"], ["E2", "r7_vps_offered"]]
    assert not truncated


@pytest.mark.parametrize("role", ["board", "action_group", "", "Admin"])
def test_other_roles_are_refused(store_path, role):
    with pytest.raises(PermissionError):
        run_readonly_sql(store_path, "SELECT 1", role=role)


@pytest.mark.parametrize("options", [{"row_cap": 0}, {"row_cap": 10_001}, {"timeout_s": 0}, {"timeout_s": 61}])
def test_impossible_limits_are_refused(store_path, options):
    with pytest.raises(ValueError):
        run_readonly_sql(store_path, "SELECT 1", role="admin", **options)


def test_overlong_sql_is_refused(store_path):
    assert "at most" in refused(store_path, "SELECT 1 " + " " * sandbox.MAX_SQL_CHARS)


def test_a_missing_store_is_a_clear_message(tmp_path):
    with pytest.raises(SandboxError, match="could not be found"):
        run_readonly_sql(tmp_path / "nowhere.duckdb", "SELECT 1", role="admin")


def test_queries_run_at_once_beside_the_dashboards_own_connection(store_path):
    """Check 5: each call has its own connection, so simultaneous queries (and the dashboard's open store)
    do not collide."""
    dashboard = open_store(store_path)
    results, errors = [], []

    def query(n: int) -> None:
        try:
            frame, _ = run_readonly_sql(store_path, f"SELECT {n} AS n, count(*) AS c FROM range(2000000)",
                                        role="victim_services")
            results.append((int(frame["n"].iloc[0]), int(frame["c"].iloc[0])))
        except Exception as exc:  # noqa: BLE001 - the test reports any failure
            errors.append(exc)

    try:
        threads = [threading.Thread(target=query, args=(n,)) for n in range(4)]
        for thread in threads:
            thread.start()
        assert len(dashboard.query("SELECT * FROM cases")) == 1
        for thread in threads:
            thread.join()
    finally:
        dashboard.close()
    assert not errors
    assert sorted(results) == [(n, 2_000_000) for n in range(4)]
