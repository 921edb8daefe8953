"""The Feedback panels page through AppTest: the log (free text shown as text, overdue actions flagged in words),
who may edit, the editing flows (a valid edit, invalid input, the conflicting edit, a failed audit record), the
demo store's explanation, improvement tracking and panel planning.

The store (not demo data, so every test signs in), as of 30 Sep 2025:
  r4_needs_assessment, 20 instances a month (Jan 2024 to Aug 2025), each its own open case and victim:
      Jan-Dec 2024 alternately 11 and 9 delivered (.55, .45), Jan-Aug 2025 16 delivered (.8).
  Three sexual-offence cases closed 11 Aug 2025, each with a female victim and no complaint (inside both the
  default period, Sep 2024 to Aug 2025, and the board's quarter, Jul to Sep 2025).
  Panel P1 held 11 Dec 2024 (themes: VAWG, high harm); finding F1 (a concern on Right 4's needs assessment);
  A1 agreed, due 20 Sep 2025: overdue by 10 days on 30 Sep; A2 done 20 Dec 2024 on r7_vps_offered (no data);
  A3 done 1 Jan 2025 on r4_needs_assessment. Titles and the summary carry markup that must never be rendered.
"""

from __future__ import annotations

import hashlib
import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from helpers import sign_in, tables, victim
from data_access import panel_edits
from data_access.audit import default_audit_path, read_events
from data_access.store import build_store, open_store

pytestmark = pytest.mark.app
APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGE = "pages/feedback_panels.py"
AS_OF = date(2025, 9, 30)
PANEL_TITLE = "Panel <b>one</b> [link](http://example.com)"
SUMMARY = "<script>alert(1)</script> **nobody** called [link](http://example.com)"
A1_TITLE = "Audit <img src=x onerror=alert(1)> needs assessments"
MONTHS = pd.date_range("2024-01-01", "2025-08-01", freq="MS")
DELIVERED = [11, 9] * 6 + [16] * 8


def _tables() -> dict[str, pd.DataFrame]:
    cases, victims, entitlements = [], [], []
    for m, month in enumerate(MONTHS):
        day = month + pd.Timedelta(days=2)
        for k in range(20):
            vid = f"N{m:02d}{k:02d}"
            cases.append((f"C{vid}", day, "theft", "open", None))
            victims.append(victim(vid, f"C{vid}"))
            delivered = day + pd.Timedelta(days=1) if k < DELIVERED[m] else None
            entitlements.append({"delivery_id": f"E{vid}", "victim_id": vid, "entitlement": "r4_needs_assessment",
                                 "triggered_at": f"{day:%Y-%m-%d}",
                                 "delivered_at": None if delivered is None else f"{delivered:%Y-%m-%d}",
                                 "outcome": None, "exception_reason": None})
    for k in range(3):
        cases.append((f"CS{k}", pd.Timestamp("2025-01-06"), "sexual_offences", "closed", pd.Timestamp("2025-08-11")))
        victims.append(victim(f"VS{k}", f"CS{k}", sex="female", ethnicity="white"))
    out = tables(cases=[], victims=victims, entitlements=entitlements)
    out["cases"] = pd.DataFrame({"case_id": [c[0] for c in cases], "reported_at": [c[1] for c in cases],
                                 "offence_group": [c[2] for c in cases], "district": "Basildon",
                                 "status": [c[3] for c in cases], "closed_at": pd.to_datetime([c[4] for c in cases])})
    out["panels"] = pd.DataFrame({"panel_id": ["P1"], "held_on": [pd.Timestamp("2024-12-11")], "title": [PANEL_TITLE],
                                  "themes": ["vawg;high_harm"], "format": ["hybrid"], "staff_attendees": [80],
                                  "victims_live": [3], "victims_recorded": [2], "victims_via_support_worker": [1],
                                  "staff_feedback_score": [4.5]})
    out["panel_findings"] = pd.DataFrame({"finding_id": ["F1"], "panel_id": ["P1"], "kind": ["concern"], "right_no": [4],
                                          "entitlement": ["r4_needs_assessment"], "summary": [SUMMARY]})
    out["actions"] = pd.DataFrame({
        "action_id": ["A1", "A2", "A3"], "finding_id": ["F1", "F1", "F1"],
        "title": [A1_TITLE, "VPS checklist", "Monthly audit"], "owner": ["Head of Crime", "Head of Crime", "VSM"],
        "raised_on": pd.to_datetime(["2024-12-11"] * 3), "due_on": pd.to_datetime(["2025-09-20", "2025-01-31", None]),
        "status": ["agreed", "done", "done"], "completed_on": pd.to_datetime([None, "2024-12-20", "2025-01-01"]),
        "measure": ["r4_needs_assessment", "r7_vps_offered", "r4_needs_assessment"]})
    return out


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("panels_built") / "panels.duckdb"
    return build_store(path, _tables(), data_as_of=AS_OF, is_demo=False, source="feedback panels fixture")


