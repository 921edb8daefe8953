"""The shared filters: the default period, the settling-month rule, validation and wording."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.filters import Filters, add_months, default_period, month_end


@pytest.mark.parametrize("first, last, as_of, expected", [
    # Oct 2025 ends on the as-of date itself (0 days < 14): still settling, so the period ends in Sep;
    # 12 months back from Sep 2025 would be Oct 2024, but the data starts in Nov 2024.
    (date(2024, 11, 1), date(2025, 10, 1), date(2025, 10, 31), (date(2024, 11, 1), date(2025, 9, 1))),
    # 20 days after Oct ends: settled, so Oct is included; 12 months back is Nov 2024.
    (date(2024, 11, 1), date(2025, 10, 1), date(2025, 11, 20), (date(2024, 11, 1), date(2025, 10, 1))),
    # exactly 14 days after: settled (the rule is "fewer than 14").
    (date(2024, 11, 1), date(2025, 10, 1), date(2025, 11, 14), (date(2024, 11, 1), date(2025, 10, 1))),
    # 13 days after: not settled.
    (date(2024, 11, 1), date(2025, 10, 1), date(2025, 11, 13), (date(2024, 11, 1), date(2025, 9, 1))),
    # three years of data: Sep 2026 back 11 months is Oct 2025.
    (date(2023, 11, 1), date(2026, 10, 1), date(2026, 10, 31), (date(2025, 10, 1), date(2026, 9, 1))),
    # a single month is shown even while settling: there is nothing else to show.
    (date(2025, 3, 1), date(2025, 3, 1), date(2025, 3, 31), (date(2025, 3, 1), date(2025, 3, 1))),
])
def test_default_period_is_the_last_12_settled_months(first, last, as_of, expected):
    assert default_period(first, last, as_of) == expected


def test_a_period_ending_in_the_as_of_month_includes_a_settling_month():
    assert Filters(date(2025, 1, 1), date(2025, 10, 1), as_of=date(2025, 10, 31)).includes_settling_month()
    assert not Filters(date(2025, 1, 1), date(2025, 9, 1), as_of=date(2025, 10, 31)).includes_settling_month()


def test_month_arithmetic_across_year_ends():
    assert add_months(date(2025, 11, 1), 2) == date(2026, 1, 1)
    assert add_months(date(2025, 1, 15), -1) == date(2024, 12, 1)
    assert month_end(date(2024, 2, 1)) == date(2024, 2, 29)  # leap year


def test_filters_refuse_an_unknown_dimension_and_an_inverted_period():
    with pytest.raises(ValueError, match="unknown filter dimension"):
        Filters(date(2025, 1, 1), date(2025, 2, 1), date(2025, 3, 1), selections={"postcode": ("CM1",)})
    with pytest.raises(ValueError, match="ends before it starts"):
        Filters(date(2025, 2, 1), date(2025, 1, 1), date(2025, 3, 1))


def test_filters_describe_themselves_in_words():
    f = Filters(date(2025, 1, 1), date(2025, 3, 1), date(2025, 4, 30),
                selections={"district": ("Tendring", "Basildon"), "victim_type": ("enhanced",), "sex": ()})
    assert f.describe() == ("Triggered Jan 2025 to Mar 2025; as of 30 Apr 2025; District: Tendring, Basildon; "
                            "Standard or enhanced: Enhanced")
    assert Filters(date(2025, 1, 1), date(2025, 1, 1), date(2025, 4, 30)).describe() == \
        "Triggered Jan 2025; as of 30 Apr 2025; all victims"
