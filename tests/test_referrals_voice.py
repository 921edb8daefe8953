"""Referral uptake, survey results, complaints, panels and panel actions, on a tiny store whose figures are
worked out by hand below (metrics/referrals.py, metrics/victim_voice.py, data_access/outcomes.py).

Quarter 2025Q3 (Tue 1 Jul to Tue 30 Sep 2025), as of Fri 3 Oct 2025. Mon 25 Aug 2025 is a bank holiday, so
the working days around it run Thu 21, Fri 22, Tue 26 Aug.

Cases (all Basildon but C2, in Chelmsford): C1-C4 reported Tue 1 Jul, C5 Thu 21 Aug, C6 Mon 1 Sep, C7 Tue 9 Sep,
C8 Mon 30 Jun (before the quarter). Victim Vn belongs to case Cn.

Referrals                     offered         consent    referred        contacted       engaged
  R1 V1 victim_support        Tue 1 Jul       given      Thu 3 Jul       Mon 7 Jul       yes
     -> offered, consented, referred 2 working days after the offer (within), contacted, engaged
  R2 V2 victim_support        Tue 1 Jul       given      Fri 4 Jul       Wed 9 Jul       no
     -> referred 3 working days after: not within; contacted; not engaged
  R3 V3 victim_support        Wed 2 Jul       declined   -               -               -      -> offered only
  R4 V4 victim_support        -               not_asked  -               -               -      -> in scope only
  R5 V5 compass               Thu 21 Aug      given      Tue 26 Aug      Mon 6 Oct       yes
     -> Fri 22 and Tue 26 are the 1st and 2nd working days after the offer (Mon 25 is a bank holiday): within,
        though 5 calendar days; contacted after the as-of date, so neither contacted nor engaged yet
  R6 V6 synergy_essex         Mon 1 Sep       given      Mon 6 Oct       -               -
     -> referred after the as-of date: offered and consented only
  R7 V7 compass               -               given      Wed 10 Sep      Thu 11 Sep      yes
     -> no offer date, but consent recorded: offered; referred, not within (no offer date); contacted, engaged
  R8 V8 victim_support        Mon 30 Jun ...  (case reported before the quarter: not in scope)
  R9 V1 other                 Mon 6 Oct       given      Mon 6 Oct       -               -
     -> offered after the as-of date: in scope only

                 in scope  offered  consent  referred  within  contacted  engaged  median working days to referral
victim_support       4        3        2        2        1        2         1       R1 2, R2 3 -> 2.5
compass              2        2        2        2        1        1         1       R5 2 (R7 has no offer) -> 2
synergy_essex        1        1        1        0        0        0         0       none
other                1        0        0        0        0        0         0       none
all                  8        6        5        4        2        3         2       2, 3, 2 -> 2
By report month (all services): Jul R1 R2 R3 R4 R9 = 5; Aug R5 = 1; Sep R6 R7 = 2.
District Chelmsford: R2 only.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from helpers import case, complaints_frame, period, referrals_frame, surveys_frame, tables, victim
from data_access import outcomes
from metrics.rates import wilson_interval
from metrics.referrals import REFERRAL_COUNT_COLUMNS, referral_uptake_sql, uptake_rates
from metrics.victim_voice import complaints_sql, survey_rates, survey_results_sql

AS_OF = date(2025, 10, 3)
Q3 = period(date(2025, 7, 1), date(2025, 9, 1), as_of=AS_OF)
T = pd.Timestamp


def fixture_tables() -> dict[str, pd.DataFrame]:
    reported = ["2025-07-01"] * 4 + ["2025-08-21", "2025-09-01", "2025-09-09", "2025-06-30"]
    cases = [case(f"C{i}", "Chelmsford" if i == 2 else "Basildon", reported_at=day)
             for i, day in enumerate(reported, start=1)]
    victims = [victim(f"V{i}", f"C{i}") for i in range(1, 9)]
    out = tables(cases=cases, victims=victims, entitlements=[])
    rows = [  # referral_id, victim, service, offered, consent, referred, contacted, engaged
        ("R1", "V1", "victim_support", "2025-07-01", "given", "2025-07-03", "2025-07-07", True),
        ("R2", "V2", "victim_support", "2025-07-01", "given", "2025-07-04", "2025-07-09", False),
        ("R3", "V3", "victim_support", "2025-07-02", "declined", None, None, None),
        ("R4", "V4", "victim_support", None, "not_asked", None, None, None),
        ("R5", "V5", "compass", "2025-08-21", "given", "2025-08-26", "2025-10-06", True),
        ("R6", "V6", "synergy_essex", "2025-09-01", "given", "2025-10-06", None, None),
        ("R7", "V7", "compass", None, "given", "2025-09-10", "2025-09-11", True),
        ("R8", "V8", "victim_support", "2025-06-30", "given", "2025-06-30", "2025-07-01", True),
        ("R9", "V1", "other", "2025-10-06", "given", "2025-10-06", None, None),
    ]
    out["referrals"] = referrals_frame(rows)
    # Surveys: S1-S4 in the quarter; S5 before it; S6 after the as-of date.
    surveys = [  # id, case, survey, responded, overall, kept_informed, treated_fairly, aware
        ("S1", "C1", "general", "2025-07-02", 5, 4, 3, True),
        ("S2", "C2", "general", "2025-08-15", 3, 2, 4, False),
        ("S3", "C3", "general", "2025-09-10", 4, None, 5, None),
        ("S4", None, "burglary", "2025-08-01", 1, 5, 4, True),
        ("S5", "C4", "burglary", "2025-06-30", 5, 5, 5, True),
        ("S6", "C4", "rape", "2025-10-05", 5, 5, 5, True),
    ]
    out["surveys"] = surveys_frame(surveys)
    complaints = [  # id, case, received, right, acknowledged, closed, outcome
        ("K1", "C1", "2025-07-01", 6, "2025-07-03", "2025-08-20", "upheld"),
        ("K2", "C5", "2025-08-21", 6, "2025-08-26", None, None),
        ("K3", "C6", "2025-09-01", 4, None, "2025-10-06", "not_upheld"),
        ("K4", None, "2025-09-10", None, "2025-09-10", "2025-09-11", None),
        ("K5", "C8", "2025-06-30", 6, "2025-07-01", None, None),
    ]
    out["complaints"] = complaints_frame(complaints)
    out["panels"] = pd.DataFrame({
        "panel_id": ["P1", "P2"], "held_on": [date(2025, 7, 16), date(2025, 6, 20)],
        "title": ["<b>July</b> panel", "June panel"], "themes": ["vawg;other", "high_harm"],
        "format": ["virtual", "in_person"], "victims_live": pd.array([3, None], dtype="Int64"),
        "victims_recorded": pd.array([2, None], dtype="Int64"),
        "victims_via_support_worker": pd.array([0, None], dtype="Int64")})
    out["panel_findings"] = pd.DataFrame({
        "finding_id": ["F1", "F2", "F3", "F4"], "panel_id": ["P1", "P1", "P1", "P2"],
        "kind": ["concern", "suggestion", "praise", "concern"], "right_no": pd.array([4, None, None, 6], dtype="Int64"),
        "entitlement": [None] * 4, "summary": ["Needs assessments missed", "Call back", "Kind officers", "Late updates"]})
    actions = [  # id, finding, title, raised, due, status, completed
        ("A1", "F1", "Audit needs assessments", "2025-07-16", "2025-09-01", "in_progress", None),
        ("A2", "F2", "Call-back rota", "2025-07-16", "2025-11-30", "agreed", None),
        ("A3", "F4", "Update letters", "2025-06-20", "2025-07-31", "done", "2025-07-25"),
        ("A4", "F4", "Old action", "2025-06-20", "2025-06-30", "done", "2025-06-28"),
        ("A5", None, "Dropped idea", "2025-08-01", None, "dropped", None),
        ("A6", "F4", "Finished after the data date", "2025-06-20", "2025-10-01", "done", "2025-10-06"),
    ]
    columns = list(zip(*actions))
    out["actions"] = pd.DataFrame({
        "action_id": columns[0], "finding_id": columns[1], "title": columns[2], "owner": ["Head of Crime"] * 6,
        "raised_on": [date.fromisoformat(d) for d in columns[3]],
        "due_on": [None if d is None else date.fromisoformat(d) for d in columns[4]], "status": columns[5],
        "completed_on": [None if d is None else date.fromisoformat(d) for d in columns[6]],
        "measure": ["r4_needs_assessment", None, None, None, None, None]})
    return out


@pytest.fixture
def store(make_store):
    return make_store(fixture_tables(), AS_OF)


def _row(frame: pd.DataFrame, **keys) -> pd.Series:
    rows = frame
    for column, value in keys.items():
        rows = rows[rows[column] == value]
    assert len(rows) == 1, f"expected one row for {keys}, got {len(rows)}"
    return rows.iloc[0]


# --- referral uptake ---------------------------------------------------------------------------------------

EXPECTED_FUNNEL = {  # service -> in scope, offered, consent, referred, within, contacted, engaged (worked above)
    "victim_support": (4, 3, 2, 2, 1, 2, 1),
    "compass": (2, 2, 2, 2, 1, 1, 1),
    "synergy_essex": (1, 1, 1, 0, 0, 0, 0),
    "other": (1, 0, 0, 0, 0, 0, 0),
    "all": (8, 6, 5, 4, 2, 3, 2),
}


def test_referral_funnel_per_service_matches_the_hand_worked_counts(store):
    frame = outcomes.referral_uptake(store, Q3)
    assert set(frame["service"]) == set(EXPECTED_FUNNEL)
    for service, expected in EXPECTED_FUNNEL.items():
        row = _row(frame, service=service, breakdown="total")
        assert tuple(int(row[c]) for c in REFERRAL_COUNT_COLUMNS) == expected, service


def test_median_working_days_to_referral_counts_working_days_from_the_offer(store):
    frame = outcomes.referral_uptake(store, Q3)
    assert _row(frame, service="victim_support")["median_working_days_to_referral"] == 2.5  # 2 and 3
    assert _row(frame, service="compass")["median_working_days_to_referral"] == 2  # R5 across the bank holiday
    assert _row(frame, service="all")["median_working_days_to_referral"] == 2  # 2, 3, 2
    assert pd.isna(_row(frame, service="synergy_essex")["median_working_days_to_referral"])


def test_referral_breakdown_by_report_month_and_a_district_filter(store):
    frame = outcomes.referral_uptake(store, Q3, ("total", "month"))
    months = frame[(frame["breakdown"] == "month") & (frame["service"] == "all")].set_index("level")["in_scope"]
    assert months.to_dict() == {"2025-07": 5, "2025-08": 1, "2025-09": 2}
    chelmsford = outcomes.referral_uptake(store, period(date(2025, 7, 1), date(2025, 9, 1), as_of=AS_OF,
                                                        district=["Chelmsford"]))
    row = _row(chelmsford, service="all")
    # R2 only: offered, consented, referred late, contacted, not engaged
    assert tuple(int(row[c]) for c in REFERRAL_COUNT_COLUMNS) == (1, 1, 1, 1, 0, 1, 0)


def test_an_earlier_as_of_date_counts_only_what_had_happened(store):
    # As of Wed 2 Jul: R1 and R2 offered (1 Jul), not yet referred; R3 was offered on 2 Jul (counts); R4 not asked.
    frame = outcomes.referral_uptake(store, period(date(2025, 7, 1), date(2025, 9, 1), as_of=date(2025, 7, 2)))
    row = _row(frame, service="victim_support")
    assert tuple(int(row[c]) for c in REFERRAL_COUNT_COLUMNS) == (4, 3, 2, 0, 0, 0, 0)


def test_uptake_rates_divide_each_step_by_the_one_it_follows(store):
    rates = uptake_rates(outcomes.referral_uptake(store, Q3))
    consent = _row(rates, service="victim_support", step="consent_given")
    assert (consent["count"], consent["of_count"]) == (2, 3)  # consented of offered
    assert consent["share"] == pytest.approx(2 / 3)
    lower, upper = wilson_interval(2, 3)
    assert (consent["share_lower"], consent["share_upper"]) == pytest.approx((float(lower), float(upper)))
    within = _row(rates, service="compass", step="referred_within")
    assert (within["count"], within["of_count"], within["share"]) == (1, 2, 0.5)  # of those referred
    engaged = _row(rates, service="compass", step="engaged")
    assert (engaged["count"], engaged["of_count"]) == (1, 1)  # of those contacted
    first = _row(rates, service="all", step="in_scope")
    assert np.isnan(first["share"])  # the first step is no share of anything
    nothing = _row(rates, service="other", step="consent_given")
    assert nothing["of_count"] == 0 and np.isnan(nothing["share"])  # no one offered: no rate, never 0%
    assert list(dict.fromkeys(rates["service"])) == ["victim_support", "synergy_essex", "compass", "other", "all"]


def test_referral_sql_binds_every_value_and_refuses_unknown_breakdowns():
    sql, params = referral_uptake_sql(period(date(2025, 7, 1), as_of=AS_OF, district=["O'Brien; DROP TABLE x"]))
    assert "O'Brien" not in sql and params["sel_district"] == ["O'Brien; DROP TABLE x"]
    with pytest.raises(ValueError, match="unknown breakdown"):
        referral_uptake_sql(Q3, ("postcode",))


# --- surveys -------------------------------------------------------------------------------------------------
# general: S1 (5, 4, 3, aware), S2 (3, 2, 4, not aware), S3 (4, -, 5, -)
#   overall 2 of 3 score 4-5; kept informed 1 of 2 answered; treated fairly 2 of 3; aware 1 of 2 answered
# burglary: S4 (1, 5, 4, aware): overall 0 of 1; kept 1 of 1; fairly 1 of 1; aware 1 of 1 (S5 is before Q3)
# all: overall 2 of 4; kept 2 of 3; fairly 3 of 4; aware 2 of 3; 4 responses (S6 is after the as-of date)

def test_survey_counts_by_survey_match_the_hand_worked_figures(store):
    frame = outcomes.survey_results(store, Q3)
    general = _row(frame, survey="general", breakdown="total")
    assert [int(general[c]) for c in ("responses", "overall_answered", "overall_good", "kept_informed_answered",
                                      "kept_informed_good", "treated_fairly_answered", "treated_fairly_good",
                                      "aware_answered", "aware_yes")] == [3, 3, 2, 2, 1, 3, 2, 2, 1]
    everyone = _row(frame, survey="all", breakdown="total")
    assert [int(everyone[c]) for c in ("responses", "overall_answered", "overall_good", "kept_informed_answered",
                                       "kept_informed_good", "treated_fairly_answered", "treated_fairly_good",
                                       "aware_answered", "aware_yes")] == [4, 4, 2, 3, 2, 4, 3, 3, 2]
    assert set(frame["survey"]) == {"general", "burglary", "all"}


def test_survey_rates_with_intervals(store):
    rates = survey_rates(outcomes.survey_results(store, Q3))
    kept = _row(rates, survey="general", measure="kept_informed")
    assert (kept["numerator"], kept["denominator"], kept["rate"]) == (1, 2, 0.5)
    lower, upper = wilson_interval(1, 2)
    assert (kept["rate_lower"], kept["rate_upper"]) == pytest.approx((float(lower), float(upper)))
    aware = _row(rates, survey="all", measure="aware_of_code")
    assert (aware["numerator"], aware["denominator"]) == (2, 3)


def test_surveys_filter_by_the_case_and_refuse_victim_filters(store):
    chelmsford = outcomes.survey_results(store, period(date(2025, 7, 1), date(2025, 9, 1), as_of=AS_OF,
                                                       district=["Chelmsford"]))
    row = _row(chelmsford, survey="all")  # S2 only: S4 has no case, so it matches no district
    assert (int(row["responses"]), int(row["overall_good"])) == (1, 0)
    with pytest.raises(ValueError, match="linked to a case, not a victim.*age band"):
        survey_results_sql(period(date(2025, 7, 1), as_of=AS_OF, age_band=["18-24"]))
    with pytest.raises(ValueError, match="cannot be broken down by sex"):
        survey_results_sql(Q3, ("total", "sex"))


# --- complaints ----------------------------------------------------------------------------------------------
# K1 right 6, received Tue 1 Jul, acknowledged Thu 3 Jul (2 working days), closed 20 Aug, upheld
# K2 right 6, received Thu 21 Aug, acknowledged Tue 26 Aug (2 working days: Mon 25 is a bank holiday), open
# K3 right 4, received Mon 1 Sep, not acknowledged, closed Mon 6 Oct (after the as-of date) -> open
# K4 no right, received and acknowledged Wed 10 Sep (0 days), closed 11 Sep with no outcome -> not_recorded
# K5 received 30 Jun: before the quarter
#   right 6: 2 complaints, 2 acknowledged, median 2; right 4: 1, 0, none; not stated (0): 1, 1, median 0
#   all: 4, 3 acknowledged, median of 2, 2, 0 = 2; by outcome: open 2, upheld 1, not_recorded 1

def test_complaints_by_right_and_outcome(store):
    frame = outcomes.complaints_by_right(store, Q3)

    def cell(right, outcome):
        rows = frame[(frame["right_no"].isna() if right is None else frame["right_no"] == right)
                     & (frame["outcome"] == outcome)]
        assert len(rows) == 1, (right, outcome)
        return rows.iloc[0]

    six = cell(6, "all")
    assert (six["complaints"], six["acknowledged"], six["median_working_days_to_acknowledge"]) == (2, 2, 2)
    four = cell(4, "all")
    assert (four["complaints"], four["acknowledged"]) == (1, 0)
    assert pd.isna(four["median_working_days_to_acknowledge"])
    assert cell(4, "open")["complaints"] == 1  # closed after the as-of date: still open then
    assert cell(0, "not_recorded")["median_working_days_to_acknowledge"] == 0
    total = cell(None, "all")
    assert (total["complaints"], total["acknowledged"], total["median_working_days_to_acknowledge"]) == (4, 3, 2)
    assert {o: int(cell(None, o)["complaints"]) for o in ("open", "upheld", "not_recorded")} == \
        {"open": 2, "upheld": 1, "not_recorded": 1}
    assert cell(6, "upheld")["complaints"] == 1 and cell(6, "open")["complaints"] == 1


def test_complaints_refuse_victim_filters():
    with pytest.raises(ValueError, match="disability"):
        complaints_sql(period(date(2025, 7, 1), as_of=AS_OF, disability=["yes"]))


# --- panels and actions --------------------------------------------------------------------------------------

def test_panels_held_in_the_quarter_with_victims_heard_and_findings(store):
    panels = outcomes.panels_held(store, date(2025, 7, 1), date(2025, 9, 30), AS_OF)
    assert list(panels["panel_id"]) == ["P1"]  # P2 was held in June
    row = panels.iloc[0]
    assert row["victims_heard"] == 5  # 3 live + 2 recorded + 0 through a support worker
    assert (row["concerns"], row["suggestions"], row["praise"]) == (1, 1, 1)
    assert row["title"] == "<b>July</b> panel"  # returned as typed: escaping is the reader's job


# Open on 3 Oct: A1 (due 1 Sep: 32 days overdue), A2 (due 30 Nov), A6 (done only on 6 Oct, so in progress on
# 3 Oct; due 1 Oct: 2 days overdue). Raised or completed in the quarter: A3 (completed 25 Jul), A5 (raised 1 Aug,
# dropped). A4 was raised and completed before the quarter. Overdue first, longest first, then by due date.

def test_action_log_flags_overdue_actions_as_of_the_data_date(store):
    log = outcomes.action_log(store, date(2025, 7, 1), date(2025, 9, 30), AS_OF)
    assert list(log["action_id"]) == ["A1", "A6", "A3", "A2", "A5"]
    by_id = log.set_index("action_id")
    assert list(by_id.loc[["A1", "A6"], "days_overdue"]) == [32, 2]
    assert not by_id.loc[["A2", "A3", "A5"], "overdue"].any()
    assert by_id.loc["A6", "status"] == "in_progress" and pd.isna(by_id.loc["A6", "completed_on"])
    assert by_id.loc["A1", "finding_kind"] == "concern" and by_id.loc["A1", "right_no"] == 4
    assert by_id.loc["A1", "panel_title"] == "<b>July</b> panel"
