"""Importing a force's exports: every rejection with its exact line, column and reason; rows read = loaded +
rejected; refusals of whole files; XLSX and Parquet; idempotency; all-or-nothing under failures and a killed
writer; the demo-store rule; the command line."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import data_access.importer as importer
from data_access.__main__ import main
from data_access.importer import TABLE_COLUMNS, import_files, list_imports, list_rejects
from data_access.schema import LOAD_ORDER, SCHEMA_VERSION, schema_ddl
from data_access.store import build_store, open_store
from helpers import case, ent, tables, victim
from metrics.catalogue import default_catalogue

ROOT = Path(__file__).resolve().parents[1]
_CAT = default_catalogue()
_MEASURED = {e.code for e in _CAT.measured_entitlements}
UNMEASURED = next(e.code for e in _CAT.entitlements if e.code not in _MEASURED)  # a catalogue code not measured

# A small, complete, valid export: every table, hand-counted.
GOOD = {
    "districts.csv": """district,command_area
Basildon,South
Chelmsford,Mid
""",
    "cases.csv": "case_id,reported_at,recorded_at,offence_group,offence_code,district,team,domestic_abuse,"
                 """hate_crime,status,outcome,closed_at
C1,2025-03-03T09:30,2025-03-03,theft,49/1,Basildon,Team A,no,false,open,,
C2,2025-03-04,,burglary,,Chelmsford,,yes,0,closed,charged,2025-05-01
C3,2025-03-05,,sexual_offences,,Colchester,Team B,,,open,,
""",
    "victims.csv": """victim_id,case_id,enhanced_category,age_band,sex,ethnicity,disability,update_frequency_days
V1,C1,,18-24,female,white,no,28
V2,C2,vulnerable,65+,male,asian,yes,
V3,C3,most_serious_crime,,,,,14
""",
    "contacts.csv": """contact_id,victim_id,contact_at,kind,channel,team
K1,V1,2025-03-03T10:00,initial_response,phone,Team A
K2,V2,2025-03-06,needs_assessment,face_to_face,
""",
    "entitlements.csv": """delivery_id,victim_id,entitlement,triggered_at,delivered_at,outcome,exception_reason,team
E1,V1,r4_referral_to_support_service,2025-03-03,2025-03-04,delivered,,
E2,V1,r7_vps_offered,2025-03-03,,not_delivered,,
E3,V2,r4_needs_assessment,2025-03-04,,not_applicable,victim could not be contacted,Team B
E4,V3,r7_vps_offered,2025-03-05,2025-03-07T16:45:10,declined,,
E5,V3,r4_referral_to_support_service,2025-03-05,,,,
""",
    "referrals.csv": """referral_id,victim_id,service,offered_at,consent,referred_at,contacted_at,engaged
R1,V1,victim_support,2025-03-03,given,2025-03-04,2025-03-06,yes
R2,V3,synergy_essex,2025-03-05,declined,,,
""",
    "surveys.csv": """response_id,case_id,survey,responded_at,overall,kept_informed,treated_fairly,aware_of_code
S1,C1,general,2025-04-01,4,3,5,true
S2,,burglary,2025-04-02,,,,
""",
    "complaints.csv": """complaint_id,case_id,received_at,right_no,acknowledged_at,closed_at,outcome
Q1,C2,2025-04-10,6,2025-04-11,,open
""",
    "panels.csv": "panel_id,held_on,title,themes,format,staff_attendees,victims_live,victims_recorded,"
                  """victims_via_support_worker,staff_feedback_score
P1,2025-05-01,Spring panel,vawg;high_harm,virtual,4,3,2,1,4.5
""",
    "panel_findings.csv": """finding_id,panel_id,kind,right_no,entitlement,summary
F1,P1,concern,7,r7_vps_offered,"Victims said they were not offered a VPS, twice."
""",
    "actions.csv": """action_id,finding_id,title,owner,raised_on,due_on,status,completed_on,measure
A1,F1,Remind officers to offer the VPS,Victim Services Manager,2025-05-02,2025-06-30,agreed,,r7_vps_offered
""",
}
GOOD_COUNTS = {"districts": 2, "cases": 3, "victims": 3, "contacts": 2, "entitlements": 5, "referrals": 2,
               "surveys": 2, "complaints": 1, "panels": 1, "panel_findings": 1, "actions": 1}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def write(folder: Path, name: str, text: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


def write_good(folder: Path, names=None) -> list[Path]:
    return [write(folder, name, GOOD[name]) for name in (names or GOOD)]


def leftovers(folder: Path, db_name: str = "store.duckdb") -> list[str]:
    """Temporary files of an import (the new store, its WAL or spill folder) or a WAL beside the store."""
    return sorted(p.name for p in folder.iterdir()
                  if p.name.startswith(f".{db_name}.importing-") or p.name == f"{db_name}.wal")


def counts(db: Path) -> dict[str, int]:
    store = open_store(db)
    try:
        return {t: int(store.query(f'SELECT count(*) AS n FROM "{t}"')["n"].iloc[0]) for t in LOAD_ORDER}
    finally:
        store.close()


def rejects_of(db: Path, report) -> list[tuple[str, int, str, str]]:
    frame = list_rejects(db, report.import_id, role="admin")
    return [(r.file_name, int(r.line), r.column_name, r.reason) for r in frame.itertuples()]


@pytest.fixture(scope="module")
def base_store(tmp_path_factory) -> Path:
    """A store holding GOOD, built once; tests import into a copy of it."""
    folder = tmp_path_factory.mktemp("base")
    report = import_files(folder / "store.duckdb", write_good(folder / "exports"), "setup")
    assert report.status == "committed", report.message
    return folder / "store.duckdb"


@pytest.fixture
def store(base_store, tmp_path) -> Path:
    path = tmp_path / "store.duckdb"
    path.write_bytes(base_store.read_bytes())
    return path


# --- a clean import ------------------------------------------------------------------------------

def test_a_clean_import_of_every_table_creates_a_store_the_dashboard_opens(tmp_path):
    db = tmp_path / "store.duckdb"
    write_good(tmp_path / "exports")
    report = import_files(db, [tmp_path / "exports"], "alice")
    assert report.status == "committed" and report.ok and report.user == "alice"
    by_table = {f.table: f for f in report.files}
    assert set(by_table) == set(GOOD_COUNTS)
    for table, n in GOOD_COUNTS.items():
        f = by_table[table]
        assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected, f.rows_inserted, f.rows_updated) == (
            "loaded", n, n, 0, n, 0), table
        assert f.counts == f"read {n} = loaded {n} + rejected 0"
    assert counts(db) == GOOD_COUNTS
    store = open_store(db)
    try:
        meta = store.meta
        assert meta.schema_version == SCHEMA_VERSION == 3 and meta.is_demo is False
        assert meta.data_as_of == date(2025, 5, 1)  # the latest event date: C2 closed on 1 May 2025
        assert (meta.first_month, meta.last_month) == (date(2025, 3, 1), date(2025, 3, 1))
        facts = store.query("SELECT delivery_id, outcome, victim_type, district, command_area, team "
                            "FROM entitlement_facts ORDER BY delivery_id")
        assert list(facts.itertuples(index=False, name=None)) == [
            ("E1", "delivered", "standard", "Basildon", "South", "Team A"),
            ("E2", "not_delivered", "standard", "Basildon", "South", "Team A"),
            ("E3", "not_applicable", "enhanced", "Chelmsford", "Mid", "Team B"),
            ("E4", "declined", "enhanced", "Colchester", "Unassigned", "Team B"),
            ("E5", "open", "enhanced", "Colchester", "Unassigned", "Team B"),
        ]
        typed = store.query("SELECT reported_at, domestic_abuse, hate_crime FROM cases ORDER BY case_id")
        assert typed["reported_at"].iloc[0] == pd.Timestamp("2025-03-03 09:30")
        assert [None if pd.isna(x) else bool(x) for x in typed["domestic_abuse"]] == [False, True, None]
        assert [None if pd.isna(x) else bool(x) for x in typed["hate_crime"]] == [False, False, None]
        delivered = store.query("SELECT delivered_at FROM entitlements WHERE delivery_id = 'E4'")["delivered_at"]
        assert delivered.iloc[0] == pd.Timestamp("2025-03-07 16:45:10")
        assert store.query("SELECT count(*) AS n FROM import_log")["n"].iloc[0] == 11
        assert store.query("SELECT count(*) AS n FROM import_rejects")["n"].iloc[0] == 0
    finally:
        store.close()
    assert leftovers(tmp_path) == []


def test_import_tables_match_the_schema():
    # The importer's column list must be the store's, column for column, with the same required ones.
    con = duckdb.connect()
    con.execute(schema_ddl())
    for table, spec in TABLE_COLUMNS.items():
        rows = con.execute("SELECT column_name, is_nullable FROM duckdb_columns() WHERE table_name = ? "
                           "ORDER BY column_index", [table]).fetchall()
        assert [r[0] for r in rows] == [col.name for col in spec], table
        assert [not r[1] for r in rows] == [col.required for col in spec], table
    con.close()


# --- every rejection, with its exact line, column and reason ------------------------------------

FORMULA = ("starts with =, +, -, @, a tab or a carriage return, which a spreadsheet could run as a formula; "
           "correct it at source")
OFFENCES = ("violence_against_the_person, sexual_offences, robbery, burglary, vehicle_offences, theft, "
            "criminal_damage_arson, drug_offences, possession_of_weapons, public_order, misc_crimes_against_society, "
            "fraud")
THEMES = "sexual_violence_domestic_abuse, vawg, minority_communities, stalking_harassment, high_harm, other"

MESSY = {
    "cases.csv": ("""case_id,reported_at,offence_group,district,status,team,domestic_abuse,recorded_at,closed_at