@pytest.fixture
def store_path(built, tmp_path) -> Path:
    """A fresh copy for each test that writes (the built store is shared read-only)."""
    path = tmp_path / "panels.duckdb"
    path.write_bytes(built.read_bytes())
    return path


def open_page(monkeypatch, store: Path, role: str = "victim_services", tab: str | None = None) -> AppTest:
    sign_in(monkeypatch, role)
    monkeypatch.setenv("VCD_STORE", str(store))
    monkeypatch.delenv("VCD_TARGETS", raising=False)
    at = AppTest.from_file(APP, default_timeout=120)
    if tab is not None:
        at.query_params["panels_tab"] = tab
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    return at


def shown(markdown: str) -> str:
    """Markdown as the reader sees it: text from the store is backslash-escaped on the page."""
    return re.sub(r"\\(.)", r"\1", markdown)


def texts(at: AppTest) -> str:
    parts = [e.value for kind in ("markdown", "caption", "error", "warning", "info", "success", "text")
             for e in at.get(kind)]
    return "\n".join(shown(str(p)) for p in parts)


def markup_texts(at: AppTest) -> str:
    """Everything rendered as Markdown (st.text is shown as typed, so it is left out)."""
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "error", "warning", "info", "success")
                     for e in at.get(kind))


def frame_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if column in d.value.columns)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def stored(path: Path, table: str, row_id: str) -> dict | None:
    store = open_store(path)
    try:
        return panel_edits.read_row(store, table, row_id)
    finally:
        store.close()


def edit_events(store: Path) -> pd.DataFrame:
    events = read_events(default_audit_path(store), role="admin")
    return events[events["action"] == "edit"]


def choose(at: AppTest, table: str, choice: str) -> AppTest:
    at.selectbox(key=f"fp_edit_{table}_choice").set_value(choice).run()
    assert not at.exception
    return at


def prefix(at: AppTest) -> str:
    opened = at.session_state["fp_opened"]
    key = {"panels": "panel_id", "panel_findings": "finding_id", "actions": "action_id"}[opened["table"]]
    return f"fp_{opened['table']}_{opened['row'][key]}_{opened['revision']}"


def submit(at: AppTest, table: str) -> AppTest:
    at.button(key=f"fp_save_{table}").click().run()
    # A save ends with st.rerun(), which AppTest runs under another page hash; one more run restores the ids.
    if at.success:
        at.run()
    assert not at.exception
    return at


# --- the log ---------------------------------------------------------------------------------------------

def test_the_log_shows_free_text_as_typed_and_flags_overdue_actions_in_words(monkeypatch, built):
    at = open_page(monkeypatch, built)
    panels = frame_with(at, "Themes")
    assert panels.iloc[0]["Title"] == PANEL_TITLE
    assert panels.iloc[0]["Themes"] == "Violence against women and girls, High-harm offences"
    # victims heard: 3 live + 2 pre-recorded + 1 through a support worker = 6
    assert (panels.iloc[0]["Victims live"], panels.iloc[0]["Pre-recorded"],
            panels.iloc[0]["Through a support worker"]) == (3, 2, 1)
    assert frame_with(at, "Summary").iloc[0]["Summary"] == SUMMARY
    actions = frame_with(at, "Overdue")
    # A1 is agreed and was due 20 Sep 2025: 10 days overdue on 30 Sep; it is listed first
    assert list(actions["Action"]) == ["A1", "A2", "A3"]
    assert actions.iloc[0]["Overdue"] == "⚠ Overdue by 10 days" and actions.iloc[0]["Title"] == A1_TITLE
    assert list(actions["Overdue"].iloc[1:]) == ["", ""]
    assert "1 open action is overdue" in texts(at)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {"Panels held": "1", "Victims heard": "6", "Open actions": "1", "Overdue actions": "1"}
    rendered = markup_texts(at)
    assert "<script>" not in rendered and "[link]" not in rendered and "<img" not in rendered and "<b>" not in rendered


