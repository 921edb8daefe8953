"""Synthetic demo data: an Essex-like force's Victims' Code records, generated in one vectorised pass.

`generate_demo` returns one DataFrame per contract table and the date the "export" was taken;
`build_demo_store` writes them to a store. The same arguments give identical tables: a single
seeded random generator is drawn from in a fixed order, and nothing is read from the clock.

Inside, times are int64 seconds since 1970. An event that never happens gets _NEVER, which is later
than any as-of date, so "had it happened by the export?" is one comparison, and anything that would
happen after the export falls away when the frames are built.

The data carries four stories that a board should be able to find with the dashboard:
  1. drift: r4_needs_assessment is delivered less every month (about 90% at first, 72% at the end);
  2. a fix: Tendring refers victims to support late (about half on time) until a panel action is
     done, then matches the force (about three quarters);
  3. timeliness: enhanced-rights victims get Right 6 decisions on time (1 working day) less often
     than standard victims (5 working days);
  4. uptake: more victims consent to a referral once a panel action on explaining support at first
     contact is done.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from data_access.store import build_store
from metrics import contract
from metrics.calendar import working_day_calendar
from metrics.catalogue import Catalogue, Entitlement, default_catalogue
from metrics.filters import add_months, month_end

__all__ = ["generate_demo", "build_demo_store"]

log = logging.getLogger(__name__)

_DAY = 86_400
_HOUR = 3_600
_NEVER = np.int64(2**62)  # "did not happen": after any as-of date, so it masks itself out
_EPOCH = date(1970, 1, 1)

# --- the force ---------------------------------------------------------------------------------

# district, population (thousands), command area, how much longer than usual its update gaps run
_DISTRICTS = (
    ("Basildon", 185, "South", 1.10),
    ("Braintree", 155, "North", 0.95),
    ("Brentwood", 77, "West", 0.90),
    ("Castle Point", 90, "South", 1.00),
    ("Chelmsford", 182, "West", 0.95),
    ("Colchester", 194, "North", 1.05),
    ("Epping Forest", 135, "West", 1.10),
    ("Harlow", 94, "West", 1.15),
    ("Maldon", 66, "West", 0.90),
    ("Rochford", 88, "South", 1.00),
    ("Tendring", 148, "North", 1.25),
    ("Uttlesford", 92, "North", 0.90),
    ("Southend-on-Sea", 181, "South", 1.15),
    ("Thurrock", 177, "South", 1.20),
)
_DISTRICT_NAMES = tuple(d[0] for d in _DISTRICTS)
_TENDRING = _DISTRICT_NAMES.index("Tendring")
_WCU = "Witness Care Unit"
# Team codes: district i's LPT is i, its CID is i + 14, then the Witness Care Unit.
_TEAMS = (*(f"{d} LPT" for d in _DISTRICT_NAMES), *(f"{d} CID" for d in _DISTRICT_NAMES), _WCU)
_WCU_TEAM = len(_TEAMS) - 1


@dataclass(frozen=True)
class _Offence:
    share: float  # % of recorded crime
    no_victim: float  # chance a case has no victim (state-based offences)
    screened_out: float  # chance of a decision not to investigate
    suspect: float  # chance an investigated case identifies a suspect
    domestic_abuse: float
    hate_crime: float
    cid: float  # chance CID rather than the local policing team investigates
    update_gap: float  # how much longer than agreed the gaps between updates run
    vcs: float  # chance a conviction brings 12 months' custody or more (Victim Contact Scheme)


# In contract.OFFENCE_GROUPS order.
_OFFENCES = (
    _Offence(40.0, 0.00, 0.22, 0.30, 0.28, 0.025, 0.15, 1.00, 0.13),  # violence_against_the_person
    _Offence(4.5, 0.00, 0.03, 0.55, 0.25, 0.010, 1.00, 0.85, 0.35),  # sexual_offences
    _Offence(1.0, 0.00, 0.15, 0.35, 0.00, 0.020, 1.00, 1.00, 0.40),  # robbery
    _Offence(3.7, 0.00, 0.30, 0.20, 0.02, 0.010, 0.30, 1.10, 0.00),  # burglary
    _Offence(7.0, 0.00, 0.65, 0.15, 0.00, 0.000, 0.00, 1.35, 0.00),  # vehicle_offences
    _Offence(18.5, 0.00, 0.55, 0.22, 0.01, 0.005, 0.00, 1.30, 0.00),  # theft
    _Offence(8.7, 0.00, 0.55, 0.25, 0.08, 0.030, 0.05, 1.30, 0.00),  # criminal_damage_arson
    _Offence(4.7, 0.97, 0.02, 0.95, 0.00, 0.000, 0.10, 1.10, 0.00),  # drug_offences
    _Offence(1.2, 0.97, 0.02, 0.90, 0.00, 0.000, 0.20, 1.10, 0.00),  # possession_of_weapons
    _Offence(7.5, 0.10, 0.25, 0.40, 0.06, 0.150, 0.00, 1.10, 0.00),  # public_order
    _Offence(2.3, 0.75, 0.10, 0.50, 0.00, 0.020, 0.30, 1.10, 0.00),  # misc_crimes_against_society
    _Offence(0.9, 0.00, 0.50, 0.15, 0.00, 0.000, 0.30, 1.40, 0.00),  # fraud
)
_G = {name: i for i, name in enumerate(contract.OFFENCE_GROUPS)}
_VIOLENT_OR_SEXUAL = np.isin(np.arange(len(_OFFENCES)),
                             [_G["violence_against_the_person"], _G["sexual_offences"], _G["robbery"]])

# Reports by hour of day: quiet overnight, busiest late afternoon and evening.
_REPORT_HOURS = np.array([2, 1.5, 1.2, 1, 1, 1.2, 2, 3, 4, 4.5, 5, 5, 5, 5, 5, 5.5, 6, 6, 6, 5.5, 5, 4.5, 3.5, 2.5])

_CASE_OUTCOMES = ("screened_out", "no_suspect_identified", "evidential_difficulties", "victim_withdrew_support",
                  "out_of_court_disposal", "convicted", "acquitted", "discontinued")
_O = {name: i for i, name in enumerate(_CASE_OUTCOMES)}

# Age bands (contract.AGE_BANDS order) for victims in general, of sexual offences and of domestic abuse.
_AGE_PROFILES = np.array([
    [11, 14, 21, 18, 15, 10, 8, 3],
    [38, 18, 16, 11, 8, 4, 2, 3],
    [3, 17, 28, 22, 16, 8, 4, 2],
], dtype=float)
# Ethnicity (contract.ETHNICITIES order) for victims in general and of hate crime.
_ETHNICITY_PROFILES = np.array([
    [4.5, 3.0, 2.0, 84.0, 1.5, 5.0],
    [20, 18, 6, 42, 8, 6],
], dtype=float)

# --- the story (see the module docstring) --------------------------------------------------------

_NEEDS_ASSESSMENT_FIRST, _NEEDS_ASSESSMENT_LAST = 0.90, 0.72
_TENDRING_FIX_AT = 0.40  # share of the period after which Tendring's referral action is done
_CONSENT_FIX_AT = 0.55  # ... and the action on explaining support at first contact
# Of the referrals made (88% of those owed), the share made within 2 working days: about 76% on time in all.
_REFERRAL_ON_TIME = 0.89
_REFERRAL_ON_TIME_TENDRING = 0.58  # ... in Tendring before its action: about half on time
_CONSENT_BEFORE, _CONSENT_AFTER = 0.45, 0.55
_LEAVE_DELAY_CHANCE = 0.35  # chance staff leave adds 1-3 working days at Christmas and in August

# --- small helpers -------------------------------------------------------------------------------


def _epoch_day(d: date) -> int:
    return (d - _EPOCH).days


def _date(day: int) -> date:
    return _EPOCH + timedelta(days=int(day))


def _office_seconds(rng: np.random.Generator, n: int) -> np.ndarray:
    """A time of day between 08:00 and 18:00, in seconds."""
    return 8 * _HOUR + rng.integers(0, 10 * _HOUR, n)


def _on_day(rng: np.random.Generator, day: np.ndarray, after: np.ndarray) -> np.ndarray:
    """A working-hours time on `day`; if `after` is that same day, minutes to hours after it (before midnight)."""
    soon = np.minimum(after + rng.integers(300, 3 * _HOUR, len(day)), (day + 1) * _DAY - 1)
    return np.maximum(np.maximum(day * _DAY + _office_seconds(rng, len(day)), soon), after)


def _after_days(rng: np.random.Generator, ts: np.ndarray, median: float, sigma: float) -> np.ndarray:
    """`ts` plus a log-normal number of (calendar) days; _NEVER stays _NEVER."""
    gap = (median * np.exp(sigma * rng.standard_normal(len(ts))) * _DAY).astype(np.int64)
    return np.where(ts < _NEVER, ts + gap, _NEVER)


def _choose(rng: np.random.Generator, profiles: np.ndarray, which: np.ndarray) -> np.ndarray:
    """One category per row, drawn from the probability row profiles[which[row]]."""
    cumulative = np.cumsum(profiles / profiles.sum(axis=1, keepdims=True), axis=1)[which]
    u = rng.random(len(which))
    return np.minimum((u[:, None] > cumulative).sum(axis=1), profiles.shape[1] - 1)


def _pick(rng: np.random.Generator, n: int, weights: Sequence[float]) -> np.ndarray:
    p = np.asarray(weights, dtype=float)
    return rng.choice(len(p), size=n, p=p / p.sum())


def _ids(prefix: str, n: int, width: int, index: np.ndarray | None = None) -> pd.Series:
    """Pseudonymous ids prefix0000001.. for n rows, or the ids of rows `index` of an n-row table."""
    width = max(width, len(str(n)))
    numbers = np.arange(1, n + 1) if index is None else np.asarray(index, dtype=np.int64) + 1
    return prefix + pd.Series(numbers).astype("str").str.zfill(width)


def _text(codes: np.ndarray, labels: Sequence[str]) -> pd.Series:
    """A text column from integer codes into `labels` (-1 = null), built through Arrow for speed."""
    codes = np.asarray(codes, dtype=np.int32)
    indices = pa.array(codes, mask=codes < 0)
    values = pa.DictionaryArray.from_arrays(indices, pa.array(list(labels), pa.string())).cast(pa.string())
    return pd.Series(values, dtype=pd.StringDtype("pyarrow", na_value=np.nan))


def _timestamps(ts: np.ndarray, as_of_end: int) -> pd.Series:
    """Seconds to datetime64; anything after the export (including _NEVER) becomes NaT."""
    out = np.where(ts <= as_of_end, ts, 0).astype("datetime64[s]")
    out[ts > as_of_end] = np.datetime64("NaT")
    return pd.Series(out.astype("datetime64[us]"))


def _dates(days: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[s]"))


def _nullable_dates(days: np.ndarray) -> pd.Series:
    days = np.asarray(days, dtype=np.int64)
    out = np.where(days < _NEVER, days, 0).astype("datetime64[D]").astype("datetime64[s]")
    out[days >= _NEVER] = np.datetime64("NaT")
    return pd.Series(out)


# --- time ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Period:
    first_day: int  # epoch day of the first day of the first month
    as_of_day: int  # epoch day of data_as_of, the last day of the last month
    month_starts: np.ndarray  # epoch day of each month's first day, then of the day after the period

    @classmethod
    def of(cls, start: date, months: int) -> _Period:
        starts = np.array([_epoch_day(add_months(start, k)) for k in range(months + 1)], dtype=np.int64)
        return cls(int(starts[0]), int(starts[-1]) - 1, starts)

    @property
    def as_of_end(self) -> int:
        return (self.as_of_day + 1) * _DAY - 1

    def month_index(self, day: np.ndarray) -> np.ndarray:
        return np.clip(np.searchsorted(self.month_starts, day, side="right") - 1, 0, len(self.month_starts) - 2)

    def day_at(self, fraction: float) -> int:
        return self.first_day + round(fraction * (self.as_of_day - self.first_day))


class _WorkingDays:
    """Working-day arithmetic on epoch-day arrays, from the same calendar the store measures with."""

    def __init__(self, first: date, last: date):
        calendar = working_day_calendar(first, last)
        self.first = _epoch_day(first)
        self.is_working = calendar["is_working_day"].to_numpy(dtype=bool)
        self.seq = calendar["wd_seq"].to_numpy(dtype=np.int64)
        self.seq_next = calendar["wd_seq_next"].to_numpy(dtype=np.int64)
        self.working = self.first + np.flatnonzero(self.is_working)  # epoch day of working day k is working[k - 1]
        days = pd.DatetimeIndex(pd.to_datetime(calendar["day"]))
        month, dom = days.month.to_numpy(), days.day.to_numpy()
        christmas = ((month == 12) & (dom >= 20)) | ((month == 1) & (dom <= 3))
        self.leave = christmas | (month == 8)  # staff leave: deliveries slow down
        # Gaps between updates stretch over the summer holidays and Christmas.
        self.update_gap = np.where(christmas, 1.35, np.where((month == 7) | (month == 8), 1.3, 1.0))

    def _index(self, day: np.ndarray) -> np.ndarray:
        return np.clip(day - self.first, 0, len(self.seq) - 1)

    def _day_of(self, seq: np.ndarray) -> np.ndarray:
        return self.working[np.clip(seq, 1, len(self.working)) - 1]

    def add(self, day: np.ndarray, n: np.ndarray | int) -> np.ndarray:
        """The n-th working day after `day`, counted as the store counts it (n = 0: the day itself)."""
        return np.maximum(self._day_of(self.seq[self._index(day)] + n), day)

    def next_working(self, day: np.ndarray) -> np.ndarray:
        """`day` if it is a working day, else the first working day after it."""
        return np.maximum(self._day_of(self.seq_next[self._index(day)]), day)

    def working_day(self, day: np.ndarray) -> np.ndarray:
        return self.is_working[self._index(day)]

    def in_leave(self, day: np.ndarray) -> np.ndarray:
        return self.leave[self._index(day)]

    def update_gap_on(self, day: np.ndarray) -> np.ndarray:
        return self.update_gap[self._index(day)]


# --- cases ---------------------------------------------------------------------------------------


@dataclass
class _Cases:
    n: int
    reported: np.ndarray
    recorded: np.ndarray
    group: np.ndarray
    district: np.ndarray
    team: np.ndarray
    domestic_abuse: np.ndarray
    hate_crime: np.ndarray
    n_victims: np.ndarray
    # lifecycle events (seconds; _NEVER = did not happen)
    screened_out: np.ndarray  # decision not to investigate
    allocated: np.ndarray
    suspect_identified: np.ndarray
    arrested: np.ndarray
    interviewed: np.ndarray
    released_without_charge: np.ndarray
    bailed_or_rui: np.ndarray
    decision: np.ndarray  # charge, out-of-court disposal or no further action
    police_not_charged: np.ndarray  # no further action after interview under caution (Right to Review)
    charged: np.ndarray
    hearing_details: np.ndarray  # hearing details reach the Witness Care Unit
    bail_hearing_outcome: np.ndarray
    not_guilty_plea: np.ndarray
    witness_required: np.ndarray  # CPS confirms the victim must give evidence
    case_outcome: np.ndarray  # the court's outcome reaches the Witness Care Unit
    sentence: np.ndarray  # the sentence reaches the Witness Care Unit
    sentenced: np.ndarray  # the day of sentencing
    vcs_eligible: np.ndarray
    outcome: np.ndarray
    closed: np.ndarray


def _make_cases(rng: np.random.Generator, n: int, period: _Period, wd: _WorkingDays) -> _Cases:
    # When: months weighted by their length and a mild summer peak, any day within the month.
    lengths = np.diff(period.month_starts)
    calendar_month = pd.DatetimeIndex(period.month_starts[:-1].astype("datetime64[D]")).month.to_numpy()
    weights = lengths * (1 + 0.08 * np.cos(2 * np.pi * (calendar_month - 7) / 12))
    month = np.repeat(np.arange(len(lengths)), rng.multinomial(n, weights / weights.sum()))
    report_day = period.month_starts[month] + (rng.random(n) * lengths[month]).astype(np.int64)
    reported = np.sort(report_day * _DAY + _pick(rng, n, _REPORT_HOURS) * _HOUR + rng.integers(0, _HOUR, n))
    report_day = reported // _DAY
    recorded = reported + np.minimum(2 * _HOUR * np.exp(1.2 * rng.standard_normal(n)), 7 * _DAY).astype(np.int64)

    offence = {name: np.array([getattr(o, name) for o in _OFFENCES]) for name in _Offence.__dataclass_fields__}
    group = _pick(rng, n, offence["share"])
    district = _pick(rng, n, [d[1] for d in _DISTRICTS])
    domestic_abuse = rng.random(n) < offence["domestic_abuse"][group]
    hate_crime = rng.random(n) < offence["hate_crime"][group]
    cid = rng.random(n) < np.where(domestic_abuse, 0.35, offence["cid"][group])
    team = district + np.where(cid, len(_DISTRICTS), 0)
    has_victim = rng.random(n) >= offence["no_victim"][group]
    n_victims = np.where(has_victim, 1 + (rng.random(n) < 0.07), 0)

    def at(day: np.ndarray, after: np.ndarray, happens: np.ndarray) -> np.ndarray:
        return np.where(happens, _on_day(rng, day, np.where(happens, after, 0)), _NEVER)

    # Screening: volume crime is often filed a few working days after report; domestic abuse and hate crime rarely.
    p_screen = offence["screened_out"][group] * np.where(domestic_abuse | hate_crime, 0.2, 1.0)
    screened = rng.random(n) < p_screen
    screened_out = at(wd.add(report_day, 1 + rng.geometric(0.35, n)), reported, screened)
    allocated = at(wd.add(report_day, rng.integers(0, 4, n)), reported, ~screened)

    # Suspects: arrest, interview under caution, then charge, out-of-court disposal or no further action.
    suspect = ~screened & (rng.random(n) < np.where(domestic_abuse, 0.65, offence["suspect"][group]))
    suspect_identified = np.where(suspect, _after_days(rng, allocated, 2.0, 1.0), _NEVER)
    arrest = suspect & (rng.random(n) < 0.7)
    arrested = np.where(arrest, suspect_identified + (rng.exponential(1.5, n) * _DAY).astype(np.int64), _NEVER)
    interview = suspect & (arrest | (rng.random(n) < 0.6))
    voluntary_interview = _after_days(rng, suspect_identified, 14, 0.5)
    interviewed = np.where(arrest, arrested + rng.integers(2 * _HOUR, 14 * _HOUR, n),
                           np.where(interview, voluntary_interview, _NEVER))
    # A quarter of suspect cases are charged (28.4% of the 88% interviewed), 15% of the interviewed get an
    # out-of-court disposal, and the rest, with suspects never interviewed, end in no further action.
    kind = rng.random(n)
    charge = interview & (kind < 0.284)
    oocd = interview & (kind >= 0.284) & (kind < 0.434)
    nfa = (interview & (kind >= 0.434)) | (suspect & ~interview)
    at_interview = interview & (rng.random(n) < np.where(charge, 0.35, np.where(oocd, 0.5, 0.55)))
    soon_after_interview = interviewed + rng.integers(1 * _HOUR, 4 * _HOUR, n)
    released_without_charge = np.where(nfa & at_interview, soon_after_interview, _NEVER)
    bailed_or_rui = np.where(interview & ~at_interview, interviewed + rng.integers(1 * _HOUR, 3 * _HOUR, n), _NEVER)
    later = _after_days(rng, interviewed, 45, 0.8)
    no_interview_decision = _after_days(rng, suspect_identified, 40, 0.6)
    decision = np.where(at_interview, soon_after_interview,
                        np.where(interview, later, np.where(nfa, no_interview_decision, _NEVER)))
    police_not_charged = np.where(nfa & interview, decision, _NEVER)
    charged = np.where(charge, decision, _NEVER)

    # Court: hearings, pleas, trials and sentences, as the Witness Care Unit hears of them.
    charge_day = charged // _DAY
    custody = charge & at_interview
    first_hearing = np.where(custody, wd.add(charge_day, 1), wd.add(charge_day, rng.integers(10, 26, n)))
    hearing_details = at(wd.add(charge_day, rng.integers(0, 3, n)), charged, charge)
    bail_hearing_outcome = at(wd.add(first_hearing, rng.integers(0, 4, n)), charged, charge & (rng.random(n) < 0.6))
    route = rng.random(n)
    discontinued = charge & (route < 0.08)
    guilty_plea = charge & (route >= 0.08) & (route < 0.70)
    trial = charge & (route >= 0.70)
    crown = rng.random(n) < 0.35
    plea_day = np.where(trial & crown, wd.next_working(first_hearing + 28), first_hearing)
    not_guilty_plea = at(plea_day, charged, trial)
    witness_required = at(wd.add(plea_day, rng.integers(3, 21, n)), not_guilty_plea, trial)
    wait_for_trial = np.where(crown, 220, 90) * np.exp(0.4 * rng.standard_normal(n))  # days; Crown Court backlog
    trial_day = wd.next_working(plea_day + wait_for_trial.astype(np.int64))
    trial_convicted = trial & (rng.random(n) < 0.43)  # with 62% guilty pleas, about 75% of charged cases convict
    convicted = guilty_plea | trial_convicted
    outcome_day = np.where(guilty_plea, first_hearing,
                           np.where(trial, trial_day, wd.next_working(first_hearing + rng.integers(10, 80, n))))
    case_outcome = at(wd.add(outcome_day, rng.integers(0, 4, n)), charged, charge)
    report_needed = rng.random(n) < 0.45  # adjourned for a pre-sentence report
    sentence_day = np.where(report_needed | trial, wd.next_working(outcome_day + rng.integers(21, 43, n)), outcome_day)
    sentenced = at(sentence_day, charged, convicted)
    sentence = at(wd.add(sentence_day, rng.integers(0, 3, n)), sentenced, convicted)
    vcs_eligible = convicted & (rng.random(n) < offence["vcs"][group])

    # Outcome and closure.
    withdrew = rng.random(n) < np.where(domestic_abuse, 0.35, 0.15)
    no_suspect_closed = _after_days(rng, allocated, 30, 0.7)
    closed = np.select(
        [screened, ~suspect, nfa, oocd, convicted, charge],
        [screened_out, no_suspect_closed, decision + rng.integers(0, 3 * _DAY, n), decision, sentenced,
         case_outcome],
        _NEVER,
    )
    outcome = np.select(
        [screened, ~suspect, nfa & withdrew, nfa, oocd, convicted, trial, discontinued],
        [_O["screened_out"], _O["no_suspect_identified"], _O["victim_withdrew_support"], _O["evidential_difficulties"],
         _O["out_of_court_disposal"], _O["convicted"], _O["acquitted"], _O["discontinued"]],
        -1,
    )
    return _Cases(
        n=n, reported=reported, recorded=recorded, group=group, district=district, team=team,
        domestic_abuse=domestic_abuse, hate_crime=hate_crime, n_victims=n_victims,
        screened_out=screened_out, allocated=allocated, suspect_identified=suspect_identified, arrested=arrested,
        interviewed=interviewed, released_without_charge=released_without_charge, bailed_or_rui=bailed_or_rui,
        decision=decision, police_not_charged=police_not_charged, charged=charged, hearing_details=hearing_details,
        bail_hearing_outcome=bail_hearing_outcome, not_guilty_plea=not_guilty_plea, witness_required=witness_required,
        case_outcome=case_outcome, sentence=sentence, sentenced=sentenced, vcs_eligible=vcs_eligible,
        outcome=outcome, closed=closed,
    )


# --- victims -------------------------------------------------------------------------------------


@dataclass
class _Victims:
    n: int
    case: np.ndarray  # index into the cases, ascending
    age_band: np.ndarray
    sex: np.ndarray
    ethnicity: np.ndarray
    disability: np.ndarray
    category: np.ndarray  # index into contract.ENHANCED_CATEGORIES, -1 = standard
    enhanced: np.ndarray
    needs_language_help: np.ndarray
    vulnerable_or_intimidated: np.ndarray  # for special measures (sexual-offence victims count automatically)
    interview_arranged: np.ndarray
    statement_or_charge: np.ndarray  # witness statement taken, or the suspect charged if sooner
    special_measures_ruling: np.ndarray


def _make_victims(rng: np.random.Generator, cases: _Cases, wd: _WorkingDays) -> _Victims:
    case = np.repeat(np.arange(cases.n), cases.n_victims)
    n = len(case)
    group = cases.group[case]
    sexual = group == _G["sexual_offences"]
    domestic_abuse = cases.domestic_abuse[case]
    hate_crime = cases.hate_crime[case]

    age_band = _choose(rng, _AGE_PROFILES, np.where(sexual, 1, np.where(domestic_abuse, 2, 0)))
    p_female = np.where(sexual, 0.85, np.where(domestic_abuse, 0.78, np.where(group == _G["robbery"], 0.25, 0.47)))
    u = rng.random(n)
    sex = np.select([u < 0.02, u < 0.023, u < 0.023 + p_female * 0.977], [3, 2, 0], 1)
    ethnicity = _choose(rng, _ETHNICITY_PROFILES, hate_crime.astype(int))
    disability = _pick(rng, n, [10, 78, 12])

    # Enhanced rights, by the Code's categories in priority order.
    under_18 = age_band == 0
    protected_groups = np.isin(group, [_G["violence_against_the_person"], _G["robbery"], _G["public_order"]])
    harassment_groups = np.isin(group, [_G["violence_against_the_person"], _G["public_order"],
                                        _G["criminal_damage_arson"]])
    most_serious = sexual | domestic_abuse | hate_crime
    vulnerable = under_18 | ((disability == 0) & (rng.random(n) < 0.03))
    intimidated = protected_groups & (rng.random(n) < 0.015)
    persistent = harassment_groups & (rng.random(n) < 0.02)
    discretionary = rng.random(n) < 0.005
    category = np.select([most_serious, vulnerable, intimidated, persistent, discretionary], [0, 2, 3, 1, 4], -1)
    language = rng.random(n) < np.select([np.isin(ethnicity, [0, 4]), np.isin(ethnicity, [1, 2])], [0.2, 0.05], 0.008)
    vul_or_int = np.isin(category, [2, 3]) | sexual | (most_serious & under_18)

    # The victim's own interview or statement, and special measures in trials.
    allocated = cases.allocated[case]
    suspect = cases.suspect_identified[case] < _NEVER
    arranged = (allocated < _NEVER) & (rng.random(n) < np.where(suspect, 0.9, 0.45))
    arranged_day = wd.add(allocated // _DAY, rng.integers(1, 8, n))
    interview_arranged = np.where(arranged, _on_day(rng, arranged_day, allocated), _NEVER)
    statement = np.where(arranged & (rng.random(n) < 0.92), _after_days(rng, interview_arranged, 3, 0.6), _NEVER)
    statement_or_charge = np.minimum(statement, cases.charged[case])
    plea = cases.not_guilty_plea[case]
    ruling = (plea < _NEVER) & vul_or_int & (rng.random(n) < 0.7)
    special_measures_ruling = np.where(ruling, _after_days(rng, plea, 35, 0.4), _NEVER)
    return _Victims(
        n=n, case=case, age_band=age_band, sex=sex, ethnicity=ethnicity, disability=disability, category=category,
        enhanced=category >= 0, needs_language_help=language, vulnerable_or_intimidated=vul_or_int,
        interview_arranged=interview_arranged, statement_or_charge=statement_or_charge,
        special_measures_ruling=special_measures_ruling,
    )


# --- entitlements: one spec per measured catalogue code ----------------------------------------------


@dataclass(frozen=True)
class _Timing:
    """How long deliveries take, in working days after the trigger (or after `ready`)."""

    on_time: float  # share of deliveries made within the timescale, standard victims
    on_time_enhanced: float | None = None  # ... enhanced victims (None = as standard)
    within: int = 2  # the timescale, where the catalogue gives none
    earliest: int = 0  # no delivery is quicker than this
    late_mean: float = 4.0  # mean working days past the timescale of a late delivery


@dataclass
class _Result:
    victim: np.ndarray
    trigger: np.ndarray
    delivered: np.ndarray  # when delivered or offered (even if after the export); _NEVER if not
    declined: np.ndarray
    outcome: np.ndarray  # index into contract.ENTITLEMENT_OUTCOMES, -1 = left empty
    reason: np.ndarray  # index into _World.reasons, -1 = none
    team: np.ndarray


_EMPTY = np.zeros(0, dtype=np.int64)
_NO_RESULT = _Result(_EMPTY, _EMPTY, _EMPTY, _EMPTY.astype(bool), _EMPTY.astype(np.int8), _EMPTY, _EMPTY)


# A chance: a constant, or per instance from (world, victim index, time) where time is the trigger
# (for `delivered`, exceptions) or the delivery (for `declined`).
_Chance = float | Callable[["_World", np.ndarray, np.ndarray], np.ndarray]


@dataclass(frozen=True)
class _Spec:
    code: str
    instances: Callable[[_World], tuple[np.ndarray, np.ndarray]]  # (victim index, trigger time) per instance owed
    delivered: _Chance  # chance it is delivered, or offered and declined
    timing: _Timing
    declined: _Chance = 0.0  # share of deliveries that were offers the victim turned down
    exceptions: tuple[tuple[str, _Chance], ...] = ()  # not applicable: (reason, chance)
    ready: Callable[[_World], np.ndarray] | None = None  # per victim: earliest time it can be delivered
    # (world, victim index, trigger, share on time) -> share on time, for stories about one place or time
    on_time_shift: Callable[[_World, np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None


@dataclass
class _World:
    rng: np.random.Generator
    period: _Period
    wd: _WorkingDays
    cases: _Cases
    victims: _Victims
    tendring_fixed: int  # epoch day Tendring's referral action is done
    consent_fixed: int  # epoch day the first-contact explanation action is done
    results: dict[str, _Result] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)
    _cache: dict[str, object] = field(default_factory=dict)

    def of_case(self, values: np.ndarray) -> np.ndarray:
        """A case attribute, per victim."""
        return values[self.victims.case]

    def reason_code(self, text: str) -> int:
        if text not in self.reasons:
            self.reasons.append(text)
        return self.reasons.index(text)

    def accepted(self, code: str) -> np.ndarray:
        """Per victim: when the entitlement was delivered and not declined (_NEVER otherwise, or if not measured)."""
        out = np.full(self.victims.n, _NEVER)
        result = self.results.get(code)
        if result is not None:
            out[result.victim] = np.where(result.declined, _NEVER, result.delivered)
        return out

    def cached(self, name: str, make: Callable[[], object]) -> object:
        # Derived events draw random numbers, so each is drawn once, when the spec table first needs it.
        if name not in self._cache:
            self._cache[name] = make()
        return self._cache[name]


def _chance(chance: _Chance, w: _World, v: np.ndarray, when: np.ndarray) -> np.ndarray:
    value = chance(w, v, when) if callable(chance) else chance
    return np.broadcast_to(np.asarray(value, dtype=float), v.shape)


def _at_report(where: Callable[[_World], np.ndarray] | None = None):
    def instances(w: _World) -> tuple[np.ndarray, np.ndarray]:
        mask = np.ones(w.victims.n, bool) if where is None else where(w)
        v = np.flatnonzero(mask)
        return v, w.of_case(w.cases.reported)[v]
    return instances


def _at_case_event(event: str, where: Callable[[_World], np.ndarray] | None = None):
    def instances(w: _World) -> tuple[np.ndarray, np.ndarray]:
        when = w.of_case(getattr(w.cases, event))
        mask = when < _NEVER
        if where is not None:
            mask &= where(w)
        v = np.flatnonzero(mask)
        return v, when[v]
    return instances


def _at_victim_event(event: Callable[[_World], np.ndarray], where: Callable[[_World], np.ndarray] | None = None):
    def instances(w: _World) -> tuple[np.ndarray, np.ndarray]:
        when = event(w)
        mask = when < _NEVER
        if where is not None:
            mask &= where(w)
        v = np.flatnonzero(mask)
        return v, when[v]
    return instances


def _needs_assessment_drift(w: _World, v: np.ndarray, trigger: np.ndarray) -> np.ndarray:
    """Story 1: the needs-assessment rate slides month by month."""
    months = len(w.period.month_starts) - 1
    month = w.period.month_index(trigger // _DAY)
    progress = month / (months - 1) if months > 1 else np.zeros(len(v))
    return _NEEDS_ASSESSMENT_FIRST + (_NEEDS_ASSESSMENT_LAST - _NEEDS_ASSESSMENT_FIRST) * progress


def _tendring_late_referrals(w: _World, v: np.ndarray, trigger: np.ndarray, share: np.ndarray) -> np.ndarray:
    """Story 2: Tendring refers late until its panel action is done."""
    before_fix = (w.of_case(w.cases.district)[v] == _TENDRING) & (trigger // _DAY < w.tendring_fixed)
    return np.where(before_fix, _REFERRAL_ON_TIME_TENDRING, share)


def _referral_declined(w: _World, v: np.ndarray, offered: np.ndarray) -> np.ndarray:
    """Story 4: more victims say yes once support is explained at first contact."""
    return np.where(offered // _DAY < w.consent_fixed, 1 - _CONSENT_BEFORE, 1 - _CONSENT_AFTER)


def _vrr_requests(w: _World) -> np.ndarray:
    """A few victims told of a decision not to charge ask for a review, days or weeks later."""
    def make() -> np.ndarray:
        told = w.accepted("r6_vrr_information")
        asks = (told < _NEVER) & (w.rng.random(w.victims.n) < 0.04)
        return np.where(asks, _after_days(w.rng, told, 18, 0.6), _NEVER)
    return w.cached("vrr_requests", make)


def _complaints(w: _World) -> _Complaints:
    return w.cached("complaints", lambda: _draw_complaints(w))


def _complaint_instances(w: _World) -> tuple[np.ndarray, np.ndarray]:
    c = _complaints(w)
    return c.victim, c.received


_UNREACHABLE = ("Victim could not be contacted after the report", 0.02)
_NO_MORE_CONTACT = ("Victim asked not to be contacted again about the investigation", 0.025)
_RIGHT6 = _Timing(on_time=0.93, on_time_enhanced=0.66, late_mean=3.0)
_WCU_ONE_DAY = _Timing(on_time=0.86, late_mean=2.0)


def _sexual_or_da(w: _World) -> np.ndarray:
    return (w.of_case(w.cases.group) == _G["sexual_offences"]) | w.of_case(w.cases.domestic_abuse)


def _suspect_known(w: _World) -> np.ndarray:
    return w.of_case(w.cases.suspect_identified) <= w.period.as_of_end


# One spec per measured entitlement, in an order where each spec's inputs come before it.
_SPECS: tuple[_Spec, ...] = (
    _Spec("r1_interpreter_offered", _at_report(lambda w: w.victims.needs_language_help), delivered=0.85,
          declined=0.12, timing=_Timing(on_time=0.8, within=1)),
    _Spec("r2_intermediary_special_measures_considered",
          _at_victim_event(lambda w: w.victims.interview_arranged, lambda w: w.victims.vulnerable_or_intimidated),
          delivered=0.75, timing=_Timing(on_time=0.85, within=1)),
    _Spec("r3_written_acknowledgement", _at_report(), delivered=0.90, timing=_Timing(on_time=0.85, within=3),
          exceptions=(("Withheld for the victim's safety: a letter could alert the suspect (domestic abuse)",
                       lambda w, v, t: np.where(w.of_case(w.cases.domestic_abuse)[v], 0.10, 0.0)),)),
    _Spec("r3_cjs_and_support_information", _at_report(), delivered=0.80, timing=_Timing(on_time=0.8, within=2),
          exceptions=(_UNREACHABLE,)),
    _Spec("r3_restorative_justice_information", _at_report(_suspect_known), delivered=0.45,
          timing=_Timing(on_time=0.7, within=5), ready=lambda w: w.of_case(w.cases.suspect_identified),
          exceptions=(("Suspect is under 18: the Youth Offending Team gives Restorative Justice information", 0.12),)),
    _Spec("r4_needs_assessment", _at_report(), delivered=_needs_assessment_drift,
          timing=_Timing(on_time=0.95, within=1, late_mean=1.5),
          exceptions=(_UNREACHABLE,)),
    _Spec("r4_referral_to_support_service", _at_report(), delivered=0.88, declined=_referral_declined,
          timing=_Timing(on_time=_REFERRAL_ON_TIME, late_mean=3.0), on_time_shift=_tendring_late_referrals,
          exceptions=(("Victim opted out of referral before it was offered", 0.02), _UNREACHABLE)),
    _Spec("r4_specialist_referral_offered",
          _at_victim_event(lambda w: w.accepted("r4_needs_assessment"), _sexual_or_da),
          delivered=0.80, declined=0.3, timing=_Timing(on_time=0.8, within=2)),
    _Spec("r4_special_measures_information",
          _at_victim_event(lambda w: w.accepted("r4_needs_assessment"), lambda w: w.victims.vulnerable_or_intimidated),
          delivered=0.70, timing=_Timing(on_time=0.8, within=2)),
    _Spec("r4_wcu_needs_assessment", _at_case_event("not_guilty_plea"), delivered=0.90,
          timing=_Timing(on_time=0.85, within=5)),
    _Spec("r5_court_compensation_information", _at_report(), delivered=0.55, timing=_Timing(on_time=0.7, within=5),
          exceptions=(("No loss, damage or injury recorded", 0.03),)),
    _Spec("r5_cics_information", _at_report(lambda w: _VIOLENT_OR_SEXUAL[w.of_case(w.cases.group)]), delivered=0.40,
          timing=_Timing(on_time=0.7, within=5)),
    _Spec("r6_decision_not_to_investigate", _at_case_event("screened_out"), delivered=0.88, timing=_RIGHT6,
          exceptions=(("Victim said at report that they did not want to be told the outcome", 0.02),)),
    _Spec("r6_suspect_arrested", _at_case_event("arrested"), delivered=0.88, timing=_RIGHT6,
          exceptions=(_NO_MORE_CONTACT,)),
    _Spec("r6_suspect_interviewed_under_caution", _at_case_event("interviewed"), delivered=0.88, timing=_RIGHT6,
          exceptions=(_NO_MORE_CONTACT,)),
    _Spec("r6_suspect_released_without_charge", _at_case_event("released_without_charge"), delivered=0.88,
          timing=_RIGHT6, exceptions=(_NO_MORE_CONTACT,)),
    _Spec("r6_suspect_bail_or_rui", _at_case_event("bailed_or_rui"), delivered=0.88, timing=_RIGHT6,
          exceptions=(_NO_MORE_CONTACT,)),
    _Spec("r6_charge_decision", _at_case_event("decision"), delivered=0.88, timing=_RIGHT6,
          exceptions=(_NO_MORE_CONTACT,)),
    _Spec("r6_update_frequency_agreed", _at_case_event("allocated"), delivered=0.82,
          timing=_Timing(on_time=0.8, within=5), exceptions=(_NO_MORE_CONTACT,)),
    _Spec("r6_vrr_information", _at_case_event("police_not_charged"), delivered=0.70,
          timing=_Timing(on_time=0.8, within=5)),
    _Spec("r6_vrr_request_acknowledged", _at_victim_event(_vrr_requests), delivered=0.95,
          timing=_Timing(on_time=0.88, late_mean=5.0)),
    _Spec("r6_vrr_outcome", _at_victim_event(_vrr_requests), delivered=0.88,
          timing=_Timing(on_time=0.75, earliest=10, late_mean=12.0)),
    _Spec("r7_vps_information_at_report", _at_report(), delivered=0.60, timing=_Timing(on_time=0.8, within=2),
          exceptions=(_UNREACHABLE,)),
    _Spec("r7_vps_offered", _at_victim_event(lambda w: w.victims.statement_or_charge), delivered=0.30, declined=0.43,
          timing=_Timing(on_time=0.8, within=3),
          exceptions=(("Victim withdrew support for the investigation", 0.02),)),
    _Spec("r7_vps_preference_recorded", _at_victim_event(lambda w: w.accepted("r7_vps_offered")), delivered=0.80,
          timing=_Timing(on_time=0.9, within=0)),
    _Spec("r8_hearing_details", _at_case_event("hearing_details"), delivered=0.90, timing=_WCU_ONE_DAY),
    _Spec("r8_bail_hearing_outcome", _at_case_event("bail_hearing_outcome"), delivered=0.90,
          timing=_Timing(on_time=0.92, on_time_enhanced=0.72, late_mean=2.0)),
    _Spec("r8_required_to_give_evidence", _at_case_event("witness_required"), delivered=0.90,
          timing=_Timing(on_time=0.82, late_mean=2.0)),
    _Spec("r8_witness_service_referral", _at_case_event("not_guilty_plea"), delivered=0.90, declined=0.15,
          timing=_Timing(on_time=0.85, within=5)),
    _Spec("r8_special_measures_outcome", _at_victim_event(lambda w: w.victims.special_measures_ruling),
          delivered=0.90, timing=_Timing(on_time=0.85, within=2)),
    _Spec("r9_case_outcome", _at_case_event("case_outcome"), delivered=0.90, timing=_WCU_ONE_DAY),
    _Spec("r9_sentence_explained", _at_case_event("sentence"), delivered=0.90, timing=_WCU_ONE_DAY),
    _Spec("r11_vcs_referral", _at_case_event("sentenced", lambda w: w.of_case(w.cases.vcs_eligible)), delivered=0.85,
          timing=_Timing(on_time=0.85, late_mean=6.0)),
    _Spec("r12_complaint_acknowledged", _complaint_instances, delivered=0.95,
          timing=_Timing(on_time=0.9, late_mean=5.0)),
)
_SPEC_CODES = frozenset(s.code for s in _SPECS)

# The event behind each catalogue trigger, for a measured entitlement added to the catalogue after
# this table was written: it gets plain, middling delivery at its trigger, so a YAML edit (which is
# how entitlements are added) never breaks the demo.
_EVENT_OF_TRIGGER: dict[str, Callable[[_World], tuple[np.ndarray, np.ndarray]]] = {
    "crime_reported": _at_report(),
    "needs_assessment_completed": _at_victim_event(lambda w: w.accepted("r4_needs_assessment")),
    "interview_arranged": _at_victim_event(lambda w: w.victims.interview_arranged),
    "decision_not_to_investigate": _at_case_event("screened_out"),
    "suspect_arrested": _at_case_event("arrested"),
    "suspect_interviewed_under_caution": _at_case_event("interviewed"),
    "suspect_released_without_charge": _at_case_event("released_without_charge"),
    "suspect_bailed_or_rui_or_bail_varied": _at_case_event("bailed_or_rui"),
    "investigation_allocated": _at_case_event("allocated"),
    "charge_or_nfa_or_oocd_decision": _at_case_event("decision"),
    "suspect_charged": _at_case_event("charged"),
    "police_decision_not_to_charge": _at_case_event("police_not_charged"),
    "vrr_request_received": _at_victim_event(_vrr_requests),
    "witness_statement_taken_or_suspect_charged": _at_victim_event(lambda w: w.victims.statement_or_charge),
    "vps_made": _at_victim_event(lambda w: w.accepted("r7_vps_offered")),
    "not_guilty_plea_entered": _at_case_event("not_guilty_plea"),
    "hearing_details_received_from_court": _at_case_event("hearing_details"),
    "hearing_outcome_received_from_court": _at_case_event("bail_hearing_outcome"),
    "cps_confirms_witness_required": _at_case_event("witness_required"),
    "special_measures_ruling": _at_victim_event(lambda w: w.victims.special_measures_ruling),
    "case_outcome_received_from_court": _at_case_event("case_outcome"),
    "sentence_received_from_court": _at_case_event("sentence"),
    "offender_sentenced": _at_case_event("sentenced"),
    "complaint_received": _complaint_instances,
}

# Outcome codes, as indexes into contract.ENTITLEMENT_OUTCOMES.
_DELIVERED, _DECLINED, _NOT_DELIVERED, _NOT_APPLICABLE = (contract.ENTITLEMENT_OUTCOMES.index(o) for o in (
    "delivered", "declined", "not_delivered", "not_applicable"))


def _deliver(w: _World, spec: _Spec, ent: Entitlement) -> _Result:
    """Every instance of one entitlement: owed, excepted, delivered (when) or missed."""
    rng, wd, as_of_end = w.rng, w.wd, w.period.as_of_end
    v, trigger = spec.instances(w)
    owed = trigger <= as_of_end  # an event after the export is not in it
    v, trigger = v[owed], trigger[owed]
    n = len(v)
    trigger_day = trigger // _DAY

    # Not applicable: one draw shared by the reasons, so at most one applies.
    reason = np.full(n, -1, dtype=np.int32)
    u, floor = rng.random(n), np.zeros(n)
    for text, chance in spec.exceptions:
        p = _chance(chance, w, v, trigger)
        reason[(u >= floor) & (u < floor + p)] = w.reason_code(text)
        floor = floor + p
    applicable = reason < 0
    delivered = applicable & (rng.random(n) < _chance(spec.delivered, w, v, trigger))

    # When: a working-day delay, mostly within the timescale, longer over staff-leave weeks.
    enhanced = w.victims.enhanced[v]
    timing = spec.timing
    standard_days = ent.standard_days if ent.standard_days is not None else timing.within
    enhanced_days = ent.enhanced_days if ent.enhanced_days is not None else standard_days
    within = np.where(enhanced, enhanced_days, standard_days)
    share = np.where(enhanced, timing.on_time if timing.on_time_enhanced is None else timing.on_time_enhanced,
                     timing.on_time)
    if spec.on_time_shift is not None:
        share = spec.on_time_shift(w, v, trigger, share)
    prompt = timing.earliest + np.floor((within - timing.earliest + 1) * rng.random(n) ** 1.6).astype(np.int64)
    late = within + rng.geometric(1 / timing.late_mean, n)
    delay = np.where(rng.random(n) < share, prompt, late)
    delay += np.where(wd.in_leave(trigger_day) & (rng.random(n) < _LEAVE_DELAY_CHANCE), rng.integers(1, 4, n), 0)
    start = trigger if spec.ready is None else np.maximum(trigger, spec.ready(w)[v])
    start_day = start // _DAY
    day = wd.next_working(wd.add(start_day, delay))
    # A few deliveries are made at the weekend: moving one back from the next working day keeps it as timely.
    day_before = day - 1
    weekend = ~wd.working_day(day_before) & (day_before >= start_day) & (rng.random(n) < 0.14)
    day = np.where(weekend, day_before, day)
    when = np.where(delivered, _on_day(rng, day, start), _NEVER)
    declined = delivered & (rng.random(n) < _chance(spec.declined, w, v, when))

    # As exported: deliveries after the export are not yet made; old misses are sometimes marked explicitly.
    made = when <= as_of_end
    marked_missed = applicable & ~delivered & (trigger_day < w.period.as_of_day - 28) & (rng.random(n) < 0.5)
    outcome = np.select([~applicable, made & declined, made, marked_missed],
                        [_NOT_APPLICABLE, _DECLINED, _DELIVERED, _NOT_DELIVERED], -1)
    team = np.full(n, _WCU_TEAM) if ent.deliverer != "police" else w.of_case(w.cases.team)[v]
    return _Result(v, trigger, when, declined, outcome.astype(np.int8), reason, team)


def _plan_specs(catalogue: Catalogue) -> list[tuple[_Spec, Entitlement]]:
    """A spec for every measured entitlement and for nothing else, in the table's order."""
    measured = {e.code: e for e in catalogue.measured_entitlements}
    planned = [(spec, measured[spec.code]) for spec in _SPECS if spec.code in measured]
    for ent in catalogue.measured_entitlements:
        if ent.code in _SPEC_CODES:
            continue
        instances = _EVENT_OF_TRIGGER.get(ent.trigger)
        if instances is None:
            log.warning("demo data: no event for trigger %r, so %s gets no rows", ent.trigger, ent.code)
            continue
        planned.append((_Spec(ent.code, instances, delivered=0.8, timing=_Timing(on_time=0.85)), ent))
    return planned


