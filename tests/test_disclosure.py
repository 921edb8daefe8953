"""Disclosure control: hand-worked tiny tables for each rule, then properties over random tables.

Threshold t = 10 unless a test says otherwise, so counts 1 to 9 are "small". "Hidden" means shown as [c].
The properties check the output with their own exact linear algebra (fractions, written here), not with
the module's: a hidden count is recoverable when it is a combination of the shown counts.
"""

from __future__ import annotations

import random
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.catalogue import default_catalogue
from metrics.compliance import COUNT_COLUMNS
from metrics.disclosure import (
    MARKER,
    THRESHOLD_ENV,
    DisclosurePolicy,
    differencing_check,
    suppress_breakdown,
    suppress_compliance,
    suppress_margins,
    suppress_series,
    suppression_note,
)
from metrics.rates import add_rates, rollup_to_rights

TEN = DisclosurePolicy(10)


def one_way(cells: dict[str, int], policy: DisclosurePolicy = TEN, with_total: bool = True) -> dict[str, object]:
    """A one-way table of victims by district (plus the 'all' total) -> {district: shown value or [c]}."""
    rows = [{"district": k, "victims": v} for k, v in cells.items()]
    if with_total:
        rows.append({"district": "all", "victims": sum(cells.values())})
    result = suppress_breakdown(pd.DataFrame(rows), dimension="district", counts=["victims"], policy=policy)
    return dict(zip(result.frame["district"], result.for_display()["victims"], strict=True))


def compliance_row(entitlement: str = "r4_referral_to_support_service", right_no: int = 4, **counts) -> dict:
    row = {"entitlement": entitlement, "right_no": right_no, "breakdown": "total", "level": "all",
           **dict.fromkeys(COUNT_COLUMNS, 0)}
    row.update(counts)
    return row


# --- the policy ---------------------------------------------------------------------------------------------

def test_policy_defaults_to_ten():
    policy = DisclosurePolicy.load(environ={})
    assert policy.threshold == 10
    assert policy.hidden_range == "1 to 9"


def test_policy_reads_the_environment_and_a_value_given_wins():
    assert DisclosurePolicy.load(environ={THRESHOLD_ENV: " 7 "}).threshold == 7
    assert DisclosurePolicy.load(5, environ={THRESHOLD_ENV: "7"}).threshold == 5
    assert DisclosurePolicy.load(environ={THRESHOLD_ENV: ""}).threshold == 10  # set but empty: the default


@pytest.mark.parametrize("text", ["0", "-3", "ten", "9.5", "1e3", "١٠"])
def test_policy_refuses_a_bad_threshold_naming_the_setting(text):
    with pytest.raises(ValueError, match=THRESHOLD_ENV):
        DisclosurePolicy.load(environ={THRESHOLD_ENV: text})


@pytest.mark.parametrize("value", [0, -1, True, 2.5, "10"])
def test_policy_refuses_a_threshold_that_is_not_a_whole_number_of_one_or_more(value):
    with pytest.raises(ValueError, match="whole number of at least 1"):
        DisclosurePolicy(value)


def test_note_says_what_is_hidden_why_and_how_many():
    note = suppression_note(TEN, 3)
    assert "Counts from 1 to 9 are hidden" in note and MARKER in note and "3 values in this table are hidden" in note
    assert "Counts of 1 are hidden" in suppression_note(DisclosurePolicy(2), 1)
    assert "1 value in this table is hidden" in suppression_note(DisclosurePolicy(2), 1)
    assert "Nothing in this table needed hiding" in suppression_note(TEN, 0)
    assert suppression_note(DisclosurePolicy(1), 0) == "No counts are hidden: the suppression threshold is 1."


# --- primary and secondary suppression in a one-way table ---------------------------------------------------

def test_threshold_edges_9_10_11():
    # 9 is small; 10 and 11 are not. 9 alone under the shown total 30 = 30 - 10 - 11 - 0, so the next smallest
    # non-zero cell, 10, goes too: the two hidden come to 19, at least 10 and more than 2.
    assert one_way({"A": 9, "B": 10, "C": 11, "D": 0}) == {"A": MARKER, "B": MARKER, "C": 11, "D": 0, "all": 30}


def test_custom_threshold_of_five():
    # t = 5: 4 is small, 5 and 6 are not; 4 alone would be 35 - 5 - 6 - 20, so 5 goes too (hidden sum 9 >= 5).
    assert one_way({"A": 4, "B": 5, "C": 6, "D": 20}, DisclosurePolicy(5)) == {
        "A": MARKER, "B": MARKER, "C": 6, "D": 20, "all": 35}


def test_threshold_one_hides_nothing():
    assert one_way({"A": 1, "B": 2}, DisclosurePolicy(1)) == {"A": 1, "B": 2, "all": 3}


def test_zeros_are_shown_and_never_chosen_for_secondary_suppression():
    # 3 is small; the next smallest non-zero cell is 25 (the zeros are skipped): hidden sum 28.
    assert one_way({"A": 0, "B": 3, "C": 0, "D": 40, "E": 25}) == {
        "A": 0, "B": MARKER, "C": 0, "D": 40, "E": MARKER, "all": 68}


