"""Panel planning (metrics.panel_planning) and improvement tracking (metrics.improvement) on hand-made fixtures.

Every expected value is worked out by hand in the comments; none is copied from the code's output.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from helpers import ent, tables, victim
from data_access.panel_edits import finalised_cases_by_theme
from metrics.improvement import action_verdict, overdue_actions, verdict_table
from metrics.panel_planning import (candidate_themes, group_concerns, group_series, theme_cases_sql, theme_counts)
from metrics.summaries import series_spc

# --- victims a panel could invite: finalised cases with no open complaint, per theme -----------------------
#
# As of 30 Jun 2025, window 1 Jan 2025 to 30 Jun 2025.
#   case  group                        flags  closed       victims (sex, ethnicity, enhanced)     complaint        in?
#   K1    sexual_offences              -      2025-03-10   female white most_serious_crime        -                yes
#   K2    theft                        DA     2025-02-01   female asian                           -                yes
#   K3    public_order                 hate   2025-04-01   male unknown                           -                yes
#   K4    violence_against_the_person  -      2025-05-01   male black                             -                yes
#   K5    violence_against_the_person  -      2025-05-02   female white                           open (no close)  no
#   K6    sexual_offences              -      2025-05-03   male white + female mixed              closed 1 Jun     yes
#   K7    sexual_offences              -      2024-12-31   female white                           -                no: before the window
#   K8    sexual_offences              -      (open)       female white                           -                no: not finalised
#   K9    burglary                     -      2025-06-15   male white                             closes 5 Jul     no: open on 30 Jun
#   K10   burglary                     -      2025-07-02   male white                             -                no: after the as-of date
#   K11   burglary                     -      closed, no date                                     -                no: cannot be placed
#   K12   robbery                      -      2025-03-03   male white                             received 1 Jul   yes: not received by 30 Jun
# all = K1 K2 K3 K4 K6 K12 = 6
# sexual violence & DA = K1 (sexual) K2 (DA) K6 (sexual) = 3
# VAWG (a female victim of sexual/violence/DA) = K1 K2 K6 = 3 (K4's victim is male; K5 is out)
# minority communities (Asian/Black/mixed/other, or hate crime) = K2 K3 K4 K6 = 4
# stalking & harassment (public order) = K3 = 1;  high harm (most serious crime) = K1 = 1

CASES = [
    ("K1", "sexual_offences", False, False, "closed", "2025-03-10"),
    ("K2", "theft", True, False, "closed", "2025-02-01"),
    ("K3", "public_order", False, True, "closed", "2025-04-01"),
    ("K4", "violence_against_the_person", False, False, "closed", "2025-05-01"),
    ("K5", "violence_against_the_person", False, False, "closed", "2025-05-02"),
    ("K6", "sexual_offences", False, False, "closed", "2025-05-03"),
    ("K7", "sexual_offences", False, False, "closed", "2024-12-31"),
    ("K8", "sexual_offences", False, False, "open", None),
    ("K9", "burglary", False, False, "closed", "2025-06-15"),
    ("K10", "burglary", False, False, "closed", "2025-07-02"),
    ("K11", "burglary", False, False, "closed", None),
    ("K12", "robbery", False, False, "closed", "2025-03-03"),
]
VICTIMS = [("V1", "K1", "female", "white", "most_serious_crime"), ("V2", "K2", "female", "asian", None),
           ("V3", "K3", "male", "unknown", None), ("V4", "K4", "male", "black", None),
           ("V5", "K5", "female", "white", None), ("V6a", "K6", "male", "white", None),
           ("V6b", "K6", "female", "mixed", None), ("V7", "K7", "female", "white", None),
           ("V8", "K8", "female", "white", None), ("V9", "K9", "male", "white", None),
           ("V10", "K10", "male", "white", None), ("V11", "K11", "male", "white", None),
           ("V12", "K12", "male", "white", None)]
COMPLAINTS = [("Q5", "K5", "2025-05-10", None), ("Q6", "K6", "2025-05-05", "2025-06-01"),
              ("Q9", "K9", "2025-06-20", "2025-07-05"), ("Q12", "K12", "2025-07-01", None)]


@pytest.fixture
def planning_store(make_store):
    out = tables(cases=[], victims=[victim(v, k, e, sex=s, ethnicity=eth) for v, k, s, eth, e in VICTIMS],
                 entitlements=[ent("E1", "r4_needs_assessment", "2025-01-06", "2025-01-07", victim_id="V1")])
    out["cases"] = pd.DataFrame({
        "case_id": [c[0] for c in CASES], "reported_at": pd.to_datetime(["2024-12-01"] * len(CASES)),
        "offence_group": [c[1] for c in CASES], "district": ["Basildon"] * len(CASES),
        "domestic_abuse": [c[2] for c in CASES], "hate_crime": [c[3] for c in CASES],
        "status": [c[4] for c in CASES], "closed_at": pd.to_datetime([c[5] for c in CASES])})
    out["complaints"] = pd.DataFrame({
        "complaint_id": [q[0] for q in COMPLAINTS], "case_id": [q[1] for q in COMPLAINTS],
        "received_at": pd.to_datetime([q[2] for q in COMPLAINTS]), "closed_at": pd.to_datetime([q[3] for q in COMPLAINTS]),
        "right_no": [12] * len(COMPLAINTS)})
    return make_store(out, date(2025, 6, 30))


def test_finalised_cases_with_no_open_complaint_are_counted_per_theme(planning_store):
    sql, params = theme_cases_sql(date(2025, 6, 30), date(2025, 1, 1))
    row = planning_store.query(sql, params)
    assert int(row["all"].iloc[0]) == 6
    counts = finalised_cases_by_theme(planning_store, date(2025, 6, 30), date(2025, 1, 1)).set_index("theme")
    counts = counts["cases"].to_dict()
    assert counts == {"sexual_violence_domestic_abuse": 3, "vawg": 3, "minority_communities": 4,
                      "stalking_harassment": 1, "high_harm": 1}


def test_a_window_that_starts_after_the_as_of_date_is_refused():
    with pytest.raises(ValueError, match="starts after"):
        theme_cases_sql(date(2025, 6, 30), date(2025, 7, 1))


# --- groups whose delivery shows a special-cause concern ------------------------------------------------

def monthly(first: str, delivered: list[int], eligible: int) -> pd.DataFrame:
    months = pd.date_range(first, periods=len(delivered), freq="MS")
    return pd.DataFrame({"month": months, "delivered": delivered, "eligible": [eligible] * len(delivered)})


def spc_of(frame: pd.DataFrame, code: str):
    months = pd.DatetimeIndex(frame["month"])
    return series_spc(frame, months, code=code, label=code, numerator="delivered", denominator="eligible")


# Group A (18 months from Jan 2024, 10 a month): .8 .9 alternating for 10 months, then .5 for 8 months.
#   mean 12.5/18 = .69444; MR-bar 1.3/17 = .076471; limits .49103 to .89786; near limits .55883 to .83005.
#   The eight .5 months are a shift below the mean and close to the lower limit: special-cause concerns
#   Nov 2024 to Jun 2025, and the latest month is one: ongoing since Nov 2024, 8 months of concern.
GROUP_A = monthly("2024-01-01", [8, 9] * 5 + [5] * 8, 10)
# Group B (20 months from Jan 2024, 20 a month): .8 .9 alternating for 18 months, then .4 (Jul 2025), .85 (Aug 2025).
#   mean (9 x .8 + 9 x .9 + .4 + .85) / 20 = 16.55 / 20 = .8275
#   MR-bar (17 x .1 + |.9 - .4| + |.4 - .85|) / 19 = 2.65 / 19 = .139474; limits .8275 -/+ .37100 = .45650 to 1.19850
#   Jul 2025 (.4) is beyond the lower limit: a concern. No run of 7 on one side (the values alternate), no trend,
#   Aug 2025 (.85) is common cause, so the latest month is common cause: a "recent" concern from Jul 2025.
GROUP_B = monthly("2024-01-01", [16, 18] * 9 + [8, 17], 20)
# Group C: .8 .9 alternating for 20 months: mean .85, limits .584 to 1.116, nothing flagged.
GROUP_C = monthly("2024-01-01", [16, 18] * 10, 20)
LABELS = {"offence_group": "Offence group", "sex": "Sex"}


def test_groups_with_ongoing_concerns_come_before_recent_ones_and_common_cause_is_left_out():
    series = {("offence_group", "sexual_offences"): spc_of(GROUP_A, "a"), ("sex", "female"): spc_of(GROUP_B, "b"),
              ("sex", "male"): spc_of(GROUP_C, "c")}
    concerns = group_concerns(series, LABELS, recent_from=date(2025, 6, 1))
    assert list(concerns["group"]) == ["Offence group: Sexual offences", "Sex: Female"]
    a, b = concerns.iloc[0], concerns.iloc[1]
    assert (a["status"], a["since"], a["months_of_concern"], a["concern_months"]) == \
        ("ongoing", pd.Timestamp("2024-11-01"), 8, "Nov 2024 to Jun 2025")
    assert (a["latest_numerator"], a["latest_denominator"]) == (5, 10)
    assert a["mean"] == pytest.approx(12.5 / 18)
    assert (b["status"], b["since"], b["months_of_concern"], b["concern_months"]) == \
        ("recent", pd.Timestamp("2025-07-01"), 1, "Jul 2025")
    assert (b["latest_month"], b["latest_numerator"], b["latest_denominator"]) == (pd.Timestamp("2025-08-01"), 17, 20)


def test_a_concern_before_the_recent_window_is_not_listed():
    series = {("sex", "female"): spc_of(GROUP_B, "b")}
    assert group_concerns(series, LABELS, recent_from=date(2025, 8, 1)).empty


def test_group_series_reads_pivot_counts_and_leaves_months_without_cases_empty():
    # Two levels over three months; 'male' has no row for Feb: no value that month (NaN), never 0%.
    counts = pd.DataFrame({"row_level": ["2025-01", "2025-02", "2025-03", "2025-01", "2025-03"],
                           "column_level": ["female", "female", "female", "male", "male"],
                           "eligible": [4, 5, 2, 3, 1], "delivered": [2, 5, 1, 3, 0]})
    months = pd.date_range("2025-01-01", "2025-03-01", freq="MS")
    found = group_series(counts, "sex", months)
    assert sorted(found) == ["female", "male"]
    assert list(found["female"].series["rate"]) == [0.5, 1.0, 0.5]
    male = found["male"].series
    assert male["rate"].iloc[0] == 1.0 and pd.isna(male["rate"].iloc[1]) and male["rate"].iloc[2] == 0.0
    assert found["female"].code == "sex:female" and found["female"].label == "Female"


def test_candidate_themes_put_concerns_first_then_the_themes_heard_longest_ago():
    cases = theme_counts(pd.DataFrame([{"all": 20, "sexual_violence_domestic_abuse": 7, "vawg": 9,
                                        "minority_communities": 4, "stalking_harassment": 0, "high_harm": 2}]))
    concerns = pd.DataFrame({"dimension": ["ethnicity"], "level": ["black"], "group": ["Ethnicity: Black"],
                             "status": ["ongoing"], "since": [pd.Timestamp("2025-02-01")],
                             "concern_months": ["Feb 2025 to Jun 2025"]})
    panels = pd.DataFrame({"held_on": pd.to_datetime(["2024-06-12", "2024-12-11", "2025-06-11"]),
                           "themes": ["vawg", "sexual_violence_domestic_abuse; high_harm", "vawg"]})
    themes = candidate_themes(cases, concerns, panels)
    # minority communities: a concern (Black victims). Then never heard: stalking and harassment. Then heard
    # longest ago: SVDA and high harm (11 Dec 2024; contract order breaks the tie), then VAWG (11 Jun 2025).
    assert list(themes["theme"]) == ["minority_communities", "stalking_harassment", "sexual_violence_domestic_abuse",
                                     "high_harm", "vawg"]
    first = themes.iloc[0]
    assert first["concerns"] == "Ethnicity: Black: concerning since Feb 2025 (ongoing)" and first["cases"] == 4
    assert pd.isna(themes.iloc[1]["last_panel"])
    assert themes.set_index("theme").loc["vawg", "last_panel"] == pd.Timestamp("2025-06-11")


# --- improvement tracking: the verdict on a completed action ---------------------------------------------
#
# Before: 12 months (Jan to Dec 2024) of 20 cases, alternating 11 and 9 delivered (.55, .45): mean .5,
# MR-bar .1, limits .5 -/+ .266 = .234 to .766 (near limits .32267 to .67733). December is .45, below the mean,
# so no run that goes on into the after months starts before the action. The action is completed on
# 1 Jan 2025, so January is the first "after" month and no month is left out.

BEFORE = [11, 9] * 6


def action_series(after: list[int], before: list[int] = BEFORE) -> pd.DataFrame:
    values = before + after
    return pd.DataFrame({"month": pd.date_range("2025-01-01", periods=len(values), freq="MS")
                         - pd.DateOffset(months=len(before)), "numerator": values, "denominator": [20] * len(values)})


def test_after_months_above_the_before_limits_are_an_improvement():
    verdict = action_verdict(action_series([16] * 8), date(2025, 1, 1))  # .8 > .766: beyond the upper limit
    assert verdict.verdict == "improved" and verdict.label == "Improved"
    assert "Special cause, higher after" in verdict.reason
    assert "Before: Jan 2024 to Dec 2024; after: Jan 2025 to Aug 2025." in verdict.reason
    # difference in proportions: 128/160 = .8 after against 120/240 = .5 before
    assert verdict.evidence.proportions.difference == pytest.approx(0.3)


def test_after_months_below_the_before_limits_are_worse():
    verdict = action_verdict(action_series([4] * 8), date(2025, 1, 1))  # .2 < .234
    assert verdict.verdict == "worse" and "Special cause, lower after" in verdict.reason


def test_after_months_within_the_limits_are_no_change():
    verdict = action_verdict(action_series([11, 9] * 4), date(2025, 1, 1))  # still alternating .55 / .45
    assert verdict.verdict == "no_change" and "No special cause in the 8 months after" in verdict.reason


def test_special_causes_on_both_sides_fall_back_on_the_difference_in_proportions():
    # 4 months at .8 then 4 at .2: both sides; after 80/160 = .5 against .5 before: no clear change
    verdict = action_verdict(action_series([16] * 4 + [4] * 4), date(2025, 1, 1))
    assert verdict.verdict == "no_change" and "special causes on both sides" in verdict.reason


@pytest.mark.parametrize("after, before, why", [
    ([16] * 5, BEFORE, "the after period has 5 months with cases (at least 6 are needed)"),
    ([16] * 10, [11, 9, 11, 9, 11], "the before period has 5 months with cases (at least 6 are needed)"),
    ([16] * 7, [11, 9] * 3 + [11], "there are 14 months with a value, and process limits need at least 15"),
])
def test_too_few_months_is_too_early_to_tell(after, before, why):
    verdict = action_verdict(action_series(after, before), date(2025, 1, 1))
    assert verdict.verdict == "too_early" and verdict.label == "Too early to tell" and why in verdict.reason


def test_the_month_an_action_was_completed_in_is_left_out():
    # completed 15 Jan 2025: January is partly before and partly after, so after = Feb to Aug 2025 (7 months)
    verdict = action_verdict(action_series([16] * 8), date(2025, 1, 15))
    assert verdict.verdict == "improved"
    assert "after: Feb 2025 to Aug 2025 (Jan 2025, the month the action was completed, is left out)" in verdict.reason
    assert verdict.evidence.proportions.after_months == 7


def test_the_verdict_table_judges_completed_actions_with_a_charted_measure_only():
    actions = pd.DataFrame({
        "action_id": ["A1", "A2", "A3", "A4"], "title": ["Fix", "No measure", "Unmeasured", "Still going"],
        "owner": ["VSM", None, None, None], "status": ["done", "done", "done", "in_progress"],
        "completed_on": pd.to_datetime(["2025-01-01", "2025-01-01", "2025-01-01", None]),
        "measure": ["m1", None, "r10_property_returned", "m1"]})
    verdicts, skipped = verdict_table(actions, {"m1": action_series([16] * 8)}, {"m1": "Measure one"})
    assert list(verdicts["action_id"]) == ["A1"]
    assert (verdicts.iloc[0]["verdict_label"], verdicts.iloc[0]["measure_label"]) == ("Improved", "Measure one")
    assert list(skipped["action_id"]) == ["A2", "A3"]
    assert list(skipped["why"]) == ["It names no measure.",
                                    "Its measure is not measured from the force's records, so there is no series to judge."]


def test_overdue_means_open_and_due_before_the_as_of_date():
    actions = pd.DataFrame({"action_id": ["A", "B", "C", "D", "E"],
                            "status": ["agreed", "in_progress", "done", "proposed", "dropped"],
                            "due_on": pd.to_datetime(["2025-05-22", "2025-06-01", "2025-01-01", None, "2025-01-01"])})
    flagged = overdue_actions(actions, date(2025, 6, 1))
    # A: open, due 22 May -> 10 days overdue on 1 Jun. B: due on the as-of date itself, not yet overdue.
    # C done and E dropped are closed; D has no due date.
    assert list(flagged["overdue"]) == [True, False, False, False, False]
    assert flagged["days_overdue"].iloc[0] == 10 and flagged["days_overdue"].iloc[1:].isna().all()


def test_the_brief_reason_names_the_side_months_and_rules_without_figures():
    verdict = action_verdict(action_series([16] * 8), date(2025, 1, 1))
    # the 8 after months at .8 are beyond the upper limit .766 and a run of 8 above the before mean .5 (a shift)
    assert verdict.brief == ("Improved. A special cause after the action, above the before months' mean in Jan 2025 to "
                             "Aug 2025 (beyond a process limit, shift: a long run on one side of the mean). Before: "
                             "Jan 2024 to Dec 2024; after: Jan 2025 to Aug 2025.")
    steady = action_verdict(action_series([11, 9] * 4), date(2025, 1, 1))
    assert steady.brief.startswith("No change. No special cause in the 8 months after the action")
