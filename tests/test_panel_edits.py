"""The Feedback panels page's write path (data_access.panel_edits) and the importer's `expect` keyword.

The store: one case, victim and entitlement (a store needs a calendar), panel P1 held 12 Mar 2025, finding F1
(a concern on Right 4's needs assessment) and action A1 raised 12 Mar 2025, due 1 May 2025, agreed, measuring
r4_needs_assessment. Data as of 31 Mar 2025.
"""

from __future__ import annotations

import csv
import hashlib
import io
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from helpers import case, ent, tables, victim
from data_access import panel_edits as pe
from data_access.importer import import_files, journal_path
from data_access.store import build_store, open_store
from metrics.catalogue import default_catalogue

CATALOGUE = default_catalogue()
TODAY = date(2025, 4, 1)
AS_OF = date(2025, 3, 31)


def fixture_tables(is_demo: bool = False) -> dict[str, pd.DataFrame]:
    out = tables(cases=[case("C1")], victims=[victim("V1")],
                 entitlements=[ent("E1", "r4_needs_assessment", "2025-03-03", "2025-03-04")])
    out["panels"] = pd.DataFrame({"panel_id": ["P1"], "held_on": [pd.Timestamp("2025-03-12")], "title": ["March panel"],
                                  "themes": ["vawg"], "staff_attendees": [80], "staff_feedback_score": [4.5]})
    out["panel_findings"] = pd.DataFrame({"finding_id": ["F1"], "panel_id": ["P1"], "kind": ["concern"], "right_no": [4],
                                          "entitlement": ["r4_needs_assessment"], "summary": ["Needs assessments missed"]})
    out["actions"] = pd.DataFrame({
        "action_id": ["A1"], "finding_id": ["F1"], "title": ["Audit needs assessments"], "owner": ["Head of Crime"],
        "raised_on": pd.to_datetime(["2025-03-12"]), "due_on": pd.to_datetime(["2025-05-01"]), "status": ["agreed"],
        "measure": ["r4_needs_assessment"]})
    return out


@pytest.fixture
def store_path(tmp_path) -> Path:
    return build_store(tmp_path / "store.duckdb", fixture_tables(), data_as_of=AS_OF, is_demo=False, source="test")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(path: Path, table: str, row_id: str) -> dict | None:
    store = open_store(path)
    try:
        return pe.read_row(store, table, row_id)
    finally:
        store.close()


def opened(path: Path, row_id: str = "A1") -> dict:
    return stored(path, "actions", row_id)


def save(path: Path, table: str, row: dict, original: dict | None, role: str = "victim_services", user: str = "vsm"):
    return pe.save_row(path, table, row, original=original, user=user, role=role, catalogue=CATALOGUE, today=TODAY)


VALID_ACTION = {"action_id": "A9", "finding_id": "F1", "title": "Brief call handlers", "owner": "Control Room",
                "raised_on": "2025-03-12", "due_on": "2025-04-30", "status": "agreed", "completed_on": "",
                "measure": "c_initial_contact_within_standard"}
VALID_PANEL = {"panel_id": "P9", "held_on": date(2025, 9, 10), "title": "September panel",
               "themes": ["stalking_harassment", "high_harm"], "format": "hybrid", "staff_attendees": 70,
               "victims_live": 3, "victims_recorded": 0, "victims_via_support_worker": 2, "staff_feedback_score": 4.2}
VALID_FINDING = {"finding_id": "F9", "panel_id": "P1", "kind": "suggestion", "right_no": 6,
                 "entitlement": "r6_update_frequency_agreed", "summary": "Agree how often updates come."}


def problems(table: str, row: dict) -> dict[str, str]:
    return {p.field: p.reason for p in pe.validate_row(table, row, CATALOGUE, today=TODAY)}


# --- validation, field by field ------------------------------------------------------------------------

def test_valid_rows_have_no_problems():
    assert problems("actions", VALID_ACTION) == {}
    assert problems("panels", VALID_PANEL) == {}
    assert problems("panel_findings", VALID_FINDING) == {}


