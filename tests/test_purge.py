"""Retention purge: nothing of a purged case is left in any table (rejected import rows included), surviving
cases and the dashboard's figures for them are untouched, the erasure is logged as counts only and audited
first, and a dry run, a bad date or a failure changes nothing."""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import duckdb
import pytest

import data_access.purge as purge_module
from data_access import audit
from data_access.__main__ import main
from data_access.importer import import_files
from data_access.purge import purge_closed_cases
from data_access.schema import LOAD_ORDER, SCHEMA_VERSION
from data_access.store import build_store, open_store
from helpers import case, counts_of, ent, period, run_counts, tables, victim

CUT_OFF = date(2025, 6, 1)

# The purged cases are all in Colchester and the surviving ones in Basildon and Chelmsford, so the dashboard's
# figures for the surviving districts can be compared before and after. Ids starting P are erased by the purge,
# K are kept; R.. and ZC1 are rows the importer rejects.
EXPORT = {
    "districts.csv": "district,command_area\nBasildon,South\nChelmsford,Mid\nColchester,North\n",
    "cases.csv": """case_id,reported_at,offence_group,district,status,closed_at
PC1,2025-03-03,theft,Colchester,closed,2025-04-10
PC2,2025-03-10,burglary,Colchester,closed,2025-05-31T23:30
KC3,2025-03-04,theft,Basildon,closed,2025-06-01
KC4,2025-03-05,robbery,Basildon,open,
KC5,2025-03-06,theft,Chelmsford,closed,
KC6,2025-03-07,fraud,Chelmsford,open,2025-04-01
""",
    # RV8 (a victim of purged case PC1) and KV8 (of kept case KC4) are rejected: not an enhanced category.
    "victims.csv": """victim_id,case_id,enhanced_category
PV1,PC1,
PV2,PC1,vulnerable
PV3,PC2,
KV4,KC3,
KV5,KC4,intimidated
KV6,KC5,
KV7,KC6,
RV8,PC1,not_a_category
KV8,KC4,not_a_category
""",
    # RK5 (about purged victim PV2) is rejected: not a contact kind.
    "contacts.csv": """contact_id,victim_id,contact_at,kind,channel
PK1,PV1,2025-03-04,initial_response,phone
PK2,PV3,2025-03-11,needs_assessment,face_to_face
KK3,KV4,2025-03-05,initial_response,phone
KK4,KV5,2025-03-06,update,email
RK5,PV2,2025-03-04,not_a_kind,phone
""",
    # Rejected: line 9 has a value too many (so its values sit under the wrong columns), line 10 repeats the
    # id of purged entitlement PE3 with a victim id that is nowhere.
    "entitlements.csv": """delivery_id,victim_id,entitlement,triggered_at,delivered_at,outcome
PE1,PV1,r4_referral_to_support_service,2025-03-03,2025-03-04,delivered
PE2,PV2,r7_vps_offered,2025-03-03,,not_delivered
PE3,PV3,r4_referral_to_support_service,2025-03-10,2025-03-20,delivered
KE4,KV4,r4_referral_to_support_service,2025-03-04,2025-03-05,delivered
KE5,KV5,r7_vps_offered,2025-03-05,,not_delivered
KE6,KV6,r4_referral_to_support_service,2025-03-06,2025-03-07,delivered
KE7,KV7,r7_vps_offered,2025-03-07,2025-03-08,declined
RE8,PV3,r7_vps_offered,2025-03-10,,,extra
PE3,XV9,r7_vps_offered,2025-03-10,,
""",
    "referrals.csv": "referral_id,victim_id,service,consent\nPR1,PV2,victim_support,given\n"
                     "KR2,KV5,victim_support,declined\n",
    "surveys.csv": """response_id,case_id,survey,responded_at,overall
PS1,PC1,general,2025-04-20,4
KS2,KC3,general,2025-06-10,5
KS3,,burglary,2025-04-02,3
""",
    "complaints.csv": "complaint_id,case_id,received_at,right_no\nPQ1,PC2,2025-04-10,6\nKQ2,KC4,2025-04-11,5\n"
                      "KQ3,,2025-04-12,\n",
    "panels.csv": "panel_id,held_on,title,themes\nP1,2025-05-01,Spring panel,vawg\n",
    "panel_findings.csv": "finding_id,panel_id,kind,summary\nF1,P1,concern,Victims were not offered a VPS.\n",
    "actions.csv": "action_id,finding_id,title,raised_on,status\nA1,F1,Remind officers,2025-05-02,agreed\n",
}
# Imported separately, and dated (in import_log) before the cut-off: its reject links to nothing stored.
OLD_EXPORT = {"cases.csv": "case_id,reported_at,offence_group,district,status\nZC1,not-a-date,theft,Basildon,open\n"}

