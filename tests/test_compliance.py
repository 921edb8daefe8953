"""compliance_counts_sql and not_applicable_sql on tiny hand-written stores.

Dates used (March / April 2025):  Fri 28 Feb | Sat 1 Mar, Sun 2, Mon 3, Tue 4, Wed 5, Thu 6, Fri 7,
Sat 8, Sun 9, Mon 10, Tue 11, Wed 12, Thu 13 ... Mon 31 Mar | Tue 1 Apr. No bank holidays in between.

Timescales (catalogue.yaml): r4_referral_to_support_service 2 working days for everyone;
r6_suspect_arrested 5 (standard) / 1 (enhanced); r4_needs_assessment has none.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import build_and_open, case, counts_of, ent, expect, period, run_counts, tables, victim
from metrics.catalogue import default_catalogue
from metrics.compliance import compliance_counts_sql, not_applicable_sql
from metrics.filters import DIMENSIONS, Filters
from metrics.rates import rollup_to_rights

REFERRAL = "r4_referral_to_support_service"
NEEDS = "r4_needs_assessment"
ARRESTED = "r6_suspect_arrested"
INTERVIEWED = "r6_suspect_interviewed_under_caution"
MARCH = date(2025, 3, 1)
APRIL = date(2025, 4, 1)


# --- standard and enhanced timescales ----------------------------------------------------------

def test_enhanced_victims_get_one_working_day_and_standard_victims_five(make_store):
    store = make_store(tables(
        cases=[case("C1")],
        victims=[victim("V1"), victim("V2", enhanced_category="vulnerable"),
                 victim("V3"), victim("V4", enhanced_category="most_serious_crime")],
        entitlements=[
            # all triggered Mon 3 Mar. Standard: 5 wd = Tue 4, Wed 5, Thu 6, Fri 7, Mon 10 -> due Mon 10
            ent("E1", ARRESTED, "2025-03-03", "2025-03-07", "delivered", victim_id="V1"),  # standard, on time
            ent("E2", ARRESTED, "2025-03-03", "2025-03-11", "delivered", victim_id="V3"),  # standard, late
            # Enhanced: 1 wd -> due Tue 4
            ent("E3", ARRESTED, "2025-03-03", "2025-03-04", "delivered", victim_id="V2"),  # enhanced, on time
            ent("E4", ARRESTED, "2025-03-03", "2025-03-05", "delivered", victim_id="V4"),  # enhanced, late
        ]), as_of=date(2025, 3, 31))
    counts = run_counts(store, period(MARCH, as_of=date(2025, 3, 31)), breakdowns=("total", "victim_type"))
    assert counts_of(counts, ARRESTED) == expect(eligible=4, delivered=4, delivered_on_time=2, eligible_timed=4)
    assert counts_of(counts, ARRESTED, "victim_type", "standard") == expect(
        eligible=2, delivered=2, delivered_on_time=1, eligible_timed=2)  # E1 on time, E2 late
    assert counts_of(counts, ARRESTED, "victim_type", "enhanced") == expect(
        eligible=2, delivered=2, delivered_on_time=1, eligible_timed=2)  # E3 on time, E4 late (Wed 5 > Tue 4)


# --- outcomes ----------------------------------------------------------------------------------

def test_declined_counts_as_delivered_and_can_be_on_time(make_store):
    store = make_store(tables(cases=[case("C1")], victims=[victim("V1")], entitlements=[
        # triggered Mon 3 Mar, 2 wd -> due Wed 5
        ent("E1", REFERRAL, "2025-03-03", "2025-03-04", "declined"),  # offered Tue 4 and declined: delivered, on time
        ent("E2", REFERRAL, "2025-03-03", None, "not_delivered"),  # a failure
        ent("E3", REFERRAL, "2025-03-03", "2025-03-05", "delivered"),  # on the due date: on time
        ent("E4", REFERRAL, "2025-03-03", "2025-03-06", "declined"),  # offered Thu 6: delivered, late
    ]), as_of=date(2025, 3, 31))
    counts = run_counts(store, period(MARCH, as_of=date(2025, 3, 31)))
    # eligible 4; delivered E1, E3, E4 = 3; on time E1, E3 = 2
    assert counts_of(counts, REFERRAL) == expect(eligible=4, delivered=3, delivered_on_time=2, eligible_timed=4)


def test_an_empty_outcome_is_derived_from_delivered_at(make_store):
    store = make_store(tables(cases=[case("C1")], victims=[victim("V1")], entitlements=[
        ent("E1", REFERRAL, "2025-03-03", "2025-03-04", None),  # has a delivery date: delivered (Tue 4 <= due Wed 5)
        ent("E2", REFERRAL, "2025-03-03", None, None),  # no date: not delivered, and past due by 31 Mar
    ]), as_of=date(2025, 3, 31))
    counts = run_counts(store, period(MARCH, as_of=date(2025, 3, 31)))
    assert counts_of(counts, REFERRAL) == expect(eligible=2, delivered=1, delivered_on_time=1, eligible_timed=2)


def test_not_applicable_is_left_out_of_the_denominator_and_counted_with_its_reasons(make_store):
    store = make_store(tables(cases=[case("C1")], victims=[victim("V1")], entitlements=[
        ent("E1", REFERRAL, "2025-03-03", "2025-03-03", "delivered"),
        ent("E2", REFERRAL, "2025-03-03", None, "not_applicable", exception_reason="safety risk"),
        ent("E3", REFERRAL, "2025-03-04", None, "not_applicable", exception_reason="safety risk"),
        ent("E4", REFERRAL, "2025-03-05", None, "not_applicable", exception_reason="no contact details"),
        ent("E5", REFERRAL, "2025-03-03", None, "not_delivered"),
        ent("E6", NEEDS, "2025-03-03", None, "not_applicable", exception_reason="victim deceased"),
    ]), as_of=date(2025, 3, 31))
    filters = period(MARCH, as_of=date(2025, 3, 31))
    counts = run_counts(store, filters)
    # referral: E1 delivered on time, E5 a failure -> eligible 2; E2, E3, E4 not applicable -> 3
    assert counts_of(counts, REFERRAL) == expect(eligible=2, delivered=1, delivered_on_time=1, eligible_timed=2,
                                                 not_applicable=3)
    # needs assessment: its only instance is not applicable -> eligible 0, not applicable 1
    assert counts_of(counts, NEEDS) == expect(not_applicable=1)

    sql, params = not_applicable_sql(default_catalogue(), filters)
    reasons = store.query(sql, params)
    # per entitlement, most frequent reason first
    assert list(reasons.itertuples(index=False, name=None)) == [
        (NEEDS, 4, "victim deceased", 1),
        (REFERRAL, 4, "safety risk", 2),
        (REFERRAL, 4, "no contact details", 1),
    ]


# --- as of a date ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def as_of_store(tmp_path_factory):
    store = build_and_open(tmp_path_factory.mktemp("as_of"), tables(cases=[case("C1")], victims=[victim("V1")], entitlements=[
        # referral, 2 working days
        ent("A1", REFERRAL, "2025-03-03", "2025-03-11", "delivered"),  # due Wed 5, delivered Tue 11
        ent("A2", REFERRAL, "2025-03-07"),  # due Tue 11, never delivered
        ent("A3", REFERRAL, "2025-03-07", "2025-03-11", "delivered"),  # due Tue 11, delivered Tue 11
        ent("A4", REFERRAL, "2025-03-11"),  # due Thu 13, never delivered
        # needs assessment, no timescale
        ent("N1", NEEDS, "2025-03-07"),  # never delivered
        ent("N2", NEEDS, "2025-03-03", "2025-03-03", "delivered"),
        ent("N3", NEEDS, "2025-03-03", "2025-03-11", "delivered"),
    ]), date(2025, 3, 31))
    yield store
    store.close()


def test_as_of_a_monday_later_deliveries_do_not_count_and_undue_instances_are_not_yet_due(as_of_store):
    counts = run_counts(as_of_store, period(MARCH, as_of=date(2025, 3, 10)))  # as of Mon 10 Mar
    # A1: delivery Tue 11 is after the as-of date, so not delivered; due Wed 5 has passed -> a failure
    # A2: not delivered, due Tue 11 after Mon 10 -> not yet due (excluded)
    # A3: its delivery Tue 11 had not happened yet, due Tue 11 -> not yet due
    # A4: triggered Tue 11, after the as-of date -> not counted anywhere
    assert counts_of(counts, REFERRAL) == expect(eligible=1, delivered=0, delivered_on_time=0, eligible_timed=1,
                                                 not_yet_due=2)
    # N1 not delivered, N3 not delivered yet: failures, never 'not yet due' without a timescale;
    # N2 delivered but with no timescale it has no on-time figure
    assert counts_of(counts, NEEDS) == expect(eligible=3, delivered=1, delivered_on_time=0, eligible_timed=0,
                                              not_yet_due=0)


def test_as_of_month_end_every_instance_is_settled(as_of_store):
    counts = run_counts(as_of_store, period(MARCH, as_of=date(2025, 3, 31)))
    # A1 delivered late (Tue 11 > Wed 5), A2 failed, A3 on time (Tue 11 = due), A4 failed
    assert counts_of(counts, REFERRAL) == expect(eligible=4, delivered=2, delivered_on_time=1, eligible_timed=4)
    # N1 failed; N2, N3 delivered; no on-time figure
    assert counts_of(counts, NEEDS) == expect(eligible=3, delivered=2, delivered_on_time=0, eligible_timed=0)


def test_an_as_of_date_long_after_the_data_still_counts_everything(as_of_store):
    # The store's calendar ends 400 days after its latest date (here 31 Mar 2025 -> early May 2026).
    # Two years on, every instance is settled exactly as at month end: A1 late, A2 failed, A3 on time,
    # A4 failed; N1 failed, N2 and N3 delivered.
    counts = run_counts(as_of_store, period(MARCH, as_of=date(2027, 3, 31)))
    assert counts_of(counts, REFERRAL) == expect(eligible=4, delivered=2, delivered_on_time=1, eligible_timed=4)
    assert counts_of(counts, NEEDS) == expect(eligible=3, delivered=2, delivered_on_time=0, eligible_timed=0)


def test_an_as_of_date_before_the_period_counts_nothing(as_of_store):
    counts = run_counts(as_of_store, period(MARCH, as_of=date(2025, 2, 28)))
    assert counts.empty  # every trigger is after Fri 28 Feb


# --- period membership -------------------------------------------------------------------------

@pytest.fixture(scope="module")
def period_store(tmp_path_factory):
    store = build_and_open(tmp_path_factory.mktemp("period"), tables(cases=[case("C1")], victims=[victim("V1")], entitlements=[
        ent("P1", REFERRAL, "2025-02-28", "2025-02-28", "delivered"),  # last day of February
        ent("P2", REFERRAL, "2025-03-01", "2025-03-01", "delivered"),  # first day of March (a Saturday)
        ent("P3", REFERRAL, "2025-03-31T23:59", "2025-03-31T23:59", "delivered"),  # last minute of March
        ent("P4", REFERRAL, "2025-04-01", "2025-04-01", "delivered"),  # first day of April
    ]), date(2025, 6, 30))
    yield store
    store.close()


@pytest.mark.parametrize("first, last, eligible", [
    (MARCH, MARCH, 2),  # P2, P3
    (date(2025, 2, 1), MARCH, 3),  # P1, P2, P3
    (MARCH, APRIL, 3),  # P2, P3, P4
    (date(2025, 2, 1), APRIL, 4),
])
def test_an_instance_belongs_to_the_month_of_its_trigger_boundaries_included(period_store, first, last, eligible):
    counts = run_counts(period_store, period(first, last, as_of=date(2025, 6, 30)))
    # all delivered on the trigger day, so all on time
    assert counts_of(counts, REFERRAL) == expect(eligible=eligible, delivered=eligible, delivered_on_time=eligible,
                                                 eligible_timed=eligible)


def test_a_period_with_no_triggers_returns_no_rows(period_store):
    assert run_counts(period_store, period(date(2025, 1, 1), as_of=date(2025, 6, 30))).empty


def test_the_month_breakdown_labels_each_trigger_month(period_store):
    counts = run_counts(period_store, period(date(2025, 2, 1), APRIL, as_of=date(2025, 6, 30)), breakdowns=("month",))
    assert sorted(zip(counts["level"], counts["eligible"])) == [("2025-02", 1), ("2025-03", 2), ("2025-04", 1)]
    assert set(counts["breakdown"]) == {"month"}


# --- filters and breakdowns --------------------------------------------------------------------
# Six victims, one referral each. District -> command area: Basildon South, Chelmsford Mid,
# Colchester North; Harlow is not in the districts table, so 'Unassigned'.

VICTIMS = {
    #      district      command_area  offence_group      victim_type age_band   sex       ethnicity  disability
    "V1": ("Basildon",   "South",      "theft",           "standard", "18-24",   "female", "white",   "no"),
    "V2": ("Basildon",   "South",      "theft",           "enhanced", "65+",     "male",   "asian",   "yes"),
    "V3": ("Chelmsford", "Mid",        "burglary",        "standard", "25-34",   "female", "black",   "unknown"),
    "V4": ("Colchester", "North",      "sexual_offences", "enhanced", "0-17",    "other",  "mixed",   "no"),
    "V5": ("Colchester", "North",      "sexual_offences", "standard", "unknown", "unknown", "unknown", "unknown"),
    "V6": ("Harlow",     "Unassigned", "robbery",         "standard", "35-44",   "male",   "white",   "no"),
}
DIMENSION_ORDER = ("district", "command_area", "offence_group", "victim_type", "age_band", "sex", "ethnicity",
                   "disability")
DELIVERED = {"V1", "V2", "V3", "V4", "V6"}  # V5 not delivered
ON_TIME = {"V1", "V2", "V3", "V4"}  # V6 delivered Fri 7 for a Mon 3 trigger: due Wed 5, late
AS_OF = date(2025, 6, 30)


@pytest.fixture(scope="module")
def people_store(tmp_path_factory):
    data = tables(
        districts=(("Basildon", "South"), ("Chelmsford", "Mid"), ("Colchester", "North")),
        cases=[case("C1", "Basildon", "theft"), case("C2", "Chelmsford", "burglary"),
               case("C3", "Colchester", "sexual_offences"), case("C4", "Harlow", "robbery")],
        victims=[
            victim("V1", "C1", None, age_band="18-24", sex="female", ethnicity="white", disability="no"),
            victim("V2", "C1", "vulnerable", age_band="65+", sex="male", ethnicity="asian", disability="yes"),
            victim("V3", "C2", None, age_band="25-34", sex="female", ethnicity="black", disability="unknown"),
            victim("V4", "C3", "intimidated", age_band="0-17", sex="other", ethnicity="mixed", disability="no"),
            victim("V5", "C3", None),  # nothing recorded: every attribute 'unknown'
            victim("V6", "C4", None, age_band="35-44", sex="male", ethnicity="white", disability="no"),
        ],
        entitlements=[
            ent("E1", REFERRAL, "2025-03-03", "2025-03-03", "delivered", victim_id="V1"),
            ent("E2", REFERRAL, "2025-03-03", "2025-03-03", "delivered", victim_id="V2"),
            ent("E3", REFERRAL, "2025-04-01", "2025-04-01", "delivered", victim_id="V3"),
            ent("E4", REFERRAL, "2025-04-01", "2025-04-01", "delivered", victim_id="V4"),
            ent("E5", REFERRAL, "2025-03-03", None, "not_delivered", victim_id="V5"),
            ent("E6", REFERRAL, "2025-03-03", "2025-03-07", "delivered", victim_id="V6"),
        ])
    store = build_and_open(tmp_path_factory.mktemp("people"), data, AS_OF)
    yield store
    store.close()


def people_filters(**selections) -> Filters:
    return period(MARCH, APRIL, as_of=AS_OF, **selections)


def counts_for(victims: set[str]) -> dict:
    """The expected counts when exactly these victims' referrals are selected (one instance each)."""
    return expect(eligible=len(victims), delivered=len(victims & DELIVERED),
                  delivered_on_time=len(victims & ON_TIME), eligible_timed=len(victims))


