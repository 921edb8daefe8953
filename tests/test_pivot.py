"""The Explore page's pivot and follow-up list (metrics.pivot, data_access.explore): hand-worked figures on a tiny
store, the same numbers as the compliance counts every other page shows, allow-lists enforced before any SQL is
built, hostile values bound as data, and spreadsheet-safe exports."""

from __future__ import annotations

import csv
import io
from datetime import date

import openpyxl
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from data_access.explore import missed_or_late, missed_or_late_teams, pivot_counts, team_values
from helpers import case, ent, period, run_counts, tables, victim
from metrics.catalogue import default_catalogue
from metrics.compliance import BREAKDOWNS, COUNT_COLUMNS
from metrics.filters import DIMENSIONS
from metrics.pivot import (NO_TEAM, PIVOT_DIMENSIONS, PIVOT_MEASURES, PivotSpec, csv_bytes, describe_pivot,
                           missed_or_late_sql, neutralise, pivot_sql, pivot_table, xlsx_bytes)

CATALOGUE = default_catalogue()
AS_OF = date(2025, 4, 30)
FEB, MAR, APR = date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)
REFERRAL, NEEDS, ARRESTED, VPS = ("r4_referral_to_support_service", "r4_needs_assessment", "r6_suspect_arrested",
                                  "r7_vps_offered")

# Working days: weekends only in Feb and Mar 2025; in April, Good Friday 18 and Easter Monday 21 are bank holidays
# (not used below). V1 is a standard victim of case C1 in Basildon (South; the case's team is Alpha); V2 is an
# enhanced (vulnerable) victim of case C2 in Colchester (North; the case has no team). An instance's team is its
# own, else its case's.
#   E1 referral (2 wd)    V1 trig Mon 3 Mar, delivered Wed 5 Mar; due Wed 5 -> on time        team Alpha (case)
#   E2 referral (2 wd)    V2 trig Wed 5 Mar, delivered Mon 10 Mar; due Fri 7 -> late, 3 days  team Bravo
#   E3 needs assessment   V2 trig Tue 4 Mar, nothing (no timescale) -> not delivered        no team at all
#   E4 arrested (std 5)   V1 trig Mon 10 Feb, nothing; due Mon 17 Feb -> not delivered,     team Alpha
#                         72 days late by 30 Apr (17 Feb -> 17 Mar 28 days, -> 17 Apr 31, -> 30 Apr 13)
#   E5 arrested (enh 1)   V2 trig Mon 28 Apr, nothing; due Tue 29 Apr -> not delivered, 1 day  team Bravo
#   E6 VPS offered        V1 trig Mon 3 Mar, not applicable                                   team Alpha (case)
#   E7 arrested (std 5)   V1 trig Thu 24 Apr, nothing; due Thu 1 May (25, 28, 29, 30 Apr, 1 May) -> not yet due
#                                                                                             team Alpha
#   E8 referral (2 wd)    V1 trig Thu 3 Apr, delivered Fri 4 Apr; due Mon 7 Apr -> on time     team Charlie
INSTANCES = [
    (ent("E1", REFERRAL, "2025-03-03", "2025-03-05"), None),
    (ent("E2", REFERRAL, "2025-03-05", "2025-03-10", victim_id="V2"), "Bravo"),
    (ent("E3", NEEDS, "2025-03-04", victim_id="V2"), None),
    (ent("E4", ARRESTED, "2025-02-10"), "Alpha"),
    (ent("E5", ARRESTED, "2025-04-28", victim_id="V2"), "Bravo"),
    (ent("E6", VPS, "2025-03-03", outcome="not_applicable", exception_reason="Victim withdrew support"), None),
    (ent("E7", ARRESTED, "2025-04-24"), "Alpha"),
    (ent("E8", REFERRAL, "2025-04-03", "2025-04-04"), "Charlie"),
]


def team_tables(instances=INSTANCES) -> dict[str, pd.DataFrame]:
    built = tables(cases=[case("C1", "Basildon"), case("C2", "Colchester", reported_at="2025-02-03")],
                   victims=[victim("V1", "C1"), victim("V2", "C2", "vulnerable")],
                   entitlements=[row for row, _ in instances])
    built["cases"]["team"] = ["Alpha", None]
    built["entitlements"]["team"] = [team for _, team in instances]
    return built


@pytest.fixture
def store(make_store):
    return make_store(team_tables(), AS_OF)


