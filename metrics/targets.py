"""Targets the Victims & Witnesses Board sets (metrics/targets.yaml): optional, one per measure and
rate, each with who set it and when. Pure apart from reading the file; validated on load with a
message naming the entry, its line and the field at fault.

A target is an "at least" rate between 0 and 1 (every compliance rate is better higher). It is used in
one way only: the assurance question of Making Data Count (can we rely on meeting it?), by comparing it
with the process limits of the measure's XmR chart (metrics.spc). It is never a red/amber/green rating
of a single month (peers-and-conventions.md B1, B4).

File layout:

    version: 1
    targets:
      - measure: r4_referral_to_support_service   # an entitlement code or a contact-measure code
        rate: delivered                           # entitlements: delivered (default) or on_time
        target: 0.80                              # 0 to 1: 80% is written 0.80
        set_by: Victims and Witnesses Board
        set_on: 2025-10-15
        note: optional words shown with the target
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from metrics.catalogue import Catalogue, StrictLoader

__all__ = ["DEFAULT_TARGETS_PATH", "ENTITLEMENT_RATES", "CONTACT_RATE", "Target", "Targets", "TargetsError",
           "parse_targets", "load_targets", "default_rate"]

DEFAULT_TARGETS_PATH = Path(__file__).resolve().parent / "targets.yaml"
ENTITLEMENT_RATES = ("delivered", "on_time")  # the two rates of an entitlement
CONTACT_RATE = "rate"  # a contact measure has a single rate
_TOP_KEYS = {"version", "targets"}
_ENTRY_KEYS = {"measure", "rate", "target", "set_by", "set_on", "note"}
_RATE_WORDS = {"delivered": "delivered rate", "on_time": "on-time rate", CONTACT_RATE: "rate"}


class _TargetsLoader(StrictLoader):
    """The catalogue's strict loader, reading dates as text so a bad date is a message, not a crash."""


_TargetsLoader.add_constructor("tag:yaml.org,2002:timestamp", yaml.SafeLoader.construct_yaml_str)


class TargetsError(ValueError):
    """The targets file has mistakes; `problems` names each one (entry, line, field)."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


@dataclass(frozen=True)
class Target:
    measure: str  # entitlement or contact-measure code
    rate: str  # 'delivered' or 'on_time' for an entitlement; 'rate' for a contact measure
    target: float  # 0..1, "at least"
    set_by: str
    set_on: dt.date
    note: str | None = None
    line: int = 0  # where it is in the file, for messages

    def describe(self) -> str:
        """'Target 80% (set by the Board on 15 Oct 2025)' for captions and hover text."""
        return f"Target {self.target:.0%} (set by {self.set_by} on {self.set_on:%d %b %Y})"


@dataclass(frozen=True)
class Targets:
    """The board's targets by (measure, rate); empty when there is no file."""

    by_key: dict[tuple[str, str], Target] = field(default_factory=dict)
    source: str = ""

    def get(self, measure: str, rate: str | None = None) -> Target | None:
        """The target for a measure's rate (default: its delivered rate, or a contact measure's rate)."""
        if rate is None:
            return self.by_key.get((measure, "delivered")) or self.by_key.get((measure, CONTACT_RATE))
        return self.by_key.get((measure, rate))

    def for_measure(self, measure: str) -> tuple[Target, ...]:
        return tuple(t for (code, _), t in self.by_key.items() if code == measure)

    def __iter__(self) -> Iterator[Target]:
        return iter(self.by_key.values())

    def __len__(self) -> int:
        return len(self.by_key)

    def __hash__(self) -> int:  # so pages can pass targets to cached functions
        return hash(tuple(sorted((k, v.target) for k, v in self.by_key.items())))


def default_rate(catalogue: Catalogue, measure: str) -> str:
    """'rate' for a contact measure, else 'delivered'."""
    return CONTACT_RATE if measure in {m.code for m in catalogue.contact_measures} else "delivered"


def load_targets(path: str | Path, catalogue: Catalogue, *, required: bool = False) -> Targets:
    """Read and validate a targets file. A missing file means no targets unless `required` (a path
    someone configured on purpose); raises TargetsError naming every problem."""
    path = Path(path)
    if not path.exists():
        if required:
            raise TargetsError(path.name, [f"the file {path} does not exist"])
        return Targets(source=path.name)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TargetsError(path.name, [f"cannot be read: {exc.__class__.__name__}"]) from None
    return parse_targets(text, catalogue, source=path.name)