C10,2025-13-01,theft,Basildon,open,,,,
C11,03/03/2025,theft,Basildon,open,,,,
C12,1899-03-03,theft,Basildon,open,,,,
C13,2025-03-03,,Basildon,open,,,,
C14,2025-03-03,shoplifting,Basildon,pending,,,,
C15,2025-03-03,theft,Basildon,open,,maybe,,
C16,2025-03-03,theft,Basildon,closed,,,,2025-03-02
C17,2025-03-03,theft,Basildon,open,,,2025-03-02,
C18,2025-03-03,theft,Basildon,open,=1+1,,,
C19,2025-03-03,theft,Basildon,open,,,,
C19,2025-03-04,theft,Basildon,open,,,,
,2025-03-03,theft,Basildon,open,,,,
C20,2025-03-03,theft,Basildon,open,Team A,TRUE,2025-03-03T10:00:00,
""", 13, 2, [
        (2, "reported_at", "reported_at is not a real date or time (e.g. 30 February)"),
        (3, "reported_at", "reported_at is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"),
        (4, "reported_at", "reported_at is outside the years 1990 to 2099"),
        (5, "offence_group", "offence_group is empty, but it is required"),
        (6, "offence_group, status", f"offence_group is not one of the allowed values: {OFFENCES}; "
                                     "status is not one of the allowed values: open, closed"),
        (7, "domestic_abuse", "domestic_abuse is not true or false (yes/no and 1/0 are accepted)"),
        (8, "closed_at", "closed_at is before reported_at"),
        (9, "recorded_at", "recorded_at is before reported_at"),
        (10, "team", f"team {FORMULA}"),
        (12, "case_id", "case_id repeats the case_id on line 11 of this file; an id may appear only once in a file"),
        (13, "case_id", "case_id is empty, but it is required"),
    ]),
    "victims.csv": ("""victim_id,case_id,enhanced_category,age_band,update_frequency_days
V10,C1,,,
V11,C99,,,
V12,C1,enhanced,,
V13,C1,,,0
V14,C1,,,two
V15,C1,,,2.5
V16,C1,,17-24,
""", 7, 1, [
        (3, "case_id", "case_id names a case that is neither in the store nor in this import"),
        (4, "enhanced_category", "enhanced_category is not one of the allowed values: most_serious_crime, "
                                 "persistently_targeted, vulnerable, intimidated, discretionary"),
        (5, "update_frequency_days", "update_frequency_days must be 1 or more"),
        (6, "update_frequency_days", "update_frequency_days is not a whole number"),
        (7, "update_frequency_days", "update_frequency_days is not a whole number"),
        (8, "age_band", "age_band is not one of the allowed values: 0-17, 18-24, 25-34, 35-44, 45-54, 55-64, 65+, "
                        "unknown"),
    ]),
    "contacts.csv": ("""contact_id,victim_id,contact_at,kind,channel
K10,V1,2025-03-02,update,phone
K11,V1,2025-03-03T08:00,update,phone
K12,V1,2025-03-04,call,phone
K13,V99,2025-03-04,update,
K14,V1,2025-03-04,update,pigeon
""", 5, 1, [
        (2, "contact_at", "contact_at is before the victim's case was reported (its reported_at)"),
        (4, "kind", "kind is not one of the allowed values: initial_response, update, key_decision, "
                    "needs_assessment, vps, face_to_face_visit, other"),
        (5, "victim_id", "victim_id names a victim that is neither in the store nor in this import"),
        (6, "channel", "channel is not one of the allowed values: phone, email, letter, sms, face_to_face, video, "
                       "portal"),
    ]),
    "entitlements.csv": (f"""delivery_id,victim_id,entitlement,triggered_at,delivered_at,outcome,exception_reason
E10,V1,r4_referral_to_support_service,2025-03-03,,delivered,
E11,V1,r4_referral_to_support_service,2025-03-03,,declined,
E12,V1,r4_referral_to_support_service,2025-03-03,2025-03-04,not_delivered,
E13,V1,r4_referral_to_support_service,2025-03-03,,not_applicable,
E14,V1,r4_referral_to_support_service,2025-03-05,2025-03-04,delivered,
E15,V1,r99_made_up,2025-03-03,,,
E16,V99,r4_referral_to_support_service,2025-03-03,,,
E17,V1,r4_referral_to_support_service,,2025-03-04,finished,
E18,V1,r4_referral_to_support_service,2025-03-03,2025-03-03,delivered,
E19,V1,{UNMEASURED},2025-03-03,,,
""", 10, 1, [
        (2, "delivered_at", "delivered_at is empty, but an outcome of delivered or declined needs the date it was "
                            "delivered or offered"),
        (3, "delivered_at", "delivered_at is empty, but an outcome of delivered or declined needs the date it was "
                            "delivered or offered"),
        (4, "delivered_at", "delivered_at is given, but the outcome is not_delivered: remove the date or correct the "
                            "outcome"),
        (5, "exception_reason", "exception_reason is empty, but an outcome of not_applicable needs the reason"),
        (6, "delivered_at", "delivered_at is before triggered_at"),
        (7, "entitlement", "entitlement is not a measured entitlement code of the catalogue (see docs/catalogue.md)"),
        (8, "victim_id", "victim_id names a victim that is neither in the store nor in this import"),
        (9, "triggered_at, outcome", "triggered_at is empty, but it is required; outcome is not one of the allowed "
                                     "values: delivered, declined, not_delivered, not_applicable"),
        (11, "entitlement", "entitlement is not a measured entitlement code of the catalogue (see docs/catalogue.md)"),
    ]),
    "referrals.csv": ("""referral_id,victim_id,service,offered_at,consent,referred_at,contacted_at,engaged
