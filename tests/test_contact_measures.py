"""Measures from the contact log on a hand-made log, every figure worked out by hand below.

May 2025: Fri 2, Mon 5 (Early May bank holiday), Tue 6, ... Mon 26 (Spring bank holiday). As of Tue 30 Sep 2025.
Period: victims whose crime was reported in May 2025. Force standard for first contact: 1 working day.
Updates count: initial_response, update, key_decision, face_to_face_visit; they are judged over each victim's
first 90 days, or until the case closed if sooner (catalogue contact_log).

v1  standard, agreed every 7 days; reported Fri 2 May 16:00 (c1, Basildon, open).
    contacts: initial Tue 6 May 10:00 (Mon 5 is a bank holiday: Tue is the 1st working day -> within 1);
              update Mon 26 May (a bank holiday: still a contact); update Fri 30 May.
    first contact: 1 working day; working hours 16:00-17:00 Fri (1 h) + 09:00-10:00 Tue (1 h) = 2.0 h.
    update window: 2 May + 90 = 31 Jul. Days 2 May, 6 May, 26 May, 30 May, 31 Jul -> gaps 4, 20, 4, 62:
    longest 62 > 7, overdue 55.
v2  enhanced (vulnerable), agreed every 14 days; reported Tue 13 May 09:30 (c2, Tendring, CLOSED Tue 10 Jun).
    contacts: initial 13 May 11:00 (same day: 0 working days, 1.5 h); face-to-face visit Thu 15 May;
              update Thu 5 Jun; update Fri 20 Jun AFTER the case closed -> ignored.
    update window: ends at closure, 10 Jun (before 13 May + 90 = 11 Aug). Days 13, 13, 15 May, 5 Jun, 10 Jun
    -> gaps 0, 2, 21, 5: longest 21 > 14, overdue 7 (running on to 11 Aug it would be 67, overdue 53:
    gaps stop counting at closure).
v3  standard, nothing agreed (default 28); reported Wed 21 May 22:00 (c3, Basildon, open). No contacts at all,
    except an 'other' contact on Tue 20 May, the day BEFORE the report -> ignored.
    first contact: none, long past the standard -> not within. updates: 21 May to 19 Aug = 90 > 28, overdue 62.
v4  standard; reported Thu 22 May 14:00 (c4, Basildon, open); a decision not to investigate is recorded.
    contacts: initial Fri 23 May 08:00 -> 1 working day; hours 14:00-17:00 Thu (3 h) + nothing before 09:00 Fri = 3.0 h.
    updates: not investigated -> left out of the updates measure.
v5  standard, agreed every 28 days; reported Mon 12 May 10:00 (c5, Chelmsford, open).
    contacts: initial 12 May 11:00 (0 working days, 1.0 h); updates Mon 2 Jun, Fri 27 Jun, Sun 20 Jul; and
    Fri 3 Oct AFTER the as-of date -> ignored.
    update window 12 May + 90 = 10 Aug: days 12, 12 May, 2 Jun, 27 Jun, 20 Jul, 10 Aug -> gaps 0, 21, 25, 23, 21:
    longest 25 <= 28 -> kept.
v6  standard; reported Mon 2 Jun 2025 (c6, Basildon, open), never contacted: outside the May period.
    In June: window 2 Jun + 90 = 31 Aug, one gap of 90 > 28 -> not kept; first contact not within.
v7  standard; reported Tue 15 Jul 2025 (c7, Basildon, open), never contacted: its window ends 13 Oct, after the
    as-of date -> updates not yet due.

Totals for May: victims 5 (v1-v5); contacts counted 3 + 3 + 0 + 1 + 4 = 11 (2.2 per victim).
  initial contact within standard: v1, v2, v4, v5 = 4 of 5; median working days of [1, 0, 1, 0] = 0.5;
  median working hours of [2.0, 1.5, 3.0, 1.0] = 1.75.
  updates kept: v5 of v1, v2, v3, v5 = 1 of 4; not investigated 1 (v4); not yet due 0; closed early 0;
  median days overdue of [55, 7, 62] = 55.
  face to face, enhanced: v2 = 1 of 1.
Overdue for an update on 30 Sep (open, investigated, any period; days since the last update or the report):
  v1 last 30 May: 123 days, overdue 116; v3 report 21 May: 132, overdue 104; v6 report 2 Jun: 120, overdue 92;
  v7 report 15 Jul: 77, overdue 49; v5 last 20 Jul: 72, overdue 44. v2 is closed, v4 not investigated.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from data_access.queries import channel_mix, contact_measure_counts, overdue_updates
from metrics.catalogue import default_catalogue
from metrics.contact_measures import contact_measure_rates
from metrics.filters import Filters

T = pd.Timestamp
AS_OF = date(2025, 9, 30)
MAY = Filters(date(2025, 5, 1), date(2025, 5, 1), AS_OF)


def contact(contact_id, victim_id, at, kind, channel="phone"):
    return {"contact_id": contact_id, "victim_id": victim_id, "contact_at": T(at), "kind": kind, "channel": channel}


@pytest.fixture
def store(make_store):
    cases = pd.DataFrame([
        {"case_id": "c1", "reported_at": T("2025-05-02 16:00"), "district": "Basildon", "status": "open"},
        {"case_id": "c2", "reported_at": T("2025-05-13 09:30"), "district": "Tendring", "status": "closed",
         "closed_at": T("2025-06-10 12:00")},
        {"case_id": "c3", "reported_at": T("2025-05-21 22:00"), "district": "Basildon", "status": "open"},
        {"case_id": "c4", "reported_at": T("2025-05-22 14:00"), "district": "Basildon", "status": "open"},
        {"case_id": "c5", "reported_at": T("2025-05-12 10:00"), "district": "Chelmsford", "status": "open"},
        {"case_id": "c6", "reported_at": T("2025-06-02 10:00"), "district": "Basildon", "status": "open"},
        {"case_id": "c7", "reported_at": T("2025-07-15 10:00"), "district": "Basildon", "status": "open"},
    ]).assign(offence_group="violence_against_the_person")
    victims = pd.DataFrame([
        {"victim_id": "v1", "case_id": "c1", "enhanced_category": None, "update_frequency_days": 7},
        {"victim_id": "v2", "case_id": "c2", "enhanced_category": "vulnerable", "update_frequency_days": 14},
        {"victim_id": "v3", "case_id": "c3", "enhanced_category": None, "update_frequency_days": None},
        {"victim_id": "v4", "case_id": "c4", "enhanced_category": None, "update_frequency_days": None},
        {"victim_id": "v5", "case_id": "c5", "enhanced_category": None, "update_frequency_days": 28},
        {"victim_id": "v6", "case_id": "c6", "enhanced_category": None, "update_frequency_days": None},
        {"victim_id": "v7", "case_id": "c7", "enhanced_category": None, "update_frequency_days": None},
    ]).astype({"update_frequency_days": "Int64"})
    contacts = pd.DataFrame([
        contact("k1", "v1", "2025-05-06 10:00", "initial_response"),
        contact("k2", "v1", "2025-05-26 11:00", "update"),
        contact("k3", "v1", "2025-05-30 15:00", "update", "email"),
        contact("k4", "v2", "2025-05-13 11:00", "initial_response"),
        contact("k5", "v2", "2025-05-15 14:00", "face_to_face_visit", "face_to_face"),
        contact("k6", "v2", "2025-06-05 10:00", "update"),
        contact("k7", "v2", "2025-06-20 10:00", "update"),  # after the case closed
        contact("k8", "v3", "2025-05-20 10:00", "other"),  # before the crime was reported
        contact("k9", "v4", "2025-05-23 08:00", "initial_response"),
        contact("k10", "v5", "2025-05-12 11:00", "initial_response"),
        contact("k11", "v5", "2025-06-02 10:00", "update"),
        contact("k12", "v5", "2025-06-27 10:00", "update"),
        contact("k14", "v5", "2025-07-20 10:00", "update"),
        contact("k13", "v5", "2025-10-03 10:00", "update"),  # after the as-of date
    ])
    entitlements = pd.DataFrame([{"delivery_id": "e1", "victim_id": "v4", "entitlement": "r6_decision_not_to_investigate",
                                  "triggered_at": T("2025-05-23"), "delivered_at": T("2025-05-27")}])
    districts = pd.DataFrame({"district": ["Basildon", "Tendring", "Chelmsford"], "command_area": ["South", "North", "West"]})
    return make_store({"districts": districts, "cases": cases, "victims": victims, "contacts": contacts,
                       "entitlements": entitlements}, AS_OF)


def counts(store, filters=MAY, breakdowns=("total",)):
    return contact_measure_counts(store, default_catalogue(), filters, breakdowns)


def test_totals_for_may_match_the_hand_worked_log(store):
    row = counts(store).iloc[0]
    assert (row["victims"], row["contacts"]) == (5, 11)
    assert (row["initial_within"], row["initial_eligible"], row["initial_not_yet_due"]) == (4, 5, 0)
    assert (row["updates_kept"], row["updates_eligible"]) == (1, 4)
    assert (row["updates_not_investigated"], row["updates_not_yet_due"], row["updates_closed_early"]) == (1, 0, 0)
    assert (row["f2f_with"], row["f2f_eligible"], row["victims_face_to_face"]) == (1, 1, 1)  # v2 only
    assert row["initial_working_days_median"] == 0.5
    assert row["initial_working_hours_median"] == pytest.approx(1.75)
    assert row["days_overdue_median"] == 55


def test_rates_come_with_numerator_denominator_and_interval(store):
    rates = contact_measure_rates(counts(store), default_catalogue()).set_index("measure")
    assert rates.loc["c_initial_contact_within_standard", ["numerator", "denominator"]].tolist() == [4, 5]
    assert rates.loc["c_updates_kept_to_agreed_frequency", "rate"] == pytest.approx(0.25)
    assert rates.loc["c_face_to_face_enhanced", "rate"] == 1.0
    assert rates.loc["c_face_to_face_enhanced", "rate_upper"] == 1.0


def test_standard_and_enhanced_victims_are_counted_once_each(store):
    by_type = counts(store, breakdowns=("victim_type",)).set_index("level")
    assert by_type.loc["enhanced", ["victims", "initial_within", "updates_kept", "updates_eligible", "f2f_with"]].tolist() \
        == [1, 1, 0, 1, 1]
    assert by_type.loc["standard", ["victims", "initial_within", "updates_kept", "updates_eligible", "f2f_eligible"]].tolist() \
        == [4, 3, 1, 3, 0]
    # the enhanced victim's overdue is 7 only because the gaps stop at closure (53 otherwise)
    assert by_type.loc["enhanced", "days_overdue_median"] == 7


def test_the_period_is_the_report_month(store):
    june = Filters(date(2025, 6, 1), date(2025, 6, 1), AS_OF)
    row = counts(store, june).iloc[0]
    # only v6, reported 2 Jun, never contacted: initial not within; updates: one 90-day gap -> not kept
    assert (row["victims"], row["initial_within"], row["initial_eligible"]) == (1, 0, 1)
    assert (row["updates_kept"], row["updates_eligible"], row["days_overdue_median"]) == (0, 1, 62)


def test_a_victim_whose_90_days_have_not_ended_is_not_yet_due_for_the_updates_measure(store):
    july = Filters(date(2025, 7, 1), date(2025, 7, 1), AS_OF)
    row = counts(store, july).iloc[0]
    # only v7, reported 15 Jul: its window ends 13 Oct, after 30 Sep
    assert (row["victims"], row["updates_eligible"], row["updates_not_yet_due"]) == (1, 0, 1)


def test_a_case_closed_within_the_agreed_frequency_owes_no_update(make_store):
    # reported Mon 1 Sep 2025, agreed every 28 days, closed Fri 12 Sep: window 11 days <= 28 -> closed early,
    # judged once its 90 days have passed (30 Nov): as of 31 Dec. As of 30 Sep it would still be not yet due.
    tables = {
        "cases": pd.DataFrame([{"case_id": "c", "reported_at": T("2025-09-01 10:00"), "district": "Basildon",
                                "status": "closed", "closed_at": T("2025-09-12"), "offence_group": "theft"}]),
        "victims": pd.DataFrame([{"victim_id": "v", "case_id": "c", "update_frequency_days": 28}]).astype(
            {"update_frequency_days": "Int64"}),
    }
    store = make_store(tables, date(2025, 12, 31))
    row = counts(store, Filters(date(2025, 9, 1), date(2025, 9, 1), date(2025, 12, 31))).iloc[0]
    assert (row["updates_closed_early"], row["updates_eligible"], row["updates_not_yet_due"]) == (1, 0, 0)
    row = counts(store, Filters(date(2025, 9, 1), date(2025, 9, 1), AS_OF)).iloc[0]
    assert (row["updates_closed_early"], row["updates_not_yet_due"]) == (0, 1)


def test_filters_narrow_the_victims(store):
    tendring = MAY.with_selection("district", ("Tendring",))
    row = counts(store, tendring).iloc[0]
    assert (row["victims"], row["contacts"], row["updates_kept"], row["updates_eligible"]) == (1, 3, 0, 1)


def test_a_victim_contacted_only_after_the_as_of_date_waits_as_not_yet_due(make_store):
    # reported Fri 27 Jun 2025, as of Mon 30 Jun: the standard (1 working day) ends Mon 30 Jun; the only contact is 1 Jul
    tables = {
        "cases": pd.DataFrame([{"case_id": "c", "reported_at": T("2025-06-27 12:00"), "district": "Basildon",
                                "status": "open", "offence_group": "theft"}]),
        "victims": pd.DataFrame([{"victim_id": "v", "case_id": "c"}]),
        "contacts": pd.DataFrame([contact("k", "v", "2025-07-01 10:00", "initial_response")]),
    }
    june = Filters(date(2025, 6, 1), date(2025, 6, 1), date(2025, 6, 27))
    row = counts(make_store(tables, date(2025, 6, 27)), june).iloc[0]
    assert (row["initial_not_yet_due"], row["initial_eligible"], row["contacts"]) == (1, 0, 0)


def test_overdue_list_is_most_overdue_first_and_ignores_the_period(store):
    rows, total = overdue_updates(store, default_catalogue(), MAY, role="victim_services")
    assert total == 5
    assert rows[["victim_id", "days_since_update", "days_overdue"]].values.tolist() == [
        ["v1", 123, 116], ["v3", 132, 104], ["v6", 120, 92], ["v7", 77, 49], ["v5", 72, 44]]
    assert (rows["days_overdue"] > 0).all()


def test_overdue_list_pages_through_rows(store):
    first, total = overdue_updates(store, default_catalogue(), MAY, role="victim_services", page=0, page_size=1)
    second, _ = overdue_updates(store, default_catalogue(), MAY, role="victim_services", page=1, page_size=1)
    assert total == 5 and first["victim_id"].tolist() == ["v1"] and second["victim_id"].tolist() == ["v3"]


@pytest.mark.parametrize("role", ["board", "action_group", "admin", "", "victim_services "])
def test_only_victim_services_may_see_the_overdue_list(store, role):
    with pytest.raises(PermissionError):
        overdue_updates(store, default_catalogue(), MAY, role=role)


def test_channel_mix_counts_only_contacts_in_scope(store):
    mix = channel_mix(store, default_catalogue(), MAY).set_index("channel")["contacts"].to_dict()
    # phone: k1 k2 k4 k6 k9 k10 k11 k12 k14 = 9; email: k3; face_to_face: k5. (k7, k8, k13 are out of scope.)
    assert mix == {"email": 1, "face_to_face": 1, "phone": 9}


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory):
    from data_access.demo import build_demo_store
    from data_access.store import open_store

    path = build_demo_store(tmp_path_factory.mktemp("demo") / "demo.duckdb", cases=40_000,
                            start=date(2024, 10, 1), months=24, seed=7)
    store = open_store(path)
    yield store
    store.close()


def test_the_demo_makes_the_contact_measures_meaningful(demo_store):
    meta = demo_store.meta
    year = Filters(date(2025, 1, 1), date(2025, 12, 1), meta.data_as_of)
    rates = contact_measure_rates(counts(demo_store, year, ("total", "month", "district", "victim_type")),
                                  default_catalogue())
    updates = rates[rates["measure"] == "c_updates_kept_to_agreed_frequency"].set_index(["breakdown", "level"])["rate"]
    # gaps run longer in summer and at Christmas than in spring
    spring = updates.loc[("month", "2025-04")], updates.loc[("month", "2025-05")]
    assert updates.loc[("month", "2025-07")] < min(spring) - 0.05
    assert updates.loc[("month", "2025-12")] < min(spring) - 0.03
    # and vary by district: the long-gap districts fall well below the short-gap ones
    assert updates.loc[("district", "Tendring")] < updates.loc[("district", "Maldon")] - 0.08
    assert 0.35 < updates.loc[("total", "all")] < 0.75
    # a face-to-face contact is far more likely for an enhanced-rights victim than for a standard one
    by_type = counts(demo_store, year, ("victim_type",)).set_index("level")
    share = by_type["victims_face_to_face"] / by_type["victims"]
    assert share["enhanced"] > share["standard"] + 0.1  # 68% against 54% in this demo
    # first contact: mostly within the standard, but not all
    initial = rates[(rates["measure"] == "c_initial_contact_within_standard") & (rates["breakdown"] == "total")]
    assert 0.8 < initial["rate"].iloc[0] < 0.99