@pytest.mark.parametrize("dimension, values, victims", [
    ("district", ["Basildon"], {"V1", "V2"}),
    ("district", ["Basildon", "Colchester"], {"V1", "V2", "V4", "V5"}),
    ("command_area", ["North"], {"V4", "V5"}),
    ("command_area", ["Unassigned"], {"V6"}),
    ("command_area", ["Mid", "South"], {"V1", "V2", "V3"}),
    ("offence_group", ["burglary"], {"V3"}),
    ("offence_group", ["theft", "sexual_offences"], {"V1", "V2", "V4", "V5"}),
    ("victim_type", ["enhanced"], {"V2", "V4"}),
    ("victim_type", ["standard"], {"V1", "V3", "V5", "V6"}),
    ("age_band", ["unknown"], {"V5"}),
    ("age_band", ["18-24", "65+"], {"V1", "V2"}),
    ("sex", ["female"], {"V1", "V3"}),
    ("sex", ["male", "unknown"], {"V2", "V5", "V6"}),
    ("ethnicity", ["asian"], {"V2"}),
    ("ethnicity", ["white", "black", "mixed"], {"V1", "V3", "V4", "V6"}),
    ("disability", ["unknown"], {"V3", "V5"}),
    ("disability", ["yes", "no"], {"V1", "V2", "V4", "V6"}),
    ("district", [], {"V1", "V2", "V3", "V4", "V5", "V6"}),  # an empty selection means everyone
])
def test_each_filter_dimension_narrows_to_the_matching_victims(people_store, dimension, values, victims):
    counts = run_counts(people_store, people_filters(**{dimension: values}))
    assert counts_of(counts, REFERRAL) == counts_for(victims)