R10,V1,victim_support,2025-03-05,given,2025-03-04,,
R11,V1,victim_support,2025-03-03,given,2025-03-05,2025-03-04,
R12,V1,samaritans,2025-03-03,maybe,,,
R13,V1,compass,,not_asked,,,perhaps
R14,V1,other,,given,,,1
""", 5, 1, [
        (2, "referred_at", "referred_at is before offered_at"),
        (3, "contacted_at", "contacted_at is before referred_at"),
        (4, "service, consent", "service is not one of the allowed values: victim_support, synergy_essex, compass, "
                                "other; consent is not one of the allowed values: given, declined, not_asked"),
        (5, "engaged", "engaged is not true or false (yes/no and 1/0 are accepted)"),
    ]),
    "surveys.csv": ("""response_id,case_id,survey,responded_at,overall,kept_informed,treated_fairly,aware_of_code
S10,C1,general,2025-04-01,6,0,3,
S11,C99,general,2025-04-01,,,,
S12,,general,2025-04-01,,,,
S13,,quarterly,,,,,
""", 4, 1, [
        (2, "overall, kept_informed", "overall must be between 1 and 5; kept_informed must be between 1 and 5"),
        (3, "case_id", "case_id names a case that is neither in the store nor in this import"),
        (5, "survey, responded_at", "survey is not one of the allowed values: rape, hate_crime, domestic_abuse, "
                                    "burglary, general; responded_at is empty, but it is required"),
    ]),
    "complaints.csv": ("""complaint_id,case_id,received_at,right_no,acknowledged_at,closed_at,outcome
Q10,C1,2025-04-10,13,,,
Q11,C1,2025-04-10,3,2025-04-09,2025-04-08,upheld
Q12,C1,2025-04-10,,,,lost
Q13,C1,2025-04-10,12,2025-04-10,,resolved
""", 4, 1, [
        (2, "right_no", "right_no must be between 1 and 12"),
        (3, "acknowledged_at, closed_at", "acknowledged_at is before received_at; closed_at is before received_at"),
        (4, "outcome", "outcome is not one of the allowed values: open, upheld, not_upheld, resolved, withdrawn"),
    ]),
    "panels.csv": ("""panel_id,held_on,title,themes,format,staff_attendees,staff_feedback_score
P10,2025-05-01T10:00,Panel,vawg,virtual,3,4
P11,2025-05-01,Panel,vawg; other,hybrid,-1,5.5
P12,2025-05-01,Panel,vawg;burglary,virtual,,
P13,2025-05-01T00:00,+Panel,vawg,,,
P14,2025-05-01T00:00,Panel,vawg ; other,,,3.5
""", 5, 1, [
        (2, "held_on", "held_on is a date: write YYYY-MM-DD, without a time"),
        (3, "staff_attendees, staff_feedback_score", "staff_attendees must be 0 or more; staff_feedback_score must "
                                                     "be between 1 and 5"),
        (4, "themes", f"themes must be one or more of {THEMES}, separated by ;"),
        (5, "title", f"title {FORMULA}"),
    ]),
    "panel_findings.csv": (f"""finding_id,panel_id,kind,right_no,entitlement,summary
F10,P99,concern,,,x
F11,P1,concern,,r99_made_up,x
F12,P1,praise,,{UNMEASURED},Good
F13,P1,concern,,,-dash at the start
F14,P1,concern,,,
""", 5, 1, [
        (2, "panel_id", "panel_id names a panel that is neither in the store nor in this import"),
        (3, "entitlement", "entitlement is not an entitlement code of the catalogue (see docs/catalogue.md)"),
        (5, "summary", f"summary {FORMULA}"),
        (6, "summary", "summary is empty, but it is required"),
    ]),
    "actions.csv": ("""action_id,finding_id,title,owner,raised_on,due_on,status,completed_on,measure
A10,F1,Fix,,2025-05-02,2025-05-01,agreed,,
A11,F1,Fix,,2025-05-02,,done,2025-05-01,
A12,F99,Fix,,2025-05-02,,agreed,,
A13,,@Fix,,2025-05-02,,agreed,,
A14,,Fix,,2025-05-02,,started,,
A15,,Fix,\tTeam,2025-05-02,,agreed,,
A16,,Fix,,2025-05-02,,done,2025-05-02,r7_vps_offered
""", 7, 1, [
        (2, "due_on", "due_on is before raised_on"),
        (3, "completed_on", "completed_on is before raised_on"),
        (4, "finding_id", "finding_id names a panel finding that is neither in the store nor in this import"),
        (5, "title", f"title {FORMULA}"),
        (6, "status", "status is not one of the allowed values: proposed, agreed, in_progress, done, dropped"),
        (7, "owner", f"owner {FORMULA}"),
    ]),
    "districts.csv": ("""district,command_area
Harlow,West
=cmd,West
Harlow,East
 Epping , West
