"""The shipped catalogue, its wording, and the validation of edited catalogue YAML.

Expected values are read off metrics/catalogue.yaml by eye, not produced by the loader.
"""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest

from helpers import build_and_open, case, counts_of, ent, expect, period, run_counts, tables, victim
from metrics.catalogue import DEFAULT_CATALOGUE_PATH, CatalogueError, default_catalogue, load_catalogue, parse_catalogue
from metrics.compliance import compliance_counts_sql

SHIPPED = DEFAULT_CATALOGUE_PATH.read_text(encoding="utf-8")


# --- helpers that mutate the shipped YAML text -------------------------------------------------

def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"fixture anchor {old!r} must occur exactly once"
    return text.replace(old, new)


def in_entitlement(text: str, code: str, old: str, new: str) -> str:
    """Replace the first `old` inside the entitlement block that starts with `- code: <code>`."""
    start = text.index(f"- code: {code}\n")
    end = text.find("- code: ", start + 1)
    end = len(text) if end == -1 else end
    block = text[start:end]
    assert old in block, f"{old!r} not in the block of {code}"
    return text[:start] + block.replace(old, new, 1) + text[end:]


def line_of(text: str, fragment: str) -> int:
    """1-based line number of the only line containing `fragment`."""
    hits = [i for i, line in enumerate(text.splitlines(), start=1) if fragment in line]
    assert len(hits) == 1, f"{fragment!r} is on lines {hits}"
    return hits[0]


def problems_of(text: str) -> list[str]:
    with pytest.raises(CatalogueError) as caught:
        parse_catalogue(text, source="edited.yaml")
    assert str(caught.value).startswith("edited.yaml has ")
    return caught.value.problems


def only_problem(text: str) -> str:
    problems = problems_of(text)
    assert len(problems) == 1, problems
    return problems[0]


# --- the shipped catalogue ---------------------------------------------------------------------

def test_the_shipped_catalogue_lists_the_twelve_rights_in_order():
    cat = load_catalogue()
    assert [r.number for r in cat.rights] == list(range(1, 13))
    assert cat.right(7).short_title == "Victim Personal Statement"
    assert cat.version == 1


def test_entitlement_codes_are_unique_and_prefixed_with_their_right():
    cat = default_catalogue()
    codes = [e.code for e in cat.entitlements]
    # counted by eye in catalogue.yaml: rights 1..12 hold 3,3,3,6,2,11,4,5,3,1,2,2 entitlements = 45
    assert len(codes) == 45
    assert len(set(codes)) == len(codes)
    assert all(e.code.startswith(f"r{e.right_no}_") for e in cat.entitlements)


def test_measured_entitlements_leave_out_the_eleven_marked_not_measured():
    cat = default_catalogue()
    # 'measured: false' appears 11 times in the YAML (r1 x2, r2 x2, r4, r6, r7, r9, r10, r11, r12): 45 - 11 = 34
    assert len(cat.measured_entitlements) == 34
    assert "r10_property_returned" not in {e.code for e in cat.measured_entitlements}
    assert "r4_referral_to_support_service" in {e.code for e in cat.measured_entitlements}


def test_right_10_measures_nothing_and_says_why():
    right = default_catalogue().right(10)
    assert right.measured_entitlements == ()
    assert right.not_measured_note and "CPS" in right.not_measured_note
    (prop,) = right.entitlements
    assert prop.code == "r10_property_returned"
    assert prop.measured is False
    assert prop.not_measured_reason


def test_known_timescales_and_confidence_match_the_yaml():
    cat = default_catalogue()
    arrested = cat.entitlement("r6_suspect_arrested")
    assert (arrested.standard_days, arrested.enhanced_days) == (5, 1)
    assert arrested.trigger == "suspect_arrested" and arrested.right_no == 6
    referral = cat.entitlement("r4_referral_to_support_service")
    assert (referral.standard_days, referral.enhanced_days) == (2, 2)
    complaint = cat.entitlement("r12_complaint_acknowledged")
    assert complaint.confidence == "code_2015_only"
    assert (complaint.standard_days, complaint.enhanced_days) == (10, 10)
    needs = cat.entitlement("r4_needs_assessment")
    assert (needs.standard_days, needs.enhanced_days) == (None, None)
    assert needs.has_timescale is False and referral.has_timescale is True


