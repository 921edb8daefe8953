"""The Referral uptake and Victim voice pages: the measures behind them (time to referral, referral measures over
the funnel, complaint tables and times to acknowledge), their disclosure control for the board, and the pages
themselves through AppTest, on a tiny store whose figures are worked out by hand below.

Period Jul to Sep 2025 (the pages' default: the store's entitlements run Jul to Sep, and Sep had settled by the
data date), as of Fri 31 Oct 2025. Mon 25 Aug 2025 is a bank holiday.

Cases (district; reported): C1 Basildon Tue 1 Jul, C2 Tendring Tue 1 Jul, C3 Basildon Wed 2 Jul, C4 Tendring
Thu 21 Aug, C5 Basildon Mon 1 Sep, C6 Basildon Tue 9 Sep, C7 Basildon Mon 30 Jun (before the period). Victim Vn
belongs to case Cn; V2 is enhanced (vulnerable), the others standard.

Referrals        service         offered      consent    referred     contacted    engaged
  R1 V1          victim_support  Tue 1 Jul    given      Thu 3 Jul    Mon 7 Jul    yes
  R2 V2          victim_support  Tue 1 Jul    given      Fri 4 Jul    Wed 9 Jul    no
  R3 V3          victim_support  Wed 2 Jul    declined
  R4 V4          compass         Thu 21 Aug   given      Tue 26 Aug   Wed 27 Aug   yes
  R5 V5          synergy_essex   Mon 1 Sep    given      Mon 1 Sep    Tue 2 Sep    yes
  R6 V6          compass         -            given      Wed 10 Sep   Thu 11 Sep   no
  R7 V7          victim_support  Mon 30 Jun   given      Mon 30 Jun   (case reported before the period: out)
  R8 V1          other           -            not_asked
  R9 V5          other           Mon 1 Sep    given      Wed 17 Sep

                 considered offered consent referred within contacted engaged
  victim_support      3        3       2        2       1       2        1     (within: R1 2 wd; R2 3 wd)
  compass             2        2       2        2       1       2        1     (R4 2 wd over the bank holiday; R6 no
                                                                                offer date: not within)
  synergy_essex       1        1       1        1       1       1        1
  other               2        1       1        1       0       0        0     (R9 12 wd)
  all                 8        7       6        6       3       5        3

Working days to referral, from the offer: R1 2 (Wed 2 = 1, Thu 3 = 2), R2 3, R4 2 (Fri 22 = 1, Tue 26 = 2), R5 0,
R9 12 (Tue 2 Sep = 1 ... Fri 12 = 9, Mon 15 = 10, Tue 16 = 11, Wed 17 = 12), R6 no offer date.
  -> 0: 1, 2: 2, 3: 1, over 10: 1, no offer date: 1; within 2: 3 of 6 = 50% (= the funnel's 3 of 6); median of
     0, 2, 2, 3, 12 = 2.
From the report: R1 2, R2 3, R4 2, R5 0, R6 1 (Tue 9 -> Wed 10), R9 12 -> within 2: 4 of 6; median 2.
Referred of considered, all services: 6 of 8; Basildon R1 R3 R5 R6 R8 R9 -> 4 of 6; Tendring R2 R4 -> 2 of 2;
enhanced (R2) 1 of 1; by report month Jul R1 R2 R3 R8 2 of 4, Aug R4 1 of 1, Sep R5 R6 R9 3 of 3.

Surveys (in the period: S1-S4; S5 before it)   overall  kept informed  treated fairly  aware
  S1 C1 general  Wed 2 Jul                       5          4              3           yes
  S2 C2 general  Fri 15 Aug                      3          2              4           no
  S3 C3 rape     Wed 10 Sep                      4          -              5           -
  S4 -  burglary Fri 1 Aug                       1          5              4           yes
  -> all surveys: overall 2 of 4 (50.0%), kept informed 2 of 3 (66.7%), treated fairly 3 of 4 (75.0%), aware
     2 of 3 (66.7%).

Complaints     received    right  acknowledged   closed (outcome)               working days to acknowledge
  K1 C1        Tue 1 Jul   6      Thu 3 Jul      Wed 20 Aug (upheld)            2
  K2 C4        Thu 21 Aug  6      Tue 26 Aug     -                  -> open     2 (Fri 22, Tue 26)
  K3 C5        Mon 1 Sep   4      -              Mon 3 Nov, after the data date -> open; not acknowledged
  K4 -         Wed 10 Sep  -      Wed 10 Sep     Thu 11 Sep (no outcome) -> not recorded; 0
  K5 C7        Mon 30 Jun  (before the period: out)
  K6 C6        Tue 2 Sep   4      Wed 17 Sep     Fri 19 Sep (resolved)          11
  -> right 4: 2 complaints, 1 acknowledged, median 11; right 6: 2, 2, median 2; no right: 1, 1, median 0;
     all: 5, 4 (80.0%), median of 0, 2, 2, 11 = 2. Within 10 working days: K1, K2, K4 = 3 of 5.
     Outcomes: open 2, upheld 1, resolved 1, not recorded 1.

Panel P1 held Wed 16 Jul 2025 (a hostile title); action A1 completed Fri 1 Aug 2025 on the referral entitlement.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from helpers import case, complaints_frame, ent, period, referrals_frame, surveys_frame, tables, victim
from data_access import outcomes
from data_access.store import build_store, open_store
from metrics.referrals import (ALL_SERVICES, referral_measure, referral_measure_rates, referral_times_sql,
                               working_day_distribution)
from metrics.victim_voice import (complaint_crosstab, complaint_outcomes, complaint_rates_by_right,
                                  survey_measure_series, survey_rates, unsupported_filters)

AS_OF = date(2025, 10, 31)
Q3 = period(date(2025, 7, 1), date(2025, 9, 1), as_of=AS_OF)
APP = str(Path(__file__).resolve().parent.parent / "app.py")
T = pd.Timestamp
HOSTILE_TITLE = "<b>July</b> panel [link](http://example.com)"


def fixture_tables() -> dict[str, pd.DataFrame]:
    reported = [("Basildon", "2025-07-01"), ("Tendring", "2025-07-01"), ("Basildon", "2025-07-02"),
                ("Tendring", "2025-08-21"), ("Basildon", "2025-09-01"), ("Basildon", "2025-09-09"),
                ("Basildon", "2025-06-30")]
    cases = [case(f"C{i}", district, reported_at=day) for i, (district, day) in enumerate(reported, start=1)]
    victims = [victim(f"V{i}", f"C{i}", "vulnerable" if i == 2 else None) for i in range(1, 8)]
    out = tables(cases=cases, victims=victims, districts=(("Basildon", "South"), ("Tendring", "North")),
                 entitlements=[ent("E1", "r4_referral_to_support_service", "2025-07-01", "2025-07-03", victim_id="V1"),
                               ent("E2", "r4_referral_to_support_service", "2025-09-01", "2025-09-01", victim_id="V5")])
    rows = [  # referral_id, victim, service, offered, consent, referred, contacted, engaged
        ("R1", "V1", "victim_support", "2025-07-01", "given", "2025-07-03", "2025-07-07", True),
        ("R2", "V2", "victim_support", "2025-07-01", "given", "2025-07-04", "2025-07-09", False),
        ("R3", "V3", "victim_support", "2025-07-02", "declined", None, None, None),
        ("R4", "V4", "compass", "2025-08-21", "given", "2025-08-26", "2025-08-27", True),
        ("R5", "V5", "synergy_essex", "2025-09-01", "given", "2025-09-01", "2025-09-02", True),
        ("R6", "V6", "compass", None, "given", "2025-09-10", "2025-09-11", False),
        ("R7", "V7", "victim_support", "2025-06-30", "given", "2025-06-30", None, None),
        ("R8", "V1", "other", None, "not_asked", None, None, None),
        ("R9", "V5", "other", "2025-09-01", "given", "2025-09-17", None, None),
    ]
    out["referrals"] = referrals_frame(rows)
    surveys = [  # id, case, survey, responded, overall, kept_informed, treated_fairly, aware
        ("S1", "C1", "general", "2025-07-02", 5, 4, 3, True),
        ("S2", "C2", "general", "2025-08-15", 3, 2, 4, False),
        ("S3", "C3", "rape", "2025-09-10", 4, None, 5, None),
        ("S4", None, "burglary", "2025-08-01", 1, 5, 4, True),
        ("S5", "C4", "burglary", "2025-06-30", 5, 5, 5, True),
    ]
    out["surveys"] = surveys_frame(surveys)
    complaints = [  # id, case, received, right, acknowledged, closed, outcome
        ("K1", "C1", "2025-07-01", 6, "2025-07-03", "2025-08-20", "upheld"),
        ("K2", "C4", "2025-08-21", 6, "2025-08-26", None, None),
        ("K3", "C5", "2025-09-01", 4, None, "2025-11-03", "not_upheld"),
        ("K4", None, "2025-09-10", None, "2025-09-10", "2025-09-11", None),
        ("K5", "C7", "2025-06-30", 6, "2025-07-01", None, None),
        ("K6", "C6", "2025-09-02", 4, "2025-09-17", "2025-09-19", "resolved"),
    ]
    out["complaints"] = complaints_frame(complaints)
    out["panels"] = pd.DataFrame({"panel_id": ["P1"], "held_on": [date(2025, 7, 16)], "title": [HOSTILE_TITLE],
                                  "themes": ["vawg"], "format": ["virtual"]})
    out["actions"] = pd.DataFrame({
        "action_id": ["A1"], "finding_id": [None], "title": ["Explain support at first contact"],
        "owner": ["Victim Services Manager"], "raised_on": [date(2025, 7, 16)], "due_on": [date(2025, 8, 29)],
        "status": ["done"], "completed_on": [date(2025, 8, 1)], "measure": ["r4_referral_to_support_service"]})
    return out


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("outcomes") / "outcomes.duckdb"
    return build_store(path, fixture_tables(), data_as_of=AS_OF, is_demo=True, source="hand-written test fixture")


@pytest.fixture(scope="module")
def store(store_path):
    opened = open_store(store_path)
    yield opened
    opened.close()


# --- the measures -----------------------------------------------------------------------------------------------------


def _bars(distribution) -> dict[str, int]:
    return {label: count for label, count in zip(distribution.bars["label"], distribution.bars["count"]) if count}


def test_time_to_referral_from_the_offer_counts_working_days_and_matches_the_funnel(store):
    times = outcomes.referral_times(store, Q3, "offer")
    everyone = times[times["service"] == ALL_SERVICES]
    dist = working_day_distribution(everyone["working_days"], everyone["referrals"], limit=2,
                                    undated_label="No offer date")
    assert _bars(dist) == {"0": 1, "2": 2, "3": 1, "over 10": 1, "No offer date": 1}
    assert (dist.within_count, dist.total, dist.undated, dist.median) == (3, 6, 1, 2.0)
    assert dist.rate == pytest.approx(0.5)
    funnel = outcomes.referral_uptake(store, Q3)
    row = funnel[funnel["service"] == ALL_SERVICES].iloc[0]
    assert (row["referred_within"], row["referred"]) == (dist.within_count, dist.total)
    compass = times[times["service"] == "compass"]
    assert dict(zip(compass["working_days"].astype(object), compass["referrals"])) == {2: 1, pd.NA: 1}


def test_time_to_referral_from_the_report_uses_right_4s_clock(store):
    times = outcomes.referral_times(store, Q3, "report")
    everyone = times[times["service"] == ALL_SERVICES]
    dist = working_day_distribution(everyone["working_days"], everyone["referrals"], limit=2)
    assert _bars(dist) == {"0": 1, "1": 1, "2": 2, "3": 1, "over 10": 1}
    assert (dist.within_count, dist.total, dist.undated) == (4, 6, 0)


def test_time_to_referral_refuses_an_unknown_start():
    with pytest.raises(ValueError, match="unknown start 'consent'"):
        referral_times_sql(Q3, "consent")


def test_working_day_distribution_refuses_a_cap_below_the_limit():
    with pytest.raises(ValueError, match="every day up to the limit"):
        working_day_distribution(pd.Series([1]), pd.Series([1]), limit=10, cap=5)


def test_referred_of_considered_by_district_victim_type_and_month(store):
    counts = outcomes.referral_uptake(store, Q3, ("total", "district", "victim_type", "month"))
    rates = referral_measure_rates(counts, referral_measure("referred_of_in_scope"))
    by = {(b, lvl): (n, d) for b, lvl, n, d in zip(rates["breakdown"], rates["level"], rates["numerator"],
                                                    rates["denominator"])}
    assert by[("total", "all")] == (6, 8)
    assert by[("district", "Basildon")] == (4, 6) and by[("district", "Tendring")] == (2, 2)
    assert by[("victim_type", "enhanced")] == (1, 1) and by[("victim_type", "standard")] == (5, 7)
    assert by[("month", "2025-07")] == (2, 4) and by[("month", "2025-08")] == (1, 1)
    assert by[("month", "2025-09")] == (3, 3)
    july = rates[rates["level"] == "2025-07"].iloc[0]
    assert july["month"] == T("2025-07-01") and july["rate"] == pytest.approx(0.5)


def test_each_funnel_step_is_a_measure_of_the_step_before_and_unknown_measures_are_refused(store):
    counts = outcomes.referral_uptake(store, Q3)
    engaged = referral_measure_rates(counts, referral_measure("engaged_of_contacted"), "compass").iloc[0]
    assert (engaged["numerator"], engaged["denominator"]) == (1, 2)  # R4 of R4, R6
    with pytest.raises(ValueError, match="unknown referral measure"):
        referral_measure("referred_of_everyone")


def test_complaints_by_right_outcome_and_time_to_acknowledge(store):
    complaints = outcomes.complaints_by_right(store, Q3)
    by_right = complaint_rates_by_right(complaints)
    rows = [(None if pd.isna(r) else int(r), c, a, m) for r, c, a, m in
            zip(by_right["right_no"], by_right["complaints"], by_right["acknowledged"],
                by_right["median_working_days_to_acknowledge"])]
    assert rows == [(4, 2, 1, 11.0), (6, 2, 2, 2.0), (0, 1, 1, 0.0), (None, 5, 4, 2.0)]
    assert by_right["acknowledged_rate"].iloc[-1] == pytest.approx(0.8)
    by_outcome = complaint_outcomes(complaints)
    assert list(zip(by_outcome["outcome"], by_outcome["complaints"])) == [
        ("open", 2), ("upheld", 1), ("resolved", 1), ("not_recorded", 1), ("all", 5)]
    cross = complaint_crosstab(complaints).set_index("right_no")
    assert cross.loc[4, "open"] == 1 and cross.loc[4, "resolved"] == 1 and cross.loc[6, "upheld"] == 1
    times = outcomes.complaint_acknowledgement_times(store, Q3)
    dist = working_day_distribution(times["working_days"], times["complaints"], limit=10, cap=15)
    assert _bars(dist) == {"0": 1, "2": 2, "11": 1, "No start date": 1}  # K1, K2 2; K4 0; K6 11; K3 none
    assert (dist.within_count, dist.total) == (3, 5)


def test_survey_trend_rows_and_which_filters_surveys_cannot_follow(store):
    rates = survey_rates(outcomes.survey_results(store, Q3, ("month",)))
    series = survey_measure_series(rates, "overall")
    assert list(zip(series["month"].dt.strftime("%Y-%m"), series["numerator"], series["denominator"])) == [
        ("2025-07", 1, 1), ("2025-08", 0, 2), ("2025-09", 1, 1)]  # S1 5; S2 3, S4 1; S3 4
    filtered = period(date(2025, 7, 1), date(2025, 9, 1), as_of=AS_OF, district=["Basildon"], sex=["female"],
                      age_band=["18-24"])
    assert unsupported_filters(filtered) == ["Sex", "Age band"]


# --- the pages --------------------------------------------------------------------------------------------------------


def run_page(monkeypatch, store_path: Path, page: str, role: str = "victim_services", **query) -> AppTest:
    monkeypatch.setenv("VCD_STORE", str(store_path))
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["vcd_demo_role"] = role
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(page).run()
    return at


def texts(at: AppTest) -> str:
    """Every text on the page, with the backslashes that keep data out of Markdown taken off, as a reader sees it."""
    parts = [e.value for kind in ("markdown", "caption", "info", "warning", "error") for e in getattr(at, kind)]
    return re.sub(r"\\(.)", r"\1", "\n".join(str(p) for p in parts))


def table_with(at: AppTest, column: str) -> pd.DataFrame:
    return next(df.value for df in at.dataframe if column in df.value.columns)


@pytest.mark.app
def test_referral_page_shows_each_services_funnel_with_hand_worked_counts(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/referral_uptake.py")
    assert not at.exception and not at.error
    funnel = table_with(at, "Share of the step before").set_index(["Service", "Step"])
    assert funnel.loc[("All services", "Considered for the service"), "Count"] == "8"
    within = funnel.loc[("All services", "Referred within 2 working days")]
    assert (within["Count"], within["n of N"], within["Share of the step before"]) == ("3", "3 of 6", "50.0%")
    assert funnel.loc[("Compass", "Engaged with the service"), "n of N"] == "1 of 2"
    assert funnel.loc[("Other", "Offered a referral"), "n of N"] == "1 of 2"
    assert [s for s in dict.fromkeys(funnel.index.get_level_values(0))] == [
        "Victim Support", "Synergy Essex", "Compass", "Other", "All services"]
    page = texts(at)
    assert "Within 2 working days: 3 of 6 (50.0%" in page and "Median 2 working days" in page
    districts = table_with(at, "99.8% limits").set_index("District")
    assert districts.loc["Basildon", "n of N"] == "4 of 6" and districts.loc["Tendring", "n of N"] == "2 of 2"


@pytest.mark.app
def test_referral_time_can_be_counted_from_the_report(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/referral_uptake.py")
    at.segmented_control(key="referral_clock").set_value("report").run()
    assert not at.exception
    assert "Within 2 working days: 4 of 6 (66.7%" in texts(at)


@pytest.mark.app
def test_before_after_says_too_early_and_panel_titles_are_plain_text(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/referral_uptake.py")
    change = at.selectbox(key="referral_change")
    # The action on the referral entitlement comes first; the hostile panel title is an option's plain text.
    assert change.options[0] == "Panel action completed 01 Aug 2025: Explain support at first contact"
    assert f"Feedback panel held 16 Jul 2025: {HOSTILE_TITLE}" in change.options
    page = texts(at)
    # Completed on 1 Aug: July is the only month before, and there are 3 months in all.
    assert "Too early to tell: the before period has 1 month with cases (at least 3 are needed)" in page
    assert "<b>July</b>" not in page
    change.set_value("month").run()
    assert not at.exception and not at.error


@pytest.mark.app
def test_referral_page_for_the_board_hides_every_small_count(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/referral_uptake.py", role="board")
    assert not at.exception and not at.error
    funnel = table_with(at, "Share %")  # the board pack's table
    # Every count here is under 10: each non-zero one is hidden, zeros are shown, and no rate is left.
    assert set(funnel["Count"]) == {"[c]", "0"}
    assert set(funnel["Of"]) <= {"[c]", "0", "–"}
    assert set(funnel["Share %"]) <= {"[c]", "–"}
    page = texts(at)
    assert "Disclosure control for the board: counts from 1 to 9 are shown as [c]" in page
    assert "are not shown to the board" in page
    # Nothing to choose: no service, measure, clock or change, and no breakdown, histogram or trend.
    assert {w.key for w in at.selectbox} <= {"board_quarter", "_vcd_role_choice"}
    assert not at.segmented_control and not at.select_slider
    assert not any("99.8% limits" in df.value.columns or "Working days" in df.value.columns for df in at.dataframe)


@pytest.mark.app
def test_victim_voice_shows_survey_results_and_complaints_by_hand(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/victim_voice.py")
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Satisfied overall"] == "50.0%"
    assert metrics["Kept informed"] == "66.7%"
    assert metrics["Treated fairly"] == "75.0%"
    assert metrics["Aware of the Code"] == "66.7%"
    assert (metrics["Complaints received"], metrics["Acknowledged"]) == ("5", "80.0%")
    assert metrics["Median working days to acknowledge"] == "2"
    rights = table_with(at, "Median working days to acknowledge").set_index("Right")
    assert rights.loc["No right stated", "Complaints"] == "1"
    assert rights.loc["All complaints", "n of N"] == "4 of 5"
    assert list(rights.index[:2]) == ["Right 4: Referral to support services",
                                      "Right 6: Information about the investigation"]
    assert "Within 10 working days: 3 of 5 (60.0%" in texts(at)
    outcomes_table = table_with(at, "Acknowledged").set_index("Outcome")
    assert outcomes_table.loc["Open", "Complaints"] == "2" and outcomes_table.loc["Not recorded", "Complaints"] == "1"


@pytest.mark.app
def test_victim_voice_refuses_a_victim_filter_instead_of_showing_unfiltered_figures(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/victim_voice.py", sex="Female")  # the link holds the label
    assert not at.exception and not at.error
    assert any("cannot be filtered by sex" in i.value for i in at.info)
    assert not at.metric


@pytest.mark.app
def test_victim_voice_for_the_board_hides_small_counts_and_the_two_way_table(monkeypatch, store_path):
    at = run_page(monkeypatch, store_path, "pages/victim_voice.py", role="board")
    assert not at.exception and not at.error
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Complaints received"] == "[c]"
    assert metrics["Satisfied overall"] == "–"
    assert metrics["Median working days to acknowledge"] == "[c]"
    assert not any("All outcomes" in df.value.columns for df in at.dataframe)
    assert "not shown to the board" in texts(at)
    assert {w.key for w in at.selectbox} <= {"board_quarter", "_vcd_role_choice"}  # no question or survey to pick
    rights = table_with(at, "Right").set_index("Right")
    assert rights.loc["All complaints", "Complaints"] == "[c]" and rights.loc["Right 4", "Acknowledged"] == "[c]"


@pytest.mark.app
def test_a_service_with_no_records_in_the_selection_says_so(monkeypatch, store_path):
    # Tendring holds R2 (Victim Support) and R4 (Compass) only.
    at = run_page(monkeypatch, store_path, "pages/referral_uptake.py", district="Tendring")
    at.selectbox(key="referral_service").set_value("synergy_essex").run()
    assert not at.exception and not at.error
    assert "No records for Synergy Essex in this selection" in texts(at)
    funnel = table_with(at, "Share of the step before").set_index(["Service", "Step"])
    assert funnel.loc[("All services", "Considered for the service"), "Count"] == "2"


@pytest.mark.app
def test_a_bad_suppression_threshold_stops_the_board_page_with_a_message_not_small_numbers(monkeypatch, store_path):
    monkeypatch.setenv("VCD_SUPPRESSION_THRESHOLD", "ten")
    at = run_page(monkeypatch, store_path, "pages/victim_voice.py", role="board")
    assert not at.exception
    assert "VCD_SUPPRESSION_THRESHOLD must be a whole number" in re.sub(r"\\(.)", r"\1", at.error[0].value)
    assert not at.metric and not at.dataframe


def test_a_hidden_funnel_step_says_so_beside_the_axis_rather_than_showing_an_empty_gap():
    from ui.charts import steps_figure

    steps = pd.DataFrame({"label": ["Considered", "Offered a referral", "Consent given"], "count": [72, None, 38],
                          "share": [None, None, None]})
    figure = steps_figure(steps)
    bars, words = figure.data
    assert list(bars.x) == [38, 0, 72]  # drawn from the bottom up; the hidden step has no bar
    assert list(words.y) == ["Offered a referral"] and list(words.text) == ["hidden [c]"] and words.mode == "text"
    assert len(steps_figure(steps.fillna({"count": 50})).data) == 1  # nothing hidden: no words trace
