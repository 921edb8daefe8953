"""Data-quality checks (data_access/quality.py) on a hand-made store, every count worked out by hand.

The store (reported_at of each case; entitlements' triggers; who has which contact and referral):

  districts: Basildon -> South, Chelmsford -> Mid (Harlow is not mapped)
  cases  C1 Basildon   reported 2025-03-03 10:00  open,   no closed_at
         C2 Chelmsford reported 2025-03-05        closed, closed_at 2025-03-20
         C3 Harlow     reported 2025-03-05        closed, no closed_at          <- status/date disagree
         C4 Basildon   reported 2025-03-06        open,   closed_at 2025-03-10  <- status/date disagree
         C5 Basildon   reported 2025-03-07        open
  victims V1, V2 of C1; V3 of C2; V4 of C3.  C4 and C5 have none.
  entitlements
         E1 V1 r4_needs_assessment    trig 2025-03-03 00:00, delivered 03-04, outcome empty (= delivered)
         E2 V2 r4_needs_assessment    trig 2025-03-02, not_delivered                 <- before C1's report
         E3 V3 r4_referral...         trig 2025-03-04, delivered 03-05               <- before C2's report
         E4 V3 r4_needs_assessment    trig 2025-03-05, not_applicable
         E5 V4 r7_vps_offered         trig 2025-03-06
  contacts
         K1 V1 initial_response 2025-03-03 09:00 (report day, earlier hour: not before)
         K2 V1 needs_assessment 2025-03-04
         K3 V2 needs_assessment 2025-03-01                                            <- before C1's report
         K4 V4 needs_assessment 2025-03-07
         K5 V4 needs_assessment 2025-03-08
         K6 V3 update           2025-03-04                                            <- before C2's report
         K7 V3 needs_assessment 2025-03-06
  referrals
         R1 V1 given      referred 2025-03-04
         R2 V2 given      never referred
         R3 V3 declined   never referred
         R4 V4 not_asked  referred 2025-03-07
         R5 V1 given      never referred
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from data_access.quality import CHECKS, NEEDS_ASSESSMENT_CODE, NEEDS_ASSESSMENT_CONTACT_KIND, quality_checks
from data_access.store import build_store, open_store
from metrics import contract
from metrics.catalogue import default_catalogue

AS_OF = date(2025, 3, 31)


def frame(rows: list[tuple], columns: str, timestamps: tuple[str, ...] = ()) -> pd.DataFrame:
    data = pd.DataFrame(rows, columns=columns.split()).astype(object)
    data = data.where(data.notna(), None)
    for column in timestamps:
        data[column] = pd.to_datetime(data[column], format="ISO8601")
    return data


FIXTURE = {
    "districts": frame([("Basildon", "South"), ("Chelmsford", "Mid")], "district command_area"),
    "cases": frame([
        ("C1", "2025-03-03T10:00", "theft", "Basildon", "open", None),
        ("C2", "2025-03-05", "theft", "Chelmsford", "closed", "2025-03-20"),
        ("C3", "2025-03-05", "burglary", "Harlow", "closed", None),
        ("C4", "2025-03-06", "theft", "Basildon", "open", "2025-03-10"),
        ("C5", "2025-03-07", "robbery", "Basildon", "open", None),
    ], "case_id reported_at offence_group district status closed_at", ("reported_at", "closed_at")),
    "victims": frame([("V1", "C1"), ("V2", "C1"), ("V3", "C2"), ("V4", "C3")], "victim_id case_id"),
    "entitlements": frame([
        ("E1", "V1", "r4_needs_assessment", "2025-03-03T00:00", "2025-03-04", None, None),
        ("E2", "V2", "r4_needs_assessment", "2025-03-02", None, "not_delivered", None),
        ("E3", "V3", "r4_referral_to_support_service", "2025-03-04", "2025-03-05", "delivered", None),
        ("E4", "V3", "r4_needs_assessment", "2025-03-05", None, "not_applicable", "could not be contacted"),
        ("E5", "V4", "r7_vps_offered", "2025-03-06", None, None, None),
    ], "delivery_id victim_id entitlement triggered_at delivered_at outcome exception_reason",
        ("triggered_at", "delivered_at")),
    "contacts": frame([
        ("K1", "V1", "2025-03-03T09:00", "initial_response"),
        ("K2", "V1", "2025-03-04", "needs_assessment"),
        ("K3", "V2", "2025-03-01", "needs_assessment"),
        ("K4", "V4", "2025-03-07", "needs_assessment"),
        ("K5", "V4", "2025-03-08", "needs_assessment"),
        ("K6", "V3", "2025-03-04", "update"),
        ("K7", "V3", "2025-03-06", "needs_assessment"),
    ], "contact_id victim_id contact_at kind", ("contact_at",)),
    "referrals": frame([
        ("R1", "V1", "victim_support", "given", "2025-03-04"),
        ("R2", "V2", "victim_support", "given", None),
        ("R3", "V3", "victim_support", "declined", None),
        ("R4", "V4", "compass", "not_asked", "2025-03-07"),
        ("R5", "V1", "synergy_essex", "given", None),
    ], "referral_id victim_id service consent referred_at", ("referred_at",)),
}

# check -> (count, of_total), worked out from the table in the module docstring
EXPECTED = {
    # V1..V4; only V4 has no r4_needs_assessment row (V3's not_applicable row is a record)
    "victims_without_needs_assessment": (1, 4),
    # victims with a needs_assessment contact: V1, V2, V3, V4 (V4 twice, counted once); not recorded as
    # delivered: V2 (not_delivered), V3 (not_applicable), V4 (no row). V1's empty outcome with a date is delivered.
    "needs_assessment_contact_not_recorded": (3, 4),
    # E2 (03-02 < 03-03) and E3 (03-04 < 03-05); E1 is on the report day, at an earlier hour
    "entitlements_triggered_before_report": (2, 5),
    # K3 (03-01 < 03-03) and K6 (03-04 < 03-05); K1 is on the report day
    "contacts_before_report": (2, 7),
    # C4 and C5
    "cases_without_victim": (2, 5),
    # consent given: R1, R2, R5; never referred: R2, R5
    "referrals_consented_not_made": (2, 3),
    # referred: R1, R4; R4 without consent
    "referrals_made_without_consent": (1, 2),
    # C3 closed without a date, C4 open with one
    "case_status_closed_date_disagree": (2, 5),
    # C3 in Harlow
    "cases_in_unmapped_district": (1, 5),
}


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> pd.DataFrame:
    path = build_store(tmp_path_factory.mktemp("quality") / "store.duckdb", FIXTURE, data_as_of=AS_OF,
                       is_demo=False, source="hand-written quality fixture")
    store = open_store(path)
    try:
        return quality_checks(store).set_index("check")
    finally:
        store.close()


@pytest.mark.parametrize("check_id", list(EXPECTED))
def test_each_check_counts_the_hand_worked_records(results, check_id):
    assert tuple(results.loc[check_id, ["count", "of_total"]]) == EXPECTED[check_id]


def test_every_check_is_listed_once_with_a_title_and_definition_and_counts_only(results):
    assert sorted(results.index) == sorted(EXPECTED) == sorted(c.check_id for c in CHECKS)
    assert list(results.reset_index().columns) == ["check", "title", "definition", "count", "of_total", "population"]
    assert all(len(text) > 40 for text in results["definition"])
    # nothing case-level: no id of the fixture appears anywhere in the result
    cells = " ".join(str(v) for v in results.reset_index().to_numpy().ravel())
    for record_id in ("C1", "V2", "E3", "K6", "R4"):
        assert record_id not in cells


def test_an_empty_store_gives_zero_of_zero_for_every_check(tmp_path):
    path = build_store(tmp_path / "empty.duckdb", {}, data_as_of=AS_OF, is_demo=False, source="empty")
    store = open_store(path)
    try:
        empty = quality_checks(store)
    finally:
        store.close()
    assert len(empty) == len(CHECKS)
    assert (empty["count"] == 0).all() and (empty["of_total"] == 0).all()


def test_the_needs_assessment_record_is_the_catalogues_entitlement_owed_to_every_reported_victim():
    needs = default_catalogue().entitlement(NEEDS_ASSESSMENT_CODE)
    assert (needs.right_no, needs.trigger, needs.applies_to) == (4, "crime_reported", "all_reported_victims")
    assert NEEDS_ASSESSMENT_CODE in {e.code for e in default_catalogue().measured_entitlements}
    assert NEEDS_ASSESSMENT_CONTACT_KIND in contract.CONTACT_KINDS