def test_the_fixture_covers_every_filter_dimension():
    assert set(DIMENSION_ORDER) == set(DIMENSIONS)


def test_filters_on_two_dimensions_combine_with_and(people_store):
    counts = run_counts(people_store, people_filters(district=["Colchester"], victim_type=["standard"]))
    assert counts_of(counts, REFERRAL) == counts_for({"V5"})  # V4 is Colchester but enhanced


def test_a_filter_value_that_matches_nobody_returns_no_rows(people_store):
    assert run_counts(people_store, people_filters(district=["Southend"])).empty


def test_several_breakdowns_come_back_from_one_query_with_their_levels(people_store):
    counts = run_counts(people_store, people_filters(), breakdowns=("total", "month", "district", "victim_type"))
    got = {(r.breakdown, r.level): (r.eligible, r.delivered, r.delivered_on_time)
           for r in counts.itertuples() if r.entitlement == REFERRAL}
    assert got == {
        ("total", "all"): (6, 5, 4),
        ("month", "2025-03"): (4, 3, 2),  # V1, V2, V5, V6; V5 not delivered; V6 late
        ("month", "2025-04"): (2, 2, 2),  # V3, V4
        ("district", "Basildon"): (2, 2, 2),  # V1, V2
        ("district", "Chelmsford"): (1, 1, 1),  # V3
        ("district", "Colchester"): (2, 1, 1),  # V4, V5
        ("district", "Harlow"): (1, 1, 0),  # V6, late
        ("victim_type", "standard"): (4, 3, 2),  # V1, V3, V5, V6
        ("victim_type", "enhanced"): (2, 2, 2),  # V2, V4
    }
    assert set(counts["entitlement"]) == {REFERRAL}  # no other entitlement has instances
    assert set(counts["right_no"]) == {4}


