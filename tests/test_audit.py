"""The audit trail (security-and-reliability.md 3.2 and section 6, check 14): append-only in the database,
tamper-evident by its hash chain, safe with several writers, readable by admin only, and its page."""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import duckdb
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from data_access import audit
from data_access.audit import ACTIONS, AuditError, read_events, record, verify_trail
from data_access.store import build_store, open_store
from helpers import case, ent, tables, victim
from ui import access

APP_DIR = Path(__file__).resolve().parent.parent
UTC = timezone.utc


@pytest.fixture
def trail(tmp_path) -> Path:
    return tmp_path / "store.duckdb.audit.sqlite"


def fixed_clock(monkeypatch, *moments: datetime) -> None:
    times = iter(moments)
    monkeypatch.setattr(audit, "_now", lambda: next(times))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def raw_rows(path: Path) -> list[tuple]:
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT * FROM events ORDER BY seq").fetchall()


# --- writing and reading ---------------------------------------------------------------------------------

def test_an_event_round_trips_with_its_utc_time_and_s62_category(trail):
    before = datetime.now(UTC)
    event_id = record(trail, user="vsm@force.example", role="victim_services", action="download",
                      page="keeping_informed", filters={"district": ["Basildon"], "first_month": date(2025, 3, 1)},
                      ids=["V1", "V2"], row_count=2, detail={"format": "csv"})
    after = datetime.now(UTC)
    events = read_events(trail, role="admin")
    assert len(events) == 1
    event = events.iloc[0]
    assert event["event_id"] == event_id and event["seq"] == 1
    assert (event["user"], event["role"], event["action"], event["page"]) == (
        "vsm@force.example", "victim_services", "download", "keeping_informed")
    assert event["category"] == "disclosure"  # a download is a disclosure under s.62
    assert event["filters"] == {"district": ["Basildon"], "first_month": "2025-03-01"}
    assert event["ids"] == ["V1", "V2"] and event["row_count"] == 2 and event["detail"] == {"format": "csv"}
    assert str(event["at"].tz) == "UTC" and before <= event["at"].to_pydatetime() <= after
    stored_at = raw_rows(trail)[0][2]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", stored_at)  # ISO 8601, UTC, with Z


def test_the_required_actions_map_to_their_s62_categories():
    assert {a: ACTIONS[a] for a in ("view_case_level", "drill_down", "download", "import", "edit", "purge",
                                    "role_mapping_change", "sql_query", "view_audit")} == {
        "view_case_level": "consultation", "drill_down": "consultation", "download": "disclosure",
        "import": "collection", "edit": "alteration", "purge": "erasure", "role_mapping_change": "alteration",
        "sql_query": "consultation", "view_audit": "consultation"}


def test_a_local_time_is_stored_as_utc(trail, monkeypatch):
    # 10:30 at UTC+01:00 (British Summer Time) is 09:30 UTC.
    fixed_clock(monkeypatch, datetime(2025, 6, 2, 10, 30, tzinfo=timezone(timedelta(hours=1))))
    record(trail, user="u", role="admin", action="import")
    assert raw_rows(trail)[0][2] == "2025-06-02T09:30:00.000000Z"


@pytest.mark.parametrize("change, words", [
    ({"action": "peek"}, "unknown action 'peek'"),
    ({"user": ""}, "audit user: must be non-empty"),
    ({"user": "j.smith\nadmin granted"}, "audit user: contains a control"),
    ({"user": "evil\u202emoc.elpmaxe"}, "audit user: contains a control"),  # a right-to-left override
    ({"user": "x" * 321}, "audit user: longer than 320"),
    ({"role": "admin\x00"}, "audit role: contains a control"),
    ({"page": "p" * 129}, "audit page: longer than 128"),
    ({"ids": "V123"}, "not a single string"),
    ({"ids": ["V1", "V2\r\n"]}, "item 2"),
    ({"ids": ["V1", None]}, "item 2 is not a non-empty text id"),
    ({"row_count": -1}, "row_count"),
    ({"filters": {"when": object()}}, "audit filters: cannot be stored as JSON"),
    ({"detail": {"rate": float("nan")}}, "audit detail: cannot be stored as JSON"),
    ({"detail": {"blob": "x" * 70_000}}, "audit detail: more than 64 KiB"),
])
def test_bad_values_are_refused_before_anything_is_written(trail, change, words):
    arguments = {"user": "u", "role": "admin", "action": "drill_down", **change}
    with pytest.raises(ValueError, match=re.escape(words)) as refused:
        record(trail, **arguments)
    assert "V2\r\n" not in str(refused.value)  # an id is never quoted back
    assert not trail.exists()