def test_looking_up_an_unknown_right_or_code_raises_key_error():
    cat = default_catalogue()
    with pytest.raises(KeyError):
        cat.right(13)
    with pytest.raises(KeyError):
        cat.entitlement("r4_no_such_thing")


def test_timescale_sentence_reads_naturally_for_each_kind_of_timescale():
    cat = default_catalogue()
    arrested = cat.entitlement("r6_suspect_arrested")
    assert cat.timescale_sentence(arrested) == \
        "Within 5 working days of the suspect's arrest (1 for enhanced-rights victims)."
    assert cat.timescale_sentence(cat.entitlement("r4_referral_to_support_service")) == \
        "Within 2 working days of the crime being reported, for all victims."
    # one day is singular
    assert cat.timescale_sentence(cat.entitlement("r8_hearing_details")) == \
        "Within 1 working day of the Witness Care Unit receiving the hearing details, for all victims."
    assert cat.timescale_sentence(cat.entitlement("r4_needs_assessment")) == \
        "No timescale in the Code; counted from the crime being reported."
    standard_only = dataclasses.replace(arrested, enhanced_days=None)
    assert cat.timescale_sentence(standard_only) == ("Within 5 working days of the suspect's arrest for standard "
                                                     "victims; no timescale for enhanced-rights victims.")
    enhanced_only = dataclasses.replace(arrested, standard_days=None)
    assert cat.timescale_sentence(enhanced_only) == ("Within 1 working day of the suspect's arrest for "
                                                     "enhanced-rights victims; no timescale for others.")


def test_the_shipped_text_parses_to_the_same_catalogue_as_the_loader():
    assert parse_catalogue(SHIPPED) == load_catalogue()


# --- validation --------------------------------------------------------------------------------

def test_a_duplicate_entitlement_code_is_named_with_its_right():
    text = replace_once(SHIPPED, "- code: r4_specialist_referral_offered\n", "- code: r4_needs_assessment\n")
    problem = only_problem(text)
    assert "right 4" in problem
    assert "duplicate code 'r4_needs_assessment'" in problem


def test_an_unknown_key_is_named_with_its_entitlement_and_line():
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "        deliverer: police\n",
                          "        deliverer: police\n        colour: red\n")
    problem = only_problem(text)
    # the entry is reported at the line of its '- code:' line
    assert f"right 6, entitlement r6_suspect_arrested (line {line_of(text, '- code: r6_suspect_arrested')})" in problem
    assert "unknown key 'colour'" in problem


def test_an_unknown_key_on_a_right_is_named_with_the_right_number():
    text = replace_once(SHIPPED, '    short_title: "Complaints"\n', '    short_title: "Complaints"\n    owner: ACC\n')
    problem = only_problem(text)
    assert f"right 12 (line {line_of(text, '- number: 12')})" in problem
    assert "unknown key 'owner'" in problem


def test_a_missing_right_is_reported_by_number():
    start = SHIPPED.index("  - number: 10\n")
    end = SHIPPED.index("  - number: 11\n")
    problem = only_problem(SHIPPED[:start] + SHIPPED[end:])
    assert "right 10 is missing" in problem


def test_a_right_listed_twice_is_reported():
    start = SHIPPED.index("  - number: 12\n")
    end = SHIPPED.index("\n# --- Measures from the contact log", start)  # the rights list ends there
    right_12_again = SHIPPED[start:end].replace("- code: r12_", "- code: r12_again_")  # codes stay unique
    problem = only_problem(SHIPPED[:end].rstrip("\n") + "\n" + right_12_again + SHIPPED[end:])
    assert "right 12" in problem and "listed twice" in problem


def test_a_right_with_nothing_measured_must_say_why():
    start = SHIPPED.index("    not_measured_note: >-\n")
    end = SHIPPED.index("    entitlements:\n", start)
    problem = only_problem(SHIPPED[:start] + SHIPPED[end:])
    assert "right 10" in problem and "not_measured_note" in problem


@pytest.mark.parametrize("bad, shown", [
    ("-1", "-1"),
    ("five", "'five'"),
    ("3.5", "3.5"),
    ("61", "61"),  # more than the 60-day ceiling
    ("true", "True"),
])
def test_a_bad_standard_timescale_is_named_with_its_entitlement_and_field(bad, shown):
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "{standard: 5, enhanced: 1}",
                          f"{{standard: {bad}, enhanced: 1}}")
    problem = only_problem(text)
    assert "r6_suspect_arrested" in problem
    assert "timescale_working_days.standard" in problem
    assert f"got {shown}" in problem