def test_unknown_breakdown_or_dimension_names_are_refused_before_any_sql():
    cat = default_catalogue()
    filters = period(MARCH, as_of=AS_OF)
    with pytest.raises(ValueError, match="team"):
        compliance_counts_sql(cat, filters, breakdowns=("team",))
    with pytest.raises(ValueError, match="DROP"):
        compliance_counts_sql(cat, filters, breakdowns=("district; DROP TABLE cases",))
    with pytest.raises(ValueError):
        compliance_counts_sql(cat, filters, breakdowns=())
    with pytest.raises(ValueError, match="postcode"):
        Filters(first_month=MARCH, last_month=MARCH, as_of=AS_OF, selections={"postcode": ("CM1",)})
    with pytest.raises(ValueError, match="team"):
        filters.with_selection("team", ("CID",))


# --- hostile filter values ---------------------------------------------------------------------

HOSTILE = [
    "'",
    "Basildon'",
    "' OR '1'='1",
    "Basildon'; DROP TABLE entitlement_facts; --",
    "--",
    "Basildon --",
    "%",
    "Bäsildon ✓ 区",
    "Basil\x00don",
    "Basildon\x00",  # would match Basildon if the NUL cut the string short
    "Basildon ",
    "basildon",
    "\x00",
    "",
]


