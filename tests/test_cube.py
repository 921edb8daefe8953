"""The monthly summary cubes (metrics.cube, data_access.store.write_summaries): built with every store, read by
data_access.queries.compliance_counts whenever they give exactly the facts' counts, and not otherwise.

Hand-worked fixture (March and April 2025; no bank holidays in between). Timescales from catalogue.yaml:
r4_referral_to_support_service 2 working days for everyone; r4_needs_assessment none. As of Fri 11 Apr 2025.

  E1  referral, Basildon, standard, triggered Mon 3 Mar, delivered Tue 4 Mar     -> delivered, on time
  E2  referral, Basildon, enhanced, triggered Mon 3 Mar, delivered Fri 7 Mar     -> delivered, late (due Wed 5)
  E3  referral, Chelmsford, standard, triggered Mon 3 Mar, not delivered         -> not delivered
  E4  referral, Chelmsford, standard, triggered Mon 7 Apr, declined Tue 8 Apr    -> delivered, on time (due Wed 9)
  E5  referral, Basildon, standard, triggered Thu 10 Apr, not delivered          -> not yet due (due Mon 14)
  E6  needs assessment, Basildon, standard, triggered Mon 3 Mar, not applicable  -> not applicable
  E7  needs assessment, Chelmsford, enhanced, triggered Tue 1 Apr, not delivered -> not delivered (no timescale)
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import data_access.queries as queries
from helpers import case, counts_of, ent, expect, period, run_counts, tables, victim
from metrics.catalogue import default_catalogue
from metrics.cube import SUMMARY_CUBES, cube_for, timescale_fingerprint

REFERRAL = "r4_referral_to_support_service"
NEEDS = "r4_needs_assessment"
MARCH, APRIL = date(2025, 3, 1), date(2025, 4, 1)
AS_OF = date(2025, 4, 11)


def _fixture_tables() -> dict:
    return tables(
        cases=[case("C1", district="Basildon"), case("C2", district="Chelmsford")],
        victims=[victim("V1", "C1"), victim("V2", "C1", enhanced_category="vulnerable"), victim("V3", "C2"),
                 victim("V4", "C2", enhanced_category="intimidated")],
        entitlements=[
            ent("E1", REFERRAL, "2025-03-03", "2025-03-04", "delivered", victim_id="V1"),
            ent("E2", REFERRAL, "2025-03-03", "2025-03-07", "delivered", victim_id="V2"),
            ent("E3", REFERRAL, "2025-03-03", None, "not_delivered", victim_id="V3"),
            ent("E4", REFERRAL, "2025-04-07", "2025-04-08", "declined", victim_id="V3"),
            ent("E5", REFERRAL, "2025-04-10", None, None, victim_id="V1"),
            ent("E6", NEEDS, "2025-03-03", None, "not_applicable", victim_id="V1", exception_reason="declined contact"),
            ent("E7", NEEDS, "2025-04-01", None, "not_delivered", victim_id="V4"),
        ])


@pytest.fixture
def used_cubes(monkeypatch) -> list[str]:
    """The cube tables compliance_counts read from, in order ('' for a read of the facts)."""
    seen: list[str] = []
    real = queries.cube_for

    def spy(*args, **kwargs):
        cube = real(*args, **kwargs)
        seen.append(cube.table if cube else "")
        return cube

    monkeypatch.setattr(queries, "cube_for", spy)
    return seen


def test_a_store_is_built_with_its_cubes_and_what_they_were_built_with(make_store):
    store = make_store(_fixture_tables(), as_of=AS_OF)
    assert store.meta.summary_as_of == AS_OF
    assert store.meta.summary_fingerprint == timescale_fingerprint(default_catalogue())
    force = store.query("SELECT * FROM summary_force ORDER BY trigger_month, entitlement, victim_type")
    # March referrals: standard E1 and E3, enhanced E2; April referrals: standard E4 and E5; needs: E6 Mar, E7 Apr.
    assert list(zip(force["trigger_month"].dt.strftime("%Y-%m"), force["entitlement"], force["victim_type"],
                    force["eligible"], force["delivered"], force["delivered_on_time"], force["not_yet_due"],
                    force["not_applicable"])) == [
        ("2025-03", NEEDS, "standard", 0, 0, 0, 0, 1),
        ("2025-03", REFERRAL, "enhanced", 1, 1, 0, 0, 0),
        ("2025-03", REFERRAL, "standard", 2, 1, 1, 0, 0),
        ("2025-04", NEEDS, "enhanced", 1, 0, 0, 0, 0),
        ("2025-04", REFERRAL, "standard", 1, 1, 1, 1, 0),
    ]
    # By district too: March's standard referrals split (E1 Basildon, E3 Chelmsford), and so do April's (E5, E4).
    assert int(store.query("SELECT count(*) AS n FROM summary_area")["n"].iloc[0]) == 7


def test_the_board_and_district_figures_come_from_the_cubes_with_hand_worked_counts(make_store, used_cubes):
    store = make_store(_fixture_tables(), as_of=AS_OF)
    catalogue = default_catalogue()
    both_months = period(MARCH, APRIL, as_of=AS_OF)
    counts = queries.compliance_counts(store, catalogue, both_months, ("total", "month"))
    assert used_cubes == ["summary_force"]
    # Referral: eligible E1-E4 (E5 not yet due) = 4; delivered E1, E2, E4 = 3; on time E1, E4 = 2.
    assert counts_of(counts, REFERRAL) == expect(eligible=4, delivered=3, delivered_on_time=2, eligible_timed=4,
                                                 not_yet_due=1)
    assert counts_of(counts, REFERRAL, "month", "2025-04") == expect(eligible=1, delivered=1, delivered_on_time=1,
                                                                     eligible_timed=1, not_yet_due=1)
    assert counts_of(counts, NEEDS) == expect(eligible=1, not_applicable=1)  # E7 eligible and missed; E6 excluded

    chelmsford = period(MARCH, APRIL, as_of=AS_OF, district=["Chelmsford"])
    counts = queries.compliance_counts(store, catalogue, chelmsford, ("total", "victim_type"))
    assert used_cubes[-1] == "summary_area"
    assert counts_of(counts, REFERRAL) == expect(eligible=2, delivered=1, delivered_on_time=1, eligible_timed=2)
    assert counts_of(counts, NEEDS, "victim_type", "enhanced") == expect(eligible=1)


@pytest.mark.parametrize("change, why", [
    ("as_of", "the board pack or return asked for an earlier as-of date"),
    ("age_band", "a filter the cubes do not hold"),
    ("timescale", "the catalogue's timescales changed since the store was built"),
])
def test_the_facts_answer_whenever_a_cube_could_not_give_the_same_counts(make_store, used_cubes, change, why):
    store = make_store(_fixture_tables(), as_of=AS_OF)
    catalogue = default_catalogue()
    filters = period(MARCH, APRIL, as_of=AS_OF)
    if change == "as_of":
        filters = replace(filters, as_of=date(2025, 3, 4))
    elif change == "age_band":
        filters = filters.with_selection("age_band", ("unknown",))
    else:  # the referral allowed 5 working days instead of 2: E2 (4 working days) becomes on time
        referral = catalogue.entitlement(REFERRAL)
        catalogue = replace(catalogue, rights=tuple(
            replace(r, entitlements=tuple(replace(e, standard_days=5, enhanced_days=5) if e.code == REFERRAL else e
                                          for e in r.entitlements)) for r in catalogue.rights))
        assert catalogue.entitlement(REFERRAL).standard_days == 5 != referral.standard_days
    counts = queries.compliance_counts(store, catalogue, filters, ("total", "month"))
    assert used_cubes == [""], why
    pd.testing.assert_frame_equal(counts, run_counts(store, filters, ("total", "month"), catalogue=catalogue))
    if change == "timescale":
        assert counts_of(counts, REFERRAL)["delivered_on_time"] == 3  # E1, E2, E4
    if change == "as_of":  # on Tue 4 Mar only E1 was delivered; E2 and E3 were not yet due (due Wed 5)
        assert counts_of(counts, REFERRAL) == expect(eligible=1, delivered=1, delivered_on_time=1, eligible_timed=1,
                                                     not_yet_due=2)


def test_the_smallest_cube_holding_every_dimension_is_chosen():
    catalogue = default_catalogue()
    fingerprint = timescale_fingerprint(catalogue)
    base = period(MARCH, as_of=AS_OF)

    def chosen(filters, breakdowns=("total",)):
        cube = cube_for(catalogue, filters, breakdowns, cube_as_of=AS_OF, cube_fingerprint=fingerprint)
        return cube and cube.table

    assert chosen(base) == "summary_force"
    assert chosen(base, ("total", "month", "victim_type")) == "summary_force"
    assert chosen(base.with_selection("offence_group", ("theft",))) == "summary_area"
    assert chosen(base, ("command_area", "district")) == "summary_area"
    assert chosen(base.with_selection("district", ())) == "summary_force"  # an empty selection narrows nothing
    assert chosen(base.with_selection("sex", ("female",))) is None
    assert chosen(base, ("ethnicity",)) is None
    assert cube_for(catalogue, base, ("total",), cube_as_of=None, cube_fingerprint="") is None  # an older store
    assert [c.table for c in SUMMARY_CUBES] == ["summary_force", "summary_area"]


# --- the cubes give exactly the facts' counts on the demo ------------------------------------------------------

@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from data_access.demo import build_demo_store
    from data_access.store import open_store

    store = open_store(build_demo_store(tmp_path_factory.mktemp("cube") / "demo.duckdb", cases=6_000,
                                        start=date(2024, 1, 1), months=15, seed=11))
    yield store
    store.close()


CUBE_DIMENSIONS = ("command_area", "district", "offence_group", "victim_type")


@settings(max_examples=25)
@given(data=st.data())
def test_any_period_selection_and_breakdown_the_cubes_hold_gives_the_facts_counts(demo_store, data):
    catalogue = default_catalogue()
    meta = demo_store.meta
    months = pd.date_range(meta.first_month, meta.last_month, freq="MS").date.tolist()
    first = data.draw(st.sampled_from(months), label="first")
    last = data.draw(st.sampled_from([m for m in months if m >= first]), label="last")
    values = queries.dimension_values(demo_store)
    selections = {name: tuple(data.draw(st.lists(st.sampled_from(values[name]), max_size=3, unique=True), label=name))
                  for name in data.draw(st.lists(st.sampled_from(CUBE_DIMENSIONS), max_size=2, unique=True))}
    breakdowns = data.draw(st.lists(st.sampled_from(("total", "month", *CUBE_DIMENSIONS)), min_size=1, max_size=3,
                                    unique=True), label="breakdowns")
    codes = data.draw(st.one_of(st.none(), st.lists(st.sampled_from([e.code for e in catalogue.measured_entitlements]),
                                                    min_size=1, max_size=4, unique=True)), label="codes")
    filters = period(first, last, as_of=meta.data_as_of, **selections)
    assert cube_for(catalogue, filters, breakdowns, cube_as_of=meta.summary_as_of,
                    cube_fingerprint=meta.summary_fingerprint) is not None
    from_cube = queries.compliance_counts(demo_store, catalogue, filters, breakdowns, codes)
    pd.testing.assert_frame_equal(from_cube, run_counts(demo_store, filters, breakdowns, codes))


def test_imports_and_purges_rebuild_the_cubes(tmp_path):
    from data_access.importer import import_files
    from data_access.purge import purge_closed_cases
    from data_access.store import open_store

    frames = _fixture_tables()
    frames["cases"].loc[frames["cases"]["case_id"] == "C2", ["status", "closed_at"]] = ["closed", "2025-04-10"]
    folder = tmp_path / "export"
    folder.mkdir()
    for name, frame in frames.items():
        frame.to_csv(folder / f"{name}.csv", index=False, date_format="%Y-%m-%d")
    db = tmp_path / "store.duckdb"
    report = import_files(db, [folder], "analyst", data_as_of=AS_OF)
    assert report.ok, report
    catalogue = default_catalogue()
    filters = period(MARCH, APRIL, as_of=AS_OF)
    with_store = open_store(db)
    try:
        assert with_store.meta.summary_as_of == AS_OF
        counts = queries.compliance_counts(with_store, catalogue, filters)
        assert counts_of(counts, REFERRAL) == expect(eligible=4, delivered=3, delivered_on_time=2, eligible_timed=4,
                                                     not_yet_due=1)
    finally:
        with_store.close()

    assert purge_closed_cases(db, date(2025, 4, 11), "admin", confirm=True, audit_db=tmp_path / "audit.duckdb").ok
    purged = open_store(db)
    try:  # C2 (victims V3, V4: E3, E4, E7) is gone from the cubes too
        assert purged.meta.summary_as_of == AS_OF
        counts = queries.compliance_counts(purged, catalogue, filters)
        assert counts_of(counts, REFERRAL) == expect(eligible=2, delivered=2, delivered_on_time=1, eligible_timed=2,
                                                     not_yet_due=1)
        assert counts_of(counts, NEEDS) == expect(not_applicable=1)
        assert int(purged.query("SELECT sum(eligible + not_yet_due + not_applicable) AS n FROM summary_area")["n"]
                   .iloc[0]) == 4  # E1, E2, E5, E6
    finally:
        purged.close()