def parse_targets(text: str, catalogue: Catalogue, source: str = "targets.yaml") -> Targets:
    """Validate targets YAML text against the catalogue; raises TargetsError naming every problem."""
    try:
        doc = yaml.load(text, Loader=_TargetsLoader)  # noqa: S506 - a SafeLoader
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise TargetsError(source, [f"{where}not valid YAML: {problem}"]) from None
    if doc is None:  # an empty file: no targets
        return Targets(source=source)
    if not isinstance(doc, dict):
        raise TargetsError(source, ["the file must be a mapping with the keys 'version' and 'targets'"])
    problems: list[str] = []
    for key in doc:
        if key not in _TOP_KEYS:
            problems.append(f"top level: unknown key {key!r} (allowed: {', '.join(sorted(_TOP_KEYS))})")
    version = doc.get("version", 1)
    if version != 1 or isinstance(version, bool):
        problems.append(f"top level: 'version' must be 1, got {version!r}")
    raw = doc.get("targets") or []
    if not isinstance(raw, list):
        problems.append("top level: 'targets' must be a list of entries, each starting with '- measure:'")
        raw = []

    entitlements = {e.code: e for e in catalogue.measured_entitlements}
    unmeasured = {e.code for e in catalogue.entitlements if not e.measured}
    contact = {m.code for m in catalogue.contact_measures}
    found: dict[tuple[str, str], Target] = {}
    for index, entry in enumerate(raw, start=1):
        line = getattr(entry, "line", 0)
        where = f"target {index} (line {line})" if line else f"target {index}"
        if not isinstance(entry, dict):
            problems.append(f"{where}: must be a mapping with 'measure', 'target', 'set_by' and 'set_on'")
            continue
        measure = entry.get("measure")
        if isinstance(measure, str) and measure.strip():
            measure = measure.strip()
            where = f"target {index} '{measure}' (line {line})" if line else f"target {index} '{measure}'"
        before = len(problems)
        for key in entry:
            if key not in _ENTRY_KEYS:
                problems.append(f"{where}: unknown key {key!r} (allowed: {', '.join(sorted(_ENTRY_KEYS))})")
        if not isinstance(measure, str) or not measure:
            problems.append(f"{where}: 'measure' is required: an entitlement code or a contact-measure code")
            continue
        if measure in unmeasured:
            problems.append(f"{where}: {measure!r} is not measured from records, so it cannot have a target")
            continue
        if measure not in entitlements and measure not in contact:
            problems.append(f"{where}: {measure!r} is not an entitlement or contact-measure code in the catalogue")
            continue

        rate = entry.get("rate")
        if measure in contact:
            if rate not in (None, CONTACT_RATE):
                problems.append(f"{where}: a contact measure has a single rate; leave 'rate' out (got {rate!r})")
            rate = CONTACT_RATE
        else:
            rate = "delivered" if rate is None else rate
            if rate not in ENTITLEMENT_RATES:
                problems.append(f"{where}: 'rate' must be one of {', '.join(ENTITLEMENT_RATES)}, got {rate!r}")
            elif rate == "on_time" and not entitlements[measure].has_timescale:
                problems.append(f"{where}: {measure!r} has no timescale in the Code, so it has no on-time rate")

        value = entry.get("target")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            problems.append(f"{where}: 'target' must be a number from 0 to 1 (80% is written 0.80), got {value!r}")
        elif not 0 <= value <= 1:
            hint = f" (did you mean {value / 100:.2f}?)" if 1 < value <= 100 else ""
            problems.append(f"{where}: 'target' must be from 0 to 1 (80% is written 0.80), got {value!r}{hint}")

        set_by = entry.get("set_by")
        if not isinstance(set_by, str) or not set_by.strip():
            problems.append(f"{where}: 'set_by' is required: who set the target, e.g. Victims and Witnesses Board")
        set_on = entry.get("set_on")
        if isinstance(set_on, str):
            try:
                set_on = dt.date.fromisoformat(set_on.strip())
            except ValueError:
                pass
        if not isinstance(set_on, dt.date):
            problems.append(f"{where}: 'set_on' must be the date the target was set, as YYYY-MM-DD, got {set_on!r}")
        note = entry.get("note")
        if note is not None and (not isinstance(note, str) or not note.strip()):
            problems.append(f"{where}: 'note' must be text if given, got {note!r}")

        if len(problems) > before:
            continue
        key = (measure, rate)
        if key in found:
            rate_words = "" if rate == CONTACT_RATE else f" ({_RATE_WORDS[rate]})"
            problems.append(f"{where}: a second target for {measure!r}{rate_words}; the first is on line "
                            f"{found[key].line}. Keep one.")
            continue
        found[key] = Target(measure=measure, rate=rate, target=float(value), set_by=set_by.strip(), set_on=set_on,
                            note=note.strip() if isinstance(note, str) else None, line=line)
    if problems:
        raise TargetsError(source, problems)
    return Targets(by_key=found, source=source)