""", 4, 2, [
        (3, "district", f"district {FORMULA}"),
        (4, "district", "district repeats the district on line 2 of this file; an id may appear only once in a file"),
    ]),
}


@pytest.mark.parametrize("name", list(MESSY), ids=[n.split(".")[0] for n in MESSY])
def test_each_rejection_is_kept_with_its_line_column_and_reason(store, tmp_path, name):
    text, read, loaded, expected = MESSY[name]
    table = name.split(".")[0]
    before = counts(store)
    report = import_files(store, [write(tmp_path / "in", name, text)], "tester")
    assert report.status == "committed", report.message
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (read, loaded, read - loaded)
    assert f.rows_read == f.rows_loaded + f.rows_rejected
    assert rejects_of(store, report) == [(name, line, column, reason) for line, column, reason in expected]
    assert [(r.line, r.column, r.reason) for r in f.rejects] == expected  # the report carries the same
    assert counts(store)[table] == before[table] + loaded  # new ids only: nothing in GOOD is repeated
    raw = list_rejects(store, report.import_id, role="admin")["raw_row"]
    assert all(isinstance(json.loads(r), dict) for r in raw)  # the row as exported is kept, as JSON


def test_text_is_trimmed_and_dates_with_a_midnight_time_are_dates(store, tmp_path):
    report = import_files(store, [write(tmp_path, "districts.csv", MESSY["districts.csv"][0]),
                                  write(tmp_path, "panels.csv", MESSY["panels.csv"][0])], "tester")
    assert report.status == "committed"
    s = open_store(store)
    try:
        assert set(s.query("SELECT district FROM districts")["district"]) == {"Basildon", "Chelmsford", "Harlow",
                                                                             "Epping"}
        panel = s.query("SELECT held_on, themes, staff_feedback_score FROM panels WHERE panel_id = 'P14'")
        assert panel["held_on"].iloc[0] == pd.Timestamp("2025-05-01") and panel["themes"].iloc[0] == "vawg ; other"
        assert panel["staff_feedback_score"].iloc[0] == 3.5
    finally:
        s.close()


def test_the_raw_row_of_a_reject_is_the_row_as_exported(store, tmp_path):
    text = "victim_id,case_id,notes\nV20,C99,said hello\n"
    report = import_files(store, [write(tmp_path, "victims.csv", text)], "tester")
    frame = list_rejects(store, report.import_id, role="admin")
    assert json.loads(frame["raw_row"].iloc[0]) == {"victim_id": "V20", "case_id": "C99", "notes": "said hello"}
    assert report.files[0].notes[0] == "column(s) not in the contract for victims, ignored: notes"


# --- foreign keys across the files of one import -------------------------------------------------

def test_a_victim_whose_case_is_in_the_same_import_is_accepted_and_one_whose_case_is_nowhere_is_rejected(tmp_path):
    db = tmp_path / "store.duckdb"
    files = [write(tmp_path / "in", "cases.csv", "case_id,reported_at,offence_group,district,status\n"
                                                 "C1,2025-03-03,theft,Basildon,open\n"
                                                 "C2,2025-99-99,theft,Basildon,open\n"),
             write(tmp_path / "in", "victims.csv", "victim_id,case_id\nV1,C1\nV2,C7\nV3,C2\n")]
    report = import_files(db, files, "tester")  # a new store: created by this first import
    assert report.status == "committed"
    assert [(f.table, f.counts) for f in report.files] == [
        ("cases", "read 2 = loaded 1 + rejected 1"), ("victims", "read 3 = loaded 1 + rejected 2")]
    assert rejects_of(db, report) == [
        ("cases.csv", 3, "reported_at", "reported_at is not a real date or time (e.g. 30 February)"),
        ("victims.csv", 3, "case_id", "case_id names a case that is neither in the store nor in this import"),
        ("victims.csv", 4, "case_id", "case_id names a case whose row in this import was rejected, and the store "
                                      "has no such case"),
    ]


def test_a_contact_after_its_case_closed_is_rejected_with_the_reason(tmp_path):
    db = tmp_path / "store.duckdb"
    files = [write(tmp_path / "in", "cases.csv", "case_id,reported_at,offence_group,district,status,closed_at\n"
                                                 "C1,2025-03-03,theft,Basildon,closed,2025-03-20\n"),
             write(tmp_path / "in", "victims.csv", "victim_id,case_id\nV1,C1\n"),
             # line 2: the day it closed (kept); line 3: the day after (rejected)
             write(tmp_path / "in", "contacts.csv", "contact_id,victim_id,contact_at,kind\n"
                                                    "K1,V1,2025-03-20T16:00,update\nK2,V1,2025-03-21,update\n")]
    report = import_files(db, files, "tester")
    assert report.status == "committed"
    assert [f.counts for f in report.files if f.table == "contacts"] == ["read 2 = loaded 1 + rejected 1"]
    assert rejects_of(db, report) == [
        ("contacts.csv", 3, "contact_at", "contact_at is after the victim's case was closed (its closed_at)")]


def test_a_store_with_only_districts_is_valid(tmp_path):
    db = tmp_path / "store.duckdb"
    report = import_files(db, write_good(tmp_path / "in", ["districts.csv"]), "tester")
    assert report.status == "committed"
    store = open_store(db)
    try:
        assert store.meta.data_as_of == datetime.now(timezone.utc).date()  # no dated rows: today
        assert store.query("SELECT count(*) AS n FROM districts")["n"].iloc[0] == 2
    finally:
        store.close()


# --- nothing lost: a property over messy files ---------------------------------------------------

GOOD_ROW = st.fixed_dictionaries({
    "entitlement": st.sampled_from(["r4_referral_to_support_service", "r7_vps_offered", "r4_needs_assessment"]),
    "day": st.integers(3, 20),
    "delivered_after": st.one_of(st.none(), st.integers(0, 5)),
    "team": st.sampled_from(["", "Team A", "Team, B", 'Team "C"', "Team\nD", "  Team E  ", "Équipe"]),
})
BAD_KINDS = ["bad_date", "bad_code", "formula", "unknown_victim", "missing_required", "ragged", "blank",
             "duplicate", "outcome_rule"]


@st.composite
def messy_rows(draw):
    rows = draw(st.lists(st.one_of(GOOD_ROW.map(lambda r: ("good", r)),
                                   st.tuples(st.sampled_from(BAD_KINDS), GOOD_ROW)), min_size=0, max_size=25))
    trailing_blanks = draw(st.integers(0, 2))
    return rows, trailing_blanks


def messy_csv(rows, trailing_blanks):
    """The CSV text, the ids that must load, the lines that must be rejected and the number of rows, as we write."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["delivery_id", "victim_id", "entitlement", "triggered_at", "delivered_at", "outcome", "team"])
    line, records, good_ids, bad_lines, ids_seen, last_id = 1, 0, set(), set(), set(), None
    pending_blanks = []
    for i, (kind, r) in enumerate(rows):
        delivery_id = f"D{i}"
        triggered = f"2025-03-{r['day']:02d}"
        delivered = "" if r["delivered_after"] is None else f"2025-03-{r['day'] + r['delivered_after']:02d}"
        values = [delivery_id, "V1", r["entitlement"], triggered, delivered, "", r["team"]]
        if kind == "bad_date":
            values[3] = f"2025-02-{29 + r['day'] % 3}"  # 29, 30 or 31 February 2025
        elif kind == "bad_code":
            values[2] = "r0_nothing"
        elif kind == "formula":
            values[6] = "=cmd|' /C calc'!A0"
        elif kind == "unknown_victim":
            values[1] = "V404"
        elif kind == "missing_required":
            values[0] = ""
        elif kind == "duplicate" and last_id is not None:
            values[0] = last_id
        elif kind == "duplicate":
            kind = "good"
        elif kind == "outcome_rule":
            values[5] = "delivered"
            values[4] = ""
        if kind == "blank":
            pending_blanks.append(line + 1)
            out.write("\n" if r["day"] % 2 else ",,,,,,\n")
            line += 1
            records += 1
            continue
        bad_lines.update(pending_blanks)  # blank lines followed by data are rejected lines
        pending_blanks = []
        start = line + 1
        if kind == "ragged":
            values = values + ["extra"]
        writer.writerow(values)
        records += 1
        line = start + sum(v.count("\n") for v in values)  # a quoted line break is a line of its own
        if kind == "good" and values[0] not in ids_seen:
            good_ids.add(values[0])
        else:
            bad_lines.add(start)
        if values[0] and kind != "ragged":  # a line with the wrong number of values is not read as a row: no id
            ids_seen.add(values[0])
            last_id = values[0]
    out.write("\n" * trailing_blanks)
    return out.getvalue(), good_ids, bad_lines, records - len(pending_blanks)  # trailing blank lines are not data


@settings(max_examples=25)
@given(messy_rows())
def test_nothing_is_lost_for_random_mixes_of_good_and_bad_rows(base_store, tmp_path_factory, rows_and_blanks):
    rows, trailing_blanks = rows_and_blanks
    text, good_ids, bad_lines, data_rows = messy_csv(rows, trailing_blanks)
    folder = tmp_path_factory.mktemp("prop")
    db = folder / "store.duckdb"
    db.write_bytes(base_store.read_bytes())
    report = import_files(db, [write(folder, "entitlements.csv", text)], "tester")
    assert report.status == "committed", report.message
    (f,) = report.files
    assert f.rows_read == f.rows_loaded + f.rows_rejected == data_rows
    assert f.rows_loaded == len(good_ids)
    assert {r[1] for r in rejects_of(db, report)} == bad_lines
    store = open_store(db)
    try:
        loaded = set(store.query("SELECT delivery_id FROM entitlements WHERE delivery_id LIKE 'D%'")["delivery_id"])
        teams = store.query("SELECT team FROM entitlements WHERE delivery_id LIKE 'D%'")["team"].dropna()
    finally:
        store.close()
    assert loaded == good_ids
    assert all(t == t.strip() and t for t in teams)


CELL = st.text(alphabet=st.sampled_from(list('ab ,"é\t;=-x1')), max_size=6)


