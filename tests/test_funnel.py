"""Funnel plots: the overall rate, exact binomial limits worked by hand, classification, no ranking.

Exact limits, worked for Binomial(10, 0.5): C(10, k) = 1, 10, 45, 120, ... over 1024, so
    F(0) = 1/1024, F(1) = 11/1024, F(2) = 56/1024.
    95%:   p = 0.025 -> 25.6/1024; r = 2 (F(1) < p <= F(2)); a = (56 - 25.6) / 45 = 0.675556
           lower = (2 - 0.675556) / 10 = 0.132444
    99.8%: p = 0.001 -> 1.024/1024; r = 1; a = (11 - 1.024) / 10 = 0.9976; lower = 0.00024
At p0 = 0.5 the misses have the same distribution as the hits, so upper = 1 - lower.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from metrics.funnel import FUNNEL_BANDS, funnel, funnel_curve, funnel_limits


def units(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["unit", "numerator", "denominator"])


def band_of(result, name: str) -> str:
    return result.units.set_index("unit").loc[name, "band"]


# --- the centre --------------------------------------------------------------------------------------

def test_centre_is_the_pooled_rate_not_the_mean_of_rates():
    result = funnel(units([("A", 9, 10), ("B", 10, 100)]))
    # pooled (9 + 10) / (10 + 100) = 19/110 = 0.172727; the mean of the rates would be (0.9 + 0.1) / 2 = 0.5
    assert result.centre == pytest.approx(19 / 110)
    assert result.units["rate"].tolist() == pytest.approx([0.9, 0.1])


# --- limits ------------------------------------------------------------------------------------------

def test_exact_limits_by_hand_for_n_10():
    lim = funnel_limits(0.5, [10]).iloc[0]
    assert lim["lower_95"] == pytest.approx(0.132444, abs=1e-6)
    assert lim["upper_95"] == pytest.approx(0.867556, abs=1e-6)
    assert lim["lower_998"] == pytest.approx(0.00024, abs=1e-9)
    assert lim["upper_998"] == pytest.approx(0.99976, abs=1e-9)


def test_exact_limits_for_one_case_span_everything():
    # n = 1, p0 = 0.5: F(0) = 0.5 >= 0.025, so r = 0, a = (0.5 - 0.025)/0.5 = 0.95, lower = -0.95 -> 0
    lim = funnel_limits(0.5, [1]).iloc[0]
    assert (lim["lower_998"], lim["lower_95"], lim["upper_95"], lim["upper_998"]) == (0, 0, 1, 1)


def test_exact_limits_are_symmetric_about_a_half():
    lim = funnel_limits(0.5, [7, 30, 101, 1000])
    assert (lim["lower_95"] + lim["upper_95"]).tolist() == pytest.approx([1, 1, 1, 1])
    assert (lim["lower_998"] + lim["upper_998"]).tolist() == pytest.approx([1, 1, 1, 1])


def test_normal_approximation_by_hand():
    lim = funnel_limits(0.5, [100], method="normal").iloc[0]
    # se = sqrt(0.25 / 100) = 0.05; 1.959964 x 0.05 = 0.097998; 3.090232 x 0.05 = 0.154512
    assert lim["lower_95"] == pytest.approx(0.402002, abs=1e-6)
    assert lim["upper_95"] == pytest.approx(0.597998, abs=1e-6)
    assert lim["lower_998"] == pytest.approx(0.345488, abs=1e-6)
    assert lim["upper_998"] == pytest.approx(0.654512, abs=1e-6)


def test_exact_limits_approach_the_normal_ones_for_large_n():
    exact = funnel_limits(0.8, [10_000]).iloc[0]
    normal = funnel_limits(0.8, [10_000], method="normal").iloc[0]
    # se = sqrt(0.16 / 10000) = 0.004: the two agree to well under a tenth of a standard error
    for col in ("lower_998", "lower_95", "upper_95", "upper_998"):
        assert exact[col] == pytest.approx(normal[col], abs=0.0004)


def test_zero_or_missing_denominator_has_no_limits():
    lim = funnel_limits(0.5, [0, np.nan, 10])
    assert lim.loc[[0, 1], ["lower_95", "upper_95"]].isna().all().all()
    assert lim.loc[2, "lower_95"] == pytest.approx(0.132444, abs=1e-6)


def test_curve_covers_the_range_and_narrows():
    curve = funnel_curve(0.7, 500)
    assert curve["denominator"].iloc[0] == 1 and curve["denominator"].iloc[-1] == 500
    assert curve["denominator"].is_monotonic_increasing and len(curve) <= 200
    assert curve["upper_95"].is_monotonic_decreasing and curve["lower_95"].is_monotonic_increasing
    assert (curve["centre"] == 0.7).all()
    assert funnel_curve(math.nan, 500).empty


# --- classification ----------------------------------------------------------------------------------

def test_hand_placed_units_at_n_100_around_a_half():
    # Centre (61 + 39 + 60 + 40 + 66 + 34 + 65 + 35 + 50) / 900 = 450/900 = 0.5. Binomial(100, 0.5) tails
    # (table values; the normal approximation with continuity correction agrees):
    #   P(X <= 34) = 0.0009  P(X <= 35) = 0.0018  P(X <= 39) = 0.0176  P(X <= 40) = 0.0284
    # so 39 is below the 95% limit (0.0176 < 0.025) but 40 is not (0.0284); 34 is below 99.8% (< 0.001)
    # but 35 is not (0.0018); above the centre the same by symmetry: P(X >= 61) = P(X <= 39), etc.
    rows = [("u61", 61, 100), ("u39", 39, 100), ("u60", 60, 100), ("u40", 40, 100), ("u66", 66, 100),
            ("u34", 34, 100), ("u65", 65, 100), ("u35", 35, 100), ("u50", 50, 100)]
    result = funnel(units(rows))
    assert result.centre == 0.5
    assert result.units["band"].tolist() == [
        "above_95", "below_95", "within", "within", "above_998", "below_998", "above_95", "below_95", "within"]
    assert result.outside_95 == ("u61", "u39", "u66", "u34", "u65", "u35")
    assert result.outside_998 == ("u66", "u34")
    assert result.note.startswith("6 of 9 units lie outside the 95% limits: u61 (above the 95% limit), ")
    assert result.units["band_label"].iloc[4] == "Above the 99.8% limit"


def test_small_unit_at_100_percent_is_not_above():
    # p0 = 0.9, n = 5: P(5 of 5) = 0.9^5 = 0.59, nothing unusual. For the misses (Binomial(5, 0.1)),
    # F(0) = 0.59 >= 0.025 so their lower limit is below 0 -> 0, and the upper limit is 1 - 0 = 1.
    lim = funnel_limits(0.9, [5]).iloc[0]
    assert lim["upper_95"] == 1.0 and lim["upper_998"] == 1.0
    result = funnel(units([("Small", 5, 5), ("Big", 895, 995)]))  # pooled 900/1000 = 0.9
    assert band_of(result, "Small") == "within"


def test_zero_of_five_is_below_95_but_not_998():
    # p0 = 0.5, n = 5: P(X = 0) = 1/32 = 0.03125 > 0.025: within. p0 = 0.6: 0.4^5 = 0.01024: below 95%
    assert funnel(units([("A", 0, 5), ("B", 5, 5)])).units["band"].tolist() == ["within", "within"]
    result = funnel(units([("A", 0, 5), ("B", 60, 95)]))  # pooled 60/100 = 0.6
    assert band_of(result, "A") == "below_95"


def test_rate_exactly_on_a_limit_is_within():
    # p0 = 0.5, n = 1: the limits are 0 and 1, so 0 of 1 and 1 of 1 sit on them, not beyond
    result = funnel(units([("A", 0, 1), ("B", 1, 1)]))
    assert result.units["band"].tolist() == ["within", "within"]


def test_everyone_at_100_percent_is_within():
    result = funnel(units([("A", 10, 10), ("B", 200, 200)]))
    assert result.centre == 1.0
    assert result.units["band"].tolist() == ["within", "within"]
    assert result.outside_95 == () and result.note == "All 2 units lie within the 95% limits."


def test_zero_denominators_are_listed_not_plotted():
    result = funnel(units([("North", 40, 50), ("West", 0, 0), ("South", 45, 50)]))
    assert result.centre == pytest.approx(85 / 100)  # West adds nothing
    west = result.units.set_index("unit").loc["West"]
    assert west["band"] == "no_data" and math.isnan(west["rate"]) and math.isnan(west["lower_95"])
    assert result.no_data == ("West",)
    assert "West" not in result.outside_95
    assert result.note.endswith("Not plotted, no cases: West.")
    assert result.curve["denominator"].max() == 50


def test_all_zero_denominators_do_not_crash():
    result = funnel(units([("A", 0, 0), ("B", 0, 0)]))
    assert math.isnan(result.centre)
    assert result.units["band"].tolist() == ["no_data", "no_data"]
    assert result.curve.empty
    assert result.note.startswith("No unit has any cases")


def test_empty_frame():
    result = funnel(units([]))
    assert result.units.empty and result.curve.empty and math.isnan(result.centre)


def test_units_keep_the_given_order_or_alphabetical_never_by_rate():
    rows = [("Kent", 50, 100), ("Avon", 90, 100), ("Essex", 10, 100)]
    assert funnel(units(rows)).units["unit"].tolist() == ["Kent", "Avon", "Essex"]
    assert funnel(units(rows), order="alphabetical").units["unit"].tolist() == ["Avon", "Essex", "Kent"]
    with pytest.raises(ValueError):
        funnel(units(rows), order="rate")


def test_other_column_names():
    frame = pd.DataFrame({"district": ["A", "B"], "delivered": [3, 4], "eligible": [4, 8]})
    result = funnel(frame, unit="district", numerator="delivered", denominator="eligible")
    assert result.centre == pytest.approx(7 / 12)


def test_bad_counts_raise():
    with pytest.raises(ValueError):
        funnel(units([("A", 11, 10)]))
    with pytest.raises(ValueError):
        funnel(units([("A", -1, 10)]))
    with pytest.raises(ValueError):
        funnel(units([("A", 1.5, 10)]))
    with pytest.raises(ValueError):
        funnel(units([("A", 1, 10), ("A", 2, 10)]))
    with pytest.raises(ValueError):
        funnel_limits(1.5, [10])


def test_every_band_has_words():
    for text in FUNNEL_BANDS.values():
        assert text.label and text.sentence.endswith(".")


# --- properties --------------------------------------------------------------------------------------

centres = st.floats(min_value=0.0, max_value=1.0, allow_nan=False)


@given(centres, st.integers(1, 3000), st.sampled_from(["exact", "normal"]))
def test_limits_ordered_and_within_zero_and_one(centre, n, method):
    lim = funnel_limits(centre, [n], method=method).iloc[0]
    assert 0.0 <= lim["lower_998"] <= lim["lower_95"] <= centre + 1e-12
    assert centre - 1e-12 <= lim["upper_95"] <= lim["upper_998"] <= 1.0


@given(st.floats(min_value=0.01, max_value=0.99), st.integers(1, 1500), st.integers(1, 1500),
       st.sampled_from(["exact", "normal"]))
def test_limits_narrow_as_the_denominator_grows(centre, a, b, method):
    small, large = sorted((a, b))
    lim = funnel_limits(centre, [small, large], method=method)
    assert lim.loc[1, "lower_95"] >= lim.loc[0, "lower_95"] - 1e-12
    assert lim.loc[1, "lower_998"] >= lim.loc[0, "lower_998"] - 1e-12
    assert lim.loc[1, "upper_95"] <= lim.loc[0, "upper_95"] + 1e-12
    assert lim.loc[1, "upper_998"] <= lim.loc[0, "upper_998"] + 1e-12


@given(st.floats(min_value=0.02, max_value=0.98), st.integers(1, 150), st.data())
def test_outside_a_limit_exactly_when_the_exact_tail_is_smaller(centre, n, data):
    # Independent check with math.comb: rate < lower <=> P(X <= r) < p; rate > upper <=> P(X >= r) < p
    r = data.draw(st.integers(0, n))
    pmf = [math.comb(n, k) * centre**k * (1 - centre) ** (n - k) for k in range(n + 1)]
    low_tail, high_tail = sum(pmf[: r + 1]), sum(pmf[r:])
    for p in (0.025, 0.001):
        assume(abs(low_tail - p) > 1e-9 and abs(high_tail - p) > 1e-9)
    lim = funnel_limits(centre, [n]).iloc[0]
    rate = r / n
    assert (rate < lim["lower_95"]) == (low_tail < 0.025)
    assert (rate < lim["lower_998"]) == (low_tail < 0.001)
    assert (rate > lim["upper_95"]) == (high_tail < 0.025)
    assert (rate > lim["upper_998"]) == (high_tail < 0.001)
