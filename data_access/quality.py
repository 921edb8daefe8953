"""Data-quality checks over a store: counts of records that break a rule the import cannot enforce row by
row (a case with no victim, a victim missing a needs-assessment record...), each with its definition in words.

Every check returns counts only, never ids or rows: the Data page shows them to administrators so the data
owner can look for the records at source.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from data_access.store import Store

__all__ = ["QualityCheck", "CHECKS", "NEEDS_ASSESSMENT_CODE", "NEEDS_ASSESSMENT_CONTACT_KIND", "quality_checks"]

# Right 4's needs assessment is owed to every victim whose crime is reported (the catalogue's applies_to:
# all_reported_victims), and its rate is counted from the entitlements table, so the record that matters is
# an entitlements row with this code. The contact log's kind of the same name records a conversation, not
# the entitlement; it is compared with the entitlement in a check of its own.
NEEDS_ASSESSMENT_CODE = "r4_needs_assessment"
NEEDS_ASSESSMENT_CONTACT_KIND = "needs_assessment"


@dataclass(frozen=True)
class QualityCheck:
    check_id: str
    title: str
    definition: str  # what is counted, precisely, and why it matters
    population: str  # what `of_total` counts, e.g. "victims"
    sql: str  # one row: count (records breaking the rule), of_total (records the rule applies to)
    params: tuple[tuple[str, str], ...] = ()  # bound values ($name -> value)


# Dates are compared as calendar days: an export may hold a date for one event and a date-time for another,
# and a trigger recorded at 00:00 on the day of a report at 14:00 is not "before" it.
CHECKS: tuple[QualityCheck, ...] = (
    QualityCheck(
        "victims_without_needs_assessment",
        "Victims with no needs-assessment record",
        f"Victims with no {NEEDS_ASSESSMENT_CODE} row in the entitlements export, in any state (delivered, "
        "declined, not delivered, not applicable or still pending). Every victim whose crime is reported is owed "
        "a needs assessment (Right 4), so each should have one; a victim without one is missing from the needs-"
        "assessment rate's denominator, which makes the rate look better than it is. A needs_assessment contact "
        "in the contact log does not count as the record.",
        "victims",
        """SELECT count(*) FILTER (WHERE assessed.victim_id IS NULL) AS count, count(*) AS of_total
           FROM victims v
           LEFT JOIN (SELECT DISTINCT victim_id FROM entitlements WHERE entitlement = $code) assessed
             USING (victim_id)""",
        (("code", NEEDS_ASSESSMENT_CODE),),
    ),
    QualityCheck(
        "needs_assessment_contact_not_recorded",
        "Needs assessments in the contact log but not recorded as delivered",
        f"Victims with at least one contact of kind {NEEDS_ASSESSMENT_CONTACT_KIND} whose {NEEDS_ASSESSMENT_CODE} "
        "entitlement is missing or not recorded as delivered (or offered and declined). The two exports disagree: "
        "either the assessment was done and not recorded against the entitlement (the rate is understated) or "
        "the contact is mislabelled. Out of victims with a needs_assessment contact.",
        "victims with a needs_assessment contact",
        """WITH contacted AS (SELECT DISTINCT victim_id FROM contacts WHERE kind = $kind),
                recorded AS (SELECT DISTINCT victim_id FROM entitlements WHERE entitlement = $code
                             AND COALESCE(outcome, CASE WHEN delivered_at IS NOT NULL THEN 'delivered' END)
                                 IN ('delivered', 'declined'))
           SELECT count(*) FILTER (WHERE recorded.victim_id IS NULL) AS count, count(*) AS of_total
           FROM contacted LEFT JOIN recorded USING (victim_id)""",
        (("code", NEEDS_ASSESSMENT_CODE), ("kind", NEEDS_ASSESSMENT_CONTACT_KIND)),
    ),
    QualityCheck(
        "entitlements_triggered_before_report",
        "Entitlements triggered before the crime was reported",
        "Entitlement rows whose triggered_at falls on an earlier day than the reported_at of the victim's "
        "case. Every trigger in the catalogue (the report itself, an arrest, a charging decision...) happens on or "
        "after the report, so one of the two dates is wrong, and the due date worked out from the trigger is too.",
        "entitlements",
        """SELECT count(*) FILTER (WHERE CAST(e.triggered_at AS DATE) < CAST(k.reported_at AS DATE)) AS count,
                  count(*) AS of_total
           FROM entitlements e JOIN victims v USING (victim_id) JOIN cases k ON k.case_id = v.case_id""",
    ),
    QualityCheck(
        "contacts_before_report",
        "Contacts before the crime was reported",
        "Contacts whose contact_at falls on an earlier day than the reported_at of the victim's case. The "
        "import rejects such a contact, but a case re-imported later with a changed report date can leave "
        "contacts loaded earlier before it; they distort the time to first contact.",
        "contacts",
        """SELECT count(*) FILTER (WHERE CAST(c.contact_at AS DATE) < CAST(k.reported_at AS DATE)) AS count,
                  count(*) AS of_total
           FROM contacts c JOIN victims v USING (victim_id) JOIN cases k ON k.case_id = v.case_id""",
    ),
    QualityCheck(
        "cases_without_victim",
        "Cases with no victim",
        "Cases with no row in the victims export. Every measure counts victims, so such a case is in no figure; "
        "either its victims were left out of the export or the case should not have been exported.",
        "cases",
        """SELECT count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM victims v WHERE v.case_id = k.case_id))
                  AS count, count(*) AS of_total
           FROM cases k""",
    ),
    QualityCheck(
        "referrals_consented_not_made",
        "Referrals with consent given but never made",
        "Referrals whose consent is given and whose referred_at is empty: the victim agreed to be referred to "
        "a support service, and no referral is recorded. Out of referrals with consent given. Those offered in "
        "the last day or two before the data date may still be made.",
        "referrals with consent given",
        """SELECT count(*) FILTER (WHERE referred_at IS NULL) AS count, count(*) AS of_total
           FROM referrals WHERE consent = 'given'""",
    ),
    QualityCheck(
        "referrals_made_without_consent",
        "Referrals made without consent recorded",
        "Referrals with a referred_at date whose consent is declined or not asked: the victim's details went "
        "to a support service without recorded consent, or the consent field is wrong. Out of referrals made.",
        "referrals made",
        """SELECT count(*) FILTER (WHERE consent <> 'given') AS count, count(*) AS of_total
           FROM referrals WHERE referred_at IS NOT NULL""",
    ),
    QualityCheck(
        "case_status_closed_date_disagree",
        "Cases whose status and closed date disagree",
        "Cases with status closed and no closed_at, or status open with a closed_at. Retention "
        "(purging cases closed before a date) goes by closed_at, so a closed case with no date is never "
        "purged, and an open one with a date could be.",
        "cases",
        """SELECT count(*) FILTER (WHERE (status = 'closed' AND closed_at IS NULL)
                                      OR (status = 'open' AND closed_at IS NOT NULL)) AS count,
                  count(*) AS of_total
           FROM cases""",
    ),
    QualityCheck(
        "cases_in_unmapped_district",
        "Cases in a district with no command area",
        "Cases whose district is not in the districts export (the district-to-command-area map). Their "
        "figures appear under the command area \"Unassigned\".",
        "cases",
        """SELECT count(*) FILTER (WHERE d.district IS NULL) AS count, count(*) AS of_total
           FROM cases k LEFT JOIN districts d USING (district)""",
    ),
)


def quality_checks(store: Store) -> pd.DataFrame:
    """Every check's count over the whole store. Columns: check, title, definition, count, of_total, population."""
    rows = []
    for check in CHECKS:
        result = store.query(check.sql, dict(check.params))
        count, of_total = (int(v) for v in result.iloc[0][["count", "of_total"]])
        rows.append({"check": check.check_id, "title": check.title, "definition": check.definition,
                     "count": count, "of_total": of_total, "population": check.population})
    return pd.DataFrame(rows, columns=["check", "title", "definition", "count", "of_total", "population"])