PURGED_IDS = ("PC1", "PC2", "PV1", "PV2", "PV3", "PK1", "PK2", "PE1", "PE2", "PE3", "PR1", "PS1", "PQ1",
              "RV8", "RK5", "RE8", "XV9", "ZC1")
# Worked by hand from EXPORT, with the cut-off 1 June 2025:
# cases: PC1 (closed 10 Apr) and PC2 (closed 31 May, 23:30: the date counts) go; KC3 closed ON the cut-off
#   day, KC4 and KC6 are open (KC6's closed_at does not make it closed), KC5 is closed with no closed_at: kept.
# victims PV1, PV2 (PC1), PV3 (PC2); contacts PK1 (PV1), PK2 (PV3); entitlements PE1, PE2, PE3; referral PR1
#   (PV2); survey PS1 (PC1); complaint PQ1 (PC2). KS3 and KQ3 have no case and stay.
# import_rejects: RV8 (names PC1), RK5 (PV2), RE8 (PV3), the repeated PE3 (an erased entitlement's id): 4 by
#   id; ZC1's, from an import dated before the cut-off: 1. KV8's (names kept KC4) stays.
ERASED = {"cases": 2, "victims": 3, "contacts": 2, "entitlements": 3, "referrals": 1, "surveys": 1,
          "complaints": 1, "import_rejects": 5}
BEFORE = {"districts": 3, "cases": 6, "victims": 7, "contacts": 4, "entitlements": 7, "referrals": 2,
          "surveys": 3, "complaints": 3, "panels": 1, "panel_findings": 1, "actions": 1, "import_rejects": 6}
AFTER = {t: n - ERASED.get(t, 0) for t, n in BEFORE.items()}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


def row_counts(db: Path) -> dict[str, int]:
    store = open_store(db)
    try:
        return {t: int(store.query(f'SELECT count(*) AS n FROM "{t}"')["n"].iloc[0]) for t in BEFORE}
    finally:
        store.close()


def all_rows(db: Path) -> dict[str, set[tuple]]:
    """Every row of every table of the contract, as text, to compare stores."""
    store = open_store(db)
    try:
        return {t: {tuple(str(v) for v in row) for row in store.query(f'SELECT * FROM "{t}"').itertuples(
                    index=False, name=None)} for t in (*LOAD_ORDER, "import_rejects")}
    finally:
        store.close()


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".importing-" in p.name or p.name.endswith(".wal"))


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("purge-base")
    db = folder / "store.duckdb"
    old = import_files(db, [write(folder / "old", OLD_EXPORT)], "setup")
    assert old.status == "committed" and old.files[0].rows_rejected == 1
    con = duckdb.connect(str(db))  # date that import before the cut-off, as if it had run in May 2025
    con.execute("UPDATE import_log SET imported_at = TIMESTAMP '2025-05-15 09:00' WHERE import_id = ?",
                [old.import_id])
    con.close()
    report = import_files(db, [write(folder / "exports", EXPORT)], "setup")
    assert report.status == "committed", report.message
    assert {f.table: f.rows_rejected for f in report.files if f.rows_rejected} == {
        "victims": 2, "contacts": 1, "entitlements": 2}
    return db