def _deliver_all(w: _World) -> None:
    for spec, ent in _plan_specs(default_catalogue()):
        w.results[spec.code] = _deliver(w, spec, ent)


def _entitlements_frame(w: _World) -> pd.DataFrame:
    codes = list(w.results)
    results = list(w.results.values())
    victim = np.concatenate([r.victim for r in results])
    trigger = np.concatenate([r.trigger for r in results])
    delivered = np.concatenate([r.delivered for r in results])
    outcome = np.concatenate([r.outcome for r in results])
    reason = np.concatenate([r.reason for r in results])
    team = np.concatenate([r.team for r in results])
    code = np.repeat(np.arange(len(codes)), [len(r.victim) for r in results])
    order = np.lexsort((code, victim, trigger))
    as_of_end = w.period.as_of_end
    return pd.DataFrame({
        "delivery_id": _ids("E", len(order), 8),
        "victim_id": _ids("V", w.victims.n, 7, victim[order]),
        "entitlement": _text(code[order], codes),
        "triggered_at": _timestamps(trigger[order], as_of_end),
        "delivered_at": _timestamps(delivered[order], as_of_end),
        "outcome": _text(outcome[order], contract.ENTITLEMENT_OUTCOMES),
        "exception_reason": _text(reason[order], w.reasons),
        "team": _text(team[order], _TEAMS),
    })