FEB_TO_APR = period(FEB, APR, as_of=AS_OF)


def cells(store, spec: PivotSpec, filters=FEB_TO_APR, **narrow) -> pd.DataFrame:
    return pivot_table(pivot_counts(store, CATALOGUE, filters, spec, **narrow), spec, CATALOGUE).cells


def counts_by(frame: pd.DataFrame, *keys: str) -> dict:
    return {tuple(row[k] for k in keys): {c: int(row[c]) for c in COUNT_COLUMNS} for _, row in frame.iterrows()}


def six(eligible=0, delivered=0, delivered_on_time=0, eligible_timed=0, not_yet_due=0, not_applicable=0) -> dict:
    return {"eligible": eligible, "delivered": delivered, "delivered_on_time": delivered_on_time,
            "eligible_timed": eligible_timed, "not_yet_due": not_yet_due, "not_applicable": not_applicable}


# --- hand-worked pivots ------------------------------------------------------------------------------------

def test_counts_by_team_are_hand_worked_and_teams_fall_back_to_the_case(store):
    table = pivot_table(pivot_counts(store, CATALOGUE, FEB_TO_APR, PivotSpec("team", "delivered_rate")),
                        PivotSpec("team", "delivered_rate"), CATALOGUE)
    assert counts_by(table.cells, "row_label") == {
        (NO_TEAM,): six(eligible=1, delivered=0),  # E3
        ("Alpha",): six(eligible=2, delivered=1, delivered_on_time=1, eligible_timed=2, not_yet_due=1,
                        not_applicable=1),  # E1 on time, E4 missed, E7 not yet due, E6 not applicable
        ("Bravo",): six(eligible=2, delivered=1, delivered_on_time=0, eligible_timed=2),  # E2 late, E5 missed
        ("Charlie",): six(eligible=1, delivered=1, delivered_on_time=1, eligible_timed=1),  # E8
    }
    # Alphabetical by label, never by value: "(" sorts before letters.
    assert list(table.wide.index) == [NO_TEAM, "Alpha", "Bravo", "Charlie"]
    assert table.wide["Delivered rate"].tolist() == [0.0, 0.5, 0.5, 1.0]  # 0/1, 1/2, 1/2, 1/1


def test_on_time_rate_by_quarter_and_district(store):
    spec = PivotSpec("quarter", "on_time_rate", columns="district")
    table = pivot_table(pivot_counts(store, CATALOGUE, FEB_TO_APR, spec), spec, CATALOGUE)
    # Q1 Basildon: E1 on time, E4 missed (E6 not applicable)     -> 1 of 2 with a timescale
    # Q1 Colchester: E2 late (E3 has no timescale)               -> 0 of 1
    # Q2 Basildon: E8 on time (E7 not yet due)                   -> 1 of 1
    # Q2 Colchester: E5 missed                                   -> 0 of 1
    assert table.wide.to_dict() == {"Basildon": {"2025 Q1": 0.5, "2025 Q2": 1.0},
                                    "Colchester": {"2025 Q1": 0.0, "2025 Q2": 0.0}}
    q1_basildon = table.cells[(table.cells["row_label"] == "2025 Q1") & (table.cells["column_label"] == "Basildon")]
    assert (int(q1_basildon["numerator"].iloc[0]), int(q1_basildon["denominator"].iloc[0])) == (1, 2)
    # Wilson 95% for 1 of 2: centre (0.5 + 1.9208/2) / (1 + 3.8415/2) = 1.4604 / 2.9207 = 0.5,
    # half = 1.96 * sqrt(0.25/2 + 3.8415/16) / 2.9207 = 1.96 * 0.6042 / 2.9207 = 0.4055 -> 0.0945 to 0.9055
    assert q1_basildon["lower"].iloc[0] == pytest.approx(0.0945, abs=1e-4)
    assert q1_basildon["upper"].iloc[0] == pytest.approx(0.9055, abs=1e-4)


def test_eligible_by_right_and_month_fills_absent_cells_with_zero_in_their_own_order(store):
    spec = PivotSpec("right", "eligible", columns="month")
    table = pivot_table(pivot_counts(store, CATALOGUE, FEB_TO_APR, spec), spec, CATALOGUE)
    # Right 4: Mar E1, E2, E3; Apr E8. Right 6: Feb E4; Apr E5 (E7 not yet due). Right 7: only E6, not applicable.
    assert list(table.wide.columns) == ["Feb 2025", "Mar 2025", "Apr 2025"]
    assert list(table.wide.index) == ["Right 4: Referral to support services",
                                      "Right 6: Information about the investigation", "Right 7: Victim Personal Statement"]
    assert table.wide.to_numpy().tolist() == [[0, 3, 1], [1, 0, 1], [0, 0, 0]]