@settings(max_examples=60)
@given(st.lists(st.lists(CELL, min_size=3, max_size=3), max_size=8), st.booleans())
def test_the_fast_csv_reader_and_the_csv_module_stage_the_same_rows(rows, bom):
    # pyarrow stages one-line-per-record files; the csv module everything else. On what both can read they agree.
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n" if bom else "\n").writerows([["district", "command_area", "notes"], *rows])
    data = (b"\xef\xbb\xbf" if bom else b"") + out.getvalue().encode("utf-8")
    text = importer._decode_csv("districts.csv", data)
    shape = importer._csv_shape(text)
    fast = importer._arrow_csv(data, 3, shape)
    assert fast is not None  # the fast path was taken
    slow = importer._Staged(1, "districts.csv", "districts", "csv", "", 0)
    importer._parse_csv_records(slow, text)
    assert fast.num_rows == slow.data.num_rows == shape.records

    def rows_of(table):  # a row rejected while reading keeps no values: only its line, reason and raw row count
        return [r if r["__pre"] is None else {k: r[k] for k in ("__line", "__pre", "__raw")}
                for r in table.sort_by("__line").to_pylist()]

    assert rows_of(fast) == rows_of(slow.data)


def test_quoted_line_breaks_keep_line_numbers_as_a_person_counts_them(store, tmp_path):
    text = ('contact_id,victim_id,contact_at,kind,team\n'
            'K20,V1,2025-03-04,update,"Team\nwith a\nlong name"\n'
            'K21,V1,2025-03-04,chat,x\n'
            '\n'
            'K22,V1,2025-03-04,update,"a\r\nb"\n'
            'K23,V1,2025-03-04\n')
    report = import_files(store, [write(tmp_path, "contacts.csv", text)], "tester")
    assert report.files[0].counts == "read 5 = loaded 2 + rejected 3"
    assert [(r[1], r[2]) for r in rejects_of(store, report)] == [(5, "kind"), (6, ""), (9, "")]
    reasons = [r[3] for r in rejects_of(store, report)]
    assert reasons[1] == "the line is blank"
    assert reasons[2] == ("the line has 3 values but the header has 5 columns (a value may hold an unquoted comma, "
                          "or a quote may be missing)")


# --- whole files refused -------------------------------------------------------------------------

def refused(report, name: str) -> str:
    assert report.status == "refused" and not report.ok
    (f,) = [f for f in report.files if f.name == name]
    assert f.status == "refused"
    return f.message


def test_a_bom_is_accepted(store, tmp_path):
    path = write(tmp_path, "districts.csv", b"\xef\xbb\xbfdistrict,command_area\r\nHarlow,West\r\n")
    report = import_files(store, [path], "tester")
    assert report.files[0].counts == "read 1 = loaded 1 + rejected 0"


@pytest.mark.parametrize("content, words", [
    ("district,command_area\nHarlow,West\n".encode("utf-16"), "districts.csv is saved as UTF-16 text"),
    ("district,command_area\nHarlow,West\n".encode("utf-16-le"), "districts.csv contains NUL bytes"),
    ("district,command_area\nHarlow,West\nSaint-Étienne,East\n".encode("latin-1"),
     "districts.csv is not UTF-8 text: line 3 holds bytes that are not valid UTF-8"),
    (b"", "districts.csv is empty or its first line is blank"),
    (b"district,command_area\nHarlow,\"West\n", "districts.csv could not be read as CSV: in the line(s) from line 2, "
                                              "a quoted value is never closed"),
    (b"district;command_area\nHarlow;West\n", "districts.csv: missing required column(s) district, command_area for "
                                              "table districts (the header has a single column: is the file separated "
                                              "by semicolons or tabs instead of commas?)"),
    (b"district\nHarlow\n", "districts.csv: missing required column(s) command_area for table districts; nothing "
                            "was loaded from it"),
    (b"district,command_area,District\nHarlow,West,x\n", "districts.csv: the column district appears twice"),
], ids=["utf-16", "utf-16-no-bom", "latin-1", "empty", "unclosed-quote", "semicolons", "missing-column",
        "repeated-column"])
def test_unreadable_or_incomplete_files_are_refused_whole_and_the_store_is_unchanged(store, tmp_path, content, words):
    before = sha256(store)
    good = write(tmp_path / "in", "cases.csv", "case_id,reported_at,offence_group,district,status\n"
                                               "C50,2025-03-03,theft,Basildon,open\n")
    report = import_files(store, [good, write(tmp_path / "in", "districts.csv", content)], "tester")
    assert words in refused(report, "districts.csv")
    assert report.files[0].status == "not_loaded"  # the good file waits for the bad one: all or nothing
    assert report.message.startswith("the import was refused")
    assert sha256(store) == before
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("name, words", [
    ("victim.csv", "victim.csv: the file name must be a table of the data contract (districts, cases, victims, "),
    ("cases.xls", "cases.xls: the old Excel .xls format cannot be read; save it as .xlsx or as CSV UTF-8"),
    ("cases.txt", "cases.txt: files must be CSV (.csv), Parquet (.parquet) or Excel (.xlsx)"),
    ("cases.xlsx", "cases.xlsx is not an Excel .xlsx workbook"),
    ("cases.parquet", "cases.parquet is not a Parquet file"),
])
def test_unknown_names_and_formats_are_refused(store, tmp_path, name, words):
    before = sha256(store)
    report = import_files(store, [write(tmp_path, name, "case_id\nC1\n")], "tester")
    assert refused(report, name).startswith(words)
    assert sha256(store) == before


def test_an_exe_renamed_csv_is_refused(store, tmp_path):
    report = import_files(store, [write(tmp_path, "cases.csv", b"MZ\x90\x00\x03\x00\x00\x00\x04\x00")], "tester")
    assert "contains NUL bytes" in refused(report, "cases.csv")


def test_two_files_for_one_table_are_refused(store, tmp_path):
    a = write(tmp_path / "a", "districts.csv", "district,command_area\nHarlow,West\n")
    b = write(tmp_path / "b", "Districts.CSV", "district,command_area\nEpping,West\n")
    report = import_files(store, [a, b], "tester")
    assert refused(report, "Districts.CSV").startswith("Districts.CSV: this import already has a file for table "
                                                       "districts (districts.csv)")


def test_a_folder_means_its_data_files_and_other_files_are_noted(tmp_path):
    folder = tmp_path / "exports"
    write_good(folder, ["districts.csv"])
    write(folder, "README.md", "notes")
    write(folder, ".~lock.cases.csv#", "x")
    report = import_files(tmp_path / "store.duckdb", [folder], "tester")
    assert report.status == "committed" and [f.name for f in report.files] == ["districts.csv"]
    assert report.notes == ("README.md in folder exports is not a data file; skipped",)
    empty = tmp_path / "empty"
    empty.mkdir()
    report = import_files(tmp_path / "store.duckdb", [empty, tmp_path / "nowhere.csv"], "tester")
    assert report.status == "refused"
    assert [f.message for f in report.files] == [
        f"the folder {empty} holds no data files (cases.csv, victims.parquet, ...)",
        f"{tmp_path / 'nowhere.csv'} does not exist (or is not a file or folder)"]


# --- Excel and Parquet ---------------------------------------------------------------------------