@pytest.mark.parametrize("changes, field, reason", [
    ({"title": "   "}, "title", "is required"),
    ({"raised_on": ""}, "raised_on", "is required"),
    ({"status": ""}, "status", "is required"),
    ({"raised_on": "12/03/2025"}, "raised_on", "is not a date written YYYY-MM-DD"),
    ({"due_on": "2025-02-30"}, "due_on", "is not a real date (for example 30 February)"),
    ({"due_on": "2125-01-01"}, "due_on", "is outside the years 1990 to 2099"),
    ({"due_on": "2025-03-11"}, "due_on", "is before Raised on: an action cannot fall due before it is raised"),
    ({"status": "finished"}, "status", "is not one of the allowed values (proposed, agreed, in_progress, done, dropped)"),
    ({"status": "done"}, "completed_on", "is required when the status is done"),
    ({"completed_on": "2025-03-20"}, "completed_on",
     "is only for an action that is done: clear it, or set the status to done"),
    ({"status": "done", "completed_on": "2025-03-01"}, "completed_on", "is before Raised on"),
    ({"status": "done", "completed_on": "2025-04-02"}, "completed_on", "is in the future"),  # today is 1 Apr 2025
    ({"measure": "r4_referal"}, "measure",
     "is not an entitlement code or a contact-log measure code of the catalogue"),
    ({"title": "=HYPERLINK(\"http://x\")"}, "title",
     "starts with =, +, -, @, a tab or a line break, which a spreadsheet could run as a formula; start it with a "
     "letter or a number"),
    ({"owner": " -Head"}, "owner",
     "starts with =, +, -, @, a tab or a line break, which a spreadsheet could run as a formula; start it with a "
     "letter or a number"),
    ({"title": "x" * 301}, "title", "is longer than 300 characters"),
    ({"title": "two\nlines"}, "title", "contains a control character (such as a tab or a line break)"),
])
def test_each_bad_action_field_is_named_with_its_reason(changes, field, reason):
    assert problems("actions", {**VALID_ACTION, **changes}) == {field: reason}


def test_several_problems_are_all_reported_in_column_order():
    found = pe.validate_row("actions", {**VALID_ACTION, "title": "", "due_on": "2025-01-01", "status": "done"},
                            CATALOGUE, today=TODAY)
    assert [(p.field, p.message) for p in found] == [
        ("title", "Title: is required"),
        ("due_on", "Due on: is before Raised on: an action cannot fall due before it is raised"),
        ("completed_on", "Completed on: is required when the status is done"),
    ]


def test_a_measure_may_be_any_catalogue_entitlement_or_a_contact_measure():
    assert problems("actions", {**VALID_ACTION, "measure": "r10_property_returned"}) == {}  # in the Code, unmeasured
    assert problems("actions", {**VALID_ACTION, "measure": "r4_referral_to_support_service"}) == {}
    assert problems("actions", {**VALID_ACTION, "measure": ""}) == {}  # optional


@pytest.mark.parametrize("changes, field, reason", [
    ({"held_on": None}, "held_on", "is required"),
    ({"themes": []}, "themes", "is required"),
    ({"themes": ["vawg", "burglary"]}, "themes",
     "must be one or more of sexual_violence_domestic_abuse, vawg, minority_communities, stalking_harassment, "
     "high_harm, other"),
    ({"themes": "vawg;vawg"}, "themes", "names a theme more than once"),
    ({"format": "online"}, "format", "is not one of the allowed values (virtual, in_person, hybrid)"),
    ({"staff_attendees": -1}, "staff_attendees", "must be 0 or more"),
    ({"victims_live": 2.5}, "victims_live", "is not a whole number"),
    ({"staff_feedback_score": 5.5}, "staff_feedback_score", "must be from 1 to 5"),
    ({"staff_feedback_score": 0.5}, "staff_feedback_score", "must be from 1 to 5"),
    ({"staff_feedback_score": "good"}, "staff_feedback_score", "is not a number (write it like 4 or 4.5)"),
])
def test_each_bad_panel_field_is_named_with_its_reason(changes, field, reason):
    assert problems("panels", {**VALID_PANEL, **changes}) == {field: reason}


@pytest.mark.parametrize("changes, field, reason", [
    ({"panel_id": ""}, "panel_id", "is required"),
    ({"kind": "complaint"}, "kind", "is not one of the allowed values (praise, concern, suggestion)"),
    ({"right_no": 13}, "right_no", "must be from 1 to 12"),
    ({"right_no": 0}, "right_no", "must be from 1 to 12"),
    ({"entitlement": "r6_made_up"}, "entitlement", "is not an entitlement code of the catalogue (docs/catalogue.md)"),
    ({"right_no": 4}, "entitlement", "belongs to Right 6, not to the Right chosen"),
    ({"summary": ""}, "summary", "is required"),
    ({"summary": "@everyone read this"}, "summary",
     "starts with =, +, -, @, a tab or a line break, which a spreadsheet could run as a formula; start it with a "
     "letter or a number"),
])
def test_each_bad_finding_field_is_named_with_its_reason(changes, field, reason):
    assert problems("panel_findings", {**VALID_FINDING, **changes}) == {field: reason}


