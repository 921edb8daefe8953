"""Before/after comparisons (metrics/before_after.py): Newcombe's interval worked by hand, every verdict of the
difference in proportions and of the SPC view, and which months fall on which side of a change."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from metrics.before_after import before_after, compare_proportions, newcombe_difference, split_months

# --- Newcombe's hybrid score interval ------------------------------------------------------------------------


def test_newcombe_interval_matches_the_hand_working():
    # before 40/100, after 60/100; z = 1.959964, z^2 = 3.841459.
    # Wilson, 40/100: denominator 1 + z^2/n = 1.0384146
    #   centre = (0.4 + z^2/200) / 1.0384146 = 0.4192073 / 1.0384146 = 0.4036991
    #   half   = z * sqrt(0.4*0.6/100 + z^2/40000) / 1.0384146 = 1.959964 * sqrt(0.00249604) / 1.0384146
    #          = 1.959964 * 0.0499604 / 1.0384146 = 0.0942978
    #   -> l_before = 0.3094013, u_before = 0.4979969
    # Wilson, 60/100 is the mirror image: l_after = 1 - 0.4979969 = 0.5020031, u_after = 0.6905987.
    # d = 0.6 - 0.4 = 0.2
    # lower = 0.2 - sqrt((0.6 - 0.5020031)^2 + (0.4979969 - 0.4)^2) = 0.2 - sqrt(2 * 0.0979969^2)
    #       = 0.2 - 0.0979969 * 1.4142136 = 0.2 - 0.1385893 = 0.0614107
    # upper = 0.2 + sqrt((0.6905987 - 0.6)^2 + (0.4 - 0.3094013)^2) = 0.2 + 0.0905987 * 1.4142136 = 0.3281259
    difference, lower, upper = newcombe_difference(40, 100, 60, 100)
    assert difference == pytest.approx(0.2)
    assert lower == pytest.approx(0.0614107, abs=1e-6)
    assert upper == pytest.approx(0.3281259, abs=1e-6)


def test_newcombe_interval_matches_newcombes_published_example():
    # Newcombe (1998), Statistics in Medicine 17:873-890, example (a): 56/70 - 48/80, method 10: 0.0524 to 0.3339.
    # Here d = after - before, so after = 56/70 and before = 48/80.
    difference, lower, upper = newcombe_difference(48, 80, 56, 70)
    assert difference == pytest.approx(0.2)
    assert round(lower, 4) == 0.0524
    assert round(upper, 4) == 0.3339


def test_newcombe_interval_is_undefined_without_cases_on_a_side():
    difference, lower, upper = newcombe_difference(0, 0, 5, 10)
    assert all(pd.isna(v) for v in (difference, lower, upper))


# --- the difference in proportions: every verdict -----------------------------------------------------------


def test_a_rise_whose_interval_excludes_zero_is_higher_after():
    # 40/100 -> 60/100, 3 months each: interval +6.1 to +32.8 points (worked above): above 0.
    change = compare_proportions(40, 100, 3, 60, 100, 3)
    assert change.verdict == "higher"
    assert change.words.startswith("Higher after: 60.0% after (60 of 100) against 40.0% before (40 of 100)")
    assert "+20.0 percentage points (95% CI +6.1 percentage points to +32.8 percentage points)" in change.words
    assert "excludes no change" in change.words


def test_a_fall_whose_interval_excludes_zero_is_lower_after():
    # The mirror image: 60/100 -> 40/100, d = -0.2, interval -32.8 to -6.1 points: below 0.
    change = compare_proportions(60, 100, 3, 40, 100, 3)
    assert change.verdict == "lower"
    assert change.lower == pytest.approx(-0.3281259, abs=1e-6)
    assert change.upper == pytest.approx(-0.0614107, abs=1e-6)
    assert change.words.startswith("Lower after")


def test_a_difference_whose_interval_includes_zero_is_no_clear_change():
    # 40/100 -> 45/100: Wilson 45/100 = 0.3561454 to 0.5475540.
    # lower = 0.05 - sqrt((0.45 - 0.3561454)^2 + (0.4979969 - 0.4)^2) = 0.05 - sqrt(0.0088087 + 0.0096034)
    #       = 0.05 - 0.1356915 = -0.0856915: below 0, so the interval includes no change.
    change = compare_proportions(40, 100, 3, 45, 100, 3)
    assert change.verdict == "no_clear_change"
    assert change.lower == pytest.approx(-0.0856915, abs=1e-6)
    assert change.upper > 0
    assert "may be chance" in change.words


@pytest.mark.parametrize("months_before, n_before, months_after, n_after, reason", [
    (3, 100, 2, 100, "the after period has 2 months with cases (at least 3 are needed)"),
    (1, 100, 3, 100, "the before period has 1 month with cases (at least 3 are needed)"),
    (3, 100, 3, 29, "the after period has 29 cases (at least 30 are needed)"),
])
def test_too_few_months_or_cases_on_either_side_is_too_early_to_tell(months_before, n_before, months_after, n_after,
                                                                    reason):
    # Even a large difference gets no verdict on too little: 0 of n_before -> all n_after.
    change = compare_proportions(0, n_before, months_before, n_after, n_after, months_after)
    assert change.verdict == "too_early"
    assert reason in change.words
    assert change.label == "Too early to tell"


def test_a_numerator_above_its_denominator_is_refused():
    with pytest.raises(ValueError, match="after period's numerator"):
        compare_proportions(1, 10, 3, 11, 10, 3)


# --- which months are before and after -----------------------------------------------------------------------


def test_a_change_on_the_first_takes_effect_that_month_and_later_in_a_month_the_next():
    on_first = split_months(date(2025, 8, 1))
    assert on_first.first_after == pd.Timestamp("2025-08-01") and on_first.transition is None
    assert on_first.period_of(pd.Timestamp("2025-07-01")) == "before"
    mid_month = split_months(date(2025, 7, 16))  # a panel held on Wed 16 Jul 2025
    assert mid_month.first_after == pd.Timestamp("2025-08-01")
    assert mid_month.period_of(pd.Timestamp("2025-07-01")) == "transition"
    assert mid_month.period_of(pd.Timestamp("2025-06-01")) == "before"


def test_the_transition_month_and_months_without_cases_are_left_out_of_both_periods():
    # Apr, May, Jun 10 of 20 each -> before 30 of 60 over 3 months. Jul is the change's month (16 Jul): left out,
    # whatever it holds. Aug, Sep, Oct 15 of 20 each and Nov with no cases -> after 45 of 60 over 3 months.
    series = pd.DataFrame({
        "month": pd.to_datetime(["2025-04-01", "2025-05-01", "2025-06-01", "2025-07-01", "2025-08-01", "2025-09-01",
                                 "2025-10-01", "2025-11-01"]),
        "numerator": [10, 10, 10, 900, 15, 15, 15, 0],
        "denominator": [20, 20, 20, 1000, 20, 20, 20, 0]})
    result = before_after(series, date(2025, 7, 16))
    p = result.proportions
    assert (p.before_numerator, p.before_denominator, p.before_months) == (30, 60, 3)
    assert (p.after_numerator, p.after_denominator, p.after_months) == (45, 60, 3)
    assert result.before_range == "Apr 2025 to Jun 2025"
    assert result.after_range == "Aug 2025 to Nov 2025"
    assert list(result.months["period"]) == ["before"] * 3 + ["transition"] + ["after"] * 4


# --- the SPC view: limits from the before months -------------------------------------------------------------

def _series(before: list[int], after: list[int]) -> pd.DataFrame:
    """Monthly numerators out of 100 from Jan 2024; the change is on the first of the first after month."""
    values = before + after
    return pd.DataFrame({"month": pd.date_range("2024-01-01", periods=len(values), freq="MS"),
                         "numerator": values, "denominator": [100] * len(values)})


# Before: 16 months alternating 52%, 50% (Jan 2024 to Apr 2025). Mean 0.51; every moving range 0.02, so
# MR-bar 0.02; limits 0.51 +/- 2.66 x 0.02 = 45.68% to 56.32%; near limits 0.51 +/- 1.7733 x 0.02 = 47.45% to
# 54.55%. Starting at 52% the last before month is 50% (below the mean), so no before month runs on into an
# after run above the mean; starting at 50% it ends at 52% (above), for a run below.
HIGH_FIRST = [52, 50] * 8
LOW_FIRST = [50, 52] * 8
CHANGE = date(2025, 5, 1)


def test_seven_after_months_above_the_before_mean_are_a_special_cause_higher():
    # May to Nov 2025 at 54%: inside the limits and the near limit (54% < 54.55%), but 7 in a row above the
    # before mean of 51%: a shift. Had the limits been worked out from all 23 months, the mean would move up.
    result = before_after(_series(HIGH_FIRST, [54] * 7), CHANGE)
    spc = result.spc
    assert spc.verdict == "higher"
    assert list(spc.after_signals["date"].dt.strftime("%Y-%m")) == [f"2025-{m:02d}" for m in range(5, 12)]
    assert "mean 51.0% and process limits 45.7% to 56.3%" in spc.words
    assert "7 months above the before period's mean (May 2025 to Nov 2025: shift" in spc.words
    assert not spc.before_unstable
    baseline = spc.result.points["baseline"]
    assert int(baseline.sum()) == 16 and bool(baseline.iloc[:16].all())  # limits from the before months only


def test_seven_after_months_below_the_before_mean_are_a_special_cause_lower():
    # May to Nov 2025 at 48%: above the lower near limit (47.45%), 7 in a row below the mean of 51%: a shift.
    result = before_after(_series(LOW_FIRST, [48] * 7), CHANGE)
    assert result.spc.verdict == "lower"
    assert "7 months below the before period's mean" in result.spc.words


def test_after_months_like_the_before_months_show_no_special_cause():
    # The same alternation carries on: within the limits, no run of 7 on one side, no trend.
    result = before_after(_series(HIGH_FIRST, [52, 50] * 3 + [52]), CHANGE)
    assert result.spc.verdict == "no_clear_change"
    assert result.spc.after_signals.empty
    assert "within normal variation" in result.spc.words


def test_one_month_beyond_the_upper_limit_is_named():
    # One after month at 60% (above 56.32%) among after months at 50%/52%: rule 1, on the high side.
    result = before_after(_series(HIGH_FIRST, [52, 50, 60, 50, 52]), CHANGE)
    assert result.spc.verdict == "higher"
    assert "1 month above the before period's mean (Jul 2025: beyond a process limit)" in result.spc.words


def test_special_causes_among_the_before_months_are_flagged_as_an_unstable_baseline():
    # The 5th before month (May 2024) at 70% instead of 52%: mean (8*52 + 8*50 - 52 + 70)/16 = 834/16 = 52.125%;
    # moving ranges 13 x 0.02 and 2 x 0.20 (50 -> 70 -> 50) = 0.66 over 15 -> MR-bar 0.044; upper limit
    # 0.52125 + 2.66 x 0.044 = 63.83%, so 70% is beyond it. The after months are like the ordinary before ones.
    before = HIGH_FIRST.copy()
    before[4] = 70
    result = before_after(_series(before, [52, 50] * 3 + [52]), CHANGE)
    assert result.spc.before_unstable
    assert "before period was not stable" in result.spc.words


def test_fewer_than_15_months_in_all_is_too_early_for_spc():
    # 6 before + 4 after = 10 months with a value: a run chart, no limits.
    result = before_after(_series(HIGH_FIRST[:6], [54] * 4), date(2024, 7, 1))
    assert result.spc.verdict == "too_early"
    assert "there are 10 months with a value, and process limits need at least 15" in result.spc.words


def test_too_few_before_months_is_too_early_for_spc_too():
    # 2 before months, 14 after: limits would rest on one moving range.
    result = before_after(_series([52, 50], [52, 50] * 7), date(2024, 3, 1))
    assert result.spc.verdict == "too_early"
    assert "the before period has 2 months with cases" in result.spc.words


def test_before_after_needs_the_series_columns():
    with pytest.raises(ValueError, match="denominator"):
        before_after(pd.DataFrame({"month": [], "numerator": []}), CHANGE)