def table_sizes(store) -> tuple:
    return tuple(store.query(f"SELECT count(*) AS n FROM {t}")["n"].iloc[0]
                 for t in ("cases", "victims", "entitlements", "entitlement_facts"))


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
@pytest.mark.parametrize("dimension", ["district", "sex"])
def test_hostile_filter_values_are_treated_as_data(people_store, dimension, value):
    before = table_sizes(people_store)
    assert before == (4, 6, 6, 6)
    filters = people_filters(**{dimension: [value]})
    sql, params = compliance_counts_sql(default_catalogue(), filters)
    # bound as a parameter, never spliced into the text: the SQL is the same as for a harmless value
    harmless_sql, _ = compliance_counts_sql(default_catalogue(), people_filters(**{dimension: ["x"]}))
    assert sql == harmless_sql
    assert [value] in params.values()
    assert run_counts(people_store, filters).empty
    assert table_sizes(people_store) == before


@pytest.mark.parametrize("value", HOSTILE, ids=repr)
def test_a_hostile_value_beside_a_real_one_does_not_widen_the_selection(people_store, value):
    counts = run_counts(people_store, people_filters(district=["Basildon", value]))
    assert counts_of(counts, REFERRAL) == counts_for({"V1", "V2"})


KNOWN_VALUES = sorted({v for row in VICTIMS.values() for v in row})