def test_a_summary_may_run_over_several_lines():
    assert problems("panel_findings", {**VALID_FINDING, "summary": "First point.\nSecond point."}) == {}


def test_dates_and_numbers_from_widgets_and_from_the_store_compare_equal():
    # date objects, pandas timestamps and text; ints, floats and text; a list of themes and its ;-text
    widget = {**VALID_PANEL}
    from_store = {**VALID_PANEL, "held_on": pd.Timestamp("2025-09-10"), "staff_attendees": 70.0,
                  "victims_recorded": 0.0, "staff_feedback_score": 4.2, "themes": "stalking_harassment;high_harm"}
    assert pe.changed_fields("panels", from_store, widget) == []
    assert pe.changed_fields("panels", from_store, {**widget, "victims_live": 4}) == ["victims_live"]


def _csv(table: str, rows: list[dict]) -> bytes:
    names = [c for c in pe.row_texts(table, {})]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    for row in rows:
        texts = pe.row_texts(table, row)
        writer.writerow([texts[n] for n in names])
    return buffer.getvalue().encode()


BAD_ACTIONS = [{**VALID_ACTION, "action_id": f"B{i}", **changes} for i, changes in enumerate([
    {"title": ""}, {"raised_on": "2025-13-01"}, {"due_on": "2025-03-01"}, {"status": "late"},
    {"title": "+44 call"}, {"finding_id": "F404"}, {"raised_on": "1900-01-01"}, {"completed_on": "2025-02-01"},
    {"action_id": "@A"},
])]


def test_the_importer_never_rejects_what_the_form_accepts(tmp_path, store_path):
    """Every row the importer rejects is refused by the form first, on the same field (so an edit never leaves a
    committed import with a rejected row behind). Foreign keys are checked against the live store at save time."""
    report = import_files(store_path, [("actions.csv", _csv("actions", BAD_ACTIONS))], "t", reload=True)
    rejected = {r.line: set(r.column.split(",")) for r in report.files[0].rejects}
    assert report.files[0].rows_rejected == len(BAD_ACTIONS) and len(rejected) == len(BAD_ACTIONS)
    for line, row in enumerate(BAD_ACTIONS, start=2):
        form = set(problems("actions", row))
        if row["finding_id"] == "F404":
            assert rejected[line] == {"finding_id"} and form == set()  # checked inside the import lock instead
        else:
            assert rejected[line] <= form, (line, rejected[line], form)


# --- saving --------------------------------------------------------------------------------------------

def test_a_valid_edit_is_saved_and_keeps_the_data_date(store_path):
    original = opened(store_path)
    result = save(store_path, "actions", {**original, "title": "Audit monthly", "status": "done",
                                          "completed_on": date(2025, 3, 28)}, original)
    assert result.status == "saved" and result.message == "Saved action A1."
    after = opened(store_path)
    assert (after["title"], after["status"], after["completed_on"]) == ("Audit monthly", "done", "2025-03-28")
    assert after["owner"] == "Head of Crime"  # every column is written: the rest is as it was
    store = open_store(store_path)
    try:
        assert store.meta.data_as_of == AS_OF
    finally:
        store.close()


def test_a_new_row_gets_a_generated_id_and_is_saved(store_path):
    new_id = pe.new_id("actions")
    assert new_id.startswith("ACT-") and len(new_id) == 12
    result = save(store_path, "actions", {**VALID_ACTION, "action_id": new_id}, None)
    assert result.saved and stored(store_path, "actions", new_id)["title"] == "Brief call handlers"
    finding = save(store_path, "panel_findings", {**VALID_FINDING, "finding_id": "F9",
                                                  "summary": "<script>alert(1)</script>\n[link](http://x)"}, None)
    assert finding.saved
    assert stored(store_path, "panel_findings", "F9")["summary"] == "<script>alert(1)</script>\n[link](http://x)"


def test_an_invalid_row_changes_nothing(store_path):
    before = sha256(store_path)
    original = opened(store_path)
    result = save(store_path, "actions", {**original, "title": "", "due_on": "2025-01-01"}, original)
    assert result.status == "invalid"
    assert [p.message for p in result.problems] == [
        "Title: is required", "Due on: is before Raised on: an action cannot fall due before it is raised"]
    assert sha256(store_path) == before
    assert not journal_path(store_path).exists()  # the importer was never called