def test_tie_for_next_smallest_is_broken_by_level_name_whatever_the_row_order():
    # 3 is small; B and C tie at 12 for next smallest: B comes first by name, in either row order.
    expected = {"A": MARKER, "B": MARKER, "C": 12, "D": 40, "all": 67}
    assert one_way({"A": 3, "B": 12, "C": 12, "D": 40}) == expected
    assert one_way({"D": 40, "C": 12, "B": 12, "A": 3}) == expected


def test_two_hidden_cells_that_add_up_to_a_small_count_are_not_enough():
    # 1 and 1 are small; shown, the total 52 minus 50 gives their sum, 2, and "each at least 1" then gives
    # each: so 50 is hidden too (hidden sum 52).
    assert one_way({"A": 1, "B": 1, "C": 50}) == {"A": MARKER, "B": MARKER, "C": MARKER, "all": 52}


def test_ten_ones_under_a_shown_total_of_ten_hide_the_total():
    # Ten hidden cells adding up to 10 must each be 1, so the total (10, not small itself) is hidden too.
    cells = {c: 1 for c in "ABCDEFGHIJ"}
    assert set(one_way(cells).values()) == {MARKER}


def test_a_small_total_needs_no_secondary_cell():
    # 3 + 4 = 7: all three are small, so all are hidden, and none can be worked out.
    assert one_way({"A": 3, "B": 4}) == {"A": MARKER, "B": MARKER, "all": MARKER}


def test_a_table_without_small_counts_is_untouched():
    assert one_way({"A": 0, "B": 10, "C": 25}) == {"A": 0, "B": 10, "C": 25, "all": 35}


def test_two_level_table_protects_each_parent_and_the_total():
    # North = D1 3 + D2 4 = 7 and South = D3 20 + D4 25 = 45; all = 52. 3, 4 and 7 are small. North hidden
    # alone under all would be 52 - 45, so South goes; South hidden alone would be 20 + 25, so D3 (the smaller)
    # goes. Left: all = North + South (two hidden, sum 52), South = D3 + 25 (two hidden).
    frame = pd.DataFrame({"area": ["D1", "D2", "D3", "D4", "North", "South", "all"],
                          "victims": [3, 4, 20, 25, 7, 45, 52]})
    parents = {"D1": "North", "D2": "North", "D3": "South", "D4": "South"}
    result = suppress_breakdown(frame, dimension="area", counts=["victims"], parents=parents, policy=TEN)
    assert result.for_display()["victims"].tolist() == [MARKER, MARKER, MARKER, 25, MARKER, MARKER, 52]


def test_a_parent_with_no_row_is_an_error():
    frame = pd.DataFrame({"area": ["D1", "all"], "victims": [20, 20]})
    with pytest.raises(ValueError, match="parent level 'North' has no row"):
        suppress_breakdown(frame, dimension="area", counts=["victims"], parents={"D1": "North"}, policy=TEN)


# --- complements, rates and rights (the compliance shape) ---------------------------------------------------

def test_complement_hides_the_numerator_and_its_rate_not_the_denominator():
    # eligible 20, delivered 17: 3 not delivered, so delivered is hidden (20 stays). eligible_timed 20,
    # on time 15: 5 not on time, so on time is hidden. delivered - on time = 2 and eligible - timed = 0 add
    # nothing new. Both rates and their intervals go with their hidden numerators. Zeros stay.
    frame = add_rates(pd.DataFrame([compliance_row(eligible=20, delivered=17, delivered_on_time=15,
                                                   eligible_timed=20)]))
    result = suppress_compliance(frame, policy=TEN).entitlements
    shown = result.for_display().iloc[0]
    assert shown["eligible"] == 20 and shown["eligible_timed"] == 20
    assert shown["not_yet_due"] == 0 and shown["not_applicable"] == 0
    for column in ("delivered", "delivered_on_time", "delivered_rate", "delivered_rate_lower",
                   "delivered_rate_upper", "on_time_rate", "on_time_rate_lower", "on_time_rate_upper"):
        assert shown[column] == MARKER, column
    assert result.cells_hidden == 8


def test_suppressed_values_are_removed_from_the_frame_not_just_flagged():
    frame = add_rates(pd.DataFrame([compliance_row(eligible=20, delivered=17)]))
    result = suppress_compliance(frame, policy=TEN).entitlements
    assert result.frame["delivered"].isna().iloc[0] and np.isnan(result.frame["delivered_rate"].iloc[0])
    left = [v for v in result.frame.iloc[0].tolist() if not pd.isna(v)]
    assert 17 not in left and 17 / 20 not in left  # neither the count nor its rate survives anywhere
    assert result.frame["eligible"].iloc[0] == 20
    assert result.hidden.loc[0, "delivered"] and not result.hidden.loc[0, "eligible"]


def test_a_rate_with_a_hidden_denominator_is_hidden():
    # eligible 6 is small and so is delivered 6: both hidden, and the rate (100%) with them.
    frame = add_rates(pd.DataFrame([compliance_row(eligible=6, delivered=6)]))
    shown = suppress_compliance(frame, policy=TEN).entitlements.for_display().iloc[0]
    assert shown["eligible"] == MARKER and shown["delivered_rate"] == MARKER