def test_reading_filters_by_time_user_and_action_newest_first(trail, monkeypatch):
    # A 09:00 u1 import, B 10:00 u2 download, C 11:00 u1 download, D 12:00 u2 view_case_level.
    fixed_clock(monkeypatch, *(datetime(2026, 3, 2, hour, tzinfo=UTC) for hour in (9, 10, 11, 12)))
    for user, action in (("u1", "import"), ("u2", "download"), ("u1", "download"), ("u2", "view_case_level")):
        record(trail, user=user, role="victim_services", action=action, page=action)
    pages = lambda **kw: list(read_events(trail, role="admin", **kw)["page"])  # noqa: E731
    assert pages() == ["view_case_level", "download", "download", "import"]  # D C B A
    assert list(read_events(trail, role="admin", user="u1")["seq"]) == [3, 1]  # C A
    assert list(read_events(trail, role="admin", action="download")["seq"]) == [3, 2]  # C B
    assert list(read_events(trail, role="admin", limit=2)["seq"]) == [4, 3]  # D C
    # since is inclusive, until exclusive: [10:00, 12:00) holds B and C; a naive datetime is UTC
    assert list(read_events(trail, role="admin", since=datetime(2026, 3, 2, 10, tzinfo=UTC),
                            until=datetime(2026, 3, 2, 12))["seq"]) == [3, 2]
    assert read_events(trail, role="admin", user="u1' OR '1'='1").empty  # a hostile filter is only data


@pytest.mark.parametrize("role", ["board", "action_group", "victim_services", "Admin", ""])
def test_only_admin_may_read_the_trail(trail, role):
    record(trail, user="u", role="admin", action="import")
    with pytest.raises(PermissionError):
        read_events(trail, role=role)


# --- append-only and tamper-evident ------------------------------------------------------------------------

@pytest.mark.parametrize("statement", [
    "UPDATE events SET user = 'someone else' WHERE seq = 1",
    "DELETE FROM events WHERE seq = 2",
    "DELETE FROM events",
    # REPLACE deletes the clashing row without firing delete triggers: refused by its own trigger
    "INSERT OR REPLACE INTO events SELECT * FROM events WHERE seq = 1",
    "REPLACE INTO events (seq, event_id, at, user, role, action, category, ids, prev_hash, hash) "
    "SELECT 99, event_id, at, 'x', role, action, category, ids, prev_hash, hash FROM events WHERE seq = 1",
])
def test_the_database_refuses_to_change_or_remove_events(trail, statement):
    for _ in range(2):
        record(trail, user="u", role="victim_services", action="view_case_level", ids=["V1"])
    before = raw_rows(trail)
    with sqlite3.connect(trail) as connection, pytest.raises(sqlite3.DatabaseError, match="append-only"):
        connection.execute(statement)
    assert raw_rows(trail) == before
    assert verify_trail(trail) == []


def tamper(path: Path, *statements: str) -> None:
    """Edit the trail as an intruder with write access to the file would: guards dropped first."""
    with sqlite3.connect(path) as connection:
        for name in ("events_no_update", "events_no_delete", "events_no_replace"):
            connection.execute(f"DROP TRIGGER {name}")
        for statement in statements:
            connection.execute(statement)


@pytest.mark.parametrize("statements, found", [
    (["UPDATE events SET ids = '[\"V9\"]' WHERE seq = 2"], "Event 2 was changed after it was written"),
    (["DELETE FROM events WHERE seq = 2"], "Event 2 is missing"),
    (["DELETE FROM events WHERE seq IN (3, 4)"], "Events 3 to 4 are missing: the end of the trail was removed"),
    # row 2 rewritten with a hash recomputed for its new content still breaks the link to row 3
    (["UPDATE events SET user = 'x', hash = 'f' || substr(hash, 2) WHERE seq = 2"],
     "Event 2 was changed after it was written"),
    (["UPDATE events SET prev_hash = (SELECT hash FROM events WHERE seq = 1) WHERE seq = 3"],
     "Event 3 does not link to the event before it"),
])
def test_an_edit_made_around_the_guards_is_found_by_the_chain_check(trail, statements, found):
    for n in range(4):
        record(trail, user=f"u{n}", role="victim_services", action="drill_down", ids=[f"V{n}"])
    assert verify_trail(trail) == []
    tamper(trail, *statements)
    problems = verify_trail(trail)
    assert "The append-only guards are missing (events_no_update, events_no_delete, events_no_replace): " \
           "the trail could have been edited." in problems
    assert [p for p in problems if found in p], problems


