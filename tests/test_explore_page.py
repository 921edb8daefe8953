"""The Explore page in AppTest, per role: who gets the page, which of its three parts each role sees, hand-worked
figures, the audit records each look, query and download writes, and what happens when one cannot be written."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import streamlit as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from data_access import audit
from data_access.store import build_store
from helpers import ent
from test_pivot import AS_OF, REFERRAL, team_tables

pytestmark = pytest.mark.app
APP_DIR = Path(__file__).resolve().parent.parent
APP = str(APP_DIR / "app.py")
PAGE = "pages/explore.py"
HOSTILE_TEAM = "=cmd|' /C calc'!A0"


@pytest.fixture
def store(tmp_path) -> Path:
    """test_pivot's hand-worked instances as demo data (the demo mode's role switcher needs it)."""
    return build_store(tmp_path / "explore.duckdb", team_tables(), data_as_of=AS_OF, is_demo=True, source="test")


def run(monkeypatch, store: Path, role: str, *, direct: bool = False, **query) -> AppTest:
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(str(APP_DIR / PAGE) if direct else APP, default_timeout=120)
    at.session_state["vcd_demo_role"] = role
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    if not direct:
        at.switch_page(PAGE).run()
    assert not at.exception
    return at


def events(store: Path, action: str):
    return audit.read_events(audit.default_audit_path(store), role="admin", action=action)


def sections(at: AppTest) -> list[str]:
    groups = [g for g in at.get("button_group") if g.label == "Show"]
    return list(groups[0].options) if groups else []


def show(at: AppTest, section: str) -> AppTest:
    next(g for g in at.get("button_group") if g.label == "Show").set_value(section).run()
    assert not at.exception
    return at


def frame_with(at: AppTest, column: str):
    return next((df.value for df in at.dataframe if column in df.value.columns), None)


def page_text(at: AppTest) -> str:
    return "\n".join(str(e.value) for kind in ("markdown", "caption", "error", "info", "success", "warning")
                     for e in at.get(kind))


# --- who gets the page --------------------------------------------------------------------------------------

def test_board_has_no_explore_page_in_navigation_or_by_direct_address(monkeypatch, store):
    titles = []
    real_navigation = st.navigation
    monkeypatch.setattr(st, "navigation", lambda pages, *a, **k: titles.append([p.title for p in pages])
                        or real_navigation(pages, *a, **k))
    at = run(monkeypatch, store, "board", direct=True)
    assert [e.value for e in at.error] == ["You do not have access to this page."]
    assert not at.dataframe and not at.get("plotly_chart") and not at.text_area
    assert titles and all("Explore" not in listed for listed in titles)
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["vcd_demo_role"] = "board"
    at.run()
    assert "Explore" not in titles[-1] and "Board overview" in titles[-1]


@pytest.mark.parametrize("role, expected", [("action_group", []), ("victim_services", ["Pivot", "Missed or late, by team", "SQL"]),
                                            ("admin", ["Pivot", "SQL"])])
def test_each_role_sees_only_its_parts_of_the_page(monkeypatch, store, role, expected):
    at = run(monkeypatch, store, role)
    assert sections(at) == expected
    assert frame_with(at, "Delivered rate") is not None  # the pivot, for every role that gets the page
    assert not at.text_area and frame_with(at, "Delivery") is None


def test_action_group_cannot_reach_the_list_or_the_sql_box_by_forging_the_choice(monkeypatch, store):
    monkeypatch.setenv("VCD_STORE", str(store))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["vcd_demo_role"] = "action_group"
    at.session_state["explore_section"] = "follow_up"
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception
    assert frame_with(at, "Delivery") is None and not at.text_area
    assert events(store, "view_case_level").empty


# --- the pivot -------------------------------------------------------------------------------------------------

def test_the_default_pivot_has_hand_worked_rates(monkeypatch, store):
    at = run(monkeypatch, store, "action_group")
    # The default period is Feb to Mar 2025 (April has not settled by the data date, 30 Apr): E1 to E4 and E6.
    # Needs assessment E3 not delivered: 0 of 1. Referral E1, E2 delivered: 2 of 2. Arrest E4 missed: 0 of 1.
    # VPS offered: E6 not applicable only, so no rate.
    table = frame_with(at, "Delivered rate")
    assert table.index.tolist() == ["Needs assessment", "Referral to a support service",
                                    "Told of the suspect's arrest", "VPS offered"]
    shown = table["Delivered rate"].tolist()
    assert shown[:3] == [0.0, 100.0, 0.0] and shown[3] != shown[3]  # NaN: no eligible instances
    assert at.get("plotly_chart")
    assert "Delivered rate by entitlement: 4 row(s) x 1 column(s)" in "\n".join(t.value for t in at.text)


def test_pivot_choices_from_the_link_are_used_and_hostile_ones_ignored(monkeypatch, store):
    # The link names choices by their labels. Feb to Mar 2025: E3 has no team; Alpha has E1 (its case's team)
    # and E4; Bravo has E2 (E6, Alpha's, is not applicable: not eligible).
    at = run(monkeypatch, store, "action_group", pivot_rows="Team", pivot_measure="Eligible")
    assert frame_with(at, "Eligible").to_dict()["Eligible"] == {"(no team recorded)": 1, "Alpha": 2, "Bravo": 1}
    hostile = run(monkeypatch, store, "action_group", pivot_rows="victim_id); DROP TABLE cases; --",
                  pivot_measure="count(*)", pivot_columns="<script>alert(1)</script>")
    assert frame_with(hostile, "Delivered rate") is not None  # the defaults
    assert "<script>" not in page_text(hostile)


@pytest.fixture
def captured_files(monkeypatch):
    """The bytes of every file the page hands to a download button."""
    files = []
    real = MemoryMediaFileStorage.load_and_get_id

    def capture(self, path_or_data, mimetype, kind, filename=None):
        files.append((filename, path_or_data))
        return real(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", capture)
    return files


def test_a_download_is_audited_when_prepared_and_its_cells_are_neutralised(monkeypatch, tmp_path, captured_files):
    hostile = build_store(tmp_path / "hostile.duckdb",
                          team_tables([(ent("E1", REFERRAL, "2025-03-03", "2025-03-05"), HOSTILE_TEAM)]),
                          data_as_of=AS_OF, is_demo=True, source="test")
    at = run(monkeypatch, hostile, "action_group", pivot_rows="Team", pivot_measure="Eligible")
    assert frame_with(at, "Eligible").index.tolist() == [HOSTILE_TEAM]  # shown as typed, as text
    assert not at.get("download_button") and events(hostile, "download").empty  # nothing offered before asking
    at.button(key="pivot_prepare").click().run()
    assert not at.exception
    assert at.get("download_button")
    recorded = events(hostile, "download")
    assert len(recorded) == 1
    assert recorded["detail"].iloc[0]["file"] == "pivot-eligible-by-team.csv"
    assert recorded["user"].iloc[0] == "demo user (action_group)"
    name, data = captured_files[-1]
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[1][0] == "'" + HOSTILE_TEAM and rows[1][rows[0].index("Eligible")] == "1"


# --- missed or late, by team --------------------------------------------------------------------------------

def test_victim_services_sees_the_list_and_each_page_shown_is_audited(monkeypatch, store):
    at = show(run(monkeypatch, store, "victim_services"), "follow_up")
    table = frame_with(at, "Delivery")
    # Feb to Mar 2025, as of 30 Apr: E3 (no team, no timescale), E4 (Alpha, 72 days late), E2 (Bravo, 3 days late)
    assert table[["Delivery", "Victim", "Team", "Follow up"]].values.tolist() == [
        ["E3", "V2", "(no team recorded)", "not delivered"], ["E4", "V1", "Alpha", "not delivered"],
        ["E2", "V2", "Bravo", "delivered late"]]
    viewed = events(store, "view_case_level")
    assert len(viewed) == 1
    assert viewed["ids"].iloc[0] == ["E3", "E4", "E2", "V2", "V1"] and viewed["row_count"].iloc[0] == 3
    assert viewed["filters"].iloc[0]["period"] == ["2025-02", "2025-03"]
    next(s for s in at.selectbox if s.label == "Team").select("Bravo").run()
    assert frame_with(at, "Delivery")["Delivery"].tolist() == ["E2"]
    assert len(events(store, "view_case_level")) == 2  # a different page of the list: a new record
    assert events(store, "view_case_level")["ids"].iloc[0] == ["E2", "V2"]  # newest first


def test_an_audit_failure_stops_the_case_level_list(monkeypatch, store):
    audit.default_audit_path(store).mkdir()  # a folder where the trail's file should be: it cannot be written
    at = show(run(monkeypatch, store, "victim_services"), "follow_up")
    assert frame_with(at, "Delivery") is None
    assert any("audit trail could not record this list" in e.value for e in at.error)
    assert "E4" not in page_text(at)


# --- the SQL box ------------------------------------------------------------------------------------------------

def test_the_sql_box_runs_a_select_and_audits_it(monkeypatch, store):
    at = show(run(monkeypatch, store, "admin"), "sql")
    at.text_area(key="sql_text").set_value("SELECT count(*) AS n FROM entitlements").run()
    at.button(key="sql_run").click().run()
    assert not at.exception and not at.error
    assert frame_with(at, "n")["n"].tolist() == [8]
    queries = events(store, "sql_query")
    assert len(queries) == 1 and queries["row_count"].iloc[0] == 1
    assert queries["detail"].iloc[0]["sql"] == "SELECT count(*) AS n FROM entitlements"


def test_a_refused_statement_is_explained_audited_and_changes_nothing(monkeypatch, store):
    before = store.read_bytes()
    at = show(run(monkeypatch, store, "victim_services"), "sql")
    at.text_area(key="sql_text").set_value("COPY cases TO 'leak.csv'").run()
    at.button(key="sql_run").click().run()
    assert not at.exception
    assert any("only SELECT statements" in e.value for e in at.error)
    assert store.read_bytes() == before and not (Path.cwd() / "leak.csv").exists()
    assert events(store, "sql_query")["detail"].iloc[0] == {"sql": "COPY cases TO 'leak.csv'",
                                                           "outcome": "refused or failed"}


def test_sql_results_are_not_shown_when_the_query_cannot_be_audited(monkeypatch, store):
    at = show(run(monkeypatch, store, "victim_services"), "sql")
    audit.default_audit_path(store).mkdir()
    at.text_area(key="sql_text").set_value("SELECT victim_id FROM victims").run()
    at.button(key="sql_run").click().run()
    assert not at.exception
    assert frame_with(at, "victim_id") is None
    assert any("audit trail could not record" in e.value for e in at.error)


def test_case_level_download_is_audited_with_the_ids_in_the_file(monkeypatch, store, captured_files):
    at = show(run(monkeypatch, store, "victim_services"), "follow_up")
    at.button(key="follow_up_prepare").click().run()
    assert not at.exception
    downloads = events(store, "download")
    assert len(downloads) == 1 and downloads["ids"].iloc[0] == ["E3", "E4", "E2", "V2", "V1"]
    name, data = captured_files[-1]
    assert name == "missed-or-late-page-1.csv"
    assert [row[0] for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))][1:] == ["E3", "E4", "E2"]



def test_teams_compared_on_a_rate_are_drawn_as_a_funnel_plot_never_as_bars(monkeypatch, store):
    # Feb to Mar 2025, delivered rate by team: Alpha E1 delivered, E4 missed (1 of 2); Bravo E2 delivered (1 of 1);
    # no team: E3 not delivered (0 of 1). The whole selection: 2 of 4 = 50.0%.
    at = run(monkeypatch, store, "action_group", pivot_rows="Team", pivot_measure="Delivered rate")
    assert [c.key for c in at.get("plotly_chart")] == ["pivot_funnel"]
    funnel_table = frame_with(at, "95% limits")
    assert funnel_table["Team"].tolist() == ["(no team recorded)", "Alpha", "Bravo"]  # alphabetical, not ranked
    assert funnel_table["n of N"].tolist() == ["0 of 1", "1 of 2", "1 of 1"]
    assert "around the rate for the whole selection (50.0%)" in page_text(at)
    counts = run(monkeypatch, store, "action_group", pivot_rows="Team", pivot_measure="Eligible")
    assert [c.key for c in counts.get("plotly_chart")] == ["pivot_chart"]  # counts are not rates: bars
