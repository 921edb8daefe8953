"""Building and opening stores: refusals with clear messages, the hardened read-only connection,
atomic builds, CHECK constraints, concurrency and the query time limit."""

from __future__ import annotations

import hashlib
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from data_access.schema import SCHEMA_VERSION
from data_access.store import StoreError, build_store, open_store
from helpers import case, ent, tables, victim

AS_OF = date(2025, 3, 31)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def good_tables() -> dict:
    return tables(cases=[case("C1"), case("C2", "Chelmsford", "burglary")],
                  victims=[victim("V1", "C1"), victim("V2", "C2", "vulnerable")],
                  entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04", "delivered"),
                                ent("E2", "r6_suspect_arrested", "2025-03-05", victim_id="V2")])


def build(path: Path, data: dict | None = None) -> Path:
    return build_store(path, good_tables() if data is None else data, data_as_of=AS_OF, is_demo=False,
                       source="test")


@pytest.fixture
def store_path(tmp_path) -> Path:
    return build(tmp_path / "store.duckdb")


@pytest.fixture
def store(store_path):
    s = open_store(store_path)
    yield s
    s.close()


# --- a good store ------------------------------------------------------------------------------

def test_a_built_store_opens_with_its_metadata(store, store_path):
    meta = store.meta
    assert meta.path == store_path
    assert meta.schema_version == SCHEMA_VERSION
    assert meta.data_as_of == AS_OF
    assert meta.is_demo is False and meta.source == "test"
    # entitlement triggers are Mon 3 and Wed 5 March 2025: first and last month are both March
    assert (meta.first_month, meta.last_month) == (date(2025, 3, 1), date(2025, 3, 1))
    # the calendar starts 31 days before the earliest date in the data (reported Mon 3 Mar 2025)
    assert meta.calendar_first == date(2025, 1, 31)
    assert meta.calendar_last >= date(2026, 3, 31)  # runs well past the data
    facts = store.query("SELECT delivery_id, victim_type, district, command_area FROM entitlement_facts "
                        "ORDER BY delivery_id")
    assert list(facts.itertuples(index=False, name=None)) == [
        ("E1", "standard", "Basildon", "South"),
        ("E2", "enhanced", "Chelmsford", "Mid"),
    ]


def test_query_binds_parameters(store):
    frame = store.query("SELECT count(*) AS n FROM entitlement_facts WHERE district = $d", {"d": "Chelmsford"})
    assert frame["n"].iloc[0] == 1


# --- refusing what is not a usable store, without touching it -----------------------------------

def test_a_missing_path_is_refused_with_a_hint(tmp_path):
    with pytest.raises(StoreError, match="does not exist"):
        open_store(tmp_path / "nowhere.duckdb")
    assert not (tmp_path / "nowhere.duckdb").exists()  # and not created


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(StoreError, match="is a folder"):
        open_store(tmp_path)


