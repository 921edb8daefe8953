"""Wilson intervals, rates from counts, and how rates are written.

Hand working uses z = 1.959964, z^2 = 3.841459:
    centre = (p + z^2/2n) / (1 + z^2/n),  half = z * sqrt(p(1-p)/n + z^2/4n^2) / (1 + z^2/n)
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from metrics.rates import add_rates, format_rate, wilson_interval


def test_wilson_8_of_10():
    lower, upper = wilson_interval(8, 10)
    # p 0.8, z^2/n 0.384146, 1 + z^2/n = 1.384146; centre (0.8 + 0.192073) / 1.384146 = 0.716740
    # half 1.959964 * sqrt(0.016 + 0.009604) / 1.384146 = 1.959964 * 0.160012 / 1.384146 = 0.226579
    assert float(lower) == pytest.approx(0.4902, abs=1e-4)
    assert float(upper) == pytest.approx(0.9433, abs=1e-4)


def test_wilson_50_of_100_is_symmetric_about_a_half():
    lower, upper = wilson_interval(50, 100)
    # centre (0.5 + 0.019207) / 1.038415 = 0.5; half 1.959964 * sqrt(0.0025 + 0.000096) / 1.038415 = 0.096168
    assert float(lower) == pytest.approx(0.4038, abs=1e-4)
    assert float(upper) == pytest.approx(0.5962, abs=1e-4)


def test_wilson_none_of_ten_starts_at_zero():
    lower, upper = wilson_interval(0, 10)
    # p = 0: centre = half = (z^2/2n) / (1 + z^2/n) = 0.192073 / 1.384146 = 0.138767
    assert float(lower) == 0.0
    assert float(upper) == pytest.approx(0.2775, abs=1e-4)  # 2 x 0.138767


def test_wilson_all_of_ten_ends_at_one():
    lower, upper = wilson_interval(10, 10)
    # the mirror image of 0/10
    assert float(upper) == 1.0
    assert float(lower) == pytest.approx(0.7225, abs=1e-4)


def test_wilson_with_no_trials_is_nan():
    lower, upper = wilson_interval(0, 0)
    assert math.isnan(lower) and math.isnan(upper)


def test_wilson_works_elementwise_on_arrays():
    lower, upper = wilson_interval([8, 0, 0], [10, 10, 0])
    assert lower[0] == pytest.approx(0.4902, abs=1e-4) and upper[0] == pytest.approx(0.9433, abs=1e-4)
    assert lower[1] == 0.0 and upper[1] == pytest.approx(0.2775, abs=1e-4)
    assert np.isnan(lower[2]) and np.isnan(upper[2])


@pytest.mark.parametrize("successes, trials", [(11, 10), (-1, 10), (1, 0)])
def test_wilson_refuses_successes_outside_zero_to_trials(successes, trials):
    with pytest.raises(ValueError):
        wilson_interval(successes, trials)


@pytest.mark.parametrize("trials", [1, 3, 10, 1000])
def test_the_interval_is_exactly_0_at_no_successes_and_exactly_1_at_all(trials):
    # Algebraically, at p = 0 the centre equals the half-width (both (z^2/2n) / (1 + z^2/n)), so the
    # lower bound is 0; at p = 1 the upper bound is 1. An interval that stops 1e-17 short of the
    # observed rate does not contain it.
    lower_none, _ = wilson_interval(0, trials)
    _, upper_all = wilson_interval(trials, trials)
    assert float(lower_none) == 0.0
    assert float(upper_all) == 1.0


@given(trials=st.integers(min_value=1, max_value=100_000), data=st.data())
def test_the_wilson_interval_contains_the_rate_and_lies_within_0_and_1(trials, data):
    successes = data.draw(st.integers(min_value=0, max_value=trials))
    lower, upper = wilson_interval(successes, trials)
    p = successes / trials
    assert 0.0 <= lower <= p <= upper <= 1.0


def counts(*rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["eligible", "delivered", "delivered_on_time", "eligible_timed"])


def test_add_rates_divides_last_and_leaves_zero_denominators_without_a_rate():
    frame = counts(
        (10, 8, 6, 8),  # delivered 8/10 = 0.8; on time 6/8 = 0.75
        (0, 0, 0, 0),  # nothing eligible: no rates
        (5, 4, 0, 0),  # an entitlement with no timescale: a delivered rate, no on-time rate
    )
    out = add_rates(frame)
    assert out["delivered_rate"].iloc[0] == pytest.approx(0.8)
    assert out["on_time_rate"].iloc[0] == pytest.approx(0.75)
    assert out["delivered_rate_lower"].iloc[0] == pytest.approx(0.4902, abs=1e-4)  # Wilson 8/10, as above
    assert out["delivered_rate_upper"].iloc[0] == pytest.approx(0.9433, abs=1e-4)
    for column in ("delivered_rate", "delivered_rate_lower", "delivered_rate_upper",
                   "on_time_rate", "on_time_rate_lower", "on_time_rate_upper"):
        assert pd.isna(out[column].iloc[1]), column
    assert out["delivered_rate"].iloc[2] == pytest.approx(0.8)
    assert pd.isna(out["on_time_rate"].iloc[2]) and pd.isna(out["on_time_rate_lower"].iloc[2])
    # the input is not modified
    assert list(frame.columns) == ["eligible", "delivered", "delivered_on_time", "eligible_timed"]


@pytest.mark.parametrize("args, text", [
    ((0.724,), "72.4%"),
    ((0.724, 0.701, 0.746), "72.4% (95% CI 70.1% to 74.6%)"),
    ((1.0, 0.7225, 1.0), "100.0% (95% CI 72.2% to 100.0%)"),
    ((0.0,), "0.0%"),
    ((0.4, float("nan"), float("nan")), "40.0%"),  # no interval to show
    ((0.4, 0.2, None), "40.0%"),
    ((float("nan"),), "–"),  # en dash: no rate
    ((None,), "–"),
    ((np.nan, 0.1, 0.2), "–"),
])
def test_format_rate_writes_a_percentage_with_its_interval(args, text):
    assert format_rate(*args) == text
