"""The data contract's closed vocabularies, in one place.

The store's CHECK constraints, the filter allow-lists and (later) import validation are all built
from these tuples, so a value is either valid everywhere or nowhere.
"""

from __future__ import annotations

__all__ = [
    "OFFENCE_GROUPS", "CASE_STATUSES", "ENHANCED_CATEGORIES", "AGE_BANDS", "SEXES", "ETHNICITIES",
    "DISABILITY", "CONTACT_KINDS", "CONTACT_CHANNELS", "ENTITLEMENT_OUTCOMES", "REFERRAL_SERVICES",
    "CONSENT", "SURVEYS", "COMPLAINT_OUTCOMES", "PANEL_THEMES", "PANEL_FORMATS", "FINDING_KINDS",
    "ACTION_STATUSES", "VICTIM_TYPES", "label",
]

OFFENCE_GROUPS = (
    "violence_against_the_person", "sexual_offences", "robbery", "burglary", "vehicle_offences", "theft",
    "criminal_damage_arson", "drug_offences", "possession_of_weapons", "public_order",
    "misc_crimes_against_society", "fraud",
)
CASE_STATUSES = ("open", "closed")
ENHANCED_CATEGORIES = ("most_serious_crime", "persistently_targeted", "vulnerable", "intimidated", "discretionary")
AGE_BANDS = ("0-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown")
SEXES = ("female", "male", "other", "unknown")
ETHNICITIES = ("asian", "black", "mixed", "white", "other", "unknown")
DISABILITY = ("yes", "no", "unknown")
CONTACT_KINDS = ("initial_response", "update", "key_decision", "needs_assessment", "vps", "face_to_face_visit", "other")
CONTACT_CHANNELS = ("phone", "email", "letter", "sms", "face_to_face", "video", "portal")
ENTITLEMENT_OUTCOMES = ("delivered", "declined", "not_delivered", "not_applicable")
REFERRAL_SERVICES = ("victim_support", "synergy_essex", "compass", "other")
CONSENT = ("given", "declined", "not_asked")
SURVEYS = ("rape", "hate_crime", "domestic_abuse", "burglary", "general")
COMPLAINT_OUTCOMES = ("open", "upheld", "not_upheld", "resolved", "withdrawn")
PANEL_THEMES = ("sexual_violence_domestic_abuse", "vawg", "minority_communities", "stalking_harassment", "high_harm", "other")
PANEL_FORMATS = ("virtual", "in_person", "hybrid")
FINDING_KINDS = ("praise", "concern", "suggestion")
ACTION_STATUSES = ("proposed", "agreed", "in_progress", "done", "dropped")
# Derived, not in the export: a victim is 'enhanced' when enhanced_category is set.
VICTIM_TYPES = ("standard", "enhanced")

_LABELS = {
    "violence_against_the_person": "Violence against the person",
    "criminal_damage_arson": "Criminal damage and arson",
    "misc_crimes_against_society": "Miscellaneous crimes against society",
    "possession_of_weapons": "Possession of weapons",
    "vawg": "Violence against women and girls",
    "sexual_violence_domestic_abuse": "Sexual violence and domestic abuse",
    "victim_support": "Victim Support",
    "synergy_essex": "Synergy Essex",
    "compass": "Compass",
    "0-17": "0-17",
    "65+": "65+",
}


def label(code: str) -> str:
    """A contract code as people read it: 'public_order' -> 'Public order'."""
    if code in _LABELS:
        return _LABELS[code]
    text = str(code).replace("_", " ")
    return text[:1].upper() + text[1:]