@pytest.mark.parametrize("content", [b"case_id,district\nC1,Basildon\n", b""], ids=["csv text", "empty"])
def test_a_file_that_is_not_duckdb_is_refused_and_left_unchanged(tmp_path, content):
    path = tmp_path / "notes.duckdb"
    path.write_bytes(content)
    before = sha256(path)
    with pytest.raises(StoreError) as caught:
        open_store(path)
    assert "not a DuckDB store" in str(caught.value)
    assert "Basildon" not in str(caught.value)  # no file content in the message
    assert sha256(path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.duckdb"]


def test_a_duckdb_file_without_store_meta_is_refused_and_left_unchanged(tmp_path):
    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE something (i INTEGER)")
    con.close()
    before = sha256(path)
    with pytest.raises(StoreError, match="no store_meta"):
        open_store(path)
    assert sha256(path) == before


def set_schema_version(path: Path, value: str) -> None:
    con = duckdb.connect(str(path))
    con.execute("UPDATE store_meta SET value = ? WHERE key = 'schema_version'", [value])
    con.close()


@pytest.mark.parametrize("version, word", [("0", "older"), (str(SCHEMA_VERSION + 1), "newer")])
def test_a_store_of_another_schema_version_is_refused_and_left_unchanged(store_path, version, word):
    set_schema_version(store_path, version)
    before = sha256(store_path)
    with pytest.raises(StoreError) as caught:
        open_store(store_path)
    message = str(caught.value)
    assert f"{word} store layout (schema version {version})" in message
    assert "Rebuild" in message and "has not been changed" in message
    assert sha256(store_path) == before


def test_a_store_already_open_in_this_process_can_be_opened_again(store, store_path):
    # Two sessions, or a cache entry still alive, open the same file: each gets a working, hardened Store.
    second = open_store(store_path)
    try:
        assert second.query("SELECT count(*) AS n FROM entitlements")["n"].iloc[0] == 2
        with pytest.raises(duckdb.Error):
            second.query("SET enable_external_access = true")
    finally:
        second.close()
    assert store.query("SELECT count(*) AS n FROM entitlements")["n"].iloc[0] == 2


def test_a_rebuilt_store_is_seen_by_the_next_open_while_the_old_one_is_still_open(store, store_path):
    # The dashboard keeps the old Store cached while an import swaps a new file in (os.replace), then
    # opens the path again because its modification time changed. The new open must see the new data.
    data = good_tables()
    data["entitlements"] = data["entitlements"].iloc[:1]  # 1 instance instead of 2
    build(store_path, data)
    fresh = open_store(store_path)
    try:
        assert fresh.query("SELECT count(*) AS n FROM entitlements")["n"].iloc[0] == 1
    finally:
        fresh.close()


# --- the hardened, read-only connection --------------------------------------------------------

DISABLED = (duckdb.PermissionException, "disabled")  # external access is off
LOCKED = (duckdb.InvalidInputException, "locked")  # the configuration is locked
READ_ONLY = (duckdb.InvalidInputException, "read-only")  # the file is opened read-only

FORBIDDEN = [
    ("SELECT * FROM read_csv('/etc/passwd')", DISABLED),
    ("SELECT * FROM read_text('/etc/passwd')", DISABLED),
    ("SELECT * FROM glob('/etc/*')", DISABLED),
    ("SELECT * FROM sniff_csv('/etc/passwd')", DISABLED),
    ("COPY (SELECT 1 AS x) TO '{tmp}/copied.csv'", DISABLED),
    ("COPY cases TO '{tmp}/copied.parquet' (FORMAT parquet)", DISABLED),
    ("EXPORT DATABASE '{tmp}/exported'", DISABLED),
    ("ATTACH '{tmp}/attached.duckdb' AS other", DISABLED),
    ("INSTALL httpfs", DISABLED),
    ("LOAD httpfs", DISABLED),
    ("SELECT * FROM read_csv('https://example.com/x.csv')", DISABLED),
    ("SET enable_external_access = true", LOCKED),
    ("RESET enable_external_access", LOCKED),
    ("SET lock_configuration = false", LOCKED),
    ("SET memory_limit = '100GB'", LOCKED),
    ("SET threads = 64", LOCKED),
    ("INSERT INTO store_meta VALUES ('x', 'y')", READ_ONLY),
    ("UPDATE store_meta SET value = '9' WHERE key = 'schema_version'", READ_ONLY),
    ("DELETE FROM cases", READ_ONLY),
    ("CREATE TABLE t (i INTEGER)", READ_ONLY),
    ("DROP TABLE cases", READ_ONLY),
    ("SELECT * FROM '/etc/passwd'", (duckdb.Error, "")),  # not even resolved as a file
]


@pytest.mark.parametrize("statement, refusal", FORBIDDEN, ids=[f[0] for f in FORBIDDEN])
def test_the_dashboard_connection_refuses(store, store_path, tmp_path, statement, refusal):
    error, words = refusal
    before = sha256(store_path)
    files_before = sorted(p.name for p in tmp_path.iterdir())
    with pytest.raises(error) as caught:
        store.query(statement.format(tmp=tmp_path), timeout=10)
    assert words in str(caught.value)
    assert sha256(store_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == files_before  # nothing written beside it
    # the lock still holds and the store still answers
    settings = store.query("SELECT name, value FROM duckdb_settings() WHERE name IN "
                           "('enable_external_access', 'lock_configuration')").set_index("name")["value"]
    assert settings.to_dict() == {"enable_external_access": "false", "lock_configuration": "true"}
    assert store.query("SELECT count(*) AS n FROM cases")["n"].iloc[0] == 2


def test_a_query_that_runs_out_of_memory_is_stopped_with_a_message_and_the_store_still_answers(store_path):
    small = open_store(store_path, threads=1, memory_limit="20MB")
    try:
        with pytest.raises(StoreError, match="needed more memory than the dashboard may use") as caught:
            small.query("SELECT list(i) FROM range(20000000) t(i)")
        assert "Out of Memory" not in str(caught.value)  # DuckDB's own text is not passed on
        assert small.query("SELECT count(*) AS n FROM cases")["n"].iloc[0] == 2
    finally:
        small.close()


def test_a_python_dataframe_in_scope_is_not_readable_by_a_replacement_scan(store):
    secret_frame = pd.DataFrame({"x": [1]})  # noqa: F841 - the query below must not see it
    with pytest.raises((duckdb.Error, StoreError)):
        store.query("SELECT * FROM secret_frame")


# --- failed builds change nothing ---------------------------------------------------------------

def broken(kind: str) -> dict:
    data = good_tables()
    if kind == "unknown offence group":
        data["cases"].loc[0, "offence_group"] = "shoplifting"
    elif kind == "victim of a case that does not exist":
        data["victims"].loc[0, "case_id"] = "C99"
    elif kind == "duplicate delivery id":
        data["entitlements"].loc[1, "delivery_id"] = "E1"
    elif kind == "unknown column":
        data["victims"]["name"] = "Jane Sample"
    else:  # pragma: no cover
        raise AssertionError(kind)
    return data


@pytest.mark.parametrize("kind", ["unknown offence group", "victim of a case that does not exist",
                                  "duplicate delivery id", "unknown column"])
def test_a_failed_build_leaves_the_existing_store_byte_identical_and_no_temp_files(store_path, kind):
    before = sha256(store_path)
    with pytest.raises(StoreError):
        build(store_path, broken(kind))
    assert sha256(store_path) == before
    assert sorted(p.name for p in store_path.parent.iterdir()) == ["store.duckdb"]
    s = open_store(store_path)  # and it still opens
    try:
        assert s.query("SELECT count(*) AS n FROM entitlements")["n"].iloc[0] == 2
    finally:
        s.close()


def test_a_failed_first_build_leaves_nothing_behind(tmp_path):
    with pytest.raises(StoreError):
        build(tmp_path / "store.duckdb", broken("unknown offence group"))
    assert list(tmp_path.iterdir()) == []


def test_building_with_an_unknown_table_is_refused(tmp_path):
    with pytest.raises(StoreError, match="unknown table"):
        build_store(tmp_path / "s.duckdb", {"suspects": pd.DataFrame({"x": [1]})}, data_as_of=AS_OF,
                    is_demo=False, source="test")
    assert list(tmp_path.iterdir()) == []


def test_rebuilding_replaces_the_store(store_path):
    data = good_tables()
    data["entitlements"] = data["entitlements"].iloc[:1]
    build(store_path, data)
    s = open_store(store_path)
    try:
        assert s.query("SELECT count(*) AS n FROM entitlements")["n"].iloc[0] == 1
    finally:
        s.close()


SECRET = "SECRET-VALUE-42"


def with_value(table: str, column: str, value, row: int = 0) -> dict:
    data = good_tables()
    frame = data[table].astype(object)
    frame.loc[row, column] = value
    data[table] = frame
    return data


@pytest.mark.parametrize("table, column, value", [
    ("cases", "offence_group", SECRET),
    ("cases", "status", SECRET),
    ("victims", "enhanced_category", SECRET),
    ("victims", "age_band", SECRET),
    ("victims", "sex", SECRET),
    ("victims", "ethnicity", SECRET),
    ("victims", "disability", SECRET),
    ("entitlements", "outcome", SECRET),
])
def test_check_constraints_reject_values_outside_the_contract(tmp_path, table, column, value):
    with pytest.raises(StoreError) as caught:
        build(tmp_path / "s.duckdb", with_value(table, column, value))
    assert "broke a rule of the store" in str(caught.value)
    assert SECRET not in str(caught.value)  # no row data in the message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("row", [
    ent("E9", "r4_referral_to_support_service", "2025-03-03", None, "delivered"),  # delivered needs delivered_at
    ent("E9", "r4_referral_to_support_service", "2025-03-03", None, "declined"),  # so does declined
    ent("E9", "r4_referral_to_support_service", "2025-03-03", "2025-03-04", "not_delivered"),  # must not have one
    ent("E9", "r4_referral_to_support_service", "2025-03-03", None, "not_applicable"),  # needs a reason
    ent("E9", "r4_referral_to_support_service", "2025-03-03", "2025-03-02", "delivered"),  # before the trigger
], ids=["delivered-no-date", "declined-no-date", "not-delivered-with-date", "not-applicable-no-reason",
        "delivered-before-trigger"])
