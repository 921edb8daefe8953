"""Load and validate the Victims' Code catalogue (catalogue.yaml) into frozen dataclasses.

Every mistake is reported with the file, line, right and entitlement it belongs to, and all
mistakes are reported at once, so whoever edits the YAML can fix them in one pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from metrics import contract

__all__ = [
    "ContactLogSettings",
    "ContactMeasure",
    "Catalogue",
    "CatalogueError",
    "Entitlement",
    "Right",
    "StrictLoader",
    "DEFAULT_CATALOGUE_PATH",
    "load_catalogue",
    "parse_catalogue",
    "default_catalogue",
]

DEFAULT_CATALOGUE_PATH = Path(__file__).with_name("catalogue.yaml")
RIGHT_NUMBERS = range(1, 13)
MAX_TIMESCALE_DAYS = 60  # the longest Code timescale is 30 working days; more is a typo

_TOP_KEYS = {"version", "code_title", "caveat", "confidence_levels", "deliverers", "applies_to", "triggers", "rights",
             "contact_log", "contact_measures"}
_CONTACT_LOG_KEYS = {"initial_contact_standard_working_days", "default_update_frequency_days", "update_window_days",
                     "working_hours", "update_kinds", "face_to_face"}
_CONTACT_MEASURE_KEYS = {"code", "related_right", "label", "description", "trigger", "numerator", "denominator",
                         "period", "note"}
_RIGHT_KEYS = {"number", "title", "short_title", "sources", "entitlements", "not_measured_note"}
_RIGHT_REQUIRED = {"number", "title", "short_title", "entitlements"}
_ENTITLEMENT_REQUIRED = {
    "code", "label", "description", "deliverer", "trigger", "timescale_working_days",
    "applies_to", "numerator", "denominator", "confidence", "sources",
}
_ENTITLEMENT_OPTIONAL = {"timescale_note", "applies_to_note", "measured", "not_measured_reason", "benchmark"}


class CatalogueError(ValueError):
    """The catalogue is malformed; `problems` lists every mistake found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source} has {len(problems)} problem(s):\n" + "\n".join(f"  - {p}" for p in problems))


@dataclass(frozen=True)
class Entitlement:
    code: str  # stable id shared with force exports, e.g. r4_referral_to_support_service
    right_no: int  # the right it belongs to (1-12)
    label: str  # short plain-English name for tables and charts
    description: str  # one sentence saying what the victim is entitled to
    deliverer: str  # key into Catalogue.deliverers
    trigger: str  # key into Catalogue.triggers: the event the timescale runs from
    standard_days: int | None  # working days allowed for standard victims; None = no timescale
    enhanced_days: int | None  # working days allowed for enhanced-rights victims; None = no timescale
    applies_to: str  # key into Catalogue.applies_to
    applies_to_note: str | None  # who exactly, where applies_to is a subset
    numerator: str  # the numerator in words
    denominator: str  # the denominator in words
    confidence: str  # key into Catalogue.confidence_levels
    sources: tuple[str, ...]  # source ids, see docs/victims-code-sources.md
    measured: bool  # False: part of the Code, but not measurable from records
    not_measured_reason: str | None  # why not, when measured is False
    timescale_note: str | None  # caveats on the timescale
    benchmark: str | None  # a national figure to compare with, in words

    @property
    def has_timescale(self) -> bool:
        return self.standard_days is not None or self.enhanced_days is not None


@dataclass(frozen=True)
class Right:
    number: int
    title: str  # the Code's wording
    short_title: str  # for cards and chart labels
    sources: tuple[str, ...]
    entitlements: tuple[Entitlement, ...]
    not_measured_note: str | None  # why nothing under this right is measured, if so

    @property
    def measured_entitlements(self) -> tuple[Entitlement, ...]:
        return tuple(e for e in self.entitlements if e.measured)


@dataclass(frozen=True)
class ContactLogSettings:
    initial_contact_standard_working_days: int  # the force's standard for first contact
    default_update_frequency_days: int  # where the victim agreed none
    update_window_days: int  # updates are judged over each victim's first N days (or to closure)
    working_hours: tuple[str, str]  # "HH:MM" start and end of a working day, for hours to first contact
    update_kinds: tuple[str, ...]  # contact kinds that count as keeping the victim informed
    face_to_face_kinds: tuple[str, ...]  # a contact of one of these kinds is face to face...
    face_to_face_channels: tuple[str, ...]  # ...and so is any contact through one of these channels