def test_an_entitlement_hidden_in_a_right_is_not_left_recoverable_from_the_right_total():
    # Two entitlements with no timescale (timed counts 0) in right 4. e1: 20 eligible, 17 delivered (3 not
    # delivered: delivered hidden). e2: 30, 10. Right 4: 50, 27 (23 not delivered: shown). 27 - 10 would
    # give e1's 17, so e2's delivered (the next smallest non-zero delivered count) is hidden too; the right's
    # row stays whole, and its 23 not delivered splits between the two entitlements in more than one way.
    entitlements = pd.DataFrame([compliance_row("e1", eligible=20, delivered=17),
                                 compliance_row("e2", eligible=30, delivered=10)])
    rights = pd.DataFrame([compliance_row("", eligible=50, delivered=27)]).drop(columns="entitlement")
    result = suppress_compliance(add_rates(entitlements), add_rates(rights), policy=TEN)
    assert result.entitlements.for_display()["delivered"].tolist() == [MARKER, MARKER]
    assert result.entitlements.for_display()["eligible"].tolist() == [20, 30]
    assert result.rights.for_display()[["eligible", "delivered"]].iloc[0].tolist() == [50, 27]
    assert result.rights.frame["delivered_rate"].iloc[0] == pytest.approx(27 / 50)


def test_rights_indexed_by_number_as_on_the_board_overview():
    entitlements = pd.DataFrame([compliance_row("r4_referral_to_support_service", eligible=20, delivered=17)])
    rights = rollup_to_rights(entitlements, default_catalogue()).set_index("right_no")
    result = suppress_compliance(add_rates(entitlements), rights, policy=TEN)
    # right 4 has this one entitlement, so its row is the same figures and the same cell is hidden
    assert result.rights.frame.index.name == "right_no"
    assert pd.isna(result.rights.frame.loc[4, "delivered"]) and result.rights.frame.loc[4, "eligible"] == 20
    assert result.rights.frame.loc[1, "eligible"] == 0  # rights with nothing measured stay zero


def test_command_areas_shown_with_districts_need_the_hierarchy():
    # One entitlement, every instance delivered. Districts D1 3, D2 30 (North 33), D3 20, D4 25 (South 45).
    # Without the hierarchy, the district table alone hides D1 and the next smallest, D3; but North - D2
    # would then give D1. With it, North = D1 + D2 makes D2 the cell to hide, and that covers the district
    # table too (D1 + D2 = 78 - 45 = 33, two ways unknown).
    levels = [("total", "all", 78), ("district", "D1", 3), ("district", "D2", 30), ("district", "D3", 20),
              ("district", "D4", 25), ("command_area", "North", 33), ("command_area", "South", 45)]
    frame = pd.DataFrame([{**compliance_row("e1", eligible=n, delivered=n), "breakdown": b, "level": level}
                          for b, level, n in levels])
    mapping = {"D1": "North", "D2": "North", "D3": "South", "D4": "South"}
    plain = suppress_compliance(frame, policy=TEN).entitlements.for_display()["eligible"].tolist()
    assert plain == [78, MARKER, 30, MARKER, 25, 33, 45]
    linked = suppress_compliance(frame, hierarchy={"district": ("command_area", mapping)}, policy=TEN)
    assert linked.entitlements.for_display()["eligible"].tolist() == [78, MARKER, MARKER, 20, 25, 33, 45]


def test_monthly_series_treats_the_period_total_as_shown():
    # Jan 3 of 40 (3 small), Feb 20 of 40, Mar 30 of 40; the period total 53 of 120 is shown elsewhere, so
    # Jan's 3 = 53 - 20 - 30 unless another month's numerator goes: Feb's 20, the next smallest non-zero.
    series = pd.DataFrame({"month": pd.date_range("2025-01-01", periods=3, freq="MS"),
                           "numerator": [3, 20, 30], "denominator": [40, 40, 40]})
    series["rate"] = series["numerator"] / series["denominator"]
    shown = suppress_series(series, policy=TEN).for_display()
    assert shown["numerator"].tolist() == [MARKER, MARKER, 30]
    assert shown["denominator"].tolist() == [40, 40, 40]
    assert shown["rate"].tolist() == [MARKER, MARKER, 0.75]


def test_monthly_series_complement_months():
    # Jan 12 of 15 (3 not delivered), Feb 20 of 20, Mar 0 of 0, Apr 25 of 30 (5 not): Jan's and Apr's
    # numerators are hidden. The total, 57 of 65, has 8 not delivered: its numerator is hidden wherever it
    # is shown, so nothing more is needed.
    series = pd.DataFrame({"month": pd.date_range("2025-01-01", periods=4, freq="MS"),
                           "numerator": [12, 20, 0, 25], "denominator": [15, 20, 0, 30]})
    shown = suppress_series(series, rate=None, policy=TEN).for_display()
    assert shown["numerator"].tolist() == [MARKER, 20, 0, MARKER]
    assert shown["denominator"].tolist() == [15, 20, 0, 30]


