"""XmR charts and the Making Data Count rules and icons, on hand-built series.

Most rule tests use the same 12-point baseline, fixed with baseline_points=12 so that the points
after it do not move the limits:

    BASE = 10, 12, 10, 12, ... (12 points): mean 11; moving ranges all 2, MR-bar 2
    UPL = 11 + 2.66 x 2 = 16.32            LPL = 11 - 5.32 = 5.68
    near limits = 11 +/- (2/3 x 2.66) x 2 = 11 +/- 3.546667  ->  14.546667 and 7.453333
    "close" above the mean: 14.546667 < x <= 16.32; below: 5.68 <= x < 7.453333

BASE alternates sides of the mean and alternates rises and falls, so on its own it breaks no rule.
It ends on 12 (above the mean), so most tests put 11 (exactly on the mean) next, to start clean.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.spc import (
    ASSURANCE_ICONS, MIN_POINTS_PARTITION, MIN_POINTS_SPC, POINT_TYPES, RUN_CHART_NOTE, VARIATION_ICONS,
    rule_outside, rule_shift, rule_trend, rule_two_of_three, xmr_chart, xmr_limits,
)

BASE = [10, 12] * 6
UPL, LPL, UPPER_NEAR, LOWER_NEAR = 16.32, 5.68, 14.546667, 7.453333
HAND = [10, 12, 11, 13] * 3 + [10, 12, 11]  # 15 values for the limits worked by hand below


def months(n: int, start: str = "2023-01-01") -> pd.DatetimeIndex:
    return pd.date_range(start, periods=n, freq="MS")


def chart(tail, **kw):
    """BASE followed by `tail`, limits from BASE only."""
    values = BASE + list(tail)
    return xmr_chart(values, months(len(values)), baseline_points=12, **kw)


def flagged(result, rule: str) -> list[int]:
    return [int(i) for i in np.flatnonzero(result.points[rule].to_numpy())]


# --- limits ----------------------------------------------------------------------------------------

def test_limits_by_hand():
    result = xmr_chart(HAND, months(15))
    # sum = 3 x (10 + 12 + 11 + 13) + 10 + 12 + 11 = 138 + 33 = 171; mean = 171 / 15 = 11.4
    # moving ranges 2,1,2,3 three times then 2,1: sum 3 x 8 + 3 = 27 over 14; MR-bar = 1.928571
    # 2.66 x 27/14 = 5.13 -> UPL 16.53, LPL 6.27; (2/3)(2.66) x 27/14 = 3.42 -> 14.82 and 7.98
    part = result.partitions.iloc[0]
    assert part["mean"] == pytest.approx(11.4)
    assert part["mr_bar"] == pytest.approx(27 / 14)
    assert part["upl"] == pytest.approx(16.53)
    assert part["lpl"] == pytest.approx(6.27)
    assert part["upper_near"] == pytest.approx(14.82)
    assert part["lower_near"] == pytest.approx(7.98)
    assert result.kind == "xmr" and not part["trial"]
    # The series alternates about 11.4 and alternates rises and falls, and stays inside 7.98-14.82.
    assert not result.points["special_cause"].any()
    assert result.variation_icon == "common_cause"
    assert result.points["moving_range"].iloc[1:4].tolist() == [2, 1, 2]
    assert math.isnan(result.points["moving_range"].iloc[0])


def test_baseline_limits_by_hand():
    result = chart([11, 11, 11])
    part = result.partitions.iloc[0]
    assert (part["mean"], part["mr_bar"], part["baseline_points"]) == (11, 2, 12)
    assert part["upl"] == pytest.approx(UPL) and part["lpl"] == pytest.approx(LPL)
    assert part["upper_near"] == pytest.approx(UPPER_NEAR) and part["lower_near"] == pytest.approx(LOWER_NEAR)
    assert result.points["baseline"].tolist() == [True] * 12 + [False] * 3


def test_xmr_limits_single_value_has_no_limits():
    lim = xmr_limits([5.0])
    assert lim["mean"] == 5.0 and math.isnan(lim["mr_bar"]) and math.isnan(lim["upl"])


def test_moving_range_screening_is_off_by_default_and_optional():
    values = [10, 12] * 7 + [40]
    # 13 moving ranges of 2 and one of |40 - 12| = 28: MR-bar = (26 + 28) / 14 = 54/14 = 3.857143
    # mean = (7 x 10 + 7 x 12 + 40) / 15 = 194/15 = 12.933333
    plain = xmr_chart(values, months(15))
    assert plain.partitions.loc[0, "mr_bar"] == pytest.approx(54 / 14)
    assert plain.partitions.loc[0, "upl"] == pytest.approx(194 / 15 + 2.66 * 54 / 14)  # 23.193333
    # Screening: 28 > 3.267 x 3.857143 = 12.60 is dropped; MR-bar = 26/13 = 2; UPL = 12.933333 + 5.32
    screened = xmr_chart(values, months(15), screen_outliers=True)
    assert screened.partitions.loc[0, "mr_bar"] == pytest.approx(2)
    assert screened.partitions.loc[0, "screened"] == 1
    assert screened.partitions.loc[0, "upl"] == pytest.approx(194 / 15 + 5.32)
    assert "left out of the limits" in screened.note
    assert "left out of the limits" not in plain.note


# --- run chart under 15 points ----------------------------------------------------------------------

def test_fourteen_points_is_a_run_chart():
    result = xmr_chart(HAND[:14], months(14), target=9)
    assert result.kind == "run"
    assert result.note.startswith(RUN_CHART_NOTE)
    assert RUN_CHART_NOTE == ("Fewer than 15 points: a run chart without process limits; "
                              "limits need at least 15 months.")
    assert result.points["upl"].isna().all() and result.points["lpl"].isna().all()
    assert result.points["mean"].notna().all()  # the centre line stays
    assert (result.points["point_type"] == "not_assessed").all()
    assert not result.points["special_cause"].any()
    assert result.variation_icon == "not_enough_data"
    assert result.assurance_icon is None


def test_fifteen_points_is_an_xmr_chart():
    result = xmr_chart(HAND, months(15), target=9)
    assert MIN_POINTS_SPC == 15
    assert result.kind == "xmr" and result.note == ""
    assert result.points["upl"].notna().all()
    assert result.variation_icon == "common_cause"
    assert result.assurance_icon == "hit_and_miss"  # 6.27 < 9 < 16.53


def test_run_chart_with_a_run_that_would_be_a_shift_is_not_assessed():
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]  # a trend of 10, but only 10 points
    result = xmr_chart(values, months(10))
    assert result.kind == "run" and not result.points["rule_trend"].any()


# --- rule 1: beyond the limits -----------------------------------------------------------------------

def test_single_point_above_the_upper_limit():
    result = chart([11, 11, 17])  # 17 > 16.32
    assert flagged(result, "rule_outside") == [14]
    assert flagged(result, "special_cause") == [14]
    assert result.points.loc[14, "signals"] == "beyond a process limit"


def test_point_exactly_on_the_limit_is_not_beyond_it():
    assert not rule_outside([16.32, 5.68], 16.32, 5.68).any()
    assert rule_outside([16.33, 5.67], 16.32, 5.68).all()


# --- rule 2: shift ---------------------------------------------------------------------------------

def test_shift_of_six_is_no_signal():
    result = chart([11] + [13] * 6)  # 11 on the mean, then 6 above (13 is not close: 13 < 14.55)
    assert not result.points["special_cause"].any()
    assert result.variation_icon == "common_cause"


def test_shift_of_seven_is_a_signal_and_flags_every_point():
    result = chart([11] + [13] * 7)
    assert flagged(result, "rule_shift") == list(range(13, 20))
    assert flagged(result, "special_cause") == list(range(13, 20))  # the 11 on the mean is not in it
    assert result.variation_icon == "improvement_high"


def test_shift_rule_boundary_lengths():
    assert not rule_shift([12] * 6, 11).any()
    assert rule_shift([12] * 7, 11).all()
    assert not rule_shift([10] * 6, 11).any()
    assert rule_shift([10] * 7, 11).all()
    assert rule_shift([12] * 6, 11, length=6).all()
    assert not rule_shift([12] * 7, 11, length=8).any()


def test_point_exactly_on_the_mean_breaks_a_shift():
    # 4 above, one on the mean, 4 above: two runs of 4, not one of 9
    values = [12, 12, 12, 12, 11, 12, 12, 12, 12]
    assert not rule_shift(values, 11).any()
    result = chart([11, 13, 13, 13, 13, 11, 13, 13, 13])
    assert not result.points["rule_shift"].any()


def test_on_the_mean_allows_for_float_noise():
    # 0.6 and 0.8 average to 0.7000000000000001 in floating point; a month at 0.7 is on the mean.
    # Baseline 0.6, 0.8 x 6: mean 0.7 (in floats 0.7000000000000001), MR-bar 0.2, near limits 0.7 +/- 0.355
    values = [0.6, 0.8] * 6 + [0.7] + [0.8] * 6  # ... 0.8, then 0.7 on the mean, then 6 above: no shift
    result = xmr_chart(values, months(len(values)), baseline_points=12)
    assert not result.points["rule_shift"].any()
    # with the 0.7 replaced by 0.75 (above the mean) the baseline's last 0.8 joins a run of 8
    values[12] = 0.75
    result = xmr_chart(values, months(len(values)), baseline_points=12)
    assert flagged(result, "rule_shift") == list(range(11, 19))


def test_shift_below_the_mean():
    result = chart([11] + [9] * 7)  # 9 is below 11 but not close (9 > 7.45)
    assert flagged(result, "rule_shift") == list(range(13, 20))
    assert result.variation_icon == "concern_low"


# --- rule 3: trend ---------------------------------------------------------------------------------

def test_trend_rule_boundary_lengths():
    assert not rule_trend([1, 2, 3, 4, 5, 6]).any()  # 6 points, 5 rises
    assert rule_trend([1, 2, 3, 4, 5, 6, 7]).all()  # 7 points, 6 rises
    assert rule_trend([7, 6, 5, 4, 3, 2, 1]).all()
    assert not rule_trend([6, 5, 4, 3, 2, 1]).any()
    assert rule_trend([1, 2, 3, 4, 5, 6], length=6).all()
    assert not rule_trend([1, 2, 3, 4, 5, 6, 7], length=8).any()


def test_equal_neighbours_break_a_trend():
    # 1,2,3 then a tie 3,3 then 3..7: runs of 3 and 5 points, neither 7
    assert not rule_trend([1, 2, 3, 3, 4, 5, 6, 7]).any()
    # a tie after 7 rising points ends the trend there: the last point is not in it
    assert rule_trend([1, 2, 3, 4, 5, 6, 7, 7]).tolist() == [True] * 7 + [False]


def test_trend_of_six_in_the_chart_is_no_signal():
    # after BASE's last 12: 8 (a fall), then 8.5 ... 10.5: 6 rising points, 5 rises
    result = chart([8, 8.5, 9, 9.5, 10, 10.5])
    assert not result.points["rule_trend"].any()
    # 12 then the 6 points below the mean: a run of 6 below, no shift; nothing is close (all > 7.45)
    assert not result.points["special_cause"].any()


def test_trend_of_seven_flags_every_point_and_classifies_by_side_of_the_mean():
    # 8, 8.5, 9, 9.5, 10, 10.5, 11.5: 7 points, 6 rises; six are below the mean 11, the last above
    result = chart([8, 8.5, 9, 9.5, 10, 10.5, 11.5])
    assert flagged(result, "rule_trend") == list(range(12, 19))
    assert not result.points["rule_shift"].any()  # only 6 below in a row
    types = result.points["point_type"].tolist()
    # B3: a flagged point is improvement or concern by where it lies, not by the rule's direction
    assert types[12:18] == ["special_cause_concern"] * 6
    assert types[18] == "special_cause_improvement"
    assert result.variation_icon == "improvement_high"


def test_trend_point_exactly_on_the_mean_takes_the_trend_direction():
    # 12 -> 7.6 is a fall; 7.6 ... 11 are 7 rising points (7.6 is not close: 7.6 > 7.45); the last, 11,
    # is exactly on the mean, so its side comes from the rising trend: high, an improvement for 'up'
    result = chart([7.6, 8, 8.5, 9, 9.5, 10, 11])
    assert result.points.loc[18, "value"] == 11 and result.points.loc[18, "rule_trend"]
    assert result.points.loc[18, "signal_side"] == "high"
    assert result.points.loc[18, "point_type"] == "special_cause_improvement"


def test_trend_carries_across_a_month_with_no_value():
    values = BASE + [8, 8.5, 9, np.nan, 9.5, 10, 10.5, 11.5]
    result = xmr_chart(values, months(len(values)), baseline_points=12)
    assert flagged(result, "rule_trend") == [12, 13, 14, 16, 17, 18, 19]


# --- rule 4: two of three close to a limit ------------------------------------------------------------

def test_two_of_three_close_on_the_same_side_flags_only_the_close_points():
    # 11 (on the mean), then 15, 13, 15: all above; 15 is close (14.55 < 15 <= 16.32), 13 is not
    result = chart([11, 15, 13, 15])
    assert flagged(result, "rule_two_of_three") == [13, 15]
    assert flagged(result, "special_cause") == [13, 15]
    assert result.variation_icon == "improvement_high"


def test_two_of_three_rule_directly():
    args = dict(mean=11, upl=UPL, lpl=LPL, upper_near=UPPER_NEAR, lower_near=LOWER_NEAR)
    assert rule_two_of_three([15, 13, 15], **args).tolist() == [True, False, True]
    assert rule_two_of_three([7, 10, 7], **args).tolist() == [True, False, True]
    assert rule_two_of_three([15, 15, 15], **args).all()
    assert not rule_two_of_three([15, 13, 13], **args).any()  # only one close
    assert not rule_two_of_three([15, 13], **args).any()  # fewer than three points


def test_point_beyond_the_limits_is_not_close():
    # 15 close, 13 not, 17 beyond the limit (not close): one close point, so no rule 4
    result = chart([11, 15, 13, 17])
    assert not result.points["rule_two_of_three"].any()
    assert flagged(result, "rule_outside") == [15]
    assert flagged(result, "special_cause") == [15]


def test_two_close_points_on_opposite_sides_are_no_signal():
    # 15 close above, 7 close below, 12 above: no three in a row on one side
    result = chart([11, 15, 7, 12])
    assert not result.points["special_cause"].any()
    assert not rule_two_of_three([15, 7, 15], 11, UPL, LPL, UPPER_NEAR, LOWER_NEAR).any()


def test_point_on_the_mean_is_on_no_side_for_two_of_three():
    assert not rule_two_of_three([15, 11, 15], 11, UPL, LPL, UPPER_NEAR, LOWER_NEAR).any()


def test_two_of_three_with_the_third_beyond_the_limit():
    # 15, 15 close and 17 beyond, all above: rule 4 flags the two 15s, rule 1 the 17
    result = chart([11, 15, 15, 17])
    assert flagged(result, "rule_two_of_three") == [13, 14]
    assert flagged(result, "rule_outside") == [15]
    assert result.points.loc[14, "signals"] == "two of three close to a process limit"


# --- direction, point types and the variation icon ---------------------------------------------------

@pytest.mark.parametrize("tail, direction, point_type, icon", [
    ([11, 11, 17], "up", "special_cause_improvement", "improvement_high"),
    ([11, 11, 17], "down", "special_cause_concern", "concern_high"),
    ([11, 11, 17], "neither", "special_cause_neither", "neither_high"),
    ([11, 11, 5], "up", "special_cause_concern", "concern_low"),  # 5 < 5.68
    ([11, 11, 5], "down", "special_cause_improvement", "improvement_low"),
    ([11, 11, 5], "neither", "special_cause_neither", "neither_low"),
])
def test_improvement_and_concern_by_direction(tail, direction, point_type, icon):
    result = chart(tail, direction=direction)
    assert result.points.loc[14, "point_type"] == point_type
    assert result.variation_icon == icon
    assert result.variation_text == VARIATION_ICONS[icon]


def test_variation_icon_comes_from_the_latest_point_only():
    result = chart([11, 17, 11, 12])  # 17 is special cause, but the latest point (12) is not
    assert result.points.loc[13, "point_type"] == "special_cause_improvement"
    assert result.variation_icon == "common_cause"


def test_latest_month_with_no_value_uses_the_latest_point():
    result = chart([11, 11, 17, np.nan])
    assert result.points.loc[15, "point_type"] == "no_data"
    assert result.variation_icon == "improvement_high"


def test_every_icon_and_point_type_has_words():
    for table in (VARIATION_ICONS, ASSURANCE_ICONS, POINT_TYPES):
        for text in table.values():
            assert text.label and text.sentence.endswith(".")
    assert VARIATION_ICONS["concern_low"].label == "Special cause: concerning (low)"
    assert set(VARIATION_ICONS) == {
        "common_cause", "improvement_high", "improvement_low", "concern_high", "concern_low",
        "neither_high", "neither_low", "not_enough_data"}
    assert set(ASSURANCE_ICONS) == {"consistently_passing", "consistently_failing", "hit_and_miss"}


# --- assurance ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("direction, target, icon", [
    # HAND limits: LPL 6.27, UPL 16.53
    ("up", 5, "consistently_passing"),  # below the LPL: even a low month meets it
    ("up", 10, "hit_and_miss"),
    ("up", 17, "consistently_failing"),
    ("up", 6.27, "consistently_passing"),  # exactly on the LPL counts as passing (NHSE SQL >= v2.1)
    ("up", 16.53, "consistently_failing"),  # exactly on the UPL counts as failing
    ("down", 17, "consistently_passing"),
    ("down", 10, "hit_and_miss"),
    ("down", 5, "consistently_failing"),
    ("down", 16.53, "consistently_passing"),
    ("down", 6.27, "consistently_failing"),
    ("neither", 10, None),
])
def test_assurance_icon(direction, target, icon):
    result = xmr_chart(HAND, months(15), direction=direction, target=target)
    assert result.assurance_icon == icon


def test_assurance_at_the_computed_limits_exactly():
    part = xmr_chart(HAND, months(15)).partitions.iloc[0]
    assert xmr_chart(HAND, months(15), target=part["lpl"]).assurance_icon == "consistently_passing"
    assert xmr_chart(HAND, months(15), target=part["upl"]).assurance_icon == "consistently_failing"
    assert xmr_chart(HAND, months(15), target=part["lpl"] + 0.01).assurance_icon == "hit_and_miss"
    assert xmr_chart(HAND, months(15), target=part["upl"] - 0.01).assurance_icon == "hit_and_miss"


def test_no_target_no_assurance_icon():
    result = xmr_chart(HAND, months(15))
    assert result.assurance_icon is None and result.assurance_text is None


def test_flat_series_on_its_target_is_passing():
    result = xmr_chart([0.9] * 20, months(20), target=0.9)  # 0.9 x 20 sums to 17.999999999999996
    assert result.partitions.loc[0, "mean"] == 0.9
    assert result.assurance_icon == "consistently_passing"
    assert result.variation_icon == "common_cause"
    assert "the limits sit on the mean" in result.note


# --- rebasing ----------------------------------------------------------------------------------------

def test_rebase_gives_each_partition_its_own_limits_and_a_shift_never_spans_the_break():
    a = [10, 12, 10, 12, 10, 12, 10, 12, 12, 12, 12, 12]
    b = [20, 20, 20, 18, 22, 18, 22, 18, 22, 18, 22, 18]
    dates = months(24)
    result = xmr_chart(a + b, dates, rebase_dates=[dates[12]])
    parts = result.partitions
    # A: 4 x 10 + 8 x 12 = 136, mean 136/12 = 11.333; MRs seven 2s then four 0s: MR-bar 14/11
    # B: 3 x 20 + 4 x (18 + 22) + 18 = 238, mean 19.833; MRs 0, 0, 2, then eight 4s: MR-bar 34/11
    assert parts["partition"].tolist() == [0, 1]
    assert parts["mean"].tolist() == pytest.approx([136 / 12, 238 / 12])
    assert parts["mr_bar"].tolist() == pytest.approx([14 / 11, 34 / 11])
    assert parts["upl"].tolist() == pytest.approx([136 / 12 + 2.66 * 14 / 11, 238 / 12 + 2.66 * 34 / 11])
    assert not parts["trial"].any()
    assert result.points["partition"].tolist() == [0] * 12 + [1] * 12
    # the change across the break (12 -> 20) is not a moving range of either partition
    assert math.isnan(result.points.loc[12, "moving_range"])
    # A ends with 5 points above its mean, B starts with 3 above its mean: 8 in a row, but not one run
    assert not result.points["rule_shift"].any()
    assert not result.points["special_cause"].any()


def test_without_the_rebase_the_same_values_show_special_cause():
    a = [10, 12, 10, 12, 10, 12, 10, 12, 12, 12, 12, 12]
    b = [20, 20, 20, 18, 22, 18, 22, 18, 22, 18, 22, 18]
    result = xmr_chart(a + b, months(24))
    # one mean of 374/24 = 15.58: all of A is below it, all of B above: two shifts of 12
    assert result.points["rule_shift"].all()


def test_short_partition_gets_trial_limits():
    dates = months(20)
    result = xmr_chart(HAND + [11, 12, 11, 12, 11], dates, rebase_dates=[dates[15]])
    assert MIN_POINTS_PARTITION == 12
    assert result.partitions["trial"].tolist() == [False, True]
    assert result.partitions.loc[1, "points"] == 5
    assert result.points["trial"].tolist() == [False] * 15 + [True] * 5
    assert "Limits from Apr 2024 are trial limits: based on 5 points, fewer than 12." in result.note
    # the latest partition's limits are used for the icons: mean 11.4, MRs all 1, limits 11.4 +/- 2.66
    assert result.partitions.loc[1, "upl"] == pytest.approx(14.06)
    assert xmr_chart(HAND + [11, 12, 11, 12, 11], dates, rebase_dates=[dates[15]],
                     target=15).assurance_icon == "consistently_failing"


def test_rebase_before_the_first_month_changes_nothing():
    dates = months(15)
    plain = xmr_chart(HAND, dates)
    rebased = xmr_chart(HAND, dates, rebase_dates=["2020-01-01"])
    pd.testing.assert_frame_equal(plain.points, rebased.points)


def test_single_point_partition_has_no_limits():
    dates = months(16)
    result = xmr_chart(HAND + [11], dates, rebase_dates=[dates[15]])
    assert math.isnan(result.partitions.loc[1, "upl"])
    assert result.variation_icon == "not_enough_data"
    assert "single point" in result.note


# --- missing values and bad input ---------------------------------------------------------------------

def test_nan_months_are_skipped_for_limits_and_rules():
    values = HAND[:5] + [np.nan] + HAND[5:]
    result = xmr_chart(values, months(16))
    # the 15 observed values are HAND: mean 11.4, MR-bar 27/14; the MR across the gap is |12 - 10| = 2
    part = result.partitions.iloc[0]
    assert part["points"] == 15
    assert part["mean"] == pytest.approx(11.4) and part["mr_bar"] == pytest.approx(27 / 14)
    assert result.points.loc[6, "moving_range"] == 2
    row = result.points.loc[5]
    assert math.isnan(row["value"]) and row["point_type"] == "no_data" and not row["special_cause"]
    assert row["mean"] == pytest.approx(11.4)  # the centre line continues through the gap
    assert "1 month with no value (no cases) is left out of the mean, limits and rules." in result.note


def test_nan_months_do_not_count_towards_fifteen_points():
    values = HAND[:14] + [np.nan]
    result = xmr_chart(values, months(15))
    assert result.kind == "run"


def test_empty_and_all_missing_series_say_so():
    for values in ([], [np.nan] * 4, [None, None]):
        result = xmr_chart(values, months(len(values)))
        assert result.kind == "run"
        assert result.variation_icon == "not_enough_data"
        assert result.note.startswith("No months with a value")
        assert (result.points["point_type"] == "no_data").all()


def test_dates_are_sorted():
    dates = months(15)
    result = xmr_chart(list(reversed(HAND)), list(reversed(dates)))
    assert result.points["date"].tolist() == list(dates)
    assert result.points["value"].tolist() == HAND


def test_bad_arguments_raise():
    dates = months(15)
    with pytest.raises(ValueError):
        xmr_chart(HAND, dates, direction="sideways")
    with pytest.raises(ValueError):
        xmr_chart(HAND, dates, shift_points=5)
    with pytest.raises(ValueError):
        xmr_chart(HAND, dates, trend_points=9)
    with pytest.raises(ValueError):
        xmr_chart(HAND, dates[:14])
    with pytest.raises(ValueError):
        xmr_chart(HAND, [dates[0]] * 15)
    with pytest.raises(ValueError):
        xmr_chart(HAND[:14] + [math.inf], dates)


def test_summary_row():
    result = chart([11, 11, 17], target=12)
    row = result.summary()
    assert row["latest_value"] == 17 and row["mean"] == 11
    assert row["variation_label"] == "Special cause: improving (high)"
    assert row["assurance_icon"] == "hit_and_miss"  # 5.68 < 12 < 16.32


# --- properties --------------------------------------------------------------------------------------

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(st.lists(st.one_of(finite, st.just(math.nan)), min_size=0, max_size=40),
       st.sampled_from(["up", "down", "neither"]), st.integers(0, 39))
def test_limits_are_ordered_and_flags_only_on_points(values, direction, break_at):
    dates = months(len(values))
    rebase = [dates[break_at]] if break_at < len(values) else []
    result = xmr_chart(values, dates, direction=direction, rebase_dates=rebase)
    pts = result.points
    has = pts["upl"].notna()
    assert (pts.loc[has, "lpl"] <= pts.loc[has, "lower_near"]).all()
    assert (pts.loc[has, "lower_near"] <= pts.loc[has, "mean"]).all()
    assert (pts.loc[has, "mean"] <= pts.loc[has, "upper_near"]).all()
    assert (pts.loc[has, "upper_near"] <= pts.loc[has, "upl"]).all()
    assert not pts.loc[pts["value"].isna(), "special_cause"].any()
    assert result.variation_icon in VARIATION_ICONS
    assert set(pts["point_type"]) <= set(POINT_TYPES)
    n_points = int(pts["value"].notna().sum())
    assert result.kind == ("xmr" if n_points >= 15 else "run")


@given(st.lists(st.integers(-3, 3), max_size=30), st.integers(6, 8))
def test_shift_and_trend_flag_whole_runs_of_at_least_the_length(steps, length):
    values = np.cumsum(steps).astype(float)
    for flags in (rule_shift(values, 0.0, length), rule_trend(values, length)):
        # every block of consecutive flagged points is at least `length` long
        blocks = np.diff(np.flatnonzero(np.diff(np.concatenate([[0], flags.astype(int), [0]]))))[::2]
        assert (blocks >= length).all()


@given(st.lists(st.one_of(st.none(), st.floats(0, 1)), min_size=1, max_size=30), st.randoms(), st.integers(0, 2))
def test_numpy_input_gives_the_chart_that_python_lists_give(values, shuffler, rebases):
    # Arrays and datetime Series are read directly; lists of Python objects go through pandas' readers.
    dates = list(pd.date_range("2023-01-01", periods=len(values), freq="MS"))
    shuffler.shuffle(dates)  # unsorted input is sorted the same way by both
    breaks = [dates[shuffler.randrange(len(dates))] for _ in range(rebases)]
    from_lists = xmr_chart(values, dates, rebase_dates=breaks)
    from_arrays = xmr_chart(np.array([np.nan if v is None else v for v in values], dtype=float),
                            pd.Series(pd.DatetimeIndex(dates)), rebase_dates=breaks)
    pd.testing.assert_frame_equal(from_arrays.points, from_lists.points)
    pd.testing.assert_frame_equal(from_arrays.partitions, from_lists.partitions)
    assert (from_arrays.kind, from_arrays.variation_icon, from_arrays.note) == \
        (from_lists.kind, from_lists.variation_icon, from_lists.note)
