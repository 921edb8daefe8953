"""The demo generator: deterministic, loadable, plausible, and carrying the four stories a board must find.

The stories are checked the way the dashboard sees them: from a built store, through the compliance
SQL and rates, never by reading the generator's own parameters.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import date

import pandas as pd
import pytest

import data_access.demo as demo
from data_access.demo import build_demo_store, generate_demo
from data_access.schema import LOAD_ORDER
from data_access.store import Store, open_store
from metrics.catalogue import Catalogue, default_catalogue
from metrics.compliance import COUNT_COLUMNS, compliance_counts_sql
from metrics.filters import Filters, add_months
from metrics.rates import add_rates

CASES, START, MONTHS, SEED = 30_000, date(2024, 1, 1), 24, 11
AS_OF = date(2025, 12, 31)


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> tuple[Store, float]:
    began = time.perf_counter()
    path = build_demo_store(tmp_path_factory.mktemp("demo") / "demo.duckdb", cases=CASES, start=START, months=MONTHS,
                            seed=SEED)
    seconds = time.perf_counter() - began
    store = open_store(path)
    yield store, seconds
    store.close()


@pytest.fixture(scope="module")
def store(built) -> Store:
    return built[0]


def counts(store: Store, first: date = START, last: date | None = None, breakdowns=("total",), codes=None,
           **selections) -> pd.DataFrame:
    filters = Filters(first, last or add_months(START, MONTHS - 1), store.meta.data_as_of,
                      {name: tuple(values) for name, values in selections.items()})
    sql, params = compliance_counts_sql(default_catalogue(), filters, breakdowns, codes)
    return store.query(sql, params)


def rate(frame: pd.DataFrame, which: str = "delivered_rate") -> float:
    """Add the counts up, then divide (rates are never averaged)."""
    summed = frame[list(COUNT_COLUMNS)].sum().to_frame().T
    return float(add_rates(summed)[which].iloc[0])


def one(store: Store, sql: str, params: dict | None = None):
    return store.query(sql, params).iloc[0, 0]


# --- determinism -----------------------------------------------------------------------------------

def test_same_arguments_give_identical_tables():
    first, as_of_first = generate_demo(cases=4_000, start=date(2025, 1, 1), months=6, seed=5)
    second, as_of_second = generate_demo(cases=4_000, start=date(2025, 1, 1), months=6, seed=5)
    assert as_of_first == as_of_second == date(2025, 6, 30)
    assert list(first) == list(second)
    for name in first:
        pd.testing.assert_frame_equal(first[name], second[name], check_exact=True, obj=name)


def test_a_different_seed_gives_different_data():
    first, _ = generate_demo(cases=4_000, start=date(2025, 1, 1), months=6, seed=5)
    other, _ = generate_demo(cases=4_000, start=date(2025, 1, 1), months=6, seed=6)
    for name in ("cases", "victims", "entitlements", "contacts"):
        assert not first[name].equals(other[name]), name


def test_a_catalogue_edit_changes_the_codes_generated_without_breaking_the_demo(monkeypatch):
    # Entitlements are added and retired by editing the YAML; the demo follows the catalogue it is given.
    catalogue = default_catalogue()
    retired, added = "r5_cics_information", "r2_crime_recorded"  # crime_reported trigger, measured: false today

    def edit(ent):
        if ent.code == retired:
            return replace(ent, measured=False, not_measured_reason="retired for this test")
        if ent.code == added:
            return replace(ent, measured=True, not_measured_reason=None)
        return ent

    edited = replace(catalogue, rights=tuple(replace(r, entitlements=tuple(edit(e) for e in r.entitlements))
                                             for r in catalogue.rights))
    assert isinstance(edited, Catalogue)
    monkeypatch.setattr(demo, "default_catalogue", lambda: edited)
    tables, _ = generate_demo(cases=1_500, start=date(2025, 1, 1), months=3, seed=2)
    generated = set(tables["entitlements"]["entitlement"])
    assert added in generated and retired not in generated
    assert generated <= {e.code for e in edited.measured_entitlements}


def test_tables_are_the_contract_tables():
    tables, as_of = generate_demo(cases=2_000, start=date(2025, 3, 1), months=3, seed=1)
    assert set(tables) == set(LOAD_ORDER)
    assert as_of == date(2025, 5, 31)
    assert tables["cases"]["case_id"].iloc[0] == "C0000001"
    assert tables["victims"]["victim_id"].iloc[0] == "V0000001"
    assert tables["entitlements"]["delivery_id"].iloc[0] == "E00000001"
    assert pd.api.types.is_datetime64_any_dtype(tables["entitlements"]["triggered_at"])
    assert tables["cases"]["domestic_abuse"].dtype == bool


# --- the store builds, with every measured entitlement -------------------------------------------------

def test_store_builds_quickly_with_its_metadata(built):
    store, seconds = built
    assert seconds < 20, f"building a {CASES:,}-case demo store took {seconds:.1f}s"
    assert store.meta.is_demo
    assert store.meta.data_as_of == AS_OF
    assert store.meta.source == f"demo seed={SEED} cases={CASES} start=2024-01 months={MONTHS}"
    assert (store.meta.first_month, store.meta.last_month) == (START, date(2025, 12, 1))


def test_every_measured_code_appears_and_nothing_else(store):
    catalogue = default_catalogue()
    present = set(store.query("SELECT DISTINCT entitlement FROM entitlements")["entitlement"])
    measured = {e.code for e in catalogue.measured_entitlements}
    assert present == measured
    counted = counts(store)
    assert (counted.groupby("entitlement")["eligible"].sum() > 0).all()


def test_nothing_is_dated_after_data_as_of(store):
    # Every date and timestamp column except actions.due_on, which is a plan rather than an event.
    columns = store.query("""
        SELECT table_name, column_name FROM duckdb_columns()
        WHERE data_type IN ('DATE', 'TIMESTAMP') AND table_name NOT IN ('calendar', 'entitlement_facts')
        ORDER BY ALL""")
    assert len(columns) >= 15
    for table, column in columns.itertuples(index=False):
        if (table, column) == ("actions", "due_on"):
            continue
        latest = one(store, f'SELECT max(CAST("{column}" AS DATE)) FROM "{table}"')
        assert pd.isna(latest) or latest.date() <= AS_OF, f"{table}.{column} has {latest}"


def test_row_counts_are_sensible(store):
    n = {t: one(store, f'SELECT count(*) FROM "{t}"') for t in LOAD_ORDER}
    assert n["districts"] == 14 and n["cases"] == CASES
    assert 0.88 * CASES <= n["victims"] <= 1.02 * CASES
    assert 7 <= n["entitlements"] / n["victims"] <= 13
    assert 3 <= n["contacts"] / n["victims"] <= 6
    assert 0.85 * n["victims"] <= n["referrals"] <= n["victims"]
    assert 0.02 * n["victims"] <= n["surveys"] <= 0.04 * n["victims"]
    assert 0.003 * CASES <= n["complaints"] <= 0.005 * CASES
    assert n["panels"] == 4  # twice a year
    assert 3 * n["panels"] <= n["panel_findings"] <= 5 * n["panels"]
    acting = one(store, "SELECT count(*) FROM panel_findings WHERE kind IN ('concern', 'suggestion')")
    assert n["actions"] == acting


# --- plausibility ------------------------------------------------------------------------------------

def test_enhanced_share_is_a_quarter_to_a_third(store):
    share = one(store, "SELECT avg(CAST(enhanced_category IS NOT NULL AS INTEGER)) FROM victims")
    assert 0.25 <= share <= 0.33


def test_vps_offers_are_low(store):
    assert rate(counts(store, codes=["r7_vps_offered"])) < 0.4


def test_referrals_are_mostly_on_time(store):
    assert 0.65 <= rate(counts(store, codes=["r4_referral_to_support_service"]), "on_time_rate") <= 0.85


def test_exceptions_declines_and_explicit_misses_are_present(store):
    outcomes = store.query(
        "SELECT coalesce(outcome, '(empty)') AS outcome, count(*) AS n FROM entitlements GROUP BY ALL")
    share = outcomes.set_index("outcome")["n"] / outcomes["n"].sum()
    assert 0.015 <= share["not_applicable"] <= 0.05
    assert share["declined"] > 0.01 and share["not_delivered"] > 0.01 and share["(empty)"] > 0.01
    assert one(store, "SELECT count(*) FROM entitlements WHERE outcome = 'not_applicable' "
                      "AND length(trim(exception_reason)) < 10") == 0


def test_deliveries_fall_on_working_days_with_a_few_at_weekends(store):
    weekend = one(store, """
        SELECT avg(CAST(NOT c.is_working_day AS INTEGER)) FROM entitlements e
        JOIN calendar c ON c.day = CAST(e.delivered_at AS DATE)""")
    assert 0.01 <= weekend <= 0.06


def test_records_agree_with_each_other(store):
    # Referral consent matches the referral entitlement's outcome.
    mismatched = one(store, """
        SELECT count(*) FROM referrals r JOIN entitlements e
          ON e.victim_id = r.victim_id AND e.entitlement = 'r4_referral_to_support_service'
        WHERE (r.consent = 'given'
               AND (e.outcome <> 'delivered' OR CAST(r.referred_at AS DATE) <> CAST(e.delivered_at AS DATE)))
           OR (r.consent = 'declined' AND e.outcome <> 'declined')
           OR (r.consent = 'not_asked' AND e.delivered_at IS NOT NULL)""")
    assert mismatched == 0
    # Each complaint has an acknowledgement entitlement for a victim of its case, triggered when it arrived.
    unmatched = one(store, """
        SELECT count(*) FROM complaints c WHERE NOT EXISTS (
            SELECT 1 FROM entitlements e JOIN victims v USING (victim_id)
            WHERE e.entitlement = 'r12_complaint_acknowledged' AND v.case_id = c.case_id
              AND e.triggered_at = c.received_at
              AND e.delivered_at IS NOT DISTINCT FROM c.acknowledged_at)""")
    assert unmatched == 0
    # Open cases have no closure; closed cases have one; Witness Care entitlements carry its team.
    assert one(store, "SELECT count(*) FROM cases WHERE (status = 'open') <> (closed_at IS NULL)") == 0
    assert one(store, "SELECT count(*) FROM cases WHERE (status = 'open') <> (outcome IS NULL)") == 0
    assert one(store, "SELECT count(*) FROM entitlements WHERE team <> 'Witness Care Unit' "
                      "AND entitlement IN ('r8_hearing_details', 'r9_case_outcome')") == 0


def test_surveys_read_like_victims_answers(store):
    s = store.query("""
        SELECT avg(CAST(overall >= 4 AS INTEGER)) AS overall,
               avg(CAST(kept_informed >= 4 AS INTEGER)) AS informed,
               avg(CAST(treated_fairly >= 4 AS INTEGER)) AS fairly,
               avg(CAST(aware_of_code AS INTEGER)) AS aware
        FROM surveys""").iloc[0]
    assert 0.62 <= s.overall <= 0.82 and 0.4 <= s.informed <= 0.6 and 0.67 <= s.fairly <= 0.87
    assert s.informed < s.overall
    assert 0.15 <= s.aware <= 0.35


# --- the four stories ------------------------------------------------------------------------------------

def test_story_1_needs_assessment_drifts_down(store):
    monthly = add_rates(counts(store, breakdowns=("month",), codes=["r4_needs_assessment"])).sort_values("level")
    assert len(monthly) == MONTHS
    first_half_year = rate(counts(store, START, add_months(START, 5), codes=["r4_needs_assessment"]))
    last_half_year = rate(counts(store, add_months(START, MONTHS - 6), add_months(START, MONTHS - 1),
                                 codes=["r4_needs_assessment"]))
    assert first_half_year >= 0.85 and last_half_year <= 0.78
    assert first_half_year - last_half_year >= 0.1
    # Steadily: every quarter below the one before.
    quarters = monthly.assign(quarter=range(len(monthly))).assign(quarter=lambda f: f.quarter // 3)
    by_quarter = [rate(g) for _, g in quarters.groupby("quarter")]
    assert all(later < earlier for earlier, later in zip(by_quarter, by_quarter[1:]))
    # Other entitlements do not drift like this.
    written = rate(counts(store, add_months(START, MONTHS - 6), add_months(START, MONTHS - 1),
                          codes=["r3_written_acknowledgement"]))
    assert written >= 0.85


def test_story_2_tendring_referrals_improve_after_a_panel_action(store):
    action = store.query("""
        SELECT a.*, f.kind, f.right_no, p.held_on FROM actions a
        JOIN panel_findings f USING (finding_id) JOIN panels p USING (panel_id)
        WHERE a.measure = 'r4_referral_to_support_service' AND a.title ILIKE '%Tendring%'""")
    assert len(action) == 1
    action = action.iloc[0]
    done = action.completed_on.date()
    assert action.status == "done" and action.kind == "concern" and action.right_no == 4
    assert action.held_on.date() < done
    period_days = (AS_OF - START).days
    assert 0.3 <= (done - START).days / period_days <= 0.5

    code = ["r4_referral_to_support_service"]
    # Whole months either side of the month the action was done in.
    before_months = (START, add_months(done, -1))
    after_months = (add_months(done, 1), add_months(START, MONTHS - 1))
    before = rate(counts(store, *before_months, codes=code, district=["Tendring"]), "on_time_rate")
    after = rate(counts(store, *after_months, codes=code, district=["Tendring"]), "on_time_rate")
    others = [d for d in store.query("SELECT district FROM districts")["district"] if d != "Tendring"]
    force = rate(counts(store, codes=code, district=others), "on_time_rate")
    assert 0.4 <= before <= 0.6
    assert after - before >= 0.15
    assert abs(after - force) <= 0.06


def test_story_3_enhanced_victims_hear_of_right_6_decisions_late_more_often(store):
    right_6 = [e.code for e in default_catalogue().measured_entitlements
               if e.right_no == 6 and e.standard_days == 5 and e.enhanced_days == 1]
    assert len(right_6) == 6
    by_type = counts(store, breakdowns=("victim_type",), codes=right_6)
    standard = rate(by_type[by_type.level == "standard"], "on_time_rate")
    enhanced = rate(by_type[by_type.level == "enhanced"], "on_time_rate")
    assert 0.72 <= standard <= 0.88
    assert 0.45 <= enhanced <= 0.65
    assert standard - enhanced >= 0.15
    # The Right 6 decisions are delivered about as often either way: the gap is timeliness.
    assert abs(rate(by_type[by_type.level == "standard"]) - rate(by_type[by_type.level == "enhanced"])) < 0.05


def test_story_4_more_victims_consent_to_referral_after_first_contact_action(store):
    action = store.query("""
        SELECT a.* FROM actions a JOIN panel_findings f USING (finding_id)
        WHERE a.title ILIKE '%first contact%' AND a.status = 'done' AND f.right_no = 4""")
    assert len(action) == 1
    done = action.completed_on.iloc[0].date()
    consent = store.query("""
        SELECT CAST(offered_at AS DATE) >= $done AS after, avg(CAST(consent = 'given' AS INTEGER)) AS given,
               count(*) AS n
        FROM referrals WHERE consent IN ('given', 'declined') GROUP BY ALL""", {"done": done}).set_index("after")
    assert consent.n.min() > 1_000
    assert 0.4 <= consent.given[False] <= 0.5
    assert 0.5 <= consent.given[True] <= 0.6
    assert consent.given[True] - consent.given[False] >= 0.06


def test_panel_actions_have_statuses_that_fit_their_dates(store):
    actions = store.query("SELECT * FROM actions")
    done = actions.status == "done"
    assert actions.loc[done, "completed_on"].notna().all()
    assert actions.loc[~done, "completed_on"].isna().all()
    assert (actions.loc[done, "completed_on"] >= actions.loc[done, "raised_on"]).all()
    overdue = ~actions.status.isin(["done", "dropped"]) & (actions.due_on < pd.Timestamp(AS_OF))
    assert overdue.any()
    assert actions.owner.notna().all() and actions.measure.notna().all()