def test_entitlement_row_rules_are_enforced(tmp_path, row):
    data = good_tables()
    data["entitlements"] = pd.concat([data["entitlements"], tables(cases=[], victims=[], entitlements=[row])
                                      ["entitlements"]], ignore_index=True)
    with pytest.raises(StoreError):
        build(tmp_path / "s.duckdb", data)


# --- concurrency and the time limit ------------------------------------------------------------

def test_two_threads_can_query_the_same_store_at_once(store):
    barrier = threading.Barrier(2)

    def work(n):
        barrier.wait()
        # range(1500) x range(1000) = 1,500,000 rows; sum of a*b = (0+...+1499)(0+...+999)
        # = (1499*1500/2) * (999*1000/2) = 1,124,250 * 499,500 = 561,562,875,000
        frame = store.query("SELECT count(*) AS rows, sum(a.range * b.range) AS total "
                            "FROM range(1500) a, range(1000) b")
        return int(frame["rows"].iloc[0]), int(frame["total"].iloc[0]), n

    with ThreadPoolExecutor(max_workers=2) as pool:
        results = sorted(pool.map(work, [1, 2]))
    assert results == [(1_500_000, 561_562_875_000, 1), (1_500_000, 561_562_875_000, 2)]


def test_a_query_longer_than_the_time_limit_is_stopped_and_the_next_one_works(store):
    started = time.monotonic()
    with pytest.raises(StoreError, match="longer than 0.2 seconds"):
        store.query("SELECT sum(a.range * b.range) AS s FROM range(1000000000) a, range(1000000000) b",
                    timeout=0.2)
    assert time.monotonic() - started < 0.2 + 1.5
    assert store.query("SELECT 42 AS answer")["answer"].iloc[0] == 42