def test_a_bad_enhanced_timescale_names_the_enhanced_field():
    text = in_entitlement(SHIPPED, "r8_hearing_details", "{standard: 1, enhanced: 1}", "{standard: 1, enhanced: -2}")
    problem = only_problem(text)
    assert "r8_hearing_details" in problem and "timescale_working_days.enhanced" in problem and "-2" in problem


def test_an_enhanced_timescale_longer_than_the_standard_one_is_refused():
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "{standard: 5, enhanced: 1}", "{standard: 1, enhanced: 5}")
    problem = only_problem(text)
    assert "r6_suspect_arrested" in problem
    # the message names both sides of the timescale and their values
    assert "enhanced-rights victims get 5 working days but standard victims 1" in problem


def test_a_timescale_that_is_not_a_standard_enhanced_pair_is_refused():
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "{standard: 5, enhanced: 1}", "5")
    problem = only_problem(text)
    assert "r6_suspect_arrested" in problem and "timescale_working_days must be" in problem


def test_an_unknown_trigger_is_named_with_its_entitlement():
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "trigger: suspect_arrested", "trigger: suspect_abducted")
    problem = only_problem(text)
    assert "r6_suspect_arrested" in problem
    assert "trigger 'suspect_abducted' is not one of the triggers" in problem


def test_an_unknown_confidence_is_named_with_its_entitlement():
    text = in_entitlement(SHIPPED, "r9_case_outcome", "confidence: confirmed_secondary", "confidence: rumour")
    problem = only_problem(text)
    assert "r9_case_outcome" in problem
    assert "confidence 'rumour' is not one of the confidence_levels" in problem


def test_a_broken_entitlement_does_not_also_claim_its_right_measures_nothing():
    # Right 12 has one measured entitlement, r12_complaint_acknowledged. A typo in its confidence is
    # one mistake; the entitlement is still meant to be measured, so asking for a 'not_measured_note'
    # on right 12 as well is a second, misleading problem that sends the editor the wrong way.
    text = in_entitlement(SHIPPED, "r12_complaint_acknowledged", "confidence: code_2015_only", "confidence: rumour")
    problems = problems_of(text)
    assert any("r12_complaint_acknowledged" in p and "confidence 'rumour'" in p for p in problems)
    assert problems == [p for p in problems if "not_measured_note" not in p]
    assert len(problems) == 1


@pytest.mark.parametrize("field, good, vocabulary", [
    ("deliverer", "police", "deliverers"),
    ("applies_to", "suspect_identified_cases", "applies_to"),
])
def test_other_unknown_vocabulary_values_are_named(field, good, vocabulary):
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", f"{field}: {good}", f"{field}: martians")
    problem = only_problem(text)
    assert "r6_suspect_arrested" in problem
    assert f"{field} 'martians' is not one of the {vocabulary}" in problem


def test_a_code_whose_prefix_is_another_right_is_refused():
    text = replace_once(SHIPPED, "- code: r5_cics_information\n", "- code: r4_cics_information\n")
    problem = only_problem(text)
    assert "right 5, entitlement r4_cics_information" in problem
    assert "code starts with 'r4_' but sits under right 5" in problem


def test_a_code_that_is_not_lower_snake_case_is_refused():
    text = replace_once(SHIPPED, "- code: r5_cics_information\n", "- code: R5-CICS\n")
    problem = only_problem(text)
    assert "R5-CICS" in problem and "code must be lower_snake_case starting with 'r5_'" in problem


def test_a_missing_required_field_is_named():
    text = in_entitlement(SHIPPED, "r9_case_outcome", "        deliverer: witness_care_unit\n", "")
    problem = only_problem(text)
    assert "r9_case_outcome" in problem and "'deliverer' is required" in problem


SECOND_LABEL = 'label: "Second label"'


def test_a_duplicate_yaml_key_is_refused_with_its_line():
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "        deliverer: police\n",
                          "        deliverer: police\n        " + SECOND_LABEL + "\n")
    problem = only_problem(text)
    # PyYAML would silently keep the second label; the strict loader stops at it
    assert f"line {line_of(text, SECOND_LABEL)}" in problem
    assert "duplicate key 'label'" in problem


