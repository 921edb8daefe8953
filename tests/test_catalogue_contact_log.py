"""Validation of the catalogue's contact_log settings and contact_measures."""

from __future__ import annotations

from pathlib import Path

import pytest

from metrics.catalogue import CatalogueError, default_catalogue, parse_catalogue

SHIPPED = (Path(__file__).resolve().parent.parent / "metrics" / "catalogue.yaml").read_text()


def problems_after(old: str, new: str) -> list[str]:
    assert old in SHIPPED, old
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(SHIPPED.replace(old, new, 1))
    return caught.value.problems


def test_the_shipped_contact_settings_and_measures():
    catalogue = default_catalogue()
    log = catalogue.contact_log
    assert (log.initial_contact_standard_working_days, log.default_update_frequency_days) == (1, 28)
    assert log.working_hours == ("09:00", "17:00")
    assert "update" in log.update_kinds and "needs_assessment" not in log.update_kinds
    assert [m.code for m in catalogue.contact_measures] == [
        "c_initial_contact_within_standard", "c_updates_kept_to_agreed_frequency", "c_face_to_face_enhanced"]
    assert all(m.related_right == 6 for m in catalogue.contact_measures)


def test_an_unknown_contact_kind_is_named():
    problems = problems_after("update_kinds: [initial_response, update,", "update_kinds: [initial_response, updat,")
    assert any("update_kinds" in p and "'updat'" in p for p in problems)


def test_working_hours_must_run_forwards():
    problems = problems_after('working_hours: {start: "09:00", end: "17:00"}', 'working_hours: {start: "17:00", end: "09:00"}')
    assert any("working_hours" in p for p in problems)


def test_a_bad_default_frequency_is_named():
    problems = problems_after("default_update_frequency_days: 28", "default_update_frequency_days: 0")
    assert any("default_update_frequency_days" in p for p in problems)


def test_a_contact_measure_code_may_not_repeat_an_entitlement_code():
    problems = problems_after("- code: c_face_to_face_enhanced", "- code: r4_needs_assessment")
    assert any("r4_needs_assessment" in p and ("duplicate" in p or "c_" in p) for p in problems)


def test_a_contact_measure_needs_its_numerator():
    problems = problems_after('    numerator: "enhanced-rights victims with at least one face-to-face contact by the data date"\n', "")
    assert any("c_face_to_face_enhanced" in p and "'numerator' is required" in p for p in problems)


def test_an_unknown_key_in_the_settings_is_named():
    problems = problems_after("default_update_frequency_days: 28", "default_update_frequency_days: 28\n  frequency_days: 7")
    assert any("contact_log" in p and "frequency_days" in p for p in problems)