def test_rights_and_teams_narrow_the_pivot(store):
    spec = PivotSpec("team", "eligible")
    # Right 6 only: Alpha E4 (E7 not yet due), Bravo E5
    assert counts_by(cells(store, spec, rights=[6]), "row_label") == {
        ("Alpha",): six(eligible=1, eligible_timed=1, not_yet_due=1), ("Bravo",): six(eligible=1, eligible_timed=1)}
    # the team with none recorded can be chosen by its label
    assert counts_by(cells(store, spec, teams=[NO_TEAM]), "row_label") == {(NO_TEAM,): six(eligible=1)}


def test_the_period_and_sidebar_filters_apply(store):
    spec = PivotSpec("entitlement", "eligible")
    march_basildon = period(MAR, as_of=AS_OF, district=["Basildon"])
    # March in Basildon: E1 (referral) and E6 (VPS, not applicable)
    assert counts_by(cells(store, spec, march_basildon), "row_level") == {
        (REFERRAL,): six(eligible=1, delivered=1, delivered_on_time=1, eligible_timed=1),
        (VPS,): six(not_applicable=1)}


def test_describe_pivot_says_what_is_shown_in_words(store):
    spec = PivotSpec("team", "delivered_rate")
    table = pivot_table(pivot_counts(store, CATALOGUE, FEB_TO_APR, spec), spec, CATALOGUE)
    text = describe_pivot(table, "Feb to Apr 2025")
    assert text.startswith("Delivered rate by team: 4 row(s) x 1 column(s). Values run from 0.0% to 100.0%.")
    assert "alphabetical" in text and text.endswith("Feb to Apr 2025.")


# --- the same numbers as the rest of the app -----------------------------------------------------------------

@pytest.mark.parametrize("breakdown", [b for b in BREAKDOWNS if b != "total"])
def test_pivot_cells_equal_the_compliance_counts_for_every_breakdown(store, breakdown):
    compliance = run_counts(store, FEB_TO_APR, (breakdown,))
    expected = counts_by(compliance[compliance["breakdown"] == breakdown], "entitlement", "level")
    pivot = cells(store, PivotSpec("entitlement", "eligible", columns=breakdown))
    assert counts_by(pivot, "row_level", "column_level") == expected


def test_pivot_totals_equal_the_compliance_totals_on_a_demo_store(tmp_path):
    from data_access.demo import build_demo_store
    from data_access.store import open_store

    path = build_demo_store(tmp_path / "demo.duckdb", cases=1500, start=date(2024, 11, 1), months=6, seed=3)
    demo = open_store(path)
    try:
        filters = period(date(2024, 11, 1), date(2025, 4, 1), as_of=demo.meta.data_as_of)
        for breakdown in ("district", "victim_type", "month"):
            compliance = run_counts(demo, filters, (breakdown,))
            expected = counts_by(compliance[compliance["breakdown"] == breakdown], "entitlement", "level")
            assert counts_by(cells(demo, PivotSpec("entitlement", "eligible", columns=breakdown), filters),
                             "row_level", "column_level") == expected
        assert sum(v["eligible"] for v in expected.values()) > 1000  # a real test, not an empty one
        # Teams are not a compliance breakdown: their cells add up to the entitlement totals instead.
        by_team = cells(demo, PivotSpec("entitlement", "eligible", columns="team"), filters)
        totals = counts_by(run_counts(demo, filters), "entitlement")
        summed = by_team.groupby("row_level")[list(COUNT_COLUMNS)].sum()
        assert {(code,): {c: int(summed.loc[code, c]) for c in COUNT_COLUMNS} for code in summed.index} == totals
    finally:
        demo.close()


# --- allow-lists and hostile values ------------------------------------------------------------------------

@pytest.mark.parametrize("rows, columns, measure", [
    ("victim_id", None, "eligible"), ("district", "cases; DROP TABLE cases", "eligible"),
    ("district", None, "count(*)"), ("district) --", None, "eligible"), ("district", "district", "eligible")])