def test_a_consistently_rewritten_row_is_caught_at_the_next_link(trail):
    for n in range(3):
        record(trail, user=f"u{n}", role="admin", action="purge")
    # Rewrite event 2 and give it a hash that matches its new content; event 3 still names the old hash.
    with sqlite3.connect(trail) as connection:
        row = dict(zip(audit._COLUMNS, connection.execute("SELECT * FROM events WHERE seq = 2").fetchone()))
    row["user"] = "someone else"
    new_hash = audit._event_hash(row["prev_hash"], row)
    tamper(trail, f"UPDATE events SET user = 'someone else', hash = '{new_hash}' WHERE seq = 2")
    assert "Event 3 does not link to the event before it: the chain was rewritten from there, or events before " \
           "it were removed." in verify_trail(trail)


def test_the_dashboards_duckdb_connection_cannot_reach_the_trail(tmp_path):
    store_path = build_store(tmp_path / "store.duckdb", tables(cases=[case("C1")], victims=[victim("V1")],
                                                               entitlements=[]),
                             data_as_of=date(2025, 3, 31), is_demo=True, source="test")
    trail_path = audit.default_audit_path(store_path)
    record(trail_path, user="u", role="victim_services", action="view_case_level", ids=["V1"])
    before = sha256(trail_path)
    store = open_store(store_path)
    try:
        for statement in (f"ATTACH '{trail_path}' AS trail (TYPE sqlite)",
                          f"SELECT * FROM sqlite_scan('{trail_path}', 'events')",
                          f"SELECT * FROM read_blob('{trail_path}')"):
            with pytest.raises(duckdb.Error):
                store.query(statement, timeout=10)
    finally:
        store.close()
    assert sha256(trail_path) == before


# --- files, permissions and failures -------------------------------------------------------------------------

@pytest.mark.parametrize("umask", [0o000, 0o022, 0o277])
def test_the_file_is_created_readable_by_its_owner_only_whatever_the_umask(trail, umask):
    previous = os.umask(umask)
    try:
        record(trail, user="u", role="admin", action="import")
    finally:
        os.umask(previous)
    assert stat.S_IMODE(trail.stat().st_mode) == 0o600
    with sqlite3.connect(trail) as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_a_trail_others_may_read_is_reported(trail):
    record(trail, user="u", role="admin", action="import")
    trail.chmod(0o644)
    assert verify_trail(trail) == ["The trail file can be read or written by others (mode 0644; it should be 0600)."]


@pytest.mark.parametrize("where, reason", [
    (lambda tmp: tmp / "no-such-folder" / "t.audit.sqlite", "its folder does not exist"),
    (lambda tmp: tmp / "a-file" / "t.audit.sqlite", "part of its path is not a folder"),
    (lambda tmp: tmp / "a-folder", "the path is a folder"),
    (lambda tmp: Path("/sys/t.audit.sqlite"), "no permission to write there"),  # refused even to root
])
def test_an_unwritable_location_raises_a_plain_audit_error_and_creates_nothing(tmp_path, where, reason):
    (tmp_path / "a-file").write_text("not a folder")
    (tmp_path / "a-folder").mkdir()
    path = where(tmp_path)
    with pytest.raises(AuditError) as refused:
        record(path, user="u", role="victim_services", action="download", ids=["V1"])
    assert str(refused.value) == f"The audit trail {path} could not be written: {reason}."
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file", "a-folder"]
    assert not any((tmp_path / "a-folder").iterdir())