# --- bad input ----------------------------------------------------------------------------------------------

def test_bad_counts_are_refused_naming_the_column_but_no_value():
    frame = pd.DataFrame({"district": ["A", "all"], "victims": [-4, 3]})
    with pytest.raises(ValueError, match="column 'victims' must hold whole numbers") as raised:
        suppress_breakdown(frame, dimension="district", counts=["victims"], policy=TEN)
    assert "-4" not in str(raised.value)
    with pytest.raises(ValueError, match="column 'victims' must hold whole numbers"):
        suppress_breakdown(frame.assign(victims=[1.5, 3]), dimension="district", counts=["victims"], policy=TEN)
    with pytest.raises(ValueError, match="'patients' missing"):
        suppress_breakdown(frame, dimension="district", counts=["patients"], policy=TEN)


def test_a_part_larger_than_its_whole_is_refused():
    frame = pd.DataFrame([compliance_row(eligible=5, delivered=7)])
    with pytest.raises(ValueError, match="'delivered' is larger than 'eligible'"):
        suppress_compliance(frame, policy=TEN)


def test_rows_adding_up_to_more_than_their_total_are_refused():
    with pytest.raises(ValueError, match="add up to more than their total in 'victims'"):
        suppress_breakdown(pd.DataFrame({"district": ["A", "B", "all"], "victims": [20, 20, 30]}),
                           dimension="district", counts=["victims"], policy=TEN)


def test_rows_adding_up_to_less_than_their_total_leave_a_rest_that_is_protected_too():
    # A 25 + B 30 shown under 60: the rest, 5, is a count of people anyone can work out, so it is
    # protected like a hidden cell: A (the smaller) is hidden, and the rest is then 30 - 25 one way unknown.
    shown = suppress_breakdown(pd.DataFrame({"district": ["A", "B", "all"], "victims": [25, 30, 60]}),
                               dimension="district", counts=["victims"], policy=TEN).for_display()
    assert shown["victims"].tolist() == [MARKER, 30, 60]