def test_anything_off_the_allow_lists_is_refused_before_sql_is_built(rows, columns, measure):
    with pytest.raises(ValueError):
        PivotSpec(rows=rows, measure=measure, columns=columns)


@given(st.text(min_size=1, max_size=40))
def test_random_names_are_refused_unless_on_the_allow_lists(name):
    if name in PIVOT_DIMENSIONS:
        assert PivotSpec(rows=name, measure="eligible").rows == name
    else:
        with pytest.raises(ValueError):
            PivotSpec(rows=name, measure="eligible")
    if name not in PIVOT_MEASURES:
        with pytest.raises(ValueError):
            PivotSpec(rows="district", measure=name)


def test_unknown_or_unmeasured_rights_are_refused():
    filters = FEB_TO_APR
    with pytest.raises(ValueError, match="unknown right"):
        pivot_sql(CATALOGUE, filters, PivotSpec("team", "eligible"), rights=[13])
    with pytest.raises(ValueError, match="nothing is measured"):
        pivot_sql(CATALOGUE, filters, PivotSpec("team", "eligible"), rights=[10])


HOSTILE = st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=30) | st.sampled_from(
    ["' OR '1'='1", "'; DROP TABLE entitlements; --", "Alpha\x00", "$no_team", "Basildon' --", "=cmd|' /C calc'!A0"])


@given(HOSTILE)
def test_hostile_filter_and_team_values_are_bound_never_written_into_the_sql(value):
    spec = PivotSpec("team", "eligible", columns="district")
    sql, params = pivot_sql(CATALOGUE, period(FEB, APR, as_of=AS_OF, district=[value]), spec, teams=[value])
    plain_sql, _ = pivot_sql(CATALOGUE, period(FEB, APR, as_of=AS_OF, district=["x"]), spec, teams=["x"])
    assert sql == plain_sql  # the text is the same whatever the values: they only reach the parameters
    assert params["sel_district"] == [value] and params["pivot_teams"] == [value]
    list_sql, list_params = missed_or_late_sql(CATALOGUE, period(FEB, APR, as_of=AS_OF, sex=[value]), team=value,
                                               limit=5, offset=0)
    assert list_sql == missed_or_late_sql(CATALOGUE, period(FEB, APR, as_of=AS_OF, sex=["x"]), team="x", limit=5,
                                          offset=0)[0]
    assert list_params["team"] == value


def test_hostile_values_run_as_data_and_match_the_python_side_filter(tmp_path):
    from helpers import build_and_open

    hostile = ["' OR '1'='1", "'; DROP TABLE entitlements; --", "=cmd|' /C calc'!A0", "Ålpha \u202e", "x\x00y"]
    store = build_and_open(tmp_path, team_tables(), AS_OF)
    try:
        spec = PivotSpec("team", "eligible")
        for value in hostile:
            # No such team or district: nothing, and the table is still whole afterwards.
            assert cells(store, spec, teams=[value]).empty
            assert cells(store, spec, period(FEB, APR, as_of=AS_OF, district=[value])).empty
            # Beside a real team, only the real team's cells (Bravo: E2, E5).
            assert list(cells(store, spec, teams=[value, "Bravo"])["row_label"]) == ["Bravo"]
        assert len(store.query("SELECT * FROM entitlements")) == len(INSTANCES)
    finally:
        store.close()


# --- missed or late, for follow-up ----------------------------------------------------------------------------

def test_missed_or_late_lists_every_team_in_order_with_due_dates_and_days_late(store):
    rows, total = missed_or_late(store, CATALOGUE, FEB_TO_APR, role="victim_services")
    assert total == 4
    listed = rows[["delivery_id", "victim_id", "case_id", "team", "follow_up", "due", "delivered", "days_late"]]
    assert listed.astype(object).where(listed.notna(), None).values.tolist() == [
        ["E3", "V2", "C2", NO_TEAM, "not delivered", None, None, None],  # no timescale: no due date
        ["E4", "V1", "C1", "Alpha", "not delivered", pd.Timestamp("2025-02-17"), None, 72],
        ["E2", "V2", "C2", "Bravo", "delivered late", pd.Timestamp("2025-03-07"), pd.Timestamp("2025-03-10"), 3],
        ["E5", "V2", "C2", "Bravo", "not delivered", pd.Timestamp("2025-04-29"), None, 1],
    ]