def test_malformed_yaml_is_refused_with_its_line():
    text = replace_once(SHIPPED, "  - number: 7\n", "  - number: 7: 8\n")
    problem = only_problem(text)
    # 'mapping values are not allowed here' is found on the edited line itself
    assert problem.startswith(f"line {line_of(text, '- number: 7: 8')}: not valid YAML")


def test_a_document_that_is_not_a_mapping_is_refused():
    assert "must be a mapping" in only_problem("- just\n- a list\n")


def test_every_problem_is_reported_at_once():
    text = in_entitlement(SHIPPED, "r6_suspect_arrested", "trigger: suspect_arrested", "trigger: suspect_abducted")
    text = in_entitlement(text, "r9_case_outcome", "confidence: confirmed_secondary", "confidence: rumour")
    problems = problems_of(text)
    assert len(problems) == 2
    assert any("r6_suspect_arrested" in p and "trigger" in p for p in problems)
    assert any("r9_case_outcome" in p and "confidence" in p for p in problems)


def test_an_unreadable_catalogue_file_is_a_catalogue_error(tmp_path):
    with pytest.raises(CatalogueError, match="cannot be read"):
        load_catalogue(tmp_path / "absent.yaml")


# --- adding an entitlement is a YAML edit ------------------------------------------------------

NEW_ENTITLEMENT = """\
      - code: r5_compensation_form_sent
        label: "Compensation form sent"
        description: "The court compensation form sent to the victim."
        deliverer: police
        trigger: crime_reported
        timescale_working_days: {standard: 3, enhanced: 1}
        applies_to: all_reported_victims
        numerator: "victims sent the form"
        denominator: "victims whose crime was reported in the period"
        confidence: unconfirmed
        sources: [S1]

"""


def with_new_entitlement() -> str:
    return replace_once(SHIPPED, "  - number: 6\n", NEW_ENTITLEMENT + "  - number: 6\n")


def test_an_entitlement_added_in_yaml_is_measured_and_in_the_compliance_sql():
    cat = parse_catalogue(with_new_entitlement())
    new = cat.entitlement("r5_compensation_form_sent")
    assert new in cat.measured_entitlements and new in cat.right(5).measured_entitlements
    assert len(cat.measured_entitlements) == 35  # 34 shipped + 1
    filters = period(date(2025, 3, 1), as_of=date(2025, 3, 31))
    sql, params = compliance_counts_sql(cat, filters)
    # codes and timescales are bound parameters of the VALUES table, one row per measured entitlement
    index = next(k.removeprefix("code_") for k, v in params.items() if v == "r5_compensation_form_sent")
    assert (params[f"right_{index}"], params[f"std_{index}"], params[f"enh_{index}"]) == (5, 3, 1)
    assert f"$code_{index}" in sql
    _, shipped_params = compliance_counts_sql(default_catalogue(), filters)
    assert "r5_compensation_form_sent" not in shipped_params.values()


def test_an_entitlement_added_in_yaml_is_counted_from_the_store(tmp_path):
    cat = parse_catalogue(with_new_entitlement())
    store = build_and_open(tmp_path, tables(
        cases=[case("C1")],
        victims=[victim("V1"), victim("V2", enhanced_category="vulnerable")],
        entitlements=[
            # trigger Mon 3 Mar 2025; standard 3 working days: Tue 4, Wed 5, Thu 6 -> due Thu 6; delivered Thu 6 = on time
            ent("E1", "r5_compensation_form_sent", "2025-03-03", "2025-03-06", "delivered", victim_id="V1"),
            # enhanced 1 working day: due Tue 4; delivered Wed 5 = late
            ent("E2", "r5_compensation_form_sent", "2025-03-03", "2025-03-05", "delivered", victim_id="V2"),
        ]), as_of=date(2025, 3, 31))
    try:
        filters = period(date(2025, 3, 1), as_of=date(2025, 3, 31))
        counts = run_counts(store, filters, catalogue=cat)
        assert counts_of(counts, "r5_compensation_form_sent") == expect(
            eligible=2, delivered=2, delivered_on_time=1, eligible_timed=2)
        # the shipped catalogue does not know the code, so the same rows are not counted at all
        assert "r5_compensation_form_sent" not in set(run_counts(store, filters)["entitlement"])
    finally:
        store.close()
