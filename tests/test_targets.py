"""The board's targets file: the shipped sample loads, and every mistake is named with its entry and line."""

from __future__ import annotations

from datetime import date

import pytest

from metrics.catalogue import default_catalogue
from metrics.targets import DEFAULT_TARGETS_PATH, TargetsError, load_targets, parse_targets

CATALOGUE = default_catalogue()


def problems(text: str) -> list[str]:
    with pytest.raises(TargetsError) as caught:
        parse_targets(text, CATALOGUE)
    return caught.value.problems


def entry(measure: str = "r4_referral_to_support_service", **fields) -> str:
    values = {"target": "0.8", "set_by": "Victims and Witnesses Board", "set_on": "2025-01-15", **fields}
    lines = [f"  - measure: {measure}"] + [f"    {k}: {v}" for k, v in values.items() if v is not None]
    return "\n".join(lines) + "\n"


def test_the_shipped_sample_loads_with_its_three_targets():
    targets = load_targets(DEFAULT_TARGETS_PATH, CATALOGUE)
    assert len(targets) == 3
    referral = targets.get("r4_referral_to_support_service")
    assert (referral.rate, referral.target, referral.set_on) == ("delivered", 0.8, date(2025, 1, 15))
    assert targets.get("r7_vps_offered", "delivered").target == 0.5
    assert targets.get("c_initial_contact_within_standard").rate == "rate"
    assert targets.get("r4_needs_assessment") is None
    assert referral.describe() == "Target 80% (set by Victims and Witnesses Board on 15 Jan 2025)"


def test_no_file_means_no_targets_unless_one_was_configured(tmp_path):
    assert len(load_targets(tmp_path / "none.yaml", CATALOGUE)) == 0
    with pytest.raises(TargetsError, match="does not exist"):
        load_targets(tmp_path / "none.yaml", CATALOGUE, required=True)


def test_an_empty_file_or_list_means_no_targets():
    assert len(parse_targets("", CATALOGUE)) == 0
    assert len(parse_targets("version: 1\ntargets: []\n", CATALOGUE)) == 0


def test_on_time_and_delivered_targets_are_separate():
    targets = parse_targets("targets:\n" + entry(rate="delivered") + entry(rate="on_time", target="0.7"), CATALOGUE)
    assert targets.get("r4_referral_to_support_service", "on_time").target == 0.7
    assert targets.get("r4_referral_to_support_service", "delivered").target == 0.8


@pytest.mark.parametrize("fields, expected", [
    ({"target": "80"}, "'target' must be from 0 to 1 (80% is written 0.80), got 80 (did you mean 0.80?)"),
    ({"target": "-0.1"}, "'target' must be from 0 to 1"),
    ({"target": "high"}, "'target' must be a number from 0 to 1"),
    ({"target": "true"}, "'target' must be a number from 0 to 1"),
    ({"target": ".nan"}, "'target' must be a number from 0 to 1"),
    ({"target": None}, "'target' must be a number from 0 to 1"),
    ({"set_by": None}, "'set_by' is required"),
    ({"set_by": "''"}, "'set_by' is required"),
    ({"set_on": None}, "'set_on' must be the date the target was set, as YYYY-MM-DD, got None"),
    ({"set_on": "2025-13-01"}, "'set_on' must be the date the target was set, as YYYY-MM-DD, got '2025-13-01'"),
    ({"set_on": "last week"}, "'set_on' must be the date"),
    ({"rate": "monthly"}, "'rate' must be one of delivered, on_time, got 'monthly'"),
    ({"colour": "red"}, "unknown key 'colour'"),
    ({"note": "[1, 2]"}, "'note' must be text if given"),
])
def test_each_mistake_names_the_entry_its_line_and_the_field(fields, expected):
    found = problems("version: 1\ntargets:\n" + entry(**fields))
    assert len(found) == 1, found
    assert found[0].startswith("target 1 'r4_referral_to_support_service' (line 3): ")
    assert expected in found[0]


def test_codes_are_checked_against_the_catalogue():
    found = problems("targets:\n" + entry("r4_not_a_code") + entry("r10_property_returned")
                     + entry("r4_needs_assessment", rate="on_time") + entry("c_face_to_face_enhanced", rate="on_time"))
    assert "target 1 'r4_not_a_code' (line 2): 'r4_not_a_code' is not an entitlement or contact-measure code" in found[0]
    assert "'r10_property_returned' is not measured from records" in found[1]
    assert "'r4_needs_assessment' has no timescale in the Code, so it has no on-time rate" in found[2]
    assert "a contact measure has a single rate; leave 'rate' out" in found[3]
    assert len(found) == 4  # every mistake at once, not just the first


def test_a_second_target_for_the_same_rate_names_both_lines():
    found = problems("targets:\n" + entry() + entry(target="0.9"))
    assert found == ["target 2 'r4_referral_to_support_service' (line 6): a second target for "
                     "'r4_referral_to_support_service' (delivered rate); the first is on line 2. Keep one."]


def test_duplicate_keys_and_bad_yaml_are_reported_with_a_line():
    found = problems("targets:\n  - measure: r7_vps_offered\n    target: 0.5\n    target: 0.6\n")
    assert "duplicate key 'target'" in found[0] and "line 4" in found[0]
    assert problems("targets: [\n")[0].startswith("line ")


@pytest.mark.parametrize("text, expected", [
    ("- a\n- b\n", "the file must be a mapping"),
    ("version: 2\ntargets: []\n", "'version' must be 1"),
    ("targets: {a: 1}\n", "'targets' must be a list"),
    ("owner: board\n", "unknown key 'owner'"),
    ("targets:\n  - just text\n", "target 1: must be a mapping"),
    ("targets:\n  - target: 0.5\n", "'measure' is required"),
])
def test_the_file_shape_is_checked(text, expected):
    assert any(expected in p for p in problems(text))