@dataclass(frozen=True)
class ContactMeasure:
    code: str  # c_...
    related_right: int  # the right it is shown beside (not added into that right's rate)
    label: str
    description: str
    trigger: str  # key into Catalogue.triggers
    numerator: str
    denominator: str
    period: str  # which period an instance belongs to, in words
    note: str | None


@dataclass(frozen=True)
class Catalogue:
    version: int
    code_title: str
    caveat: str
    confidence_levels: dict[str, str]  # code -> meaning
    deliverers: dict[str, str]  # code -> label
    applies_to: dict[str, str]  # code -> label
    triggers: dict[str, str]  # code -> phrase read after "within N working days of"
    rights: tuple[Right, ...]
    contact_log: ContactLogSettings | None = None  # settings for the measures from the contact log
    contact_measures: tuple[ContactMeasure, ...] = ()

    def contact_measure(self, code: str) -> ContactMeasure:
        for measure in self.contact_measures:
            if measure.code == code:
                return measure
        raise KeyError(f"no contact measure {code!r} in the catalogue")

    @property
    def entitlements(self) -> tuple[Entitlement, ...]:
        return tuple(e for r in self.rights for e in r.entitlements)

    @property
    def measured_entitlements(self) -> tuple[Entitlement, ...]:
        return tuple(e for e in self.entitlements if e.measured)

    def right(self, number: int) -> Right:
        for right in self.rights:
            if right.number == number:
                return right
        raise KeyError(f"no right {number} in the catalogue")

    def entitlement(self, code: str) -> Entitlement:
        for ent in self.entitlements:
            if ent.code == code:
                return ent
        raise KeyError(f"no entitlement {code!r} in the catalogue")

    def timescale_sentence(self, ent: Entitlement) -> str:
        """The timescale in words, e.g. 'Within 5 working days of the suspect's arrest (1 for enhanced-rights victims).'"""
        trigger = self.triggers[ent.trigger]
        if not ent.has_timescale:
            return f"No timescale in the Code; counted from {trigger}."
        std, enh = ent.standard_days, ent.enhanced_days
        if std == enh:
            return f"Within {_days(std)} of {trigger}, for all victims."
        if std is None:
            return f"Within {_days(enh)} of {trigger} for enhanced-rights victims; no timescale for others."
        if enh is None:
            return f"Within {_days(std)} of {trigger} for standard victims; no timescale for enhanced-rights victims."
        return f"Within {_days(std)} of {trigger} ({enh} for enhanced-rights victims)."


def _days(n: int | None) -> str:
    return "1 working day" if n == 1 else f"{n} working days"


# --- parsing ---------------------------------------------------------------------------------

class _LineDict(dict):
    """A mapping that remembers the YAML line it started on."""

    line: int = 0


class StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """SafeLoader (libyaml's parser where PyYAML has it: ten times faster, the same result) that refuses
    duplicate keys (PyYAML would silently keep the last one)."""


def _construct_mapping(loader: StrictLoader, node: yaml.MappingNode) -> _LineDict:
    loader.flatten_mapping(node)
    result = _LineDict()
    result.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in result:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r} (first given on an earlier line)", key_node.start_mark
            )
        result[key] = loader.construct_object(value_node, deep=True)
    return result


StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def load_catalogue(path: str | Path = DEFAULT_CATALOGUE_PATH) -> Catalogue:
    """Read and validate a catalogue file; raises CatalogueError naming every problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogueError(path.name, [f"cannot be read: {exc.__class__.__name__}"]) from None
    return parse_catalogue(text, source=path.name)


@lru_cache(maxsize=1)
def default_catalogue() -> Catalogue:
    """The catalogue shipped in metrics/catalogue.yaml, loaded once per process."""
    return load_catalogue(DEFAULT_CATALOGUE_PATH)


def parse_catalogue(text: str, source: str = "catalogue.yaml") -> Catalogue:
    """Validate catalogue YAML text; raises CatalogueError naming every problem."""
    try:
        doc = yaml.load(text, Loader=StrictLoader)  # noqa: S506 - StrictLoader is a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise CatalogueError(source, [f"{where}not valid YAML: {problem}"]) from None
    problems: list[str] = []
    if not isinstance(doc, dict):
        raise CatalogueError(source, ["the file must be a mapping with keys such as 'rights' and 'triggers'"])
    catalogue = _build(doc, problems)
    if problems:
        raise CatalogueError(source, problems)
    return catalogue


def _unknown_keys(where: str, mapping: dict, allowed: set[str], problems: list[str]) -> None:
    for key in mapping:
        if key not in allowed:
            problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(allowed))})")


def _text(where: str, mapping: dict, key: str, problems: list[str], required: bool = True) -> str | None:
    value = mapping.get(key)
    if value is None:
        if required:
            problems.append(f"{where}: {key!r} is required")
        return None
    if not isinstance(value, str) or not value.strip():
        problems.append(f"{where}: {key!r} must be non-empty text, got {value!r}")
        return None
    return value.strip()


def _vocabulary(doc: dict, key: str, problems: list[str]) -> dict[str, str]:
    value = doc.get(key)
    if not isinstance(value, dict) or not value:
        problems.append(f"top level: {key!r} must be a non-empty mapping of code to text")
        return {}
    return {str(k): str(v) for k, v in value.items()}


def _build(doc: dict, problems: list[str]) -> Catalogue:
    _unknown_keys("top level", doc, _TOP_KEYS, problems)
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        problems.append(f"top level: 'version' must be a whole number, got {version!r}")
        version = 0
    vocab = {k: _vocabulary(doc, k, problems) for k in ("confidence_levels", "deliverers", "applies_to", "triggers")}

    raw_rights = doc.get("rights")
    if not isinstance(raw_rights, list):
        problems.append("top level: 'rights' must be a list of the 12 rights")
        raw_rights = []
    rights: list[Right] = []
    seen_numbers: dict[int, int] = {}
    seen_codes: dict[str, str] = {}
    for index, raw in enumerate(raw_rights, start=1):
        if not isinstance(raw, dict):
            problems.append(f"rights item {index}: must be a mapping")
            continue
        right = _build_right(raw, index, vocab, seen_codes, problems)
        if right is None:
            continue
        if right.number in seen_numbers:
            problems.append(f"right {right.number} (line {getattr(raw, 'line', '?')}): listed twice")
        seen_numbers[right.number] = index
        rights.append(right)
    for number in RIGHT_NUMBERS:
        if number not in seen_numbers:
            problems.append(f"right {number} is missing: all 12 rights must be listed, even with nothing measured")

    contact_log = _build_contact_log(doc.get("contact_log"), problems) if "contact_log" in doc else None
    contact_measures = _build_contact_measures(doc.get("contact_measures"), vocab, seen_codes, problems)
    if contact_measures and contact_log is None:
        problems.append("top level: 'contact_measures' need the 'contact_log' settings")
    return Catalogue(
        contact_log=contact_log,
        contact_measures=contact_measures,
        version=version,
        code_title=str(doc.get("code_title", "")),
        caveat=str(doc.get("caveat", "")).strip(),
        confidence_levels=vocab["confidence_levels"],
        deliverers=vocab["deliverers"],
        applies_to=vocab["applies_to"],
        triggers=vocab["triggers"],
        rights=tuple(sorted(rights, key=lambda r: r.number)),
    )


def _build_right(raw: dict, index: int, vocab: dict, seen_codes: dict[str, str], problems: list[str]) -> Right | None:
    number = raw.get("number")
    if not isinstance(number, int) or isinstance(number, bool) or number not in RIGHT_NUMBERS:
        problems.append(f"rights item {index} (line {getattr(raw, 'line', '?')}): 'number' must be 1 to 12, got {number!r}")
        return None
    where = f"right {number} (line {getattr(raw, 'line', '?')})"
    _unknown_keys(where, raw, _RIGHT_KEYS, problems)
    for key in _RIGHT_REQUIRED - raw.keys():
        problems.append(f"{where}: {key!r} is required")
    title = _text(where, raw, "title", problems) or ""
    short_title = _text(where, raw, "short_title", problems) or title
    raw_ents = raw.get("entitlements") or []
    if not isinstance(raw_ents, list):
        problems.append(f"{where}: 'entitlements' must be a list")
        raw_ents = []
    entitlements = []
    for j, raw_ent in enumerate(raw_ents, start=1):
        ent = _build_entitlement(raw_ent, number, j, vocab, seen_codes, problems)
        if ent is not None:
            entitlements.append(ent)
    note = _text(where, raw, "not_measured_note", problems, required=False)
    # Judge from what the YAML says, so a mistake in a measured entry is not reported a second time.
    says_measured = any(isinstance(e, dict) and e.get("measured", True) is not False for e in raw_ents)
    if not says_measured and note is None:
        problems.append(f"{where}: nothing under this right is measured, so 'not_measured_note' must say why")
    return Right(
        number=number,
        title=title,
        short_title=short_title,
        sources=tuple(str(s) for s in raw.get("sources") or ()),
        entitlements=tuple(entitlements),
        not_measured_note=note,
    )


_CODE_PATTERN = re.compile(r"^r(\d{1,2})_[a-z0-9]+(?:_[a-z0-9]+)*$")


def _build_entitlement(
    raw: Any, right_no: int, index: int, vocab: dict, seen_codes: dict[str, str], problems: list[str]
) -> Entitlement | None:
    if not isinstance(raw, dict):
        problems.append(f"right {right_no}, entitlement {index}: must be a mapping")
        return None
    code = raw.get("code")
    where = f"right {right_no}, entitlement {code or index!s} (line {getattr(raw, 'line', '?')})"
    before = len(problems)
    _unknown_keys(where, raw, _ENTITLEMENT_REQUIRED | _ENTITLEMENT_OPTIONAL, problems)
    for key in sorted(_ENTITLEMENT_REQUIRED - raw.keys()):
        problems.append(f"{where}: {key!r} is required")

    if isinstance(code, str):
        match = _CODE_PATTERN.match(code)
        if not match:
            problems.append(f"{where}: code must be lower_snake_case starting with 'r{right_no}_'")
        elif int(match.group(1)) != right_no:
            problems.append(f"{where}: code starts with 'r{match.group(1)}_' but sits under right {right_no}")
        if code in seen_codes:
            problems.append(f"{where}: duplicate code {code!r}, already used at {seen_codes[code]}")
        else:
            seen_codes[code] = where
    elif "code" in raw:
        problems.append(f"{where}: code must be text, got {code!r}")

    for key, vocabulary in (("deliverer", "deliverers"), ("trigger", "triggers"),
                            ("applies_to", "applies_to"), ("confidence", "confidence_levels")):
        value = raw.get(key)
        if value is not None and value not in vocab[vocabulary]:
            problems.append(f"{where}: {key} {value!r} is not one of the {vocabulary} listed at the top of the file")

    standard, enhanced = _timescale(where, raw.get("timescale_working_days"), problems)

    measured = raw.get("measured", True)
    if not isinstance(measured, bool):
        problems.append(f"{where}: 'measured' must be true or false, got {measured!r}")
        measured = True
    reason = _text(where, raw, "not_measured_reason", problems, required=not measured)
    if measured and reason:
        problems.append(f"{where}: 'not_measured_reason' given but the entitlement is measured")
    if measured and raw.get("applies_to") == "eligible_subset" and not raw.get("applies_to_note"):
        problems.append(f"{where}: applies_to is eligible_subset, so 'applies_to_note' must say which victims")
    labels = {k: _text(where, raw, k, problems) for k in ("label", "description", "numerator", "denominator")}
    sources = raw.get("sources")
    if sources is not None and (not isinstance(sources, list) or not sources):
        problems.append(f"{where}: 'sources' must be a non-empty list of source ids")

    if len(problems) > before or not isinstance(code, str):
        return None
    return Entitlement(
        code=code,
        right_no=right_no,
        label=labels["label"] or "",
        description=labels["description"] or "",
        deliverer=raw["deliverer"],
        trigger=raw["trigger"],
        standard_days=standard,
        enhanced_days=enhanced,
        applies_to=raw["applies_to"],
        applies_to_note=_text(where, raw, "applies_to_note", problems, required=False),
        numerator=labels["numerator"] or "",
        denominator=labels["denominator"] or "",
        confidence=raw["confidence"],
        sources=tuple(str(s) for s in sources),
        measured=measured,
        not_measured_reason=reason,
        timescale_note=_text(where, raw, "timescale_note", problems, required=False),
        benchmark=_text(where, raw, "benchmark", problems, required=False),
    )


def _timescale(where: str, value: Any, problems: list[str]) -> tuple[int | None, int | None]:
    if value is None:
        return None, None  # reported as a missing required key
    if not isinstance(value, dict) or set(value) != {"standard", "enhanced"}:
        problems.append(f"{where}: timescale_working_days must be {{standard: N or null, enhanced: N or null}}, got {value!r}")
        return None, None
    days = {}
    for kind in ("standard", "enhanced"):
        n = value[kind]
        if n is not None and (not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= MAX_TIMESCALE_DAYS):
            problems.append(
                f"{where}: timescale_working_days.{kind} must be a whole number of working days from 0 to "
                f"{MAX_TIMESCALE_DAYS}, or null where the Code gives none; got {n!r}"
            )
            n = None
        days[kind] = n
    std, enh = days["standard"], days["enhanced"]
    if std is not None and enh is not None and enh > std:
        problems.append(f"{where}: timescale_working_days: enhanced-rights victims get {enh} working days but standard victims {std}; "
                        "the Code never gives enhanced victims longer")
    return std, enh


# --- the contact log -----------------------------------------------------------------------------

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _whole_days(where: str, mapping: dict, key: str, low: int, problems: list[str]) -> int:
    value = mapping.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= 366:
        problems.append(f"{where}: {key} must be a whole number of days from {low} to 366, got {value!r}")
        return low
    return value


def _codes(where: str, value, allowed: tuple[str, ...], what: str, problems: list[str]) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        problems.append(f"{where}: must be a non-empty list of {what}")
        return ()
    unknown = [v for v in value if v not in allowed]
    if unknown:
        problems.append(f"{where}: unknown {what} {', '.join(map(repr, unknown))} (allowed: {', '.join(allowed)})")
    return tuple(v for v in value if v in allowed)


def _build_contact_log(raw, problems: list[str]) -> ContactLogSettings | None:
    where = f"contact_log (line {getattr(raw, 'line', '?')})"
    if not isinstance(raw, dict):
        problems.append(f"{where}: must be a mapping of settings")
        return None
    _unknown_keys(where, raw, _CONTACT_LOG_KEYS, problems)
    for key in sorted(_CONTACT_LOG_KEYS - raw.keys()):
        problems.append(f"{where}: {key!r} is required")
    hours = raw.get("working_hours") or {}
    start, end = (hours.get("start"), hours.get("end")) if isinstance(hours, dict) else (None, None)
    if not (isinstance(start, str) and isinstance(end, str) and _HHMM.match(start) and _HHMM.match(end) and start < end):
        problems.append(f"{where}: working_hours must be {{start: \"HH:MM\", end: \"HH:MM\"}} with start before end")
        start, end = "09:00", "17:00"
    face = raw.get("face_to_face") or {}
    if not isinstance(face, dict):
        problems.append(f"{where}: face_to_face must be {{kinds: [...], channels: [...]}}")
        face = {}
    return ContactLogSettings(
        initial_contact_standard_working_days=_whole_days(where, raw, "initial_contact_standard_working_days", 0, problems),
        default_update_frequency_days=_whole_days(where, raw, "default_update_frequency_days", 1, problems),
        update_window_days=_whole_days(where, raw, "update_window_days", 1, problems),
        working_hours=(start, end),
        update_kinds=_codes(f"{where}: update_kinds", raw.get("update_kinds"), contract.CONTACT_KINDS, "contact kind", problems),
        face_to_face_kinds=_codes(f"{where}: face_to_face.kinds", face.get("kinds"), contract.CONTACT_KINDS, "contact kind", problems),
        face_to_face_channels=_codes(f"{where}: face_to_face.channels", face.get("channels"), contract.CONTACT_CHANNELS,
                                     "contact channel", problems),
    )


def _build_contact_measures(raw, vocab: dict, seen_codes: dict[str, str], problems: list[str]) -> tuple[ContactMeasure, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        problems.append("top level: 'contact_measures' must be a list")
        return ()
    measures = []
    for index, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            problems.append(f"contact measure {index}: must be a mapping")
            continue
        code = item.get("code")
        where = f"contact measure {code or index!s} (line {getattr(item, 'line', '?')})"
        before = len(problems)
        _unknown_keys(where, item, _CONTACT_MEASURE_KEYS, problems)
        for key in sorted(_CONTACT_MEASURE_KEYS - {"note"} - item.keys()):
            problems.append(f"{where}: {key!r} is required")
        if isinstance(code, str):
            if not re.match(r"^c_[a-z0-9]+(?:_[a-z0-9]+)*$", code):
                problems.append(f"{where}: code must be lower_snake_case starting with 'c_'")
            if code in seen_codes:
                problems.append(f"{where}: duplicate code {code!r}, already used at {seen_codes[code]}")
            seen_codes[code] = where
        right = item.get("related_right")
        if not isinstance(right, int) or isinstance(right, bool) or right not in RIGHT_NUMBERS:
            problems.append(f"{where}: related_right must be 1 to 12, got {right!r}")
        if item.get("trigger") is not None and item["trigger"] not in vocab["triggers"]:
            problems.append(f"{where}: trigger {item['trigger']!r} is not one of the triggers listed at the top of the file")
        texts = {k: _text(where, item, k, problems) for k in ("label", "description", "numerator", "denominator", "period")}
        note = _text(where, item, "note", problems, required=False)
        if len(problems) == before:
            measures.append(ContactMeasure(code=code, related_right=right, trigger=item["trigger"], note=note, **texts))
    return tuple(measures)