def test_missed_or_late_pages_and_team_choice(store):
    second, total = missed_or_late(store, CATALOGUE, FEB_TO_APR, role="victim_services", page=1, page_size=2)
    assert (second["delivery_id"].tolist(), total) == (["E2", "E5"], 4)
    bravo, total = missed_or_late(store, CATALOGUE, FEB_TO_APR, role="victim_services", team="Bravo")
    assert (bravo["delivery_id"].tolist(), total) == (["E2", "E5"], 2)
    teams = missed_or_late_teams(store, CATALOGUE, FEB_TO_APR, role="victim_services")
    assert teams.values.tolist() == [[NO_TEAM, 1, 0], ["Alpha", 1, 0], ["Bravo", 1, 1]]


@pytest.mark.parametrize("role", ["board", "action_group", "admin", "someone"])
def test_missed_or_late_is_refused_to_roles_that_may_not_see_case_level_rows(store, role):
    with pytest.raises(PermissionError):
        missed_or_late(store, CATALOGUE, FEB_TO_APR, role=role)
    with pytest.raises(PermissionError):
        missed_or_late_teams(store, CATALOGUE, FEB_TO_APR, role=role)


@pytest.mark.parametrize("page, page_size", [(-1, 50), (0, 0), (0, 501)])
def test_missed_or_late_refuses_impossible_pages(store, page, page_size):
    with pytest.raises(ValueError):
        missed_or_late(store, CATALOGUE, FEB_TO_APR, role="victim_services", page=page, page_size=page_size)


def test_team_values_are_alphabetical_with_the_no_team_label(store):
    assert team_values(store) == (NO_TEAM, "Alpha", "Bravo", "Charlie")


# --- exports ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    ("=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\r=1", "'\r=1"), ("  =1", "'  =1"), ("Alpha", "Alpha"), ("a=b", "a=b"), ("", "")])
def test_neutralise_makes_formula_text_literal_and_leaves_the_rest(text, expected):
    assert neutralise(text) == expected


def test_numbers_are_left_as_numbers():
    assert neutralise(-3) == -3 and neutralise(0.5) == 0.5


HOSTILE_FRAME = pd.DataFrame({"Team": ["=cmd|' /C calc'!A0", "Alpha", "@HYPERLINK(\"http://x\")"],
                              "=Eligible": [1, -2, 3], "Rate": [0.5, float("nan"), 1.0]})


def test_csv_download_neutralises_cells_and_headers_and_keeps_numbers():
    text = csv_bytes(HOSTILE_FRAME).decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["Team", "'=Eligible", "Rate"]
    assert [r[0] for r in rows[1:]] == ["'=cmd|' /C calc'!A0", "Alpha", "'@HYPERLINK(\"http://x\")"]
    assert [r[1] for r in rows[1:]] == ["1", "-2", "3"]  # a negative number is a number, not a formula


def test_xlsx_download_writes_text_never_formulas():
    book = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"Pivot": HOSTILE_FRAME})))
    sheet = book["Pivot"]
    cells_ = [cell for row in sheet.iter_rows() for cell in row]
    assert not [c.coordinate for c in cells_ if c.data_type == "f"]
    assert sheet["A2"].value == "'=cmd|' /C calc'!A0" and sheet["A2"].data_type == "s"
    assert sheet["B1"].value == "'=Eligible"
    assert sheet["B3"].value == -2 and sheet["C3"].value is None


def test_a_hostile_team_name_reaches_the_pivot_as_text_and_the_export_neutralised(make_store):
    instances = [(ent("E1", REFERRAL, "2025-03-03", "2025-03-05"), "=cmd|' /C calc'!A0")]
    hostile_store = make_store(team_tables(instances), AS_OF, name="hostile.duckdb")
    spec = PivotSpec("team", "eligible")
    table = pivot_table(pivot_counts(hostile_store, CATALOGUE, FEB_TO_APR, spec), spec, CATALOGUE)
    assert list(table.wide.index) == ["=cmd|' /C calc'!A0"]  # shown as typed on the page (st.dataframe: text)
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx_bytes({"Pivot": table.wide}, index_sheets=("Pivot",))))["Pivot"]
    assert sheet["A2"].value == "'=cmd|' /C calc'!A0" and sheet["A2"].data_type == "s"


def test_dimensions_cover_every_filter_dimension():
    assert set(DIMENSIONS) | {"month", "quarter", "right", "entitlement", "team"} == set(PIVOT_DIMENSIONS)