@pytest.mark.parametrize("role", ["board", "action_group", "admin"])
def test_only_victim_services_get_the_editing_tab(monkeypatch, built, role):
    at = open_page(monkeypatch, built, role=role, tab="Record and edit")  # a hand-made link cannot open it
    assert [t.label for t in at.tabs] == ["Panel log", "Improvement tracking", "Panel planning"]
    assert not at.get("form") and not [b for b in at.button if b.key and b.key.startswith("fp_save")]
    assert frame_with(at, "Themes").iloc[0]["Panel"] == "P1"  # the first tab is shown instead
    editor = open_page(monkeypatch, built, tab="Record and edit")
    assert [t.label for t in editor.tabs][-1] == "Record and edit" and editor.get("form")


# --- editing -------------------------------------------------------------------------------------------

def test_a_valid_edit_is_saved_and_recorded_in_the_audit_trail_first(monkeypatch, store_path):
    at = choose(open_page(monkeypatch, store_path, tab="Record and edit"), "actions", "A1")
    at.text_input(key=f"{prefix(at)}_title").input("Audit needs assessments monthly")
    at.selectbox(key=f"{prefix(at)}_status").set_value("in_progress")
    submit(at, "actions")
    row = stored(store_path, "actions", "A1")
    assert (row["title"], row["status"], row["owner"]) == ("Audit needs assessments monthly", "in_progress",
                                                           "Head of Crime")
    events = edit_events(store_path)
    requested = events[events["detail"].map(lambda d: d["stage"] == "requested")].iloc[0]
    assert requested["ids"] == ["A1"] and requested["user"] == "analyst@force.example"
    assert requested["detail"] == {"table": "actions", "new": False, "fields": ["title", "status"],
                                   "stage": "requested"}  # field names only, never the free text
    finished = events[events["detail"].map(lambda d: d["stage"] == "finished")].iloc[0]
    assert finished["detail"]["status"] == "saved" and finished["seq"] > requested["seq"]
    assert at.session_state["fp_opened"]["original"]["title"] == "Audit needs assessments monthly"  # reopened


def test_invalid_input_is_refused_field_by_field_and_nothing_is_saved(monkeypatch, store_path):
    before = sha256(store_path)
    at = open_page(monkeypatch, store_path, tab="Record and edit")  # a new action is chosen first
    new_id = at.session_state["fp_opened"]["row"]["action_id"]
    assert new_id.startswith("ACT-") and f"New action, id **{new_id}**" in texts(at)
    at.date_input(key=f"{prefix(at)}_raised_on").set_value(date(2025, 9, 1))
    at.date_input(key=f"{prefix(at)}_due_on").set_value(date(2025, 8, 1))
    at.selectbox(key=f"{prefix(at)}_status").set_value("done")
    submit(at, "actions")
    error = shown(at.error[0].value)
    assert "Not saved: 3 field(s) need correcting." in error
    assert "- Title: is required" in error
    assert "- Due on: is before Raised on: an action cannot fall due before it is raised" in error
    assert "- Completed on: is required when the status is done" in error
    assert sha256(store_path) == before and stored(store_path, "actions", new_id) is None
    assert edit_events(store_path).empty  # refused before anything was recorded or written