@pytest.fixture
def store(base_store, tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    path.write_bytes(base_store.read_bytes())
    return path


def purge(db: Path, **kwargs):
    kwargs.setdefault("confirm", True)
    return purge_closed_cases(db, CUT_OFF, "r.admin", **kwargs)


# --- what goes and what stays --------------------------------------------------------------------

def test_the_fixture_holds_what_the_hand_working_says(store):
    assert row_counts(store) == BEFORE


def test_a_purge_erases_the_closed_cases_with_everything_about_them(store, tmp_path):
    report = purge(store)
    assert report.status == "purged" and report.ok
    assert dict(report.counts) == ERASED and report.total == 18
    assert "1 closed case(s) have no closed_at and were kept" in " ".join(report.notes)
    assert ("rejected import rows: 4 mention an erased id; 1 were recorded by an import before the cut-off date"
            in report.notes)
    assert row_counts(store) == AFTER
    assert leftovers(store.parent) == []


def test_nothing_of_a_purged_case_remains_in_any_table_or_column(store):
    purge(store)
    con = duckdb.connect(":memory:")
    con.execute("ATTACH ? AS s (READ_ONLY)", [str(store)])
    tables_and_columns = con.execute(
        "SELECT table_name, list(column_name) FROM duckdb_columns() WHERE database_name = 's' "
        "GROUP BY table_name").fetchall()
    assert {t for t, _ in tables_and_columns} >= {*LOAD_ORDER, "import_rejects", "import_log", "erasure_log",
                                                 "entitlement_facts", "calendar", "store_meta"}
    scanned = 0
    for table, columns in tables_and_columns:
        for column in columns:
            values = [v for (v,) in con.execute(f'SELECT CAST("{column}" AS VARCHAR) FROM s."{table}"').fetchall()
                      if v is not None]
            scanned += len(values)
            for purged in PURGED_IDS:
                # whole-token match, so a kept id that merely contains the text would still be caught by eye
                hits = [v for v in values if re.search(rf"\b{purged}\b", v)]
                assert hits == [], f"{purged} is still in {table}.{column}"
    con.close()
    assert scanned > 1000  # the scan really read the store (the calendar alone has hundreds of days)


def test_the_surviving_rows_are_exactly_as_they_were(store):
    before = all_rows(store)
    purge(store)
    after = all_rows(store)
    for table, rows in before.items():
        kept = {r for r in rows if not any(re.search(rf"\b{p}\b", " ".join(r)) for p in PURGED_IDS)}
        assert after[table] == kept, table
    assert {r[0] for r in after["cases"]} == {"KC3", "KC4", "KC5", "KC6"}
    assert {r[0] for r in after["surveys"]} == {"KS2", "KS3"}
    assert {r[0] for r in after["complaints"]} == {"KQ2", "KQ3"}
    assert [r[-1] for r in after["import_rejects"]] == ['{"victim_id": "KV8", "case_id": "KC4", '
                                                        '"enhanced_category": "not_a_category"}']


def test_the_store_file_itself_no_longer_holds_the_erased_text(store):
    # The new store is written afresh, so the erased rows are not left in free blocks of the file either.
    marker = b"PC2"
    assert marker in store.read_bytes()  # DuckDB stores these short ids as plain bytes: the check can see them
    purge(store)
    data = store.read_bytes()
    assert [p for p in PURGED_IDS if p.encode() in data] == []


def test_dashboard_figures_for_surviving_cases_are_unchanged(store):
    kept = period(date(2025, 3, 1), as_of=date(2025, 6, 10), district=["Basildon", "Chelmsford"])
    everything = period(date(2025, 3, 1), as_of=date(2025, 6, 10))
    s = open_store(store)
    try:
        before_kept = run_counts(s, kept)
        before_all = run_counts(s, everything)
        meta_before = s.meta
    finally:
        s.close()
    purge(store)
    s = open_store(store)
    try:
        after_kept = run_counts(s, kept)
        after_all = run_counts(s, everything)
        meta_after = s.meta
    finally:
        s.close()
    for code in ("r4_referral_to_support_service", "r7_vps_offered"):
        assert counts_of(after_kept, code) == counts_of(before_kept, code), code
        assert counts_of(after_all, code) == counts_of(before_kept, code), code  # only the kept districts left
    # By hand: r4 was triggered for PE1 and PE3 (purged, Colchester) and KE4 and KE6 (kept), all delivered within
    # a day or ten, so 4 eligible and 4 delivered before, 2 and 2 after. r7: PE2 (purged, not delivered),
    # KE5 (not delivered) and KE7 (declined, which counts as delivered): 3 and 1 before, 2 and 1 after.
    assert (counts_of(before_all, "r4_referral_to_support_service")["eligible"],
            counts_of(before_all, "r4_referral_to_support_service")["delivered"]) == (4, 4)
    assert (counts_of(after_all, "r4_referral_to_support_service")["eligible"],
            counts_of(after_all, "r4_referral_to_support_service")["delivered"]) == (2, 2)
    assert (counts_of(before_all, "r7_vps_offered")["eligible"],
            counts_of(before_all, "r7_vps_offered")["delivered"]) == (3, 1)
    assert (counts_of(after_all, "r7_vps_offered")["eligible"],
            counts_of(after_all, "r7_vps_offered")["delivered"]) == (2, 1)
    # The extract date stays: the purge removes data, it does not make the store newer.
    assert meta_after.data_as_of == meta_before.data_as_of == date(2025, 6, 10)
    assert meta_after.schema_version == SCHEMA_VERSION == 3 and meta_after.is_demo is False
    assert meta_after.source == meta_before.source


def test_the_erasure_log_holds_counts_only_and_survives_a_later_import(store, tmp_path):
    report = purge(store)
    s = open_store(store)
    try:
        log = s.query("SELECT * FROM erasure_log ORDER BY table_name")
    finally:
        s.close()
    assert list(log.columns) == ["purge_id", "erased_at", "erased_by", "closed_before", "table_name",
                                 "rows_erased"]
    assert dict(zip(log["table_name"], log["rows_erased"])) == ERASED
    assert set(log["purge_id"]) == {report.purge_id} and set(log["erased_by"]) == {"r.admin"}
    assert {d.date() if hasattr(d, "date") else d for d in log["closed_before"]} == {CUT_OFF}
    text = log.astype(str).to_string()
    assert [p for p in PURGED_IDS if p in text] == []
    # A later import rebuilds the store and must carry the log across.
    later = import_files(store, [write(tmp_path / "later", {"districts.csv": "district,command_area\nHarlow,West\n"})],
                         "someone")
    assert later.status == "committed", later.message
    s = open_store(store)
    try:
        assert s.query("SELECT count(*) AS n FROM erasure_log")["n"].iloc[0] == len(ERASED)
    finally:
        s.close()


def test_the_purge_is_audited_with_counts_and_no_ids(store):
    report = purge(store)
    events = audit.read_events(audit.default_audit_path(store), role="admin", action="purge")
    assert len(events) == 1
    event = events.iloc[0]
    assert (event["user"], event["role"], event["category"], event["row_count"]) == ("r.admin", "admin", "erasure",
                                                                                      18)
    assert list(event["ids"]) == []
    assert event["detail"] == {"purge_id": report.purge_id, "closed_before": "2025-06-01", "rows_erased": ERASED}


def test_when_the_audit_trail_cannot_be_written_nothing_is_erased(store, tmp_path):
    before = sha256(store)
    not_a_trail = tmp_path / "trail.sqlite"
    not_a_trail.write_bytes(b"this file is not an audit trail")
    report = purge(store, audit_db=not_a_trail)
    assert report.status == "failed" and not report.ok
    assert report.message.startswith(f"The audit trail {not_a_trail} could not be written")
    assert report.message.endswith("Nothing was erased and the store was not changed")
    assert sha256(store) == before and leftovers(store.parent) == []
    assert not_a_trail.read_bytes() == b"this file is not an audit trail"


def test_a_second_purge_with_the_same_cut_off_has_nothing_to_do(store):
    purge(store)
    after_first = sha256(store)
    report = purge(store)
    assert report.status == "nothing_to_do" and report.ok and report.total == 0
    assert sha256(store) == after_first


# --- refusals and failures change nothing ---------------------------------------------------------

def test_without_confirmation_nothing_changes_and_the_counts_are_shown(store, capsys):
    before = sha256(store)
    code = main(["purge", "--db", str(store), "--closed-before", "2025-06-01", "--user", "r.admin"])
    out, err = capsys.readouterr()
    assert code == 1
    assert sha256(store) == before and leftovers(store.parent) == []
    assert "rows that would be erased, per table:" in err
    for table, n in ERASED.items():
        assert re.search(rf"^\s+{table}\s+{n}$", err, re.MULTILINE), table
    assert "run the same command with --yes" in err
    assert not audit.default_audit_path(store).exists()  # nothing happened, so nothing to audit
    assert [p for p in PURGED_IDS if p in out + err] == []


def test_the_cli_erases_with_yes_and_prints_counts_only(store, capsys):
    code = main(["purge", "--db", str(store), "--closed-before", "2025-06-01", "--user", "r.admin", "--yes"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "rows erased, per table:" in out and "erased 18 row(s) about cases closed before 2025-06-01" in out
    assert re.search(r"^\s+victims\s+3$", out, re.MULTILINE)
    assert [p for p in PURGED_IDS if p in out + err] == []
    assert row_counts(store) == AFTER


@pytest.mark.parametrize("value, words", [
    ("2025-13-01", "expected a date as YYYY-MM-DD, got '2025-13-01'"),
    ("01/06/2025", "expected a date as YYYY-MM-DD, got '01/06/2025'"),
    ("2999-01-01", "the cut-off date '2999-01-01' is after today"),
])
def test_a_bad_date_gives_a_clear_message_and_changes_nothing(store, capsys, value, words):
    before = sha256(store)
    with pytest.raises(SystemExit) as exit_:
        main(["purge", "--db", str(store), "--closed-before", value, "--yes"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "--closed-before" in err and words in err and "Traceback" not in err
    assert sha256(store) == before


def test_a_future_cut_off_is_refused_by_the_function_too(store):
    before = sha256(store)
    report = purge_closed_cases(store, date(2025, 6, 1), "r.admin", confirm=True, today=date(2025, 5, 1))
    assert report.status == "refused" and "is after today" in report.message
    assert sha256(store) == before


@pytest.mark.parametrize("step", ["_swap_into_place", "_check", "_calendar_and_as_of"])
def test_a_failure_midway_leaves_the_store_byte_identical(store, monkeypatch, step):
    before = sha256(store)

    def boom(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(purge_module, step, boom)
    report = purge(store)
    assert report.status == "failed" and "the disk is full" in report.message
    assert "nothing was erased and the store was not changed" in report.message
    assert sha256(store) == before and leftovers(store.parent) == []
    assert row_counts(store) == BEFORE


def test_a_swap_that_fails_after_the_audit_record_is_recorded_as_not_done(store, monkeypatch):
    before = sha256(store)

    def boom(*args, **kwargs):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(purge_module, "_swap_into_place", boom)
    report = purge(store)
    assert report.status == "failed" and sha256(store) == before
    events = audit.read_events(audit.default_audit_path(store), role="admin", action="purge")
    assert len(events) == 2  # newest first
    assert events.iloc[0]["detail"]["purge_id"] == events.iloc[1]["detail"]["purge_id"] == report.purge_id
    assert events.iloc[0]["detail"]["outcome"].startswith("not done") and events.iloc[0]["row_count"] == 0
    assert events.iloc[1]["row_count"] == 18


def test_a_failed_check_of_the_new_store_is_named_and_changes_nothing(store, monkeypatch):
    before = sha256(store)
    real_select = purge_module._select_erased

    def miscounted(*args, **kwargs):  # as if one more case were to go than the copy leaves out
        conditions, counts, notes = real_select(*args, **kwargs)
        return conditions, [(t, n + 1 if t == "cases" else n) for t, n in counts], notes

    monkeypatch.setattr(purge_module, "_select_erased", miscounted)
    report = purge(store)
    assert report.status == "failed"
    assert report.message == ("the purge failed (the checks of the new store did not add up); nothing was erased "
                              "and the store was not changed")
    assert sha256(store) == before and leftovers(store.parent) == []
    assert audit.read_events(audit.default_audit_path(store), role="admin").empty  # checked before the audit


def test_a_failed_purge_exits_3_without_a_traceback(store, monkeypatch, capsys):
    monkeypatch.setattr(purge_module, "_swap_into_place", lambda *a: (_ for _ in ()).throw(RuntimeError("x PC1")))
    code = main(["purge", "--db", str(store), "--closed-before", "2025-06-01", "--yes"])
    err = capsys.readouterr().err
    assert code == 3 and "error: the purge failed (RuntimeError)" in err
    assert "Traceback" not in err and "PC1" not in err


def test_a_purge_is_refused_while_an_import_runs(store):
    before = sha256(store)
    import data_access.importer as importer

    with importer._Lock(store):
        report = purge(store)
    assert report.status == "refused" and "another import into this store is running" in report.message
    assert sha256(store) == before


def test_no_store_or_not_a_store_is_refused(tmp_path):
    assert purge(tmp_path / "missing.duckdb").status == "refused"
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    report = purge(other)
    assert report.status == "refused" and "not a dashboard store" in report.message


# --- older layouts and the demo --------------------------------------------------------------------

def small_store(tmp_path: Path, *, is_demo: bool = False) -> Path:
    rows = tables(cases=[case("PC1", status="closed"), case("KC2")],
                  victims=[victim("PV1", "PC1"), victim("KV2", "KC2")],
                  entitlements=[ent("PE1", "r7_vps_offered", "2025-03-03", victim_id="PV1"),
                                ent("KE2", "r7_vps_offered", "2025-03-03", victim_id="KV2")])
    rows["cases"]["closed_at"] = [date(2025, 4, 1), None]
    return build_store(tmp_path / "store.duckdb", rows, data_as_of=date(2025, 4, 30), is_demo=is_demo,
                       source="test")


@pytest.mark.parametrize("version", [1, 2])
def test_a_store_of_an_older_layout_is_purged_and_upgraded(tmp_path, version):
    db = small_store(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE erasure_log")
    if version == 1:
        con.execute("DROP TABLE import_rejects; DROP TABLE import_log")
    con.execute("UPDATE store_meta SET value = ? WHERE key = 'schema_version'", [str(version)])
    con.close()
    report = purge(db)
    assert report.status == "purged", report.message
    assert f"the store's layout is upgraded from version {version} to 3" in report.notes
    # By hand: PC1 (closed 1 April) with its victim PV1 and entitlement PE1; nothing else refers to it.
    assert dict(report.counts) == {"cases": 1, "victims": 1, "contacts": 0, "entitlements": 1, "referrals": 0,
                                   "surveys": 0, "complaints": 0, **({"import_rejects": 0} if version == 2 else {})}
    s = open_store(db)
    try:
        assert s.meta.schema_version == 3
        assert s.query("SELECT case_id FROM cases")["case_id"].tolist() == ["KC2"]
        assert s.query("SELECT delivery_id FROM entitlement_facts")["delivery_id"].tolist() == ["KE2"]
    finally:
        s.close()


def test_an_import_still_upgrades_a_version_2_store(tmp_path):
    db = small_store(tmp_path)
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE erasure_log; UPDATE store_meta SET value = '2' WHERE key = 'schema_version'")
    con.close()
    report = import_files(db, [write(tmp_path / "in", {"victims.csv": "victim_id,case_id\nKV3,KC2\n"})], "t")
    assert report.status == "committed", report.message
    assert "the store's layout was upgraded from version 2 to 3" in report.notes
    assert row_counts_of(db, "victims", "erasure_log") == (3, 0)


def row_counts_of(db: Path, *names: str) -> tuple[int, ...]:
    s = open_store(db)
    try:
        return tuple(int(s.query(f'SELECT count(*) AS n FROM "{t}"')["n"].iloc[0]) for t in names)
    finally:
        s.close()


def test_a_demo_store_may_be_purged_and_the_report_says_it_is_synthetic(tmp_path):
    db = small_store(tmp_path, is_demo=True)
    report = purge(db)
    assert report.status == "purged"
    assert any("synthetic demo data" in note for note in report.notes)
    s = open_store(db)
    try:
        assert s.meta.is_demo is True
        assert s.query("SELECT case_id FROM cases")["case_id"].tolist() == ["KC2"]
    finally:
        s.close()