def _margins(rows: list[tuple[str, str, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["breakdown", "level", "victims", "contacted"])


def test_two_breakdowns_of_one_total_are_protected_together():
    # District A 18 contacted of 20 (2 not: small, so A's 18 goes); B 0 of 15; all 18 of 35. By district, A's 18
    # = all's 18 - B's 0, so all's 18 goes (a total before a zero). Protected apart, the offence groups (theft 0 of
    # 17, burglary 18 of 18) would then give all's 18 back as 0 + 18, and A's 2 with it; together, burglary's 18
    # goes too. Victims are all shown: nothing small among them or their complements.
    frame = _margins([("district", "A", 20, 18), ("district", "B", 15, 0), ("offence", "theft", 17, 0),
                      ("offence", "burglary", 18, 18), ("", "all", 35, 18)])
    result = suppress_margins(frame, breakdown="breakdown", dimension="level", counts=["victims", "contacted"],
                              nested=[("contacted", "victims")], policy=TEN)
    assert result.hidden["contacted"].tolist() == [True, False, False, True, True]
    assert not result.hidden["victims"].any()
    # the same frame in another order gives the same cells
    again = suppress_margins(frame.iloc[::-1], breakdown="breakdown", dimension="level",
                             counts=["victims", "contacted"], nested=[("contacted", "victims")], policy=TEN)
    assert again.hidden["contacted"].reindex(frame.index).tolist() == [True, False, False, True, True]


def test_margins_need_exactly_one_total_row():
    for rows in ([("district", "A", 20, 18)], [("district", "all", 20, 18), ("offence", "all", 20, 18)]):
        with pytest.raises(ValueError, match="exactly one row must be the shared total"):
            suppress_margins(_margins(rows), breakdown="breakdown", dimension="level",
                             counts=["victims", "contacted"], policy=TEN)


def test_unknown_numeric_columns_are_refused_unless_kept():
    frame = pd.DataFrame({"district": ["A", "all"], "victims": [20, 20], "mean_age": [40.0, 40.0]})
    with pytest.raises(ValueError, match="column 'mean_age' is not a count, a rate or a key"):
        suppress_breakdown(frame, dimension="district", counts=["victims"], policy=TEN)
    kept = suppress_breakdown(frame, dimension="district", counts=["victims"], keep=["mean_age"], policy=TEN)
    assert kept.frame["mean_age"].tolist() == [40.0, 40.0]


def test_duplicate_rows_are_refused():
    with pytest.raises(ValueError, match="same key"):
        suppress_breakdown(pd.DataFrame({"district": ["A", "A"], "victims": [20, 20]}),
                           dimension="district", counts=["victims"], policy=TEN)


# --- differencing between filter choices --------------------------------------------------------------------

@pytest.mark.parametrize(("current", "wider", "suppress"), [
    (25, 34, True),    # 9 people outside the filter: revealed by the difference
    (25, 35, False),   # 10: not small
    (25, 36, False),
    (25, 25, False),   # the filter removes nobody: nothing to reveal
    (9, 100, True),    # the view itself is small
    (10, 100, False),
    (0, 0, False),     # nobody at all: zero is shown
])
def test_differencing_edges(current, wider, suppress):
    check = differencing_check(current, {"district": wider}, TEN)
    assert check.suppress is suppress
    assert bool(check.note) is suppress


def test_differencing_names_the_revealing_filters_for_the_log_but_not_in_the_note():
    check = differencing_check(40, {"district": 43, "offence_group": 90, "victim_type": 41}, TEN)
    assert check.revealing == ("district", "victim_type") and not check.too_small
    assert "district" not in check.note and "1 to 9" in check.note


def test_differencing_compares_cell_by_cell_and_with_a_custom_threshold():
    # per-entitlement eligible counts in the view and with the district filter removed: 12 - 10 = 2
    assert differencing_check([10, 40], {"district": [12, 80]}, TEN).suppress
    assert not differencing_check([10, 40], {"district": [12, 80]}, DisclosurePolicy(2)).suppress


def test_differencing_refuses_a_wider_view_with_fewer_people():
    with pytest.raises(ValueError, match="without 'district' counts fewer people"):
        differencing_check(40, {"district": 30}, TEN)
    with pytest.raises(ValueError, match="shape"):
        differencing_check([1, 2], {"district": [5]}, TEN)


# --- properties ---------------------------------------------------------------------------------------------

def _span(vectors: list[list[int]]) -> list[tuple[int, list[Fraction]]]:
    """A basis of the vectors' span in echelon form: (pivot, row) with distinct pivots."""
    basis: list[tuple[int, list[Fraction]]] = []
    for vector in vectors:
        row = _reduce([Fraction(x) for x in vector], basis)
        pivot = next((i for i, x in enumerate(row) if x), None)
        if pivot is not None:
            basis.append((pivot, [x / row[pivot] for x in row]))
    return basis


def _reduce(row: list[Fraction], basis) -> list[Fraction]:
    for pivot, base in basis:
        if row[pivot]:
            factor = row[pivot]
            row = [x - factor * b for x, b in zip(row, base, strict=True)]
    return row


def _recoverable(shown: list[list[int]], query: list[int]) -> bool:
    """Whether query (a count, as a sum over the table's smallest pieces) is a combination of the shown ones."""
    return not any(_reduce([Fraction(x) for x in query], _span(shown)))


counts_strategy = st.one_of(st.just(0), st.integers(1, 12), st.integers(13, 60))
threshold_strategy = st.integers(2, 12)


def _check_margin(parts_hidden: list[bool], parts: list[int], total_hidden: bool, threshold: int) -> None:
    """Each total: 0 or at least 2 cells hidden under it, or itself hidden; and the hidden cells under a
    shown total come to at least t and to more than their number (else each would be 1)."""
    n_hidden = sum(parts_hidden)
    assert n_hidden != 1 or total_hidden
    if not total_hidden and n_hidden:
        hidden_sum = sum(v for v, h in zip(parts, parts_hidden, strict=True) if h)
        nonzero = sum(1 for v, h in zip(parts, parts_hidden, strict=True) if h and v > 0)
        assert hidden_sum == 0 or (hidden_sum >= threshold and hidden_sum > nonzero)


@given(cells=st.lists(counts_strategy, min_size=1, max_size=7), threshold=threshold_strategy)
def test_property_one_way(cells, threshold):
    policy = DisclosurePolicy(threshold)
    levels = [f"L{i}" for i in range(len(cells))]
    frame = pd.DataFrame({"level": [*levels, "all"], "victims": [*cells, sum(cells)]})
    result = suppress_breakdown(frame, dimension="level", counts=["victims"], policy=policy)
    hidden = result.hidden["victims"].tolist()
    values = frame["victims"].tolist()
    # no shown count from 1 to t-1, and every hidden value removed
    assert not any(h is False and 1 <= v < threshold for v, h in zip(values, hidden, strict=True))
    assert result.frame["victims"].isna().tolist() == hidden
    _check_margin(hidden[:-1], cells, hidden[-1], threshold)
    # no hidden cell recoverable exactly: the pieces are the level cells; the total is their sum
    pieces = [[int(i == j) for j in range(len(cells))] for i in range(len(cells))] + [[1] * len(cells)]
    shown = [p for p, h in zip(pieces, hidden, strict=True) if not h]
    assert not any(_recoverable(shown, p) for p, h in zip(pieces, hidden, strict=True) if h)
    # deterministic, and the same whatever the row order
    again = suppress_breakdown(frame, dimension="level", counts=["victims"], policy=policy)
    assert again.hidden.equals(result.hidden)
    shuffled = frame.sample(frac=1, random_state=len(cells))
    other = suppress_breakdown(shuffled, dimension="level", counts=["victims"], policy=policy)
    assert other.hidden["victims"].reindex(frame.index).tolist() == hidden


@given(rows=st.lists(st.tuples(counts_strategy, counts_strategy), min_size=1, max_size=6),
       threshold=threshold_strategy)
def test_property_one_way_with_rates(rows, threshold):
    # each row: delivered and not delivered; eligible = their sum; the total row sums them
    policy = DisclosurePolicy(threshold)
    delivered = [d for d, _ in rows] + [sum(d for d, _ in rows)]
    eligible = [d + n for d, n in rows] + [sum(d + n for d, n in rows)]
    frame = pd.DataFrame({"level": [f"L{i}" for i in range(len(rows))] + ["all"],
                          "delivered": delivered, "eligible": eligible})
    frame["rate"] = frame["delivered"] / frame["eligible"].replace(0, np.nan)
    result = suppress_breakdown(frame, dimension="level", counts=["delivered", "eligible"],
                                nested=[("delivered", "eligible")], rates={"rate": ("delivered", "eligible")},
                                policy=policy)
    hidden_d, hidden_e = result.hidden["delivered"].tolist(), result.hidden["eligible"].tolist()
    for i in range(len(frame)):
        assert hidden_d[i] or not 1 <= delivered[i] < threshold
        assert hidden_e[i] or not 1 <= eligible[i] < threshold
        # no shown complement from 1 to t-1
        assert hidden_d[i] or hidden_e[i] or not 1 <= eligible[i] - delivered[i] < threshold
        assert result.hidden["rate"].iloc[i] == (hidden_d[i] or hidden_e[i])
    _check_margin(hidden_d[:-1], delivered[:-1], hidden_d[-1], threshold)
    _check_margin(hidden_e[:-1], eligible[:-1], hidden_e[-1], threshold)
    # pieces: (delivered, not delivered) per row; nothing hidden, and no small complement, recoverable
    n = len(rows)

    def piece(indices, which):
        vector = [0] * (2 * n)
        for i in indices:
            for w in which:
                vector[2 * i + w] = 1
        return vector

    everyone = range(n)
    cells = [(piece([i], [0]), piece([i], [0, 1]), piece([i], [1])) for i in everyone]
    cells.append((piece(everyone, [0]), piece(everyone, [0, 1]), piece(everyone, [1])))
    shown = [c[0] for c, h in zip(cells, hidden_d, strict=True) if not h]
    shown += [c[1] for c, h in zip(cells, hidden_e, strict=True) if not h]
    for i, (d_vec, e_vec, not_vec) in enumerate(cells):
        assert not (hidden_d[i] and _recoverable(shown, d_vec))
        assert not (hidden_e[i] and _recoverable(shown, e_vec))
        if 1 <= eligible[i] - delivered[i] < threshold:
            assert not _recoverable(shown, not_vec)


@given(months=st.lists(st.tuples(counts_strategy, counts_strategy), min_size=1, max_size=6),
       threshold=threshold_strategy)
def test_property_monthly_series(months, threshold):
    # each month: delivered and not delivered; the period total is taken as shown elsewhere, as a table of its
    # own would show it
    policy = DisclosurePolicy(threshold)
    numerator = [d for d, _ in months]
    denominator = [d + n for d, n in months]
    series = pd.DataFrame({"month": pd.date_range("2025-01-01", periods=len(months), freq="MS"),
                           "numerator": numerator, "denominator": denominator})
    result = suppress_series(series, rate=None, policy=policy)
    hidden_n, hidden_d = result.hidden["numerator"].tolist(), result.hidden["denominator"].tolist()
    n = len(months)

    def piece(indices, which):
        return [int(i in indices and w in which) for i in range(n) for w in (0, 1)]

    shown, secret = [], []
    for i in range(n):
        assert hidden_n[i] or not 1 <= numerator[i] < threshold
        assert hidden_d[i] or not 1 <= denominator[i] < threshold
        assert hidden_n[i] or hidden_d[i] or not 1 <= denominator[i] - numerator[i] < threshold
        (secret if hidden_n[i] else shown).append(piece({i}, {0}))
        (secret if hidden_d[i] else shown).append(piece({i}, {0, 1}))
        if 1 <= denominator[i] - numerator[i] < threshold:
            secret.append(piece({i}, {1}))
    # The total as a table of its own shows: its numerator unless it or its complement is small; its
    # denominator unless small, or unless, with the numerator hidden, it would give the two hidden parts under
    # it away (their sum, the denominator, below t or no more than the number of non-zero parts).
    total_n, total_d = sum(numerator), sum(denominator)
    total_n_hidden = 1 <= total_n < threshold or 1 <= total_d - total_n < threshold
    nonzero_parts = (total_n > 0) + (total_d - total_n > 0)
    total_d_hidden = 1 <= total_d < threshold or (total_n_hidden and 0 < total_d and
                                                   (total_d < threshold or total_d <= nonzero_parts))
    if not total_n_hidden:
        shown.append(piece(set(range(n)), {0}))
    if not total_d_hidden:
        shown.append(piece(set(range(n)), {0, 1}))
    basis = _span(shown)
    for query in secret:
        assert any(_reduce([Fraction(x) for x in query], basis)), "a hidden count can be worked out"


@given(children=st.lists(st.lists(counts_strategy, min_size=1, max_size=3), min_size=1, max_size=3),
       threshold=threshold_strategy)
def test_property_two_level(children, threshold):
    policy = DisclosurePolicy(threshold)
    levels, values, parents, pieces = [], [], {}, []
    leaf_count = sum(len(c) for c in children)
    leaf = 0
    for p, kids in enumerate(children):
        first = leaf
        for value in kids:
            levels.append(f"P{p}C{leaf}")
            values.append(value)
            parents[f"P{p}C{leaf}"] = f"P{p}"
            pieces.append([int(j == leaf) for j in range(leaf_count)])
            leaf += 1
        levels.append(f"P{p}")
        values.append(sum(kids))
        pieces.append([int(first <= j < leaf) for j in range(leaf_count)])
    levels.append("all")
    values.append(sum(map(sum, children)))
    pieces.append([1] * leaf_count)
    frame = pd.DataFrame({"area": levels, "victims": values})
    result = suppress_breakdown(frame, dimension="area", counts=["victims"], parents=parents, policy=policy)
    hidden = dict(zip(levels, result.hidden["victims"], strict=True))
    assert not any(not hidden[name] and 1 <= v < threshold for name, v in zip(levels, values, strict=True))
    for p, kids in enumerate(children):
        names = [name for name in levels if parents.get(name) == f"P{p}"]
        _check_margin([hidden[name] for name in names], kids, hidden[f"P{p}"], threshold)
    _check_margin([hidden[f"P{p}"] for p in range(len(children))], [sum(k) for k in children], hidden["all"],
                  threshold)
    shown = [piece for piece, name in zip(pieces, levels, strict=True) if not hidden[name]]
    for piece, name in zip(pieces, levels, strict=True):
        assert not (hidden[name] and _recoverable(shown, piece)), name


# Compliance rows are built from their smallest pieces: per entitlement and level, instances delivered on
# time, late, not delivered (with a timescale), delivered and not delivered (without one), not yet due, not
# applicable. Each count is a sum of pieces; so is each complement.
PIECES = ("on_time", "late", "missed_timed", "delivered_untimed", "missed_untimed", "not_yet_due", "not_applicable")
COUNT_PIECES = {
    "eligible": ("on_time", "late", "missed_timed", "delivered_untimed", "missed_untimed"),
    "delivered": ("on_time", "late", "delivered_untimed"),
    "delivered_on_time": ("on_time",),
    "eligible_timed": ("on_time", "late", "missed_timed"),
    "not_yet_due": ("not_yet_due",),
    "not_applicable": ("not_applicable",),
}
COMPLEMENTS = (("delivered", "eligible"), ("delivered_on_time", "eligible_timed"),
               ("delivered_on_time", "delivered"), ("eligible_timed", "eligible"))


@settings(max_examples=40)
@given(n_entitlements=st.integers(1, 3), n_districts=st.integers(1, 3), n_types=st.integers(1, 2),
       areas=st.booleans(), drop_a_district=st.booleans(), seed=st.integers(0, 10**6), threshold=threshold_strategy)
def test_property_compliance_entitlements_breakdowns_and_rights(n_entitlements, n_districts, n_types, areas,
                                                                 drop_a_district, seed, threshold):
    # Pieces per entitlement, district and victim type. The district, victim-type and (optionally)
    # command-area rows share the total; right 4's rows add up its entitlements; a dropped district's row is
    # missing while the totals still count it (a rest anyone can work out).
    rng = random.Random(seed)
    policy = DisclosurePolicy(threshold)
    base = {(e, d, t): [rng.choice([0, 0, rng.randint(1, 6), rng.randint(5, 25)]) for _ in PIECES]
            for e in range(n_entitlements) for d in range(n_districts) for t in range(n_types)}
    slot = {key: i for i, key in enumerate(base)}

    def vector(cells, count):
        out = [0] * (len(base) * len(PIECES))
        for key in cells:
            for name in COUNT_PIECES[count]:
                out[slot[key] * len(PIECES) + PIECES.index(name)] = 1
        return out

    def counts_of(cells):
        return {c: sum(base[k][PIECES.index(p)] for k in cells for p in COUNT_PIECES[c]) for c in COUNT_PIECES}

    levels = [("district", f"D{d}", lambda k, d=d: k[1] == d) for d in range(n_districts)
              if not (drop_a_district and n_districts > 1 and d == n_districts - 1)]
    levels += [("victim_type", f"T{t}", lambda k, t=t: k[2] == t) for t in range(n_types)]
    if areas:
        levels += [("command_area", f"A{a}", lambda k, a=a: k[1] % 2 == a) for a in range(min(2, n_districts))]
    levels.append(("total", "all", lambda k: True))
    ent_rows, ent_cells, right_rows, right_cells = [], [], [], []
    for breakdown, level, member in levels:
        for e in range(n_entitlements):
            cells = [k for k in base if k[0] == e and member(k)]
            ent_rows.append({"entitlement": f"e{e}", "right_no": 4, "breakdown": breakdown, "level": level,
                             **counts_of(cells)})
            ent_cells.append(cells)
        cells = [k for k in base if member(k)]
        right_rows.append({"right_no": 4, "breakdown": breakdown, "level": level, **counts_of(cells)})
        right_cells.append(cells)
    entitlements, rights = add_rates(pd.DataFrame(ent_rows)), add_rates(pd.DataFrame(right_rows))
    hierarchy = {"district": ("command_area", {f"D{d}": f"A{d % 2}" for d in range(n_districts)})} if areas else None
    result = suppress_compliance(entitlements, rights, hierarchy=hierarchy, policy=policy)
    again = suppress_compliance(entitlements, rights, hierarchy=hierarchy, policy=policy)
    assert again.entitlements.hidden.equals(result.entitlements.hidden)
    assert again.rights.hidden.equals(result.rights.hidden)

    shown, secret = [], []
    for frame, cells_of, out in ((entitlements, ent_cells, result.entitlements), (rights, right_cells, result.rights)):
        for i in range(len(frame)):
            for count in COUNT_PIECES:
                value, hidden = int(frame[count].iloc[i]), bool(out.hidden[count].iloc[i])
                assert hidden or not 1 <= value < threshold, (count, i)
                assert hidden == bool(pd.isna(out.frame[count].iloc[i]))
                (secret if hidden else shown).append(vector(cells_of[i], count))
            for part, whole in COMPLEMENTS:
                if 1 <= int(frame[whole].iloc[i] - frame[part].iloc[i]) < threshold:
                    secret.append([a - b for a, b in zip(vector(cells_of[i], whole), vector(cells_of[i], part),
                                                         strict=True)])
            for rate, (numerator, denominator) in (("delivered_rate", ("delivered", "eligible")),
                                                   ("on_time_rate", ("delivered_on_time", "eligible_timed"))):
                expected = bool(out.hidden[numerator].iloc[i] or out.hidden[denominator].iloc[i])
                assert bool(out.hidden[rate].iloc[i]) == expected == bool(out.hidden[f"{rate}_upper"].iloc[i])
    # the dropped district: nobody sees its row, but its small complements and counts are people too
    if drop_a_district and n_districts > 1:
        for unit in [*range(n_entitlements), None]:
            cells = [k for k in base if k[1] == n_districts - 1 and unit in (None, k[0])]
            counts = counts_of(cells)
            secret += [vector(cells, c) for c, v in counts.items() if 1 <= v < threshold]
            secret += [[a - b for a, b in zip(vector(cells, whole), vector(cells, part), strict=True)]
                       for part, whole in COMPLEMENTS if 1 <= counts[whole] - counts[part] < threshold]
    basis = _span(shown)
    for query in secret:
        assert any(_reduce([Fraction(x) for x in query], basis)), "a hidden count can be worked out"


@settings(max_examples=80, deadline=None)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3), seed=st.integers(0, 10**6),
       threshold=threshold_strategy)