def test_a_full_disk_fails_the_record_and_leaves_the_trail_as_it_was(trail):
    for _ in range(3):
        record(trail, user="u", role="admin", action="import")
    before = raw_rows(trail)
    # A child process that may write no file beyond 1 KiB: the WAL frame for the new event cannot be written.
    child = textwrap.dedent(f"""
        import resource, signal, sys
        sys.path.insert(0, {str(APP_DIR)!r})
        from data_access import audit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024, 1024))
        try:
            audit.record({str(trail)!r}, user="u", role="admin", action="purge", ids=["V" + str(i) for i in range(500)])
        except audit.AuditError as exc:
            print(exc)
    """)
    result = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and result.stderr == ""  # a plain message, no traceback
    assert result.stdout.strip() == f"The audit trail {trail} could not be written: the disk reported a write " \
                                    "error (full, or over a size limit)."
    assert raw_rows(trail) == before
    assert verify_trail(trail) == []


@pytest.mark.parametrize("content, reason", [
    (b"case_id,name\nC1,Jane Example\n" * 200, "the file is damaged or is not an audit trail"),
    (None, "the file is not an audit trail of this version"),  # a SQLite file of something else
])
def test_a_damaged_or_foreign_file_is_refused_and_left_untouched(trail, content, reason):
    if content is None:
        with sqlite3.connect(trail) as connection:
            connection.execute("CREATE TABLE notes (name TEXT)")
            connection.execute("INSERT INTO notes VALUES ('Jane Example')")
        connection.close()
    else:
        trail.write_bytes(content)
    before = sha256(trail)
    with pytest.raises(AuditError) as refused:
        record(trail, user="u", role="admin", action="import")
    assert str(refused.value) == f"The audit trail {trail} could not be written: {reason}."
    assert "Jane" not in str(refused.value)
    assert sha256(trail) == before
    assert verify_trail(trail)  # reported, not raised