@settings(max_examples=60)
@given(dimension=st.sampled_from(DIMENSION_ORDER),
       values=st.lists(st.one_of(st.sampled_from(KNOWN_VALUES), st.text(max_size=8)), min_size=1, max_size=3))
def test_any_text_selection_counts_exactly_what_python_counts(people_store, dimension, values):
    column = DIMENSION_ORDER.index(dimension)
    chosen = {v for v, row in VICTIMS.items() if row[column] in values}
    counts = run_counts(people_store, people_filters(**{dimension: values}))
    assert counts_of(counts, REFERRAL) == counts_for(chosen)
    assert len(counts) == (1 if chosen else 0)


# --- rolling entitlements up to rights ---------------------------------------------------------

def counts_frame(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["entitlement", "right_no", "breakdown", "level", "eligible", "delivered",
                                       "delivered_on_time", "eligible_timed", "not_yet_due", "not_applicable"])


def test_rollup_adds_counts_before_dividing_and_lists_all_twelve_rights():
    counts = counts_frame([
        (ARRESTED, 6, "total", "all", 4, 3, 2, 4, 1, 0),
        (INTERVIEWED, 6, "total", "all", 6, 1, 1, 6, 0, 2),
        (REFERRAL, 4, "total", "all", 5, 5, 4, 5, 0, 0),
    ])
    rights = rollup_to_rights(counts, default_catalogue()).set_index("right_no")
    assert list(rights.index) == list(range(1, 13))
    six = rights.loc[6]
    # 3/4 and 1/6 -> (3 + 1) / (4 + 6) = 4/10 = 40%, not the average of rates (75% + 16.7%) / 2 = 45.8%
    assert (six.eligible, six.delivered, six.delivered_on_time, six.eligible_timed) == (10, 4, 3, 10)
    assert (six.not_yet_due, six.not_applicable) == (1, 2)
    assert six.delivered_rate == pytest.approx(0.4)
    assert six.on_time_rate == pytest.approx(0.3)
    # Wilson 95% for 4/10: centre (0.4 + 0.19207) / 1.38415 = 0.42775, half 0.25957 -> 0.1682 to 0.6873
    assert six.delivered_rate_lower == pytest.approx(0.1682, abs=1e-4)
    assert six.delivered_rate_upper == pytest.approx(0.6873, abs=1e-4)
    assert rights.loc[4].delivered_rate == pytest.approx(1.0)
    # rights with nothing counted are present with zero counts and no rate
    assert rights.loc[10].eligible == 0 and pd.isna(rights.loc[10].delivered_rate)
    assert rights.loc[1].delivered == 0 and pd.isna(rights.loc[1].on_time_rate)