def test_xlsx_every_used_row_is_accounted_for(store, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "cases"
    sheet.append(["case_id", "reported_at", "offence_group", "district", "status", "team", "Officer name"])
    sheet.append(["C60", datetime(2025, 3, 3, 14, 5), "theft", "Basildon", "open", "Team A", "x"])  # line 2
    sheet.append([])  # line 3: blank in the middle
    sheet.append(["C61", "31/02/2025", "theft", "Basildon", "open", None, None])  # line 4: a bad date cell
    sheet.append(["C62", date(2025, 3, 4), "theft", "Basildon", "open", 7, None])  # line 5: a number as text
    sheet.append(["C63", "=TODAY()", "theft", "Basildon", "open", None, None])  # line 6: a formula date
    sheet.append(["C64", "2025-03-05", "theft", "Basildon", "open", '=HYPERLINK("http://x","y")', None])  # 7
    sheet.append([None, None, None, None, None, None, None])  # line 8: blank
    sheet.append([12345, "2025-03-06T08:00", "robbery", "Chelmsford", "closed", None, None])  # line 9
    sheet.cell(row=12, column=1).value = "   "  # whitespace after the data: not a row
    book.create_sheet("Notes").append(["not data"])
    buffer = io.BytesIO()
    book.save(buffer)
    report = import_files(store, [write(tmp_path, "cases.xlsx", buffer.getvalue())], "tester")
    (f,) = report.files
    assert f.counts == "read 8 = loaded 3 + rejected 5"
    assert rejects_of(store, report) == [
        ("cases.xlsx", 3, "", "the line is blank"),
        ("cases.xlsx", 4, "reported_at", "reported_at is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"),
        ("cases.xlsx", 6, "reported_at", "reported_at is not a date written YYYY-MM-DD or YYYY-MM-DDTHH:MM[:SS]"),
        ("cases.xlsx", 7, "team", f"team {FORMULA}"),
        ("cases.xlsx", 8, "", "the line is blank"),
    ]
    assert "only the first sheet (cases) was read; other sheets ignored: Notes" in f.notes
    assert "column(s) not in the contract for cases, ignored: Officer name" in f.notes
    s = open_store(store)
    try:
        rows = s.query("SELECT case_id, reported_at, team FROM cases WHERE case_id IN ('C60', 'C62', '12345') "
                       "ORDER BY case_id")
        assert list(rows["case_id"]) == ["12345", "C60", "C62"]
        assert list(rows["reported_at"]) == [pd.Timestamp("2025-03-06 08:00"), pd.Timestamp("2025-03-03 14:05"),
                                             pd.Timestamp("2025-03-04")]
        assert list(rows["team"].fillna("")) == ["", "Team A", "7"]
    finally:
        s.close()


def test_parquet_typed_columns_are_read_as_the_contract_text(store, tmp_path):
    table = pa.table({
        "case_id": ["C70", "C71", "C72"],
        "reported_at": pa.array([datetime(2025, 7, 3, 23, 30, tzinfo=timezone.utc), datetime(2025, 3, 3),
                                 datetime(2025, 3, 3)], pa.timestamp("us", tz="UTC")),
        "offence_group": pa.array(["theft", "shoplifting", "theft"]).dictionary_encode(),
        "district": ["Basildon", "Basildon", "Basildon"],
        "status": ["closed", "open", "open"],
        "domestic_abuse": [True, False, None],
        "closed_at": pa.array([date(2025, 7, 10), None, None], pa.date32()),
        "offence_code": pa.array([49.0, None, 3.5]),
    })
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    report = import_files(store, [write(tmp_path, "cases.parquet", buffer.getvalue())], "tester")
    assert report.files[0].counts == "read 3 = loaded 2 + rejected 1"
    assert [r[1:3] for r in rejects_of(store, report)] == [(3, "offence_group")]  # row 2 is line 3, as in a CSV
    s = open_store(store)
    try:
        rows = s.query("SELECT case_id, reported_at, domestic_abuse, closed_at, offence_code FROM cases "
                       "WHERE case_id IN ('C70', 'C72') ORDER BY case_id")
        assert rows["reported_at"].iloc[0] == pd.Timestamp("2025-07-04 00:30")  # 23:30 UTC is 00:30 in London
        assert bool(rows["domestic_abuse"].iloc[0]) is True and pd.isna(rows["domestic_abuse"].iloc[1])
        assert rows["closed_at"].iloc[0] == pd.Timestamp("2025-07-10")
        assert list(rows["offence_code"]) == ["49", "3.5"]
    finally:
        s.close()


@pytest.mark.parametrize("role", ["board", "action_group", "victim_services", ""])
def test_rejected_rows_as_exported_are_refused_to_every_role_but_admin(store, tmp_path, role):
    report = import_files(store, [write(tmp_path, "cases.csv", "case_id,reported_at,offence_group,district,status\n"
                                                                "C90,2025-03-03,shoplifting,Basildon,open\n")], "tester")
    assert report.files[0].rows_rejected == 1
    with pytest.raises(PermissionError, match="may not see rejected rows"):
        list_rejects(store, report.import_id, role=role)
    assert list(list_rejects(store, report.import_id, role="admin")["line"]) == [2]


def test_a_parquet_file_with_a_list_column_is_refused_whole_naming_why(store, tmp_path):
    table = pa.table({"case_id": ["C80"], "reported_at": ["2025-03-03"], "offence_group": ["theft"],
                      "district": ["Basildon"], "status": ["open"], "team": pa.array([["A", "B"]])})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    before = hashlib.sha256(Path(store).read_bytes()).hexdigest()
    report = import_files(store, [write(tmp_path, "cases.parquet", buffer.getvalue())], "tester")
    assert report.status == "refused"
    assert "cases.parquet has a column whose values cannot be read as text (lists or structures are not part of " \
           "the contract)" in report.files[0].message
    assert hashlib.sha256(Path(store).read_bytes()).hexdigest() == before


# --- idempotency ---------------------------------------------------------------------------------

def test_reimporting_the_same_ids_updates_them_and_never_duplicates(store, tmp_path):
    changed = GOOD["entitlements.csv"].replace("E5,V3,r4_referral_to_support_service,2025-03-05,,,,",
                                               "E5,V3,r4_referral_to_support_service,2025-03-05,2025-03-06,,,Team C")
    changed += "E6,V2,r7_vps_offered,2025-03-04,,,,\n"
    report = import_files(store, [write(tmp_path, "entitlements.csv", changed)], "tester")
    (f,) = report.files
    assert (f.rows_read, f.rows_loaded, f.rows_inserted, f.rows_updated) == (6, 6, 1, 5)
    assert counts(store)["entitlements"] == 6
    s = open_store(store)
    try:
        e5 = s.query("SELECT delivered_at, team FROM entitlements WHERE delivery_id = 'E5'")
        assert e5["delivered_at"].iloc[0] == pd.Timestamp("2025-03-06") and e5["team"].iloc[0] == "Team C"
        assert s.query("SELECT count(*) AS n FROM entitlement_facts")["n"].iloc[0] == 6
        assert s.query("SELECT count(DISTINCT import_id) AS n FROM import_log")["n"].iloc[0] == 2  # history kept
    finally:
        s.close()


def test_an_identical_file_is_reported_already_loaded_and_the_store_is_unchanged(store, tmp_path):
    before = sha256(store)
    path = write(tmp_path, "cases.csv", GOOD["cases.csv"])  # the very bytes the base store was built from
    report = import_files(store, [path], "tester")
    assert report.status == "nothing_to_do" and report.ok
    (f,) = report.files
    assert f.status == "already_loaded"
    assert f.message.startswith("already loaded: identical (same SHA-256) to the file loaded by import ")
    assert f.sha256 == hashlib.sha256(GOOD["cases.csv"].encode()).hexdigest()
    assert sha256(store) == before
    history = list_imports(store)
    assert history["import_status"].iloc[0] == "nothing_to_do"  # newest first, from the journal
    assert history["status"].iloc[0] == "already_loaded"
    # with another file, the identical one is skipped and logged as such in the store
    report = import_files(store, [path, write(tmp_path, "districts.csv", "district,command_area\nHarlow,West\n")],
                          "tester")
    assert [f.status for f in report.files] == ["already_loaded", "loaded"]
    log = list_imports(store)
    mine = log[log["import_id"] == report.import_id]
    assert list(mine["status"]) == ["already_loaded", "loaded"]
    # --reload loads it anyway, as updates
    report = import_files(store, [path], "tester", reload=True)
    assert (report.files[0].rows_loaded, report.files[0].rows_updated) == (3, 3)


def test_an_identical_file_that_had_rejects_is_loaded_again(tmp_path):
    db = tmp_path / "store.duckdb"
    victims = write(tmp_path / "in", "victims.csv", "victim_id,case_id\nV1,C1\n")
    first = import_files(db, [victims], "tester")
    assert first.files[0].counts == "read 1 = loaded 0 + rejected 1"  # its case is not there yet
    import_files(db, [write(tmp_path / "in", "cases.csv", GOOD["cases.csv"])], "tester")
    again = import_files(db, [victims], "tester")
    assert again.files[0].counts == "read 1 = loaded 1 + rejected 0"
    assert again.files[0].notes[0].startswith(f"an identical file was loaded by import {first.import_id} with 1 "
                                              "rejected row(s); loaded again")


# --- all or nothing ------------------------------------------------------------------------------

def boom(*args, **kwargs):
    raise RuntimeError("SECRET-ROW-DATA")


# Each error is made fresh when raised: an exception object kept between tests would keep its traceback, and the
# DuckDB connections in those frames, alive until the interpreter exits.
@pytest.mark.parametrize("step, error, words", [
    ("_calendar_and_as_of", lambda: RuntimeError("SECRET-ROW-DATA"), "the import failed (RuntimeError)"),
    ("_write_import_log", lambda: OSError(28, "No space left on device"), "the import failed (the disk is full)"),
    ("FACTS_SQL", None, "the import failed (a row broke a rule of the store"),
    ("_swap_into_place", lambda: duckdb.ConstraintException('Duplicate key "SECRET-ROW-DATA"'),
     "broke a rule of the store"),
    ("_store_rejects", None, "the import failed (the counts did not reconcile (rows read must equal rows loaded plus "
                             "rows rejected))"),
])
def test_a_failure_mid_import_leaves_the_live_store_byte_identical_and_no_temp_files(store, tmp_path, monkeypatch,
                                                                                      step, error, words):
    if step == "FACTS_SQL":  # a statement that breaks a constraint of the new store
        monkeypatch.setattr(importer, "FACTS_SQL", "INSERT INTO districts VALUES ('Basildon', 'again')")
    elif step == "_store_rejects":  # rejected rows go unrecorded: the counts no longer add up
        monkeypatch.setattr(importer, "_store_rejects", lambda *a, **k: None)
    else:
        def fail(*args, **kwargs):
            raise error()
        monkeypatch.setattr(importer, step, fail)
    before = sha256(store)
    report = import_files(store, [write(tmp_path / "in", "cases.csv", MESSY["cases.csv"][0])], "tester")
    assert report.status == "failed" and not report.ok
    assert words in report.message and report.message.endswith("nothing was loaded and the store was not changed")
    assert "SECRET" not in report.message
    assert [f.status for f in report.files] == ["not_loaded"]
    assert sha256(store) == before
    assert leftovers(store.parent) == []
    assert counts(store) == GOOD_COUNTS  # and it still opens
    assert list_imports(store)["import_status"].iloc[0] == "failed"  # recorded in the journal


def test_counts_that_do_not_add_up_while_reading_abort_the_import(store, tmp_path, monkeypatch):
    real = importer._csv_shape

    def one_row_too_many(text):
        shape = real(text)
        return importer.replace(shape, records=shape.records + 1)

    monkeypatch.setattr(importer, "_csv_shape", one_row_too_many)
    before = sha256(store)
    report = import_files(store, [write(tmp_path, "districts.csv", "district,command_area\nA,B\n")], "t")
    assert report.status == "failed" and "the counts did not reconcile" in report.message
    assert [(f.status, f.message) for f in report.files] == [("not_loaded", "not loaded: the import failed")]
    assert sha256(store) == before and leftovers(store.parent) == []


def test_stale_temp_files_of_a_killed_import_are_cleaned_up_by_the_next(store):
    (store.parent / ".store.duckdb.importing-20250101T000000Z-dead").write_bytes(b"half a store")
    (store.parent / ".store.duckdb.importing-20250101T000000Z-dead.wal").write_bytes(b"x")
    (store.parent / ".store.duckdb.importing-20250101T000000Z-dead.tmp").mkdir()
    report = import_files(store, [write(store.parent / "in", "districts.csv", "district,command_area\nA,B\n")], "t")
    assert report.status == "committed"
    assert report.notes == ("removed 3 temporary file(s) left by an import that did not finish",)
    assert leftovers(store.parent) == []


KILLED_CHILD = """
import sys, time
from pathlib import Path
import data_access.importer as im
point, db, marker, *files = sys.argv[1:]
real = getattr(im, point)
def hang(*args, **kwargs):
    if point != "_swap_into_place":
        real(*args, **kwargs)  # let the step write into the new store first
    Path(marker).write_text("ready")
    time.sleep(120)
setattr(im, point, hang)
im.import_files(db, [Path(f) for f in files], "killed")
"""


@pytest.mark.parametrize("point", ["_validate_and_merge", "_swap_into_place"],
                         ids=["while-merging", "before-the-swap"])
def test_a_killed_writer_leaves_the_old_store_intact_and_the_next_import_cleans_up(store, tmp_path, point):
    before = sha256(store)
    files = write_good(tmp_path / "in", ["cases.csv", "victims.csv", "entitlements.csv"])  # the last two: as before
    files[0].write_text(GOOD["cases.csv"] + "C4,2025-03-06,,theft,,Basildon,,,,open,,\n")  # one new case
    marker = tmp_path / "ready"
    child = subprocess.Popen([sys.executable, "-c", KILLED_CHILD, point, str(store), str(marker), *map(str, files)],
                             cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "the import never reached the point to kill it at"
            time.sleep(0.05)
        stale = [p.name for p in store.parent.iterdir() if p.name.startswith(".store.duckdb.importing-")]
        assert stale  # a half-built (or fully built, not yet swapped) store exists beside the live one
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stderr.close()
    assert sha256(store) == before
    assert counts(store) == GOOD_COUNTS  # still readable, with the old data
    report = import_files(store, files, "next")
    assert report.status == "committed"
    assert report.notes[0].startswith("removed ") and report.notes[0].endswith(
        "temporary file(s) left by an import that did not finish")
    assert counts(store)["cases"] == 4
    assert leftovers(store.parent) == []


def test_only_one_import_at_a_time(store, tmp_path):
    before = sha256(store)
    with importer._Lock(store):
        report = import_files(store, [write(tmp_path, "districts.csv", "district,command_area\nA,B\n")], "t")
    assert report.status == "refused"
    assert report.message == "another import into this store is running; try again when it has finished"
    assert sha256(store) == before


def test_a_store_with_unfinished_writes_is_not_imported_into(store, tmp_path):
    (store.parent / "store.duckdb.wal").write_bytes(b"")
    report = import_files(store, [write(tmp_path, "districts.csv", "district,command_area\nA,B\n")], "t")
    assert report.status == "refused" and "unfinished writes" in report.message


def test_a_version_1_store_is_carried_across_and_upgraded(tmp_path):
    db = build_store(tmp_path / "store.duckdb", tables(cases=[case("C1")], victims=[victim("V1", "C1")],
                                                       entitlements=[ent("E1", "r7_vps_offered", "2025-03-03")]),
                     data_as_of=date(2025, 3, 31), is_demo=False, source="v1")
    con = duckdb.connect(str(db))
    con.execute("DROP TABLE import_rejects; DROP TABLE import_log; "
                "UPDATE store_meta SET value = '1' WHERE key = 'schema_version'")
    con.close()
    report = import_files(db, [write(tmp_path / "in", "victims.csv", "victim_id,case_id\nV2,C1\n")], "t")
    assert report.status == "committed"
    assert "the store's layout was upgraded from version 1 to 3" in report.notes
    assert counts(db)["victims"] == 2 and counts(db)["entitlements"] == 1


def test_tables_and_metadata_the_importer_does_not_know_are_carried_across(store, tmp_path, monkeypatch):
    # e.g. a retention log added to the schema later: a rebuild by import must not lose it
    con = duckdb.connect(str(store))
    con.execute("CREATE TABLE purge_log (purged_at DATE, cases INTEGER); INSERT INTO purge_log VALUES "
                "('2025-01-31', 12); INSERT INTO store_meta VALUES ('retention_reviewed', '2025-01-31')")
    con.close()
    monkeypatch.setattr(importer, "schema_ddl",
                        lambda: schema_ddl() + "CREATE TABLE purge_log (purged_at DATE, cases INTEGER);")
    report = import_files(store, [write(tmp_path, "districts.csv", "district,command_area\nA,B\n")], "t")
    assert report.status == "committed"
    s = open_store(store)
    try:
        assert s.query("SELECT cases FROM purge_log")["cases"].tolist() == [12]
        assert s.query("SELECT value FROM store_meta WHERE key = 'retention_reviewed'")["value"].tolist() == [
            "2025-01-31"]
    finally:
        s.close()


# --- the demo store ------------------------------------------------------------------------------

@pytest.fixture
def demo_store(tmp_path) -> Path:
    return build_store(tmp_path / "store.duckdb", tables(cases=[case("D1")], victims=[victim("DV1", "D1")],
                                                         entitlements=[ent("DE1", "r7_vps_offered", "2025-03-03",
                                                                           victim_id="DV1")]),
                       data_as_of=date(2025, 3, 31), is_demo=True, source="demo seed=7")


def test_importing_into_the_demo_store_is_refused(demo_store, tmp_path):
    before = sha256(demo_store)
    report = import_files(demo_store, write_good(tmp_path / "in", ["cases.csv"]), "tester")
    assert report.status == "refused"
    assert report.message.startswith(f"{demo_store} holds the synthetic demo data")
    assert [(f.name, f.status, f.message) for f in report.files] == [
        ("cases.csv", "not_loaded", "not loaded: the import was refused")]
    assert "--replace-demo" in report.message
    assert sha256(demo_store) == before


def test_replace_demo_starts_a_new_store_from_the_files(demo_store, tmp_path):
    report = import_files(demo_store, write_good(tmp_path / "in", ["cases.csv"]), "tester", replace_demo=True)
    assert report.status == "committed"
    assert "the demo data was discarded: the new store holds only imported data" in report.notes
    s = open_store(demo_store)
    try:
        assert s.meta.is_demo is False
        assert list(s.query("SELECT case_id FROM cases ORDER BY case_id")["case_id"]) == ["C1", "C2", "C3"]
        assert s.query("SELECT count(*) AS n FROM districts")["n"].iloc[0] == 0  # nothing of the demo is left
    finally:
        s.close()


# --- the command line ----------------------------------------------------------------------------

def test_cli_prints_per_file_counts_and_exits_0_even_with_rejected_rows(store, tmp_path, capsys):
    path = write(tmp_path / "in", "victims.csv", MESSY["victims.csv"][0])
    code = main(["import", "--db", str(store), "--user", "vsm", str(path)])
    out, err = capsys.readouterr()
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].startswith("Import ") and lines[0].endswith(f"into {store} by vsm: committed")
    assert lines[1] == "  victims.csv -> victims: read 7 = loaded 1 + rejected 6 (1 new, 0 updated)"
    assert lines[2] == "      line 3, case_id: case_id names a case that is neither in the store nor in this import"
    assert lines[-1] == "imported 1 file(s); 6 row(s) rejected: see the rejects"


def test_cli_refusal_exits_1_with_a_clear_message_and_no_traceback(store, tmp_path, capsys):
    before = sha256(store)
    path = write(tmp_path, "cases.csv", "Case Ref;Reported\nSECRET-VALUE;2025-03-03\n")
    code = main(["import", "--db", str(store), str(path)])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert "cases.csv -> cases: REFUSED: cases.csv: missing required column(s) case_id, reported_at" in err
    assert err.rstrip().endswith("error: the import was refused because of the refused file(s); nothing was loaded "
                                 "and the store was not changed")
    assert "Traceback" not in err and "SECRET-VALUE" not in err
    assert sha256(store) == before


def test_cli_failure_exits_3_and_bad_arguments_exit_2(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(importer, "_write_import_log", boom)
    path = write(tmp_path, "districts.csv", "district,command_area\nA,B\n")
    assert main(["import", "--db", str(store), str(path)]) == 3
    err = capsys.readouterr().err
    assert "error: the import failed (RuntimeError)" in err and "SECRET" not in err and "Traceback" not in err
    with pytest.raises(SystemExit) as exited:
        main(["import", "--db", str(store), "--as-of", "31/03/2025", str(path)])
    assert exited.value.code == 2


def test_cli_demo_store_needs_replace_demo(demo_store, tmp_path, capsys):
    path = write_good(tmp_path / "in", ["districts.csv"])[0]
    assert main(["import", "--db", str(demo_store), str(path)]) == 1
    assert "holds the synthetic demo data" in capsys.readouterr().err
    assert main(["import", "--db", str(demo_store), "--replace-demo", "--as-of", "2025-03-31", str(path)]) == 0
    s = open_store(demo_store)
    try:
        assert s.meta.data_as_of == date(2025, 3, 31) and s.meta.is_demo is False
    finally:
        s.close()


def test_no_row_data_reaches_messages_or_the_terminal(store, tmp_path, capsys):
    secret = "SECRET-NAME-Jane"
    text = (f"victim_id,case_id,age_band\nV30,C1,{secret}\nV31,{secret},18-24\n{secret},C99,\n"
            f"V32,C1,=\"{secret}\"\n")
    path = write(tmp_path, "victims.csv", text)
    assert main(["import", "--db", str(store), str(path)]) == 0
    out, err = capsys.readouterr()
    assert secret not in out + err
    history = list_imports(store)
    assert not history.astype(str).apply(lambda col: col.str.contains(secret)).any().any()
    assert list_rejects(store, history["import_id"].iloc[0], role="admin")["raw_row"].str.contains(secret).sum() == 4


def test_cli_import_is_recorded_in_the_audit_trail_before_and_after(store, tmp_path, capsys):
    from data_access.audit import default_audit_path, read_events

    path = write(tmp_path / "in", "victims.csv", MESSY["victims.csv"][0])
    assert main(["import", "--db", str(store), "--user", "vsm", str(path)]) == 0
    events = read_events(default_audit_path(store), role="admin")
    assert list(events["action"]) == ["import", "import"] and set(events["user"]) == {"vsm"}
    after, before = events.iloc[0], events.iloc[1]  # newest first
    assert before["detail"] == {"via": "command line", "paths": [str(path)]}
    assert after["row_count"] == 1  # 7 read = 1 loaded + 6 rejected, as the import reported
    assert after["detail"]["files"][0]["rejected"] == 6 and after["detail"]["status"] == "committed"


def test_cli_import_does_not_run_when_the_audit_trail_cannot_be_written(store, tmp_path, capsys):
    from data_access.audit import default_audit_path

    default_audit_path(store).mkdir()  # a folder where the trail's file should be: SQLite cannot open it
    before = hashlib.sha256(store.read_bytes()).hexdigest()
    path = write(tmp_path / "in", "victims.csv", MESSY["victims.csv"][0])
    assert main(["import", "--db", str(store), "--user", "vsm", str(path)]) == 1
    assert "could not record this import, so nothing was imported" in capsys.readouterr().err
    assert hashlib.sha256(store.read_bytes()).hexdigest() == before