def test_concurrent_writers_in_threads_and_processes_lose_nothing(trail):
    per_writer, threads, processes = 25, 4, 2
    child = textwrap.dedent(f"""
        import sys
        sys.path.insert(0, {str(APP_DIR)!r})
        from data_access import audit
        for n in range({per_writer}):
            audit.record({str(trail)!r}, user=sys.argv[1], role="victim_services", action="drill_down", ids=[str(n)])
    """)
    children = [subprocess.Popen([sys.executable, "-c", child, f"process{p}"]) for p in range(processes)]
    failures = []

    def write(name: str) -> None:
        try:
            for n in range(per_writer):
                record(trail, user=name, role="victim_services", action="drill_down", ids=[str(n)])
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    workers = [threading.Thread(target=write, args=(f"thread{t}",)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert [c.wait(timeout=300) for c in children] == [0] * processes
    assert failures == []
    events = read_events(trail, role="admin", limit=10_000)
    # 4 threads and 2 processes, 25 events each: 150, numbered 1 to 150 with no gap
    assert len(events) == (threads + processes) * per_writer == 150
    assert sorted(events["seq"]) == list(range(1, 151)) and events["event_id"].is_unique
    for writer in [f"thread{t}" for t in range(threads)] + [f"process{p}" for p in range(processes)]:
        mine = events[events["user"] == writer].sort_values("seq")
        assert [ids[0] for ids in mine["ids"]] == [str(n) for n in range(per_writer)]  # each writer's own order
    assert verify_trail(trail) == []


# --- the page ---------------------------------------------------------------------------------------------

@pytest.fixture
def demo_store(tmp_path, monkeypatch) -> Path:
    path = build_store(tmp_path / "demo.duckdb",
                       tables(cases=[case("C1")], victims=[victim("V1")],
                              entitlements=[ent("E1", "r4_referral_to_support_service", "2025-03-03", "2025-03-04")]),
                       data_as_of=date(2025, 3, 31), is_demo=True, source="test")
    monkeypatch.setenv("VCD_STORE", str(path))
    return path


@pytest.fixture
def navigation_titles(monkeypatch) -> list[list[str]]:
    """The page titles handed to st.navigation, run by run."""
    seen, real = [], st.navigation

    def spy(pages, *args, **kwargs):
        seen.append([p.title for p in pages])
        return real(pages, *args, **kwargs)

    monkeypatch.setattr(st, "navigation", spy)
    return seen


def run_as(role: str, script: str = "app.py") -> AppTest:
    at = AppTest.from_file(str(APP_DIR / script), default_timeout=120)
    at.session_state["vcd_demo_role"] = role
    at.run()
    return at


def test_admin_sees_the_trail_with_free_text_as_text_and_the_view_is_recorded(demo_store, navigation_titles):
    trail = audit.default_audit_path(demo_store)
    record(trail, user="vsm@force.example", role="victim_services", action="download", page="keeping_informed",
           ids=["V1", "V2"], row_count=2, detail={"note": "<script>alert(1)</script> ![x](https://example.com/x)"})
    at = run_as("admin")
    assert "Audit trail" in navigation_titles[-1]
    at.switch_page("pages/audit_trail.py").run()
    assert not at.exception and not at.error
    assert at.success[0].value.startswith("**Chain check: intact.**")
    shown = at.dataframe[0].value
    assert list(shown["User"]) == ["vsm@force.example"] and list(shown["s.62 category"]) == ["disclosure"]
    assert list(shown["Ids"]) == ["V1, V2"]
    assert list(shown["Detail"]) == ['{"note": "<script>alert(1)</script> ![x](https://example.com/x)"}']
    views = read_events(trail, role="admin", action="view_audit")
    assert len(views) == 1
    view = views.iloc[0]
    today = datetime.now(UTC).date()
    assert (view["user"], view["role"], view["page"], view["row_count"]) == ("demo user (admin)", "admin",
                                                                              "audit_trail", 1)
    assert view["filters"] == {"from": str(today - timedelta(days=30)), "to": str(today), "user": None,
                               "action": None, "limit": 1000}
    assert view["ids"] == list(read_events(trail, role="admin", action="download")["event_id"])


def test_the_page_shows_a_broken_chain(demo_store):
    trail = audit.default_audit_path(demo_store)
    for n in range(2):
        record(trail, user=f"u{n}", role="victim_services", action="drill_down")
    tamper(trail, "UPDATE events SET user = 'nobody' WHERE seq = 1")
    at = run_as("admin")
    at.switch_page("pages/audit_trail.py").run()
    assert "Event 1 was changed after it was written" in at.error[0].value
    assert at.dataframe  # the events are still shown, so the admin can see what is there


def test_when_the_view_cannot_be_recorded_the_trail_is_not_shown(demo_store):
    trail = audit.default_audit_path(demo_store)
    trail.write_bytes(b"not an audit trail" * 300)
    at = run_as("admin")
    at.switch_page("pages/audit_trail.py").run()
    assert not at.exception and not at.dataframe
    assert at.error[0].value == (f"The audit trail {trail} could not be read: the file is damaged or is not an "
                                 "audit trail. So the trail is not shown.")


@pytest.mark.parametrize("role", ["board", "action_group", "victim_services"])
def test_other_roles_do_not_get_the_page_in_navigation_or_directly(demo_store, navigation_titles, role):
    trail = audit.default_audit_path(demo_store)
    record(trail, user="u", role="admin", action="import")
    before = sha256(trail)
    at = run_as(role)
    assert "Audit trail" not in navigation_titles[-1]
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("pages/audit_trail.py")
    assert not access.may_view(role, "audit_trail")
    # a direct link to the page, as the very first request
    at = run_as(role, "pages/audit_trail.py")
    assert not at.exception
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.dataframe and not at.success
    assert sha256(trail) == before  # nothing read into view, nothing recorded


def test_writers_racing_to_create_a_new_trail_are_all_recorded(tmp_path):
    # The first records into a new trail: one writer creates it while the others look at the file and switch it to
    # WAL. A file caught between two looks seemed neither blank nor a trail (23 of 40 rounds refused a record), and
    # SQLite answers a WAL switch that meets another connection with "busy" at once (about 1 round in 40).
    for round_no in range(20):
        path = tmp_path / f"round{round_no}.sqlite"
        failures = []

        def write(name: str) -> None:
            try:
                for n in range(3):
                    record(path, user=name, role="victim_services", action="drill_down", ids=[str(n)])
            except Exception as exc:  # noqa: BLE001 - reported by the assertion below
                failures.append(exc)

        writers = [threading.Thread(target=write, args=(f"writer{w}",)) for w in range(6)]
        for writer in writers:
            writer.start()
        for writer in writers:
            writer.join()
        assert failures == [], f"round {round_no}"
        assert len(read_events(path, role="admin")) == 18