def test_property_margins_several_breakdowns_of_one_total(shape, seed, threshold):
    # Pieces: the cells of a cross-classification by 1 to 3 breakdowns (never shown), each split into contacted
    # and not; every breakdown's levels and the total are shown, protected together.
    rng = random.Random(seed)
    cells = [tuple(int(x) for x in key) for key in np.ndindex(*shape)]
    pieces = [(cell, contacted) for cell in cells for contacted in (True, False)]
    value = {p: rng.choice([0, 0, rng.randint(1, 6), rng.randint(5, 30)]) for p in pieces}
    rows, vectors = [], []
    for b, size in enumerate(shape):
        for level in range(size):
            members = [p for p in pieces if p[0][b] == level]
            rows.append((f"b{b}", f"L{level}", sum(value[p] for p in members),
                         sum(value[p] for p in members if p[1])))
            vectors.append(members)
    rows.append(("", "all", sum(value.values()), sum(v for p, v in value.items() if p[1])))
    vectors.append(pieces)
    result = suppress_margins(_margins(rows), breakdown="breakdown", dimension="level",
                              counts=["victims", "contacted"], nested=[("contacted", "victims")],
                              policy=DisclosurePolicy(threshold))

    def vector(members, contacted_only=False, not_contacted_only=False):
        return [int(p in members and not (contacted_only and not p[1]) and not (not_contacted_only and p[1]))
                for p in pieces]

    shown, secret = [], []
    for i, (_, _, victims, contacted) in enumerate(rows):
        for column, count, vec in (("victims", victims, vector(vectors[i])),
                                   ("contacted", contacted, vector(vectors[i], contacted_only=True))):
            hidden = bool(result.hidden[column].iloc[i])
            assert hidden or not 1 <= count < threshold
            (secret if hidden else shown).append(vec)
        if 1 <= victims - contacted < threshold:
            secret.append(vector(vectors[i], not_contacted_only=True))
    basis = _span(shown)
    for query in secret:
        assert any(_reduce([Fraction(x) for x in query], basis)), "a hidden count can be worked out"


@given(current=st.integers(0, 40), extras=st.lists(st.integers(0, 40), max_size=4), threshold=threshold_strategy)
def test_property_differencing_never_lets_a_small_difference_through(current, extras, threshold):
    policy = DisclosurePolicy(threshold)
    neighbours = {f"filter{i}": current + extra for i, extra in enumerate(extras)}
    check = differencing_check(current, neighbours, policy)
    small = [1 <= x < threshold for x in [current, *extras]]
    assert check.suppress == any(small)
    if not check.suppress:
        assert all(x == 0 or x >= threshold for x in extras) and not 1 <= current < threshold