def test_rollup_keeps_each_breakdown_level_separate():
    counts = counts_frame([
        (ARRESTED, 6, "district", "Basildon", 2, 1, 1, 2, 0, 0),
        (INTERVIEWED, 6, "district", "Basildon", 3, 3, 2, 3, 0, 0),
        (ARRESTED, 6, "district", "Chelmsford", 4, 0, 0, 4, 0, 0),
    ])
    rights = rollup_to_rights(counts, default_catalogue())
    assert len(rights) == 24  # 12 rights x 2 districts
    six = rights[rights.right_no == 6].set_index("level")
    assert (six.loc["Basildon"].eligible, six.loc["Basildon"].delivered) == (5, 4)  # 2 + 3, 1 + 3
    assert (six.loc["Chelmsford"].eligible, six.loc["Chelmsford"].delivered) == (4, 0)
    assert set(rights[rights.right_no == 3].eligible) == {0}


def test_rollup_of_store_counts_gives_four_in_ten_for_right_6(make_store):
    instances = (
        # r6_suspect_arrested: 3 of 4 delivered
        [ent(f"A{i}", ARRESTED, "2025-03-03", "2025-03-03", "delivered") for i in range(3)]
        + [ent("A3", ARRESTED, "2025-03-03", None, "not_delivered")]
        # r6_suspect_interviewed_under_caution: 1 of 6 delivered
        + [ent("I0", INTERVIEWED, "2025-03-03", "2025-03-03", "delivered")]
        + [ent(f"I{i}", INTERVIEWED, "2025-03-03", None, "not_delivered") for i in range(1, 6)]
    )
    store = make_store(tables(cases=[case("C1")], victims=[victim("V1")], entitlements=instances),
                       as_of=date(2025, 3, 31))
    counts = run_counts(store, period(MARCH, as_of=date(2025, 3, 31)))
    six = rollup_to_rights(counts, default_catalogue()).set_index("right_no").loc[6]
    assert (six.eligible, six.delivered) == (10, 4)
    assert six.delivered_rate == pytest.approx(0.4)