def test_a_parent_missing_from_the_live_store_is_refused_and_changes_nothing(store_path):
    before = sha256(store_path)
    result = save(store_path, "panel_findings", {**VALID_FINDING, "panel_id": "P404"}, None)
    assert result.status == "invalid"
    assert [p.field for p in result.problems] == ["panel_id"]
    assert "names a panel that is not in the store" in result.problems[0].reason
    assert sha256(store_path) == before


def test_the_second_of_two_edits_from_the_same_opening_is_refused_with_the_changed_fields(store_path):
    mine = opened(store_path)
    theirs = opened(store_path)
    first = save(store_path, "actions", {**theirs, "title": "Their title", "due_on": "2025-06-01"}, theirs, user="a")
    assert first.saved
    after_first = sha256(store_path)
    second = save(store_path, "actions", {**mine, "owner": "My owner"}, mine, user="b")
    assert second.status == "conflict"
    assert [(c.field, c.opened, c.stored) for c in second.conflicts] == [
        ("title", "Audit needs assessments", "Their title"), ("due_on", "2025-05-01", "2025-06-01")]
    assert "someone else changed this action after you opened it (Title, Due on)" in second.message
    assert "Their title" not in second.message  # values stay out of messages (and the import journal)
    assert sha256(store_path) == after_first
    now = opened(store_path)
    assert (now["title"], now["owner"]) == ("Their title", "Head of Crime")


def test_a_new_row_whose_id_was_taken_meanwhile_is_refused(store_path):
    before = sha256(store_path)
    result = save(store_path, "actions", {**VALID_ACTION, "action_id": "A1"}, None)
    assert result.status == "conflict" and "saved by someone else" in result.message
    assert sha256(store_path) == before


def test_saving_the_same_content_again_after_a_change_back_is_not_skipped(store_path):
    # A -> B -> A -> B: the third file is byte-identical to the first; an edit must load it anyway
    for title in ("Version B", "Audit needs assessments", "Version B"):
        original = opened(store_path)
        assert save(store_path, "actions", {**original, "title": title}, original).saved
        assert opened(store_path)["title"] == title


def test_an_unchanged_row_is_not_written(store_path):
    before = sha256(store_path)
    original = opened(store_path)
    assert save(store_path, "actions", dict(original), original).status == "unchanged"
    assert sha256(store_path) == before


@pytest.mark.parametrize("role", ["board", "action_group", "admin", "unknown"])
def test_roles_other_than_victim_services_may_not_save(store_path, role):
    before = sha256(store_path)
    with pytest.raises(PermissionError):
        save(store_path, "actions", {**VALID_ACTION}, None, role=role)
    assert sha256(store_path) == before


def test_only_panel_tables_can_be_edited(store_path):
    with pytest.raises(ValueError):
        save(store_path, "cases", {"case_id": "C9"}, None)


def test_the_demo_store_refuses_edits(tmp_path):
    path = build_store(tmp_path / "demo.duckdb", fixture_tables(), data_as_of=AS_OF, is_demo=True, source="demo")
    before = sha256(path)
    result = save(path, "actions", {**VALID_ACTION}, None)
    assert result.status == "refused" and "synthetic demo data" in result.message
    assert sha256(path) == before


# --- the importer's expect keyword ---------------------------------------------------------------------

def test_expect_refuses_an_import_with_its_message_and_nothing_changes(store_path):
    before = sha256(store_path)
    seen = []

    def expect(db: Path) -> str:
        seen.append(db)
        return "the row changed"

    report = import_files(store_path, [("actions.csv", _csv("actions", [VALID_ACTION]))], "t", expect=expect)
    assert report.status == "refused" and report.message == "the row changed"
    assert seen == [store_path] and sha256(store_path) == before


def test_expect_is_called_holding_the_import_lock(store_path):
    inner = []

    def expect(db: Path) -> None:
        inner.append(import_files(db, [("actions.csv", _csv("actions", [VALID_ACTION]))], "other"))
        return None

    report = import_files(store_path, [("actions.csv", _csv("actions", [{**VALID_ACTION, "action_id": "A8"}]))], "t",
                          expect=expect)
    assert inner[0].status == "refused" and "another import into this store is running" in inner[0].message
    assert report.status == "committed"
    assert stored(store_path, "actions", "A8") is not None and stored(store_path, "actions", "A9") is None