def test_the_second_of_two_conflicting_edits_is_refused_showing_what_changed(monkeypatch, store_path):
    first = choose(open_page(monkeypatch, store_path, tab="Record and edit"), "actions", "A1")
    second = choose(open_page(monkeypatch, store_path, tab="Record and edit"), "actions", "A1")
    first.text_input(key=f"{prefix(first)}_title").input("Their new title")
    submit(first, "actions")
    assert stored(store_path, "actions", "A1")["title"] == "Their new title"
    after_first = sha256(store_path)

    second.text_input(key=f"{prefix(second)}_owner").input("Victim Services Manager")
    submit(second, "actions")
    error = shown(second.error[0].value)
    assert "Not saved: someone else saved this action after you opened it." in error
    assert "Changed since: Title." in error
    changes = frame_with(second, "Stored now (their save)")
    assert changes.to_dict("records") == [{"Field": "Title", "When you opened it": A1_TITLE,
                                           "Stored now (their save)": "Their new title", "Your edit": A1_TITLE}]
    assert sha256(store_path) == after_first
    row = stored(store_path, "actions", "A1")
    assert (row["title"], row["owner"]) == ("Their new title", "Head of Crime")

    second.button(key="fp_reload").click().run()  # start again from the stored row
    assert second.text_input(key=f"{prefix(second)}_title").value == "Their new title"


def test_a_new_finding_with_markup_is_saved_and_shown_as_typed(monkeypatch, store_path):
    at = open_page(monkeypatch, store_path, tab="Record and edit")
    next(g for g in at.get("button_group") if g.label == "Record").set_value("panel_findings").run()
    new_id = at.session_state["fp_opened"]["row"]["finding_id"]
    at.selectbox(key=f"{prefix(at)}_panel").set_value("P1")
    at.selectbox(key=f"{prefix(at)}_kind").set_value("praise")
    typed = "Victims said <b>thanks</b> [here](javascript:alert(1)) =1+1"
    at.text_area(key=f"{prefix(at)}_summary").input(typed)
    submit(at, "panel_findings")
    assert stored(store_path, "panel_findings", new_id)["summary"] == typed
    at = open_page(monkeypatch, store_path)  # the log, in a new session
    summaries = frame_with(at, "Summary").set_index("Finding")["Summary"]
    assert summaries[new_id] == typed
    assert "<b>thanks</b>" not in markup_texts(at) and "javascript:" not in markup_texts(at)


def test_if_the_audit_trail_cannot_record_the_edit_nothing_is_saved(monkeypatch, store_path):
    from data_access import audit

    real_record = audit.record

    def record_all_but_edits(*args, action: str, **kwargs):  # the sign-in is recorded; the edit cannot be
        if action == "edit":
            raise audit.AuditError("the trail cannot be written")
        return real_record(*args, action=action, **kwargs)

    monkeypatch.setattr(audit, "record", record_all_but_edits)
    before = sha256(store_path)
    at = choose(open_page(monkeypatch, store_path, tab="Record and edit"), "actions", "A1")
    at.text_input(key=f"{prefix(at)}_title").input("Changed")
    submit(at, "actions")
    assert "could not record this change, so it was not done" in shown(at.error[0].value)
    assert sha256(store_path) == before


def test_the_demo_store_explains_that_editing_saves_into_a_real_store(monkeypatch, tmp_path):
    demo = build_store(tmp_path / "demo.duckdb", _tables(), data_as_of=AS_OF, is_demo=True, source="demo fixture")
    monkeypatch.setenv("VCD_STORE", str(demo))  # no sign-in: demo mode, as victim services
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["panels_tab"] = "Record and edit"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert "Editing saves into a real store." in texts(at) and not at.get("form")


# --- improvement tracking and planning -------------------------------------------------------------------