# --- referrals, complaints, contacts, surveys ----------------------------------------------------------

_SERVICES = {name: i for i, name in enumerate(contract.REFERRAL_SERVICES)}


def _referrals_frame(w: _World) -> pd.DataFrame:
    """One referral record per victim offered one, or owed one and not asked (r4_referral_to_support_service)."""
    rng, as_of_end = w.rng, w.period.as_of_end
    r = w.results.get("r4_referral_to_support_service", _NO_RESULT)
    due = w.wd.add(r.trigger // _DAY, 2)
    offered = r.delivered <= as_of_end
    not_asked = (r.outcome != _NOT_APPLICABLE) & ~offered & (due < w.period.as_of_day)
    keep = offered | not_asked
    v, offered_at, declined = r.victim[keep], np.where(offered, r.delivered, _NEVER)[keep], r.declined[keep]
    n = len(v)
    group = w.of_case(w.cases.group)[v]
    service = np.select([group == _G["sexual_offences"], w.of_case(w.cases.domestic_abuse)[v]],
                        [_SERVICES["synergy_essex"], _SERVICES["compass"]], _SERVICES["victim_support"])
    service = np.where(rng.random(n) < 0.03, _SERVICES["other"], service)
    consent = np.where(offered_at >= _NEVER, contract.CONSENT.index("not_asked"),
                       np.where(declined, contract.CONSENT.index("declined"), contract.CONSENT.index("given")))
    given = consent == contract.CONSENT.index("given")
    referred_at = np.where(given, offered_at, _NEVER)
    # Synergy Essex first responders call within a working day; the others take longer.
    wait = np.select([service == _SERVICES["synergy_essex"], service == _SERVICES["compass"]],
                     [rng.integers(0, 2, n), rng.integers(1, 4, n)], rng.integers(1, 9, n))
    contacted = given & (rng.random(n) < 0.85)
    contacted_at = np.where(contacted, _on_day(rng, w.wd.add(referred_at // _DAY, wait), referred_at), _NEVER)
    p_engaged = np.select([service == _SERVICES["synergy_essex"], service == _SERVICES["compass"],
                           service == _SERVICES["victim_support"]], [0.75, 0.6, 0.3], 0.5)
    reached = contacted_at <= as_of_end
    engaged = pd.array(np.where(reached, rng.random(n) < p_engaged, False), dtype="boolean")
    engaged[~reached] = pd.NA
    return pd.DataFrame({
        "referral_id": _ids("R", n, 7),
        "victim_id": _ids("V", w.victims.n, 7, v),
        "service": _text(service, contract.REFERRAL_SERVICES),
        "offered_at": _timestamps(offered_at, as_of_end),
        "consent": _text(consent, contract.CONSENT),
        "referred_at": _timestamps(referred_at, as_of_end),
        "contacted_at": _timestamps(contacted_at, as_of_end),
        "engaged": engaged,
    })


def _missed_per_victim(w: _World) -> tuple[np.ndarray, np.ndarray]:
    """Per victim: entitlements owed by now and how many of them were missed, over the specs so far."""
    settled = w.period.as_of_end - 5 * _DAY
    owed = np.zeros(w.victims.n)
    missed = np.zeros(w.victims.n)
    for r in w.results.values():
        counted = (r.outcome != _NOT_APPLICABLE) & (r.trigger <= settled)
        owed += np.bincount(r.victim[counted], minlength=w.victims.n)
        missed += np.bincount(r.victim[counted & (r.delivered > w.period.as_of_end)], minlength=w.victims.n)
    return owed, missed


@dataclass
class _Complaints:
    case: np.ndarray
    victim: np.ndarray
    received: np.ndarray
    right_no: np.ndarray


def _draw_complaints(w: _World) -> _Complaints:
    """About 0.4% of cases complain, more often where entitlements were missed."""
    rng, cases = w.rng, w.cases
    _, missed = _missed_per_victim(w)
    case_missed = np.bincount(w.victims.case, weights=missed, minlength=cases.n)
    can_complain = (cases.n_victims > 0) & (cases.reported < w.period.as_of_end - 14 * _DAY)
    weight = np.where(can_complain, 1 + 3 * np.minimum(case_missed, 3), 0)
    k = min(int(round(0.004 * cases.n)), int(can_complain.sum()))
    with np.errstate(divide="ignore"):
        keys = np.log(weight) + rng.gumbel(size=cases.n)  # Gumbel top-k: a weighted draw without replacement
    case = np.sort(np.argsort(-keys, kind="stable")[:k])
    available = w.period.as_of_end - cases.reported[case]
    after_report = 7 * _DAY + rng.random(k) * (np.minimum(150 * _DAY, available) - 7 * _DAY)
    received = cases.reported[case] + after_report.astype(np.int64)
    order = np.argsort(received, kind="stable")
    case, received = case[order], received[order]
    victim = np.searchsorted(w.victims.case, case)  # the first victim of the case
    right_no = np.array([6, 4, 3, 7, 8, 1, 9])[_pick(rng, k, [50, 18, 12, 10, 4, 3, 3])]
    return _Complaints(case, victim, received, right_no)


def _complaints_frame(w: _World) -> pd.DataFrame:
    rng, as_of_end = w.rng, w.period.as_of_end
    c = _complaints(w)
    n = len(c.case)
    ack = w.results.get("r12_complaint_acknowledged")  # one instance per complaint, in complaint order
    acknowledged = np.full(n, _NEVER) if ack is None else np.where(ack.delivered <= as_of_end, ack.delivered, _NEVER)
    answered_from = np.where(acknowledged < _NEVER, acknowledged, c.received)
    closed = _on_day(rng, w.wd.add(answered_from // _DAY, rng.integers(10, 61, n)), answered_from)
    closed = np.where(rng.random(n) < 0.05, _NEVER, closed)  # a few stall
    finished = closed <= as_of_end
    outcome = np.where(finished, 1 + _pick(rng, n, [25, 35, 30, 10]), 0)  # 0 = open
    return pd.DataFrame({
        "complaint_id": _ids("CM", n, 5),
        "case_id": _ids("C", w.cases.n, 7, c.case),
        "received_at": _timestamps(c.received, as_of_end),
        "right_no": c.right_no,
        "acknowledged_at": _timestamps(acknowledged, as_of_end),
        "closed_at": _timestamps(np.where(finished, closed, _NEVER), as_of_end),
        "outcome": _text(outcome, contract.COMPLAINT_OUTCOMES),
    })


# Channel mix per contact kind, in contract.CONTACT_CHANNELS order:
# phone, email, letter, sms, face_to_face, video, portal.
_CHANNELS = {
    "initial_response": [65, 0, 0, 0, 35, 0, 0],
    "update": [55, 20, 5, 12, 0, 3, 5],
    "key_decision": [50, 20, 15, 10, 0, 0, 5],
    "needs_assessment": [60, 3, 0, 0, 32, 5, 0],
    "vps": [25, 0, 0, 0, 65, 10, 0],
    "face_to_face_visit": [0, 0, 0, 0, 100, 0, 0],
    "other": [40, 30, 10, 10, 5, 0, 5],
}
_KEY_DECISION_CODES = ("r6_decision_not_to_investigate", "r6_suspect_arrested", "r6_suspect_interviewed_under_caution",
                       "r6_suspect_released_without_charge", "r6_suspect_bail_or_rui", "r6_charge_decision",
                       "r6_vrr_outcome", "r8_hearing_details", "r9_case_outcome", "r9_sentence_explained")
_MAX_UPDATES = 160  # enough for weekly updates over three years; the loop shrinks as cases close


def _contacts_frame(w: _World, update_days: np.ndarray) -> pd.DataFrame:
    rng, cases, victims, as_of_end = w.rng, w.cases, w.victims, w.period.as_of_end
    kinds = {k: i for i, k in enumerate(contract.CONTACT_KINDS)}
    case_team = w.of_case(cases.team)
    parts: list[tuple[np.ndarray, np.ndarray, int, np.ndarray]] = []  # (victim, time, kind, team)

    def add(v: np.ndarray, when: np.ndarray, kind: str, team: np.ndarray | None = None) -> None:
        parts.append((v, when, kinds[kind], case_team[v] if team is None else team))

    # First contact: most the same or the next working day, a tail of later ones, and a few never reached;
    # slower where update gaps run long (the same pressures show in both).
    reported = w.of_case(cases.reported)
    slow = np.array([d[3] for d in _DISTRICTS])[w.of_case(cases.district)] > 1.12
    delay = np.where(slow, _pick(rng, victims.n, [42, 28, 13, 8, 5, 4]), _pick(rng, victims.n, [58, 27, 8, 4, 2, 1]))
    same_day = reported + rng.integers(10 * 60, 3 * _HOUR, victims.n)
    later = w.wd.add(reported // _DAY, delay) * _DAY + _office_seconds(rng, victims.n)
    first = np.where(delay == 0, same_day, later)
    reached = rng.random(victims.n) > 0.02
    add(np.flatnonzero(reached), first[reached], "initial_response")
    assessed = w.accepted("r4_needs_assessment")
    v = np.flatnonzero(assessed < _NEVER)
    add(v, assessed[v], "needs_assessment")
    for code in _KEY_DECISION_CODES:
        r = w.results.get(code, _NO_RESULT)
        told = (r.delivered < _NEVER) & ~r.declined
        add(r.victim[told], r.delivered[told], "key_decision", r.team[told])
    vps = w.accepted("r7_vps_offered")
    v = np.flatnonzero(vps < _NEVER)
    add(v, vps[v], "vps")

    # Updates while the police investigate (the Witness Care Unit takes over at charge), at roughly the
    # agreed frequency; gaps run longer in some districts and offence groups, in summer and at Christmas.
    # Updates while the case is open: the police, then the Witness Care Unit after charge. Officers aim a
    # little inside the agreed frequency; some districts and offence groups, summer and Christmas stretch it.
    allocated = w.of_case(cases.allocated)
    until = np.minimum(w.of_case(cases.closed), as_of_end)
    agreed = update_days > 0
    v = np.flatnonzero((allocated < _NEVER) & (agreed | (rng.random(victims.n) < 0.6)))
    district_gap = 1 + 0.6 * (np.array([d[3] for d in _DISTRICTS])[w.of_case(cases.district)[v]] - 1)
    group_gap = 1 + 0.6 * (np.array([o.update_gap for o in _OFFENCES])[w.of_case(cases.group)[v]] - 1)
    base_gap = np.where(agreed[v], update_days[v], 28) * 0.72 * district_gap * group_gap
    last, end = allocated[v].copy(), until[v]
    active = np.arange(len(v))
    for _ in range(_MAX_UPDATES):
        if not len(active):
            break
        season = w.wd.update_gap_on(last[active] // _DAY)
        gap = base_gap[active] * season * np.exp(0.25 * rng.standard_normal(len(active)))
        day = w.wd.next_working(last[active] // _DAY + np.maximum(gap, 1).astype(np.int64))
        when = day * _DAY + _office_seconds(rng, len(active))
        going = when < end[active]
        active = active[going]
        last[active] = when[going]
        add(v[active], when[going], "update")

    # Visits in person, far more often for enhanced-rights victims; and the odd other contact.
    p_visit = np.where(victims.enhanced, 0.4, 0.06)
    for visit in range(2):
        chance = p_visit if visit == 0 else p_visit * 0.35
        visited = (allocated < _NEVER) & (rng.random(victims.n) < chance)
        when = _on_day(rng, w.wd.add(allocated // _DAY, rng.integers(1, 15 + 20 * visit, victims.n)), allocated)
        v = np.flatnonzero(visited & (when < until))
        add(v, when[v], "face_to_face_visit")
    reported = w.of_case(cases.reported)
    other = _after_days(rng, reported, 20, 1.0)
    v = np.flatnonzero((rng.random(victims.n) < 0.05) & (other < w.of_case(cases.closed)))
    add(v, other[v], "other")

    victim = np.concatenate([p[0] for p in parts])
    when = np.concatenate([p[1] for p in parts])
    kind = np.concatenate([np.full(len(p[0]), p[2]) for p in parts])
    team = np.concatenate([p[3] for p in parts])
    keep = when <= as_of_end
    victim, when, kind, team = victim[keep], when[keep], kind[keep], team[keep]
    channel_p = np.array([_CHANNELS[k] for k in contract.CONTACT_KINDS], dtype=float)
    channel = _choose(rng, channel_p, kind)
    order = np.lexsort((kind, victim, when))
    return pd.DataFrame({
        "contact_id": _ids("CT", len(order), 8),
        "victim_id": _ids("V", victims.n, 7, victim[order]),
        "contact_at": _timestamps(when[order], as_of_end),
        "kind": _text(kind[order], contract.CONTACT_KINDS),
        "channel": _text(channel[order], contract.CONTACT_CHANNELS),
        "team": _text(team[order], _TEAMS),
    })


def _score(rng: np.random.Generator, p_good: np.ndarray) -> np.ndarray:
    """A 1-5 answer: 4 or 5 with chance p_good, else 1-3."""
    n = len(p_good)
    good = rng.random(n) < p_good
    return np.where(good, 4 + (rng.random(n) < 0.45), 1 + _pick(rng, n, [25, 30, 45])).astype(np.int64)


def _surveys_frame(w: _World) -> pd.DataFrame:
    """About 3% of victims answer a survey weeks after their case closes; worse service, worse answers."""
    rng, cases, as_of_end = w.rng, w.cases, w.period.as_of_end
    owed, missed = _missed_per_victim(w)
    missed_share = np.where(owed > 0, missed / np.maximum(owed, 1), 0)
    closed = w.of_case(cases.closed)
    ready = np.minimum(closed, w.of_case(cases.reported) + 42 * _DAY)
    responded = _after_days(rng, ready, 20, 0.5)
    v = np.flatnonzero((rng.random(w.victims.n) < 0.034) & (responded <= as_of_end))
    n = len(v)
    group = w.of_case(cases.group)[v]
    survey = np.select([group == _G["sexual_offences"], w.of_case(cases.domestic_abuse)[v],
                        w.of_case(cases.hate_crime)[v], group == _G["burglary"]],
                       [contract.SURVEYS.index(s) for s in ("rape", "domestic_abuse", "hate_crime", "burglary")],
                       contract.SURVEYS.index("general"))
    miss = missed_share[v]
    update_gap = np.array([d[3] for d in _DISTRICTS])[w.of_case(cases.district)[v]]
    told_of_vps = w.accepted("r7_vps_information_at_report")[v] <= as_of_end
    order = np.argsort(responded[v], kind="stable")
    frame = pd.DataFrame({
        "case_id": _ids("C", cases.n, 7, w.victims.case[v]),
        "survey": _text(survey, contract.SURVEYS),
        "responded_at": _timestamps(responded[v], as_of_end),
        "overall": _score(rng, np.clip(0.89 - 0.6 * miss, 0.05, 0.97)),
        "kept_informed": _score(rng, np.clip(0.74 - 0.8 * miss - 0.4 * (update_gap - 1), 0.05, 0.95)),
        "treated_fairly": _score(rng, np.clip(0.88 - 0.4 * miss, 0.05, 0.97)),
        "aware_of_code": rng.random(n) < np.where(told_of_vps, 0.3, 0.17),
    }).iloc[order].reset_index(drop=True)
    frame.insert(0, "response_id", _ids("S", n, 6))
    return frame


# --- cases and victims as exported -------------------------------------------------------------------


def _cases_frame(w: _World) -> pd.DataFrame:
    cases, as_of_end = w.cases, w.period.as_of_end
    closed = cases.closed <= as_of_end
    return pd.DataFrame({
        "case_id": _ids("C", cases.n, 7),
        "reported_at": _timestamps(cases.reported, as_of_end),
        "recorded_at": _timestamps(cases.recorded, as_of_end),
        "offence_group": _text(cases.group, contract.OFFENCE_GROUPS),
        "district": _text(cases.district, _DISTRICT_NAMES),
        "team": _text(cases.team, _TEAMS),
        "domestic_abuse": cases.domestic_abuse,
        "hate_crime": cases.hate_crime,
        "status": _text(closed.astype(np.int32), contract.CASE_STATUSES),
        "outcome": _text(np.where(closed, cases.outcome, -1), _CASE_OUTCOMES),
        "closed_at": _timestamps(np.where(closed, cases.closed, _NEVER), as_of_end),
    })


def _update_frequency(w: _World) -> np.ndarray:
    """Days between updates agreed with each victim (0 = none agreed by the export); enhanced victims more often."""
    agreed = w.accepted("r6_update_frequency_agreed") <= w.period.as_of_end
    options = np.array([7, 14, 28])
    standard_or_enhanced = np.array([[10, 30, 60], [45, 40, 15]], dtype=float)
    frequency = options[_choose(w.rng, standard_or_enhanced, w.victims.enhanced.astype(int))]
    return np.where(agreed, frequency, 0)


def _victims_frame(w: _World, update_days: np.ndarray) -> pd.DataFrame:
    victims = w.victims
    frequency = pd.array(update_days, dtype="Int64")
    frequency[update_days == 0] = pd.NA
    return pd.DataFrame({
        "victim_id": _ids("V", victims.n, 7),
        "case_id": _ids("C", w.cases.n, 7, victims.case),
        "enhanced_category": _text(victims.category, contract.ENHANCED_CATEGORIES),
        "age_band": _text(victims.age_band, contract.AGE_BANDS),
        "sex": _text(victims.sex, contract.SEXES),
        "ethnicity": _text(victims.ethnicity, contract.ETHNICITIES),
        "disability": _text(victims.disability, contract.DISABILITY),
        "update_frequency_days": frequency,
    })


# --- feedback panels, findings and actions -------------------------------------------------------------


@dataclass(frozen=True)
class _Finding:
    kind: str
    right_no: int | None
    entitlement: str | None
    summary: str
    action: str | None = None  # the action title, for concerns and suggestions
    owner: str | None = None


_TENDRING_FINDING = _Finding(
    "concern", 4, "r4_referral_to_support_service",
    "Victims from Tendring said nobody from a support service got in touch for a week or more after they reported.",
    "Tendring: daily check that every victim is referred to support within 2 working days of reporting",
    "District Commander, Tendring")
_CONSENT_FINDING = _Finding(
    "suggestion", 4, "r4_referral_to_support_service",
    "Victims said they turned down support because nobody explained what the service would do for them. "
    "Explain it at first contact.",
    "Explain what support services offer at first contact: new script and briefing for call handlers and officers",
    "Victim Services Manager")

_PANEL_THEMES = ("sexual_violence_domestic_abuse", "vawg", "minority_communities", "stalking_harassment", "high_harm")
_FINDINGS_BY_THEME: dict[str, tuple[_Finding, ...]] = {
    "sexual_violence_domestic_abuse": (
        _Finding("praise", 4, "r4_specialist_referral_offered",
                 "Victims praised their ISVA and said Synergy Essex called them quickly after they reported."),
        _Finding("concern", 6, "r6_suspect_bail_or_rui",
                 "Victims were not told when the suspect was released under investigation and found out by seeing him.",
                 "Remind officers to tell victims the same day a suspect is bailed or released under investigation",
                 "Head of Public Protection"),
        _Finding("concern", 7, "r7_vps_offered",
                 "Most victims on the panel were never offered the chance to make a Victim Personal Statement.",
                 "Add the Victim Personal Statement offer to the statement-taking checklist", "Head of Crime"),
        _Finding("suggestion", 8, "r8_special_measures_outcome",
                 "Tell victims the special measures decision as soon as the court makes it, not at the trial.",
                 "Witness Care to phone victims on the day of a special measures ruling", "Witness Care Unit Manager"),
    ),
    "vawg": (
        _Finding("praise", None, None, "Officers who attended were kind, patient and believed the victim."),
        _Finding("concern", 3, "r3_written_acknowledgement",
                 "Written acknowledgements were posted to addresses the suspect could see.",
                 "Ask every domestic abuse victim how to contact them safely before sending anything",
                 "Victim Services Manager"),
        _Finding("concern", 4, "r4_needs_assessment",
                 "Needs assessments felt like a tick-box exercise and were sometimes not done at all.",
                 "Audit needs assessments monthly and feed back to teams", "Head of Local Policing"),
        _Finding("suggestion", 6, "r6_update_frequency_agreed",
                 "Agree how often updates will come at the first visit and write it on the crime report.",
                 "Make the agreed update frequency a required field on the crime report", "Head of Crime"),
    ),
    "minority_communities": (
        _Finding("concern", 1, "r1_interpreter_offered",
                 "Victims whose first language is not English were not offered an interpreter when reporting.",
                 "Brief call handlers and response officers on booking interpreters", "Force Control Room Manager"),
        _Finding("concern", 3, "r3_cjs_and_support_information",
                 "The victim information leaflet is only in English.",
                 "Publish the victim information leaflet in the five most used community languages",
                 "Corporate Communications Manager"),
        _Finding("praise", 6, "r6_charge_decision",
                 "Victims of hate crime said they were told quickly and clearly when the suspect was charged."),
        _Finding("suggestion", 12, "r12_complaint_acknowledged",
                 "Explain how to complain about the service in plain language and in other languages.",
                 "Rewrite the complaints page in plain English and translate it", "Head of Professional Standards"),
    ),
    "stalking_harassment": (
        _Finding("concern", 6, "r6_suspect_arrested",
                 "Victims of stalking were not told the suspect had been arrested.",
                 "Stalking cases: tell the victim of an arrest within one working day", "Head of Public Protection"),
        _Finding("concern", 8, "r8_bail_hearing_outcome",
                 "Victims did not hear about changed bail conditions after court hearings.",
                 "Witness Care to check bail conditions after every hearing in stalking cases",
                 "Witness Care Unit Manager"),
        _Finding("praise", 4, None, "The stalking advocacy service was described as a lifeline."),
        _Finding("suggestion", 6, "r6_update_frequency_agreed",
                 "Give victims a named officer and a direct number for updates.",
                 "Put the officer's direct contact details on every update letter", "Head of Crime"),
    ),
    "high_harm": (
        _Finding("concern", 11, "r11_vcs_referral",
                 "Bereaved families did not know about the Victim Contact Scheme until long after sentencing.",
                 "Witness Care to refer eligible victims to the Victim Contact Scheme on the day of sentence",
                 "Witness Care Unit Manager"),
        _Finding("praise", 9, "r9_case_outcome",
                 "Families praised Witness Care for explaining the verdict and the sentence clearly."),
        _Finding("concern", 5, "r5_cics_information",
                 "Victims were not told they could claim criminal injuries compensation.",
                 "Add the compensation scheme to the needs assessment script", "Victim Services Manager"),
        _Finding("suggestion", 9, "r9_sentence_explained",
                 "Send a short written explanation of the sentence after the phone call.",
                 "Witness Care to follow sentence calls with a letter", "Witness Care Unit Manager"),
    ),
}


@dataclass(frozen=True)
class _Panels:
    days: tuple[int, ...]
    tendring_panel: int
    consent_panel: int
    tendring_fixed: int
    consent_fixed: int


def _plan_panels(period: _Period, wd: _WorkingDays) -> _Panels:
    """Panels twice a year (mid-month, on a Wednesday), and when the two story actions are done."""
    start = _date(period.first_day)
    days: list[int] = []
    for k in range(0, 1000):
        held = add_months(start, 1 + 6 * k) + timedelta(days=13)
        held += timedelta(days=(2 - held.weekday()) % 7)
        if _epoch_day(held) > period.as_of_day - 7:
            break
        days.append(_epoch_day(held))
    if not days:  # a period too short for a panel: one met a few weeks before it, on a Wednesday
        held = start - timedelta(days=28)
        days.append(_epoch_day(held - timedelta(days=(held.weekday() - 2) % 7)))

    def story(fraction: float) -> tuple[int, int]:
        fixed = int(wd.next_working(np.array([period.day_at(fraction)]))[0])
        earlier = [i for i, d in enumerate(days) if d <= fixed - 42]
        panel = earlier[-1] if earlier else 0
        fixed = min(max(fixed, days[panel] + 14), period.as_of_day)
        return panel, fixed

    tendring_panel, tendring_fixed = story(_TENDRING_FIX_AT)
    consent_panel, consent_fixed = story(_CONSENT_FIX_AT)
    return _Panels(tuple(days), tendring_panel, consent_panel, tendring_fixed, consent_fixed)


def _panel_frames(rng: np.random.Generator, period: _Period, plan: _Panels) -> dict[str, pd.DataFrame]:
    n = len(plan.days)
    themes = [_PANEL_THEMES[k % len(_PANEL_THEMES)] for k in range(n)]
    panels = pd.DataFrame({
        "panel_id": _ids("P", n, 3),
        "held_on": _dates(np.array(plan.days)),
        "title": [f"Victim Feedback Panel, {_date(d):%B %Y}: {contract.label(t)}" for d, t in zip(plan.days, themes)],
        "themes": themes,
        "format": _text(np.arange(n) % 3, ("virtual", "hybrid", "in_person")),
        "staff_attendees": rng.integers(60, 121, n),
        "victims_live": rng.integers(2, 9, n),
        "victims_recorded": rng.integers(1, 7, n),
        "victims_via_support_worker": rng.integers(1, 6, n),
        "staff_feedback_score": np.round(rng.uniform(3.8, 4.6, n), 1),
    })

    findings: list[tuple[int, _Finding]] = []
    for k, theme in enumerate(themes):  # a handful of panels: a loop over panels, not rows
        stories = ((_TENDRING_FINDING, plan.tendring_panel), (_CONSENT_FINDING, plan.consent_panel))
        chosen = [finding for finding, panel in stories if panel == k]
        bank = _FINDINGS_BY_THEME[theme]
        extra = int(rng.integers(3, 6)) - len(chosen)
        picks = rng.choice(len(bank), size=min(max(extra, 0), len(bank)), replace=False)
        chosen += [bank[i] for i in sorted(picks)]
        findings += [(k, f) for f in chosen]
    finding_ids = _ids("F", len(findings), 4)
    panel_findings = pd.DataFrame({
        "finding_id": finding_ids,
        "panel_id": panels["panel_id"].to_numpy()[[k for k, _ in findings]],
        "kind": [f.kind for _, f in findings],
        "right_no": pd.array([f.right_no for _, f in findings], dtype="Int64"),
        "entitlement": pd.array([f.entitlement for _, f in findings], dtype="str"),
        "summary": [f.summary for _, f in findings],
    })

    acting = [i for i, (_, f) in enumerate(findings) if f.action]
    m = len(acting)
    raised = np.array([plan.days[findings[i][0]] for i in acting], dtype=np.int64)
    due = raised + rng.integers(56, 121, m)
    as_of = period.as_of_day
    # Status follows the dates: young actions are proposed or agreed; once due most are done, some overdue.
    u = rng.random(m)
    young = as_of - raised < 21
    past_due = due < as_of
    status = np.select(
        [young & (u < 0.6), young, past_due & (u < 0.65), past_due & (u < 0.85), past_due & (u < 0.9), past_due,
         u < 0.2, u < 0.5],
        ["proposed", "agreed", "done", "in_progress", "agreed", "dropped", "done", "agreed"], "in_progress")
    measure = np.array([findings[i][1].entitlement for i in acting], dtype=object)
    story = np.array([findings[i][1] in (_TENDRING_FINDING, _CONSENT_FINDING) for i in acting], dtype=bool)
    # Needs assessments keep sliding (story 1), so the action on them is never done.
    status = np.where((measure == "r4_needs_assessment") & ~young, "in_progress", status)
    # Every action log has something overdue: if chance left none, the latest past-due action is.
    open_past_due = past_due & ~np.isin(status, ["done", "dropped"])
    latecomers = np.flatnonzero(past_due & ~story)
    if not open_past_due.any() and len(latecomers):
        status[latecomers[-1]] = "in_progress"
    span = np.maximum(np.minimum(due + 30, as_of) - (raised + 14), 0)
    done_on = np.minimum(raised + 14 + (rng.random(m) * (span + 1)).astype(np.int64), as_of)
    completed = np.where(status == "done", done_on, _NEVER)
    for finding, fixed in ((_TENDRING_FINDING, plan.tendring_fixed), (_CONSENT_FINDING, plan.consent_fixed)):
        j = next(j for j, i in enumerate(acting) if findings[i][1] is finding)
        status[j], completed[j], due[j] = "done", fixed, max(due[j], fixed)
    actions = pd.DataFrame({
        "action_id": _ids("A", m, 4),
        "finding_id": finding_ids.to_numpy()[acting],
        "title": [findings[i][1].action for i in acting],
        "owner": [findings[i][1].owner for i in acting],
        "raised_on": _dates(raised),
        "due_on": _dates(due),
        "status": pd.Series(status, dtype="str"),
        "completed_on": _nullable_dates(completed),
        "measure": pd.array(measure, dtype="str"),
    })
    return {"panels": panels, "panel_findings": panel_findings, "actions": actions}


# --- public API -------------------------------------------------------------------------------------


def generate_demo(cases: int = 160_000, start: date = date(2024, 11, 1), months: int = 12,
                  seed: int = 7) -> tuple[dict[str, pd.DataFrame], date]:
    """Return ({table name: DataFrame}, data_as_of). Tables: districts, cases, victims, contacts,
    entitlements, referrals, surveys, complaints, panels, panel_findings, actions.

    `cases` is the total over the period, which runs for `months` from the month of `start`; data_as_of
    is the last day of the last month, and nothing in the tables is dated after it.
    """
    if cases < 1 or months < 1:
        raise ValueError("a demo needs at least one case and one month")
    start = start.replace(day=1)
    data_as_of = month_end(add_months(start, months - 1))
    rng = np.random.default_rng(seed)
    period = _Period.of(start, months)
    # The calendar runs well past the export so events scheduled after it still have working days.
    wd = _WorkingDays(start - timedelta(days=60), data_as_of + timedelta(days=800))
    plan = _plan_panels(period, wd)
    case_table = _make_cases(rng, cases, period, wd)
    victims = _make_victims(rng, case_table, wd)
    w = _World(rng, period, wd, case_table, victims, plan.tendring_fixed, plan.consent_fixed)
    _deliver_all(w)
    update_days = _update_frequency(w)
    tables = {
        "districts": pd.DataFrame({"district": list(_DISTRICT_NAMES), "command_area": [d[2] for d in _DISTRICTS]}),
        "cases": _cases_frame(w),
        "victims": _victims_frame(w, update_days),
        "contacts": _contacts_frame(w, update_days),
        "entitlements": _entitlements_frame(w),
        "referrals": _referrals_frame(w),
        "surveys": _surveys_frame(w),
        "complaints": _complaints_frame(w),
        **_panel_frames(rng, period, plan),
    }
    return tables, data_as_of


def build_demo_store(path: str | Path, cases: int = 160_000, start: date = date(2024, 11, 1), months: int = 12,
                     seed: int = 7, threads: int | None = None) -> Path:
    """Generate the demo data and build a store from it at `path` (atomically, as build_store does)."""
    tables, data_as_of = generate_demo(cases=cases, start=start, months=months, seed=seed)
    return build_store(path, tables, data_as_of=data_as_of, is_demo=True,
                       source=f"demo seed={seed} cases={cases} start={start:%Y-%m} months={months}", threads=threads)