def test_a_completed_action_is_judged_against_its_measure_before_and_after(monkeypatch, built):
    at = open_page(monkeypatch, built, tab="Improvement tracking")
    verdicts = frame_with(at, "Verdict").set_index("Action")
    # A3, done 1 Jan 2025 on the needs assessment: before (Jan-Dec 2024) mean .5, limits .234 to .766 (MR-bar .1);
    # after (Jan-Aug 2025) .8 every month, beyond the upper limit: improved.
    assert verdicts.loc["A3", "Verdict"] == "Improved"
    assert "Special cause, higher after" in verdicts.loc["A3", "Why"]
    # A2's measure (the VPS offer) has no instances at all: too early to tell
    assert verdicts.loc["A2", "Verdict"] == "Too early to tell"
    at.selectbox(key="fp_track_action").set_value("A3").run()
    assert "**Verdict: Improved**" in [m.value for m in at.markdown]
    evidence = frame_with(at, "Months with a value")
    # before 120 of 240 (12 months), after 128 of 160 (8 months)
    assert list(evidence["n of N"]) == ["120 of 240", "128 of 160"]
    assert list(evidence["Months with a value"]) == [12, 8]
    chart = [c.proto.alt for c in at.get("plotly_chart")]
    assert len(chart) == 1 and "1 completed action marked" in chart[0]


def test_planning_counts_finalised_cases_per_theme_and_hides_small_counts_from_the_board(monkeypatch, built):
    at = open_page(monkeypatch, built, tab="Panel planning")
    themes = frame_with(at, "Cases counted").set_index("Theme")
    # the three sexual-offence cases closed 11 Aug 2025 with female victims, no complaint: SVDA and VAWG 3 each
    counted = themes["Finalised cases, no open complaint"].to_dict()
    assert counted == {"Sexual violence and domestic abuse": "3", "Violence against women and girls": "3",
                       "Victims from minority communities": "0", "Stalking and harassment": "0",
                       "High-harm offences": "0"}
    assert themes.loc["Violence against women and girls", "Last heard at a panel"] == "11 Dec 2024"
    assert themes.loc["Stalking and harassment", "Last heard at a panel"] == "never"
    board = open_page(monkeypatch, built, role="board", tab="Panel planning")
    counted = frame_with(board, "Cases counted").set_index("Theme")["Finalised cases, no open complaint"]
    assert counted["Sexual violence and domestic abuse"] == "[c]" and counted["Stalking and harassment"] == "0"


def test_the_board_sees_no_small_counts_and_no_figures_in_the_reasons(monkeypatch, built):
    at = open_page(monkeypatch, built, role="board")
    panels = frame_with(at, "Themes").iloc[0]
    # 3 live, 2 pre-recorded, 1 through a support worker: each from 1 to 9, so hidden, and no total is shown
    assert (panels["Victims live"], panels["Pre-recorded"], panels["Through a support worker"]) == ("[c]",) * 3
    assert "Victims heard" not in {m.label for m in at.metric}
    at = open_page(monkeypatch, built, role="board", tab="Improvement tracking")
    why = frame_with(at, "Verdict").set_index("Action").loc["A3", "Why"]
    assert why.startswith("Improved. A special cause after the action, above the before months' mean in Jan 2025 "
                          "to Aug 2025 (beyond a process limit")
    assert "%" not in why and not re.search(r"[0-9] of [0-9]", why)  # no rate, no count
    assert not at.get("plotly_chart") and "fp_track_action" not in [s.key for s in at.selectbox]


def test_a_new_panel_is_recorded_with_its_themes_and_counts(monkeypatch, store_path):
    at = open_page(monkeypatch, store_path, tab="Record and edit")
    next(g for g in at.get("button_group") if g.label == "Record").set_value("panels").run()
    new_id = at.session_state["fp_opened"]["row"]["panel_id"]
    assert new_id.startswith("PNL-")
    at.date_input(key=f"{prefix(at)}_held_on").set_value(date(2025, 9, 17))
    at.multiselect(key=f"{prefix(at)}_themes").set_value(["stalking_harassment", "minority_communities"])
    at.selectbox(key=f"{prefix(at)}_format").set_value("in_person")
    at.number_input(key=f"{prefix(at)}_victims_live").set_value(4)
    at.number_input(key=f"{prefix(at)}_score").set_value(4.2)
    submit(at, "panels")
    assert stored(store_path, "panels", new_id) == {
        "panel_id": new_id, "held_on": "2025-09-17", "title": "", "themes": "stalking_harassment;minority_communities",
        "format": "in_person", "staff_attendees": "", "victims_live": "4", "victims_recorded": "",
        "victims_via_support_worker": "", "staff_feedback_score": "4.2"}
