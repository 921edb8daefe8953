"""The board pack: for one quarter, the 12 rights with their SPC words and charts, the exceptions, every
entitlement, referral uptake, victim voice (surveys and complaints) and panel actions, as one self-contained
HTML file (plotly.js embedded once: it opens offline, the charts stay interactive, and it prints on A4) and
an XLSX workbook of the same tables.

`build_board_pack` gathers the figures (data_access and metrics, never Streamlit), applies disclosure
control to every count before anything is drawn or written, and returns a BoardPack; `render_html` and
`render_xlsx` turn that into the two files. The app's button and `python -m metrics boardpack` share them.

Disclosure control always applies: the pack is for the board. Counts from 1 to threshold-1 are hidden and
shown as [c]; so is a count whose complement (eligible - delivered, offered - consent given, ...) is that
small, and another count wherever a hidden one could be worked out from a total. Rates, intervals and
medians resting on a hidden count are hidden too, and months with hidden counts are left out of the SPC
charts and of their limits, so neither a chart's points nor its lines can give a hidden count back.

Free text (panel titles, findings, action titles and owners) is untrusted: it is escaped everywhere.
"""

from __future__ import annotations

import html
import io
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from data_access import annotations as annotation_queries
from data_access import outcomes, queries
from data_access.store import Store
from metrics import contract
from metrics.catalogue import Catalogue
from metrics.compliance import COUNT_COLUMNS
from metrics.disclosure import MARKER, DisclosurePolicy, Suppressed, differencing_check, suppress_compliance
from metrics.filters import DIMENSIONS, Filters, add_months, month_end
from metrics.outcome_disclosure import complaint_masks, referral_mask, survey_mask
from metrics.quarterly_return import Quarter, check_request
from metrics.rates import rollup_to_rights, wilson_interval
from metrics.referrals import ALL_SERVICES, REFERRAL_STEPS
from metrics.spc import POINT_TYPES
from metrics.summaries import BOARD_BREAKDOWNS, SeriesSpc, board_overview, exceptions, month_index, series_spc
from metrics.targets import DEFAULT_TARGETS_PATH, Targets, TargetsError, load_targets
from metrics.victim_voice import ALL, CASE_DIMENSIONS, SURVEY_MEASURES
from ui import charts

__all__ = ["SUPPRESSED", "BoardPackError", "PackTable", "RightSection", "Suppression", "BoardPack",
           "build_board_pack", "render_html", "render_xlsx", "board_pack_files", "pack_file_name", "load_board_targets",
           "history_window", "pack_suppression_note"]

SUPPRESSED = MARKER  # "[c]", the ONS marker for a confidential value
CHART_WIDTH = 680  # px: fits an A4 page's text width, on screen and in print
NOT_MEASURED = "not measured"
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such text as a formula


class BoardPackError(ValueError):
    """The pack cannot be made as asked; the message says why, in words a user can act on (no victim data)."""


# --- the pack's content ------------------------------------------------------------------------------

@dataclass(frozen=True)
class PackTable:
    sheet: str  # the workbook sheet's name (31 characters at most)
    title: str
    frame: pd.DataFrame  # display values: numbers, text, SUPPRESSED, or missing ("–" / empty)
    note: str = ""


@dataclass(frozen=True)
class RightSection:
    number: int
    title: str
    headline: tuple[str, ...]  # the quarter's figures in words (disclosure-controlled)
    variation: str  # the SPC variation icon in words, and its sentence; '' when not measured
    assurance: str  # target assurance in words; '' without a target
    not_measured: str  # why nothing is measured (Right 10), else ''
    figure: go.Figure | None
    alt: str  # the chart in words
    chart_note: str
    chart_table: pd.DataFrame | None


@dataclass(frozen=True)
class Suppression:
    threshold: int
    cells_hidden: int
    note: str


@dataclass(frozen=True)
class BoardPack:
    quarter: Quarter
    filters: Filters
    store_name: str
    store_source: str
    is_demo: bool
    generated_at: datetime
    spc_months: str
    notes: tuple[str, ...]
    suppression: Suppression
    exceptions: tuple[str, ...]
    improving: tuple[str, ...]
    rights: tuple[RightSection, ...]
    tables: dict[str, PackTable] = field(default_factory=dict)

    @property
    def title(self) -> str:
        return f"Victims' Code compliance: board pack for {self.quarter.describe()}"


# --- disclosure control ------------------------------------------------------------------------------
# metrics.disclosure chooses what to hide; this part says which counts the pack shows and how they add up,
# and turns its masks into a set of hidden keys: ("right", 4, "delivered"), ("ent_m", code, "2025-07",
# "eligible"), ("ref", service, step), ... Everything the tables and charts show is looked up there.

def _shown(value, hidden: bool):
    return SUPPRESSED if hidden else value


def _hidden_keys(result: Suppressed, frame: pd.DataFrame, key_of, columns: Sequence[str]) -> set[tuple]:
    """The keys of the hidden cells of `columns`, one row of `frame` at a time (key_of(row) -> key prefix)."""
    hidden = set()
    mask = result.hidden.reset_index(drop=True)
    for position, row in enumerate(frame.to_dict("records")):
        for column in columns:
            if bool(mask.at[position, column]):
                hidden.add((*key_of(row), column))
    return hidden


# A month before the quarter shows only delivered of eligible, and adds up to nothing shown, so its other
# counts can be left out.
_NOT_SHOWN_MONTHLY = ("delivered_on_time", "eligible_timed", "not_yet_due", "not_applicable")


def _compliance_hidden(entitlements: pd.DataFrame, rights: pd.DataFrame, history: pd.DataFrame,
                       right_months: pd.DataFrame, quarter_months: set[str], charted: set[str],
                       policy: DisclosurePolicy) -> set[tuple]:
    """Hidden compliance counts.

    Shown: each entitlement's and each right's quarter totals (all six counts), and each right's delivered and
    eligible counts for its charted months. The quarter's totals and its charted months, which add up to them
    (a month not charted is the unseen rest), are protected together, in one table; each charted month before
    the quarter is protected on its own, as no total of those months is shown. An entitlement's months are never
    shown: they feed only its SPC words, and a month whose count or complement is small is left out of them.
    """
    columns = list(COUNT_COLUMNS)
    ent_keys, right_keys = ["entitlement", "right_no", "breakdown", "level"], ["right_no", "breakdown", "level"]
    ents = entitlements[ent_keys + columns]
    totals = rights.reset_index()[right_keys + columns]

    def without(frame: pd.DataFrame, names: Sequence[str]) -> pd.DataFrame:
        out = frame.copy()
        out[list(names)] = 0
        return out

    hidden: set[tuple] = set()
    in_quarter = right_months[right_months["level"].isin(quarter_months & charted)]
    # Every count of a month goes in as it is, though only delivered and eligible are shown: a count left out
    # would make the months look as if they did not add up to the quarter, and then a hidden total could be
    # worked out by anyone who knows they do.
    quarter_rights = pd.concat([totals, in_quarter[right_keys + columns]], ignore_index=True)
    result = suppress_compliance(ents, quarter_rights, policy=policy)
    delivered_eligible = ["delivered", "eligible"]
    hidden |= _hidden_keys(result.entitlements, ents, lambda row: ("ent", row["entitlement"]), columns)
    hidden |= {k for k in _hidden_keys(result.rights, quarter_rights, _right_key, columns)
               if k[0] == "right" or k[-1] in delivered_eligible}

    before = right_months[right_months["level"].isin(charted - quarter_months)]
    if len(before):
        units = without(before[right_keys + columns], _NOT_SHOWN_MONTHLY)
        units["entitlement"] = [f"right {n} {level}" for n, level in zip(units["right_no"], units["level"])]
        units = units.drop(columns="right_no").assign(breakdown="total", level="all")
        result = suppress_compliance(units, policy=policy)
        hidden |= _hidden_keys(result.entitlements, units, _unit_key, delivered_eligible)
    for row in history.to_dict("records"):
        if policy.is_small(row["eligible"]):
            hidden.add(("ent_m", row["entitlement"], row["level"], "eligible"))
        if policy.is_small(row["delivered"]) or policy.is_small(row["eligible"] - row["delivered"]):
            hidden.add(("ent_m", row["entitlement"], row["level"], "delivered"))
    return hidden


def _right_key(row: dict) -> tuple:
    number = int(row["right_no"])
    return ("right", number) if row["breakdown"] == "total" else ("right_m", number, row["level"])


def _unit_key(row: dict) -> tuple:
    _, number, level = row["entitlement"].split()
    return ("right_m", int(number), level)


def _mask_keys(mask: pd.DataFrame, keys: Sequence) -> set[tuple]:
    """The keys of a mask's hidden cells: (*key, column) for each True, keys[i] naming row i."""
    return {(*key, column) for key, row in zip(keys, mask.to_dict("records")) for column, hidden in row.items()
            if hidden}


def _referral_hidden(referrals: pd.DataFrame, policy: DisclosurePolicy) -> set[tuple]:
    """The funnel by service, every step nested in each earlier one (metrics.outcome_disclosure)."""
    rows = referrals[referrals["breakdown"] == "total"].reset_index(drop=True)
    return _mask_keys(referral_mask(rows, policy), [("ref", s) for s in rows["service"]])


def _survey_hidden(surveys: pd.DataFrame, policy: DisclosurePolicy) -> set[tuple]:
    rows = surveys[surveys["breakdown"] == "total"].reset_index(drop=True)
    return _mask_keys(survey_mask(rows, policy), [("svy", s) for s in rows["survey"]])


def _complaint_hidden(complaints: pd.DataFrame, policy: DisclosurePolicy) -> set[tuple]:
    """Complaints by right, and by outcome: two breakdowns of one total, protected together (protected apart,
    a total hidden for one is given back by the other's cells)."""
    by_right = complaints[complaints["outcome"] == ALL].reset_index(drop=True)
    by_right["right"] = [_complaint_key(r) for r in by_right["right_no"]]
    by_outcome = complaints[complaints["right_no"].isna()].reset_index(drop=True)
    right_mask, outcome_mask = complaint_masks(by_right, by_outcome, policy)
    return (_mask_keys(right_mask, [("cmp_r", r) for r in by_right["right"]])
            | _mask_keys(outcome_mask, [("cmp_o", o) for o in by_outcome["outcome"]]))


def _population(store: Store, catalogue: Catalogue, filters: Filters) -> pd.Series:
    """The people a filtered view counts, section by section, for the differencing check."""
    counts = queries.compliance_counts(store, catalogue, filters)
    referrals = outcomes.referral_uptake(store, filters)
    values = {"entitlement instances": int(counts[["eligible", "not_yet_due", "not_applicable"]].to_numpy().sum()),
              "referral records": int(referrals.loc[referrals["service"] == ALL_SERVICES, "in_scope"].sum())}
    if all(name in CASE_DIMENSIONS for name in filters.active()):
        surveys = outcomes.survey_results(store, filters)
        complaints = outcomes.complaints_by_right(store, filters)
        values["survey responses"] = int(surveys.loc[surveys["survey"] == ALL, "responses"].sum())
        values["complaints"] = int(complaints.loc[complaints["right_no"].isna() & (complaints["outcome"] == ALL),
                                                  "complaints"].sum())
    return pd.Series(values)


def _differencing(store: Store, catalogue: Catalogue, filters: Filters, policy: DisclosurePolicy) -> None:
    """Refuse a filtered pack that, set beside the pack without one of its filters, would reveal a few people."""
    if not filters.active():
        return
    current = _population(store, catalogue, filters)
    # A section whose own count is small shows only [c] here, so comparing it reveals nothing; the pack as a
    # whole is refused only when its entitlement instances are that few.
    current = current[[name == "entitlement instances" or not policy.is_small(value)
                       for name, value in current.items()]]
    neighbours = {}
    for name in filters.active():
        wider = _population(store, catalogue, filters.with_selection(name, ()))
        neighbours[name] = wider.reindex(current.index, fill_value=0).to_numpy()
    check = differencing_check(current.to_numpy(), neighbours, policy)
    if check.suppress:
        raise BoardPackError(check.note)


# --- building the pack -------------------------------------------------------------------------------

def pack_suppression_note(policy: DisclosurePolicy, cells_hidden: int) -> str:
    """What was hidden in the pack, and why, in plain words."""
    if not policy.hidden_range:
        return "Disclosure control: no counts are hidden, because the suppression threshold is set to 1."
    return (f"Disclosure control (threshold {policy.threshold}): counts from {policy.hidden_range} are hidden to "
            f"protect the people counted and shown as {SUPPRESSED} (confidential), as is any other count from which "
            "a hidden one could be worked out (from a total, the other cells, or the people a count leaves out, "
            "such as those not delivered), and any rate, interval or median built on a hidden count. Months with a "
            "hidden count are not plotted and are left out of the SPC charts' mean and limits. Zeros are shown. "
            f"{cells_hidden:,} count{'s are' if cells_hidden != 1 else ' is'} hidden in this pack's tables and charts.")


def history_window(filters: Filters, store_first_month: date) -> tuple[date, date]:
    """The months SPC charts cover: from the store's first month to the period's end, or a month earlier when
    that month had not settled by the as-of date (its pending entitlements would look like a sudden fall)."""
    first = min(store_first_month, filters.first_month)
    last = filters.last_month
    if filters.includes_settling_month() and last > first:
        last = add_months(last, -1)
    return first, last


def load_board_targets(catalogue: Catalogue) -> tuple[Targets, tuple[str, ...]]:
    """The board's targets (VCD_TARGETS, or metrics/targets.yaml) and the problems found in them; with any
    problem no target is used."""
    configured = os.environ.get("VCD_TARGETS")
    path = Path(configured).expanduser() if configured else DEFAULT_TARGETS_PATH
    try:
        return load_targets(path, catalogue, required=bool(configured)), ()
    except TargetsError as exc:
        return Targets(source=exc.source), tuple(exc.problems)


def _month_key(month) -> str:
    return f"{pd.Timestamp(month):%Y-%m}"


def _count_text(numerator, denominator) -> str:
    def one(value) -> str:
        return value if isinstance(value, str) else f"{int(value):,}"
    return f"{one(numerator)} of {one(denominator)}"


def _percent(rate: float) -> float | None:
    return None if rate is None or pd.isna(rate) else round(float(rate) * 100, 1)


def _interval(lower: float, upper: float) -> str | None:
    if pd.isna(lower) or pd.isna(upper):
        return None
    return f"{lower:.1%} to {upper:.1%}"


def _rate_cells(numerator: int, denominator: int, hidden: bool) -> tuple:
    """(rate %, 95% CI text) for the tables, or SUPPRESSED twice when the rate rests on a hidden count."""
    if hidden:
        return SUPPRESSED, SUPPRESSED
    if not denominator:
        return None, None
    lower, upper = wilson_interval(numerator, denominator)
    return _percent(numerator / denominator), _interval(float(lower), float(upper))


def _right_assurance(items: Sequence[SeriesSpc]) -> str:
    """A right's assurance in words from the targets on its entitlements ('' with no target)."""
    targeted = [item for item in items if item.target is not None]
    if not targeted:
        return ""
    words = [item.spc.assurance_text.label if item.spc.assurance_text else "No assurance without process limits"
             for item in targeted]
    names = "; ".join(f"{item.label}, target {item.target.target:.0%}: {word.lower()}"
                      for item, word in zip(targeted, words))
    return names


def build_board_pack(store: Store, catalogue: Catalogue, quarter: Quarter, *,
                     selections: dict[str, tuple[str, ...]] | None = None, as_of: date | None = None,
                     targets: Targets | None = None, target_problems: Sequence[str] = (),
                     policy: DisclosurePolicy | None = None, now: datetime | None = None) -> BoardPack:
    """Everything the pack shows for `quarter` (entitlements triggered in it, referrals and surveys of the
    same months, panels held and actions open), as of `as_of` (default: the store's data date), with
    disclosure control applied. `selections` are sidebar-style filters (default: the whole force).

    Raises metrics.quarterly_return.ReturnError for a quarter the store cannot answer, and BoardPackError for
    filters that would reveal a few people when set beside the pack without one of them.
    """
    policy = policy or DisclosurePolicy.load()
    meta = store.meta
    as_of = as_of or meta.data_as_of
    notes = list(check_request(quarter, as_of, first_month=meta.first_month, last_month=meta.last_month,
                               data_as_of=meta.data_as_of))
    if target_problems:
        notes.append("The board's targets file has mistakes, so no targets are used: " + "; ".join(target_problems))
    targets = targets if targets is not None else Targets()
    filters = Filters(first_month=quarter.first_month, last_month=quarter.last_month, as_of=as_of,
                      selections={k: tuple(v) for k, v in (selections or {}).items()})
    _differencing(store, catalogue, filters, policy)

    overview = board_overview(queries.compliance_counts(store, catalogue, filters, BOARD_BREAKDOWNS), catalogue)
    history_first, spc_last = history_window(filters, meta.first_month)
    # Monthly counts up to the quarter's end: the months after spc_last are not charted, but they still add
    # up to the quarter's totals, so they take part in the suppression groups as unpublished cells.
    history = queries.compliance_counts(store, catalogue, replace(filters, first_month=history_first), ("month",))
    history = history[history["breakdown"] == "month"].copy()
    history["month"] = pd.to_datetime(history["level"] + "-01")
    right_months = rollup_to_rights(history.drop(columns=["month"]), catalogue)
    right_months = right_months[right_months["breakdown"] == "month"].copy()
    right_months["month"] = pd.to_datetime(right_months["level"] + "-01")
    months = month_index(history_first, spc_last)
    months_text = (f"{months[0]:%b %Y} to {months[-1]:%b %Y}, {len(months)} month{'s' if len(months) != 1 else ''}"
                   if len(months) else "no months")

    referrals = outcomes.referral_uptake(store, filters)
    victim_level = [name for name in filters.active() if name not in CASE_DIMENSIONS]
    surveys = None if victim_level else outcomes.survey_results(store, filters)
    complaints = None if victim_level else outcomes.complaints_by_right(store, filters)
    panels = outcomes.panels_held(store, quarter.first_month, quarter.last_day, as_of)
    actions = outcomes.action_log(store, quarter.first_month, quarter.last_day, as_of)
    annotation_last = min(month_end(spc_last), as_of)
    chart_panels = annotation_queries.panel_dates(store, history_first, annotation_last)
    chart_actions = annotation_queries.completed_actions(store, history_first, annotation_last)

    # Disclosure control, before anything is drawn: every count shown, and how they add up.
    entitlements = overview.entitlements
    rights = overview.rights
    quarter_months = {_month_key(m) for m in month_index(quarter.first_month, quarter.last_month)}
    charted = {_month_key(m) for m in months}
    hidden = _compliance_hidden(entitlements, rights, history, right_months, quarter_months, charted, policy)
    hidden |= _referral_hidden(referrals, policy)
    if surveys is not None:
        hidden |= _survey_hidden(surveys, policy)
    if complaints is not None:
        hidden |= _complaint_hidden(complaints, policy)
    for _, row in panels.iterrows():  # no total of victims heard is shown: only the small counts go
        if not pd.isna(row["victims_heard"]) and policy.is_small(int(row["victims_heard"])):
            hidden.add(("panel", row["panel_id"], "victims_heard"))

    def is_hidden(*key) -> bool:
        return tuple(key) in hidden

    # SPC from the disclosure-controlled monthly series: a month with a hidden count is not a point.
    def masked(frame: pd.DataFrame, kind: str, key_column: str) -> pd.DataFrame:
        keep = [not (is_hidden(kind, k, level, "eligible") or is_hidden(kind, k, level, "delivered"))
                for k, level in zip(frame[key_column], frame["level"])]
        return frame[keep]

    right_series = masked(right_months, "right_m", "right_no")
    entitlement_series = masked(history, "ent_m", "entitlement")
    rights_spc: dict[int, SeriesSpc] = {}
    entitlements_spc: dict[str, SeriesSpc] = {}
    for right in catalogue.rights:
        if not right.measured_entitlements:
            continue
        rights_spc[right.number] = series_spc(
            right_series[right_series["right_no"] == right.number], months, code=f"right_{right.number}",
            label=f"Right {right.number}: {right.short_title}", numerator="delivered", denominator="eligible")
        for ent in right.measured_entitlements:
            entitlements_spc[ent.code] = series_spc(
                entitlement_series[entitlement_series["entitlement"] == ent.code], months, code=ent.code,
                label=ent.label, numerator="delivered", denominator="eligible",
                target=targets.get(ent.code, "delivered"))
    hidden_months = {number: sorted({level for k, n, level, _ in (h for h in hidden if h[0] == "right_m")
                                     if n == number and level in charted})
                     for number in rights_spc}

    concerns = exceptions(rights_spc, entitlements_spc, catalogue, recent_from=quarter.first_month)
    chart_kind = "xmr" if any(item.spc.kind == "xmr" for item in rights_spc.values()) else "run"
    exception_lines = _exception_lines(concerns, chart_kind, months_text, quarter)
    improving = tuple(item.label for item in [*rights_spc.values(), *entitlements_spc.values()]
                      if item.spc.variation_icon.startswith("improvement"))

    sections = []
    for right in catalogue.rights:
        sections.append(_right_section(right, rights.loc[right.number], rights_spc.get(right.number),
                                       [entitlements_spc[e.code] for e in right.measured_entitlements],
                                       is_hidden, hidden_months.get(right.number, []), months_text,
                                       chart_panels, chart_actions, filters))

    tables = {
        "rights": _rights_table(catalogue, rights, rights_spc, entitlements_spc, is_hidden),
        "entitlements": _entitlements_table(catalogue, entitlements, entitlements_spc, is_hidden),
        "monthly": _monthly_table(catalogue, rights_spc, right_months, is_hidden, charted),
        "referrals": _referrals_table(referrals, is_hidden),
        "surveys": _surveys_table(surveys, is_hidden, victim_level),
    }
    tables["complaints_right"], tables["complaints_outcome"] = _complaints_tables(complaints, is_hidden, policy,
                                                                                  victim_level)
    tables["panels"] = _panels_table(panels, is_hidden)
    tables["actions"] = _actions_table(actions, catalogue, as_of)
    # Entitlement months are never shown as counts: hiding them only keeps them out of the entitlements' SPC.
    cells_hidden = len([key for key in hidden if key[0] != "ent_m"])
    return BoardPack(
        quarter=quarter, filters=filters, store_name=meta.path.name, store_source=meta.source,
        is_demo=meta.is_demo, generated_at=now or datetime.now(timezone.utc), spc_months=months_text,
        notes=tuple(notes), suppression=Suppression(policy.threshold, cells_hidden,
                                                    pack_suppression_note(policy, cells_hidden)),
        exceptions=exception_lines, improving=improving, rights=tuple(sections), tables=tables)


def _complaint_key(right_no) -> str:
    return ALL if pd.isna(right_no) else str(int(right_no))


# --- tables ------------------------------------------------------------------------------------------

def _right_title(catalogue: Catalogue, number: int) -> str:
    return f"{number}. {catalogue.right(number).short_title}"


def _rights_table(catalogue: Catalogue, rights: pd.DataFrame, rights_spc: dict[int, SeriesSpc],
                  entitlements_spc: dict[str, SeriesSpc], is_hidden) -> PackTable:
    rows = []
    for right in catalogue.rights:
        totals = rights.loc[right.number]
        measured = bool(right.measured_entitlements)
        delivered_hidden = is_hidden("right", right.number, "delivered") or is_hidden("right", right.number, "eligible")
        on_time_hidden = (is_hidden("right", right.number, "delivered_on_time")
                          or is_hidden("right", right.number, "eligible_timed"))
        rate, interval = _rate_cells(totals["delivered"], totals["eligible"], delivered_hidden)
        timed = totals["eligible_timed"] > 0 or on_time_hidden
        on_time, on_time_interval = (_rate_cells(totals["delivered_on_time"], totals["eligible_timed"], on_time_hidden)
                                     if timed else (None, None))
        item = rights_spc.get(right.number)
        assurance = _right_assurance([entitlements_spc[e.code] for e in right.measured_entitlements])
        rows.append({
            "Right": _right_title(catalogue, right.number),
            "Delivered %": rate if measured else None,
            "Delivered": _shown(totals["delivered"], is_hidden("right", right.number, "delivered")) if measured else None,
            "Eligible": _shown(totals["eligible"], is_hidden("right", right.number, "eligible")) if measured else None,
            "95% CI": interval if measured else NOT_MEASURED,
            "On time %": on_time,
            "On time": (_shown(totals["delivered_on_time"], is_hidden("right", right.number, "delivered_on_time"))
                        if timed else None),
            "With a timescale": (_shown(totals["eligible_timed"], is_hidden("right", right.number, "eligible_timed"))
                                 if timed else ("no timescale" if measured else None)),
            "Variation (SPC)": item.spc.variation_text.label if item is not None else NOT_MEASURED,
            "Target assurance": assurance or ("no target set" if measured else NOT_MEASURED),
        })
    return PackTable("Rights", "The 12 rights", pd.DataFrame(rows, dtype=object),
                     "Each right adds up the instances of its measured entitlements, then divides: delivered (or "
                     "offered and declined) of eligible, with the Wilson 95% interval; on time of those with a "
                     "timescale. Variation: the Making Data Count icon for the right's monthly delivered rate, in "
                     "words. Assurance: whether a target the board has set on one of its entitlements can be relied on.")


def _entitlements_table(catalogue: Catalogue, entitlements: pd.DataFrame, spc: dict[str, SeriesSpc],
                        is_hidden) -> PackTable:
    by_code = entitlements.set_index("entitlement")
    rows = []
    for ent in catalogue.measured_entitlements:
        if ent.code not in by_code.index:
            continue
        row = by_code.loc[ent.code]

        def shown(column: str, row=row, code=ent.code):
            return _shown(row[column], is_hidden("ent", code, column))
        rate, interval = _rate_cells(row["delivered"], row["eligible"],
                                     is_hidden("ent", ent.code, "delivered") or is_hidden("ent", ent.code, "eligible"))
        on_time, on_time_interval = (None, None)
        if ent.has_timescale:
            on_time, on_time_interval = _rate_cells(row["delivered_on_time"], row["eligible_timed"],
                                                    is_hidden("ent", ent.code, "delivered_on_time")
                                                    or is_hidden("ent", ent.code, "eligible_timed"))
        item = spc[ent.code]
        assurance = (item.spc.assurance_text.label if item.spc.assurance_text else "no assurance without limits") \
            if item.target is not None else "no target set"
        rows.append({
            "Right": ent.right_no, "Entitlement": ent.label,
            "Delivered %": rate, "Delivered": shown("delivered"), "Eligible": shown("eligible"), "95% CI": interval,
            "On time %": on_time if ent.has_timescale else "no timescale",
            "On time": shown("delivered_on_time") if ent.has_timescale else None,
            "With a timescale": shown("eligible_timed") if ent.has_timescale else None,
            "Not yet due": shown("not_yet_due"), "Not applicable": shown("not_applicable"),
            "Variation (SPC)": item.spc.variation_text.label, "Target assurance": assurance, "Code": ent.code,
        })
    return PackTable("Entitlements", "Every measured entitlement", pd.DataFrame(rows, dtype=object),
                     "Not yet due (not delivered, deadline after the as-of date) and not applicable (recorded "
                     "exceptions) are left out of the eligible count.")


def _monthly_table(catalogue: Catalogue, rights_spc: dict[int, SeriesSpc], right_months: pd.DataFrame,
                   is_hidden, charted: set[str]) -> PackTable:
    rows = []
    for number, item in rights_spc.items():
        counts = right_months[right_months["right_no"] == number].set_index("level")
        for _, point in item.spc.points.iterrows():
            level = _month_key(point["date"])
            if level not in charted:
                continue
            found = level in counts.index
            delivered = int(counts.loc[level, "delivered"]) if found else 0
            eligible = int(counts.loc[level, "eligible"]) if found else 0
            hidden_d = is_hidden("right_m", number, level, "delivered")
            hidden_e = is_hidden("right_m", number, level, "eligible")
            rows.append({
                "Right": _right_title(catalogue, number), "Month": f"{point['date']:%b %Y}",
                "Delivered": _shown(delivered, hidden_d), "Eligible": _shown(eligible, hidden_e),
                "Rate %": SUPPRESSED if hidden_d or hidden_e else _percent(point["value"]),
                "Mean %": _percent(point["mean"]), "Lower limit %": _percent(point["lpl"]),
                "Upper limit %": _percent(point["upl"]),
                "Point": "hidden (small numbers)" if hidden_d or hidden_e else POINT_TYPES[point["point_type"]].label,
                "Why": point["signals"] or None,
            })
    return PackTable("Monthly", "Each right's monthly delivered rate (the data behind the SPC charts)",
                     pd.DataFrame(rows, dtype=object), "Mean and limits are those of the chart; a month with a hidden count is "
                                         "not a point and does not count towards them.")


def _referrals_table(referrals: pd.DataFrame, is_hidden) -> PackTable:
    rows = []
    totals = referrals[referrals["breakdown"] == "total"].set_index("service")
    services = [s for s in (*contract.REFERRAL_SERVICES, ALL_SERVICES) if s in totals.index]
    for service in services:
        row = totals.loc[service]
        name = "All services" if service == ALL_SERVICES else contract.label(service)
        for step in REFERRAL_STEPS:
            count_hidden = is_hidden("ref", service, step.column)
            entry = {"Service": name, "Step": step.label,
                     "Count": _shown(int(row[step.column]), count_hidden),
                     "Of": None, "Share %": None, "95% CI": None}
            if step.of:
                of_hidden = is_hidden("ref", service, step.of)
                entry["Of"] = _shown(int(row[step.of]), of_hidden)
                entry["Share %"], entry["95% CI"] = _rate_cells(int(row[step.column]), int(row[step.of]),
                                                                count_hidden or of_hidden)
            rows.append(entry)
    frame = pd.DataFrame(rows, columns=["Service", "Step", "Count", "Of", "Share %", "95% CI"], dtype=object)
    note = ("Victims whose crime was reported in the quarter, followed through each step as of the as-of date; each "
            "step counts only those who passed every earlier one, and its share is of the step it follows "
            "(within 2 working days and contacted are shares of those referred). " +
            " ".join(f"{s.label}: {s.definition}" for s in REFERRAL_STEPS))
    if not rows:
        note = "No referral records for victims whose crime was reported in the quarter. " + note
    return PackTable("Referrals", "Referral uptake, by commissioned service", frame, note)


def _median_cell(value, n: int, policy: DisclosurePolicy, hidden: bool):
    """A median, hidden where the count it rests on is hidden or small."""
    if hidden or policy.is_small(n):
        return SUPPRESSED
    return None if value is None or pd.isna(value) else round(float(value), 1)


def _surveys_table(surveys: pd.DataFrame | None, is_hidden, victim_level: list[str]) -> PackTable:
    columns = ["Survey", "Responses", "Measure", "Count", "Answered", "Share %", "95% CI"]
    if surveys is None:
        return PackTable("Surveys", "Victim surveys", pd.DataFrame(columns=columns),
                         _not_filterable("Survey responses", victim_level))
    rows = []
    totals = surveys[surveys["breakdown"] == "total"].set_index("survey")
    for survey in [s for s in (*contract.SURVEYS, ALL) if s in totals.index]:
        row = totals.loc[survey]
        name = "All surveys" if survey == ALL else contract.label(survey)
        for label, numerator, denominator in SURVEY_MEASURES.values():
            n_hidden, d_hidden = is_hidden("svy", survey, numerator), is_hidden("svy", survey, denominator)
            share, interval = _rate_cells(int(row[numerator]), int(row[denominator]), n_hidden or d_hidden)
            rows.append({"Survey": name, "Responses": _shown(int(row["responses"]), is_hidden("svy", survey, "responses")),
                         "Measure": label, "Count": _shown(int(row[numerator]), n_hidden),
                         "Answered": _shown(int(row[denominator]), d_hidden), "Share %": share, "95% CI": interval})
    note = ("Responses received in the quarter, by survey. Satisfied: a score of 4 or 5 out of 5, as a share of "
            "those who answered that question; aware of the Code: as a share of those who answered it.")
    if not rows:
        note = "No survey responses were received in the quarter. " + note
    return PackTable("Surveys", "Victim surveys", pd.DataFrame(rows, columns=columns, dtype=object), note)


def _not_filterable(what: str, victim_level: list[str]) -> str:
    names = ", ".join(DIMENSIONS[n].label.lower() for n in victim_level)
    return (f"{what} are linked to a case, not a victim, so they cannot be filtered by {names}: they are left out "
            "of this pack rather than shown for everyone.")


_OUTCOME_ORDER = (*contract.COMPLAINT_OUTCOMES, "not_recorded")
_COMPLAINT_COLUMNS = ("Complaints", "Acknowledged", "Median working days to acknowledge")


def _complaints_tables(complaints: pd.DataFrame | None, is_hidden, policy: DisclosurePolicy,
                       victim_level: list[str]) -> tuple[PackTable, PackTable]:
    """Complaints by right, and by outcome, each with its total (two one-way tables: a right-by-outcome grid
    would be mostly hidden cells at a force's numbers)."""
    titles = ("Complaints by right", "Complaints by outcome")
    if complaints is None:
        note = _not_filterable("Complaints", victim_level)
        return (PackTable("Complaints by right", titles[0], pd.DataFrame(columns=["Right"]), note),
                PackTable("Complaints by outcome", titles[1], pd.DataFrame(columns=["Outcome"]), note))
    by_right = complaints[complaints["outcome"] == ALL]
    rights = sorted((_complaint_key(r) for r in by_right["right_no"] if not pd.isna(r)), key=int)
    by_outcome = complaints[complaints["right_no"].isna()].set_index("outcome")
    right_rows = by_right.assign(key=[_complaint_key(r) for r in by_right["right_no"]]).set_index("key")

    def row(kind: str, key: str, name_column: str, name: str, source: pd.Series) -> dict:
        ack_hidden = is_hidden(kind, key, "acknowledged")
        return {name_column: name,
                "Complaints": _shown(int(source["complaints"]), is_hidden(kind, key, "complaints")),
                "Acknowledged": _shown(int(source["acknowledged"]), ack_hidden),
                "Median working days to acknowledge": _median_cell(
                    source["median_working_days_to_acknowledge"], int(source["acknowledged"]), policy, ack_hidden)}

    first = [row("cmp_r", r, "Right", "No right stated" if r == "0" else f"Right {r}", right_rows.loc[r])
             for r in rights]
    second = [row("cmp_o", o, "Outcome", contract.label(o), by_outcome.loc[o])
              for o in _OUTCOME_ORDER if o in by_outcome.index]
    if ALL in right_rows.index:
        first.append(row("cmp_r", ALL, "Right", "All complaints", right_rows.loc[ALL]))
        second.append(row("cmp_o", ALL, "Outcome", "All complaints", by_outcome.loc[ALL]))
    note = ("Complaints received in the quarter, by the right they concern and by their outcome as of the as-of "
            "date (open: not closed by then). Acknowledged: by the as-of date; the median counts working days "
            f"from receipt (0 = the same day) and is hidden when it rests on fewer than {policy.threshold} complaints.")
    if not first:
        note = "No complaints were received in the quarter. " + note
    return (PackTable("Complaints by right", titles[0],
                      pd.DataFrame(first, columns=["Right", *_COMPLAINT_COLUMNS], dtype=object), note),
            PackTable("Complaints by outcome", titles[1],
                      pd.DataFrame(second, columns=["Outcome", *_COMPLAINT_COLUMNS], dtype=object),
                      "The same complaints, by their outcome as of the as-of date." if first else note))


def _panels_table(panels: pd.DataFrame, is_hidden) -> PackTable:
    rows = [{
        "Held on": f"{row['held_on']:%d %b %Y}", "Panel": row["title"] or "(no title)",
        "Themes": ", ".join(contract.label(t.strip()) for t in str(row["themes"]).split(";") if t.strip()),
        "Format": contract.label(row["format"]) if isinstance(row["format"], str) else None,
        "Victims heard": (None if pd.isna(row["victims_heard"])
                          else _shown(int(row["victims_heard"]), is_hidden("panel", row["panel_id"], "victims_heard"))),
        "Concerns": int(row["concerns"]), "Suggestions": int(row["suggestions"]), "Praise": int(row["praise"]),
    } for _, row in panels.iterrows()]
    columns = ["Held on", "Panel", "Themes", "Format", "Victims heard", "Concerns", "Suggestions", "Praise"]
    note = "Feedback panels held in the quarter; victims heard live, by recording or through a support worker."
    if not rows:
        note = "No feedback panel was held in the quarter."
    return PackTable("Panels", "Feedback panels held", pd.DataFrame(rows, columns=columns, dtype=object), note)


def _actions_table(actions: pd.DataFrame, catalogue: Catalogue, as_of: date) -> PackTable:
    names = {e.code: e.label for e in catalogue.entitlements}
    names.update({m.code: m.label for m in catalogue.contact_measures})

    def day(value) -> str | None:
        return None if pd.isna(value) else f"{value:%d %b %Y}"

    rows = []
    for _, row in actions.iterrows():
        overdue = f"Overdue by {int(row['days_overdue']):,} days" if row["overdue"] else None
        source = None
        if isinstance(row["finding_summary"], str):
            source = f"{contract.label(row['finding_kind'])}"
            if not pd.isna(row["right_no"]):
                source += f" (Right {int(row['right_no'])})"
            source += f": {_shorten(row['finding_summary'])}"
        rows.append({
            "Action": _shorten(row["title"]), "Owner": row["owner"] if isinstance(row["owner"], str) else None,
            "Status": contract.label(row["status"]), "Overdue": overdue, "Raised": day(row["raised_on"]),
            "Due": day(row["due_on"]), "Completed": day(row["completed_on"]),
            "Measure": names.get(row["measure"], row["measure"]) if isinstance(row["measure"], str) else None,
            "Arising from": source,
        })
    columns = ["Action", "Owner", "Status", "Overdue", "Raised", "Due", "Completed", "Measure", "Arising from"]
    note = (f"Panel actions still open on {as_of:%d %b %Y}, and those raised or completed in the quarter; overdue "
            "first (open and past their due date). Titles and findings are as typed by staff.")
    if not rows:
        note = "No panel action was open, raised or completed in the quarter."
    return PackTable("Actions", "Panel actions", pd.DataFrame(rows, columns=columns, dtype=object), note)


def _shorten(text, limit: int = 240) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- the rights, one by one --------------------------------------------------------------------------

def _right_section(right, totals: pd.Series, item: SeriesSpc | None, entitlement_items: list[SeriesSpc], is_hidden,
                   hidden_months: list[str], months_text: str, panels: pd.DataFrame, actions: pd.DataFrame,
                   filters: Filters) -> RightSection:
    title = f"Right {right.number}: {right.title}"
    if not right.measured_entitlements:
        return RightSection(right.number, title, (), "", "", right.not_measured_note or "Not measured.", None, "",
                            "", None)
    number = right.number
    d_hidden, e_hidden = is_hidden("right", number, "delivered"), is_hidden("right", number, "eligible")
    delivered = _shown(int(totals["delivered"]), d_hidden)
    eligible = _shown(int(totals["eligible"]), e_hidden)
    if int(totals["eligible"]) == 0 and not e_hidden:
        headline = ["No eligible instances in the quarter."]
    else:
        rate, interval = _rate_cells(int(totals["delivered"]), int(totals["eligible"]), d_hidden or e_hidden)
        if rate == SUPPRESSED:
            headline = [f"Delivered: {_count_text(delivered, eligible)} eligible; the rate is hidden (small numbers)."]
        else:
            headline = [f"Delivered: {rate:.1f}% ({_count_text(delivered, eligible)} eligible; 95% CI {interval})."]
        t_hidden = is_hidden("right", number, "delivered_on_time") or is_hidden("right", number, "eligible_timed")
        if int(totals["eligible_timed"]) > 0 or t_hidden:
            on_time = _shown(int(totals["delivered_on_time"]), is_hidden("right", number, "delivered_on_time"))
            timed = _shown(int(totals["eligible_timed"]), is_hidden("right", number, "eligible_timed"))
            rate, interval = _rate_cells(int(totals["delivered_on_time"]), int(totals["eligible_timed"]), t_hidden)
            headline.append(f"On time: {_count_text(on_time, timed)} with a timescale" +
                            (f", {rate:.1f}% (95% CI {interval})." if rate not in (None, SUPPRESSED) else "."))
    variation = f"{item.spc.variation_text.label}: {item.spc.variation_text.sentence}"
    if item.since is not None:
        variation = f"{item.spc.variation_text.label} since {item.since:%b %Y}: {item.spc.variation_text.sentence}"
    assurance = _right_assurance(entitlement_items)
    codes = {e.code for e in right.measured_entitlements}
    related = actions[actions["measure"].isin(codes)] if len(actions) else actions
    observed = item.spc.points.dropna(subset=["value"])
    alt = charts.describe_spc(item.label, item.spc, "the monthly delivered rate", panels=len(panels),
                              actions=len(related))
    note_parts = [f"Monthly delivered rate, {months_text}, {filters.describe().split('; ', 1)[1]}."]
    if hidden_months:
        listed = ", ".join(f"{pd.Timestamp(m + '-01'):%b %Y}" for m in hidden_months)
        note_parts.append(f"Hidden (small numbers), so not plotted and not in the limits: {listed}.")
        alt += f" {len(hidden_months)} month{'s are' if len(hidden_months) != 1 else ' is'} hidden (small numbers)."
    if item.spc.note:
        note_parts.append(item.spc.note.replace("(no cases)", "(no cases, or hidden)") if hidden_months
                          else item.spc.note)
    figure = None
    if not observed.empty:
        figure = charts.spc_figure(item.series, item.spc, panels=panels, actions=related)
        # A fixed size prints the same as it shows; the margin leaves room for the rate axis' labels.
        figure.update_layout(width=CHART_WIDTH, height=320, margin=dict(l=56, r=16, t=10, b=10))
        figure.update_xaxes(dtick="M1" if len(item.series) <= 12 else "M3")
    table = _chart_table(item, hidden_months)
    return RightSection(number, title, tuple(headline), variation, assurance, "", figure, alt, " ".join(note_parts),
                        table)


def _chart_table(item: SeriesSpc, hidden_months: Sequence[str]) -> pd.DataFrame:
    """The SPC chart as a table: one row per month, hidden months marked as such."""
    points = item.spc.points.merge(item.series.rename(columns={"month": "date"}), on="date", how="left")
    hidden = {pd.Timestamp(m + "-01") for m in hidden_months}
    rows = []
    for _, p in points.iterrows():
        is_hidden = p["date"] in hidden
        rows.append({
            "Month": f"{p['date']:%b %Y}",
            "Rate %": SUPPRESSED if is_hidden else _percent(p["value"]),
            "n of N": SUPPRESSED if is_hidden else (_count_text(p["numerator"], p["denominator"])
                                                    if p["denominator"] else "no cases"),
            "Mean %": _percent(p["mean"]), "Lower limit %": _percent(p["lpl"]), "Upper limit %": _percent(p["upl"]),
            "Point": "hidden (small numbers)" if is_hidden else POINT_TYPES[p["point_type"]].label,
        })
    return pd.DataFrame(rows, dtype=object)


def _exception_lines(concerns: pd.DataFrame, kind: str, months_text: str, quarter: Quarter) -> tuple[str, ...]:
    if kind != "xmr":
        return (f"Not enough history for SPC: {months_text}; SPC needs at least 15 months, so no exceptions can be "
                "found yet.",)
    if concerns.empty:
        return (f"No right or entitlement shows a special-cause concern in {quarter.describe()} ({months_text} of "
                "history).",)
    lines = []
    for _, row in concerns.iterrows():
        what = row["label"] if row["level"] == "right" else f"{row['label']} (Right {row['right_no']})"
        figures = (f"Latest {row['latest_month']:%b %Y}: {row['latest_rate']:.1%} delivered, against a mean of "
                   f"{row['mean']:.1%} (process limits {max(row['lpl'], 0):.1%} to {min(row['upl'], 1):.1%}).")
        if row["status"] == "ongoing":
            since = f" since {row['since']:%b %Y}" if pd.notna(row["since"]) else ""
            lines.append(f"{what}: {row['variation']}{since}. {figures} Why: {row['signals']}.")
        else:
            lines.append(f"{what}: special-cause concern in {row['concern_months']}; the latest month is "
                         f"{row['variation'].lower()}. {figures}")
    return tuple(lines)


# --- HTML ---------------------------------------------------------------------------------------------

_CSS = """
:root { --ink: #0b0c0c; --muted: #505a5f; --line: #b1b4b6; --accent: #12436D; --warn: #F46A25; }
* { box-sizing: border-box; }
body { font-family: "Source Sans Pro", Arial, sans-serif; color: var(--ink); margin: 0 auto; max-width: 60rem;
       padding: 1.5rem; line-height: 1.4; font-size: 15px; }
h1 { font-size: 1.9rem; margin: 0 0 .5rem; } h2 { font-size: 1.45rem; border-bottom: 2px solid var(--accent);
     padding-bottom: .2rem; margin-top: 2rem; } h3 { font-size: 1.15rem; margin: 1.2rem 0 .3rem; }
.cover { border: 2px solid var(--accent); padding: 1.2rem 1.4rem; }
.cover dl { display: grid; grid-template-columns: 11rem 1fr; gap: .3rem 1rem; margin: 1rem 0; }
.cover dt { font-weight: 700; } .cover dd { margin: 0; }
.synthetic { background: #fff4e5; border-left: 6px solid var(--warn); padding: .6rem .9rem; font-weight: 700; }
.suppression, .note { background: #f3f2f1; padding: .6rem .9rem; }
.caption { color: var(--muted); font-size: .9rem; }
table { border-collapse: collapse; width: 100%; margin: .5rem 0 1rem; font-size: .85rem; }
th, td { border: 1px solid var(--line); padding: .25rem .4rem; text-align: left; vertical-align: top; }
th { background: #f3f2f1; } td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.right { border-top: 1px solid var(--line); padding-top: .4rem; }
.figures { margin: .2rem 0; } .spc-words { font-weight: 600; }
.chart { break-inside: avoid; page-break-inside: avoid; margin: .4rem 0; }
.alt { color: var(--muted); font-size: .85rem; }
details summary { cursor: pointer; color: var(--accent); }
ul.exceptions li { margin-bottom: .4rem; }
@page { size: A4; margin: 14mm 12mm 16mm; }
@media print {
  body { max-width: none; padding: 0; font-size: 10.5pt; }
  section.page-section { break-before: page; page-break-before: always; }
  .right { break-inside: avoid; page-break-inside: avoid; }
  thead { display: table-header-group; } tr { break-inside: avoid; page-break-inside: avoid; }
  .modebar, details { display: none !important; }
  a { color: inherit; text-decoration: none; }
}
"""


def filters_text(filters: Filters) -> str:
    """'District: Basildon, Harlow; Standard or enhanced: Enhanced', or 'none: the whole force'."""
    return "; ".join(f"{DIMENSIONS[name].label}: {', '.join(contract.label(v) for v in values)}"
                     for name, values in filters.active().items()) or "none: the whole force"


def _esc(value) -> str:
    return html.escape(str(value), quote=True)


def _cell_html(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return '<td class="num">–</td>'
    if isinstance(value, (bool, np.bool_)):
        return f"<td>{'yes' if value else 'no'}</td>"
    if isinstance(value, (int, np.integer)):
        return f'<td class="num">{int(value):,}</td>'
    if isinstance(value, (float, np.floating)):
        return f'<td class="num">{float(value):,.1f}</td>'
    if value == SUPPRESSED:
        return f'<td class="num" title="hidden: small numbers">{_esc(value)}</td>'
    return f"<td>{_esc(value)}</td>"


def _table_html(table: PackTable | None, frame: pd.DataFrame | None = None, table_id: str = "",
                caption: str = "") -> str:
    frame = table.frame if frame is None else frame
    caption = caption or (table.title if table else "")
    if frame.empty:
        return f'<p class="note">{_esc(table.note if table else "Nothing to show.")}</p>'
    head = "".join(f'<th scope="col">{_esc(c)}</th>' for c in frame.columns)
    body = "".join("<tr>" + "".join(_cell_html(v) for v in row) + "</tr>"
                   for row in frame.astype(object).itertuples(index=False))
    ident = f' id="{_esc(table_id)}"' if table_id else ""
    out = (f"<table{ident}><caption class=\"caption\">{_esc(caption)}</caption><thead><tr>{head}</tr></thead>"
           f"<tbody>{body}</tbody></table>")
    if table is not None and table.note:
        out += f'<p class="caption">{_esc(table.note)}</p>'
    return out


def _figure_html(figure: go.Figure, div_id: str) -> str:
    # Plotly's JSON escapes "<", ">" and "/" inside strings, so text in a figure cannot close the script.
    return figure.to_html(full_html=False, include_plotlyjs=False, div_id=div_id,
                          config={"displaylogo": False, "responsive": False})


def render_html(pack: BoardPack) -> str:
    """The pack as one self-contained HTML document: plotly.js inline once, every text escaped."""
    f = pack.filters
    selections = filters_text(f)
    parts = [
        "<!DOCTYPE html>", '<html lang="en-GB"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_esc(pack.title)}</title><style>{_CSS}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>', "</head><body>",
        '<section class="cover" id="cover">',
        f"<h1>{_esc(pack.title)}</h1>",
    ]
    if pack.is_demo:
        parts.append('<p class="synthetic" id="synthetic">Synthetic demonstration data: every figure comes from '
                     "generated records; no real victim is described.</p>")
    parts.append("<dl>" + "".join(f"<dt>{_esc(k)}</dt><dd>{_esc(v)}</dd>" for k, v in (
        ("Quarter", pack.quarter.describe()),
        ("Period", f"Entitlements triggered, crimes reported, survey responses and complaints received from "
                   f"{pack.quarter.first_month:%d %b %Y} to {pack.quarter.last_day:%d %b %Y}"),
        ("Filters", selections),
        ("Data as of", f"{f.as_of:%d %B %Y}: only what had happened by then is counted"),
        ("Store", f"{pack.store_name} ({pack.store_source})"),
        ("Generated", f"{pack.generated_at:%d %B %Y %H:%M} UTC"),
        ("SPC history", pack.spc_months),
    )) + "</dl>")
    parts.append(f'<p class="suppression" id="suppression">{_esc(pack.suppression.note)}</p>')
    for note in pack.notes:
        parts.append(f'<p class="note">{_esc(note)}</p>')
    parts.append("<p class=\"caption\">Contents: 1 Exceptions · 2 The 12 rights · 3 Each right, with its SPC chart · "
                 "4 Every entitlement · 5 Referral uptake · 6 Victim voice · 7 Feedback panels and actions · "
                 "8 How the figures are counted</p></section>")

    parts.append('<section class="page-section" id="exceptions"><h2>1. Exceptions: special-cause concerns</h2>')
    parts.append('<ul class="exceptions">' + "".join(f"<li>{_esc(line)}</li>" for line in pack.exceptions) + "</ul>")
    if pack.improving:
        parts.append(f"<p>Special cause, improving in the latest month: {_esc('; '.join(pack.improving))}.</p>")
    parts.append(f'<p class="caption">From each right\'s and entitlement\'s monthly delivered rate over '
                 f"{_esc(pack.spc_months)}, by the Making Data Count rules: a concern in the latest month, and any "
                 "concern in the quarter that the latest month has come back from; the most recent first.</p></section>")

    parts.append('<section class="page-section" id="rights"><h2>2. The 12 rights</h2>')
    parts.append(_table_html(pack.tables["rights"], table_id="t-rights") + "</section>")

    parts.append('<section class="page-section" id="each-right"><h2>3. Each right, with its SPC chart</h2>')
    parts.append(f"<p class=\"caption\">{_esc(SPC_KEY)}</p>")
    for section in pack.rights:
        parts.append(f'<div class="right" id="right-{section.number}"><h3>{_esc(section.title)}</h3>')
        if section.not_measured:
            parts.append(f"<p>{_esc(section.not_measured)}</p></div>")
            continue
        parts += [f'<p class="figures">{_esc(line)}</p>' for line in section.headline]
        parts.append(f'<p class="spc-words">Variation: {_esc(section.variation)}</p>')
        if section.assurance:
            parts.append(f'<p class="spc-words">Target assurance: {_esc(section.assurance)}</p>')
        if section.figure is not None:
            parts.append(f'<div class="chart" role="img" aria-label="{_esc(section.alt)}">'
                         f"{_figure_html(section.figure, f'chart-right-{section.number}')}</div>")
        else:
            parts.append('<p class="note">Nothing to chart: no month has a value that can be shown.</p>')
        parts.append(f'<p class="alt">{_esc(section.alt)}</p><p class="caption">{_esc(section.chart_note)}</p>')
        if section.chart_table is not None and not section.chart_table.empty:
            parts.append("<details><summary>The chart as a table</summary>"
                         + _table_html(None, section.chart_table, f"t-chart-{section.number}",
                                       f"Monthly delivered rate, Right {section.number}") + "</details>")
        parts.append("</div>")
    parts.append("</section>")

    for number, key, heading in ((4, "entitlements", "Every entitlement"), (5, "referrals", "Referral uptake")):
        parts.append(f'<section class="page-section" id="{key}"><h2>{number}. {_esc(heading)}</h2>')
        parts.append(_table_html(pack.tables[key], table_id=f"t-{key}") + "</section>")
    parts.append('<section class="page-section" id="victim-voice"><h2>6. Victim voice</h2>')
    parts.append(_table_html(pack.tables["surveys"], table_id="t-surveys"))
    parts.append(_table_html(pack.tables["complaints_right"], table_id="t-complaints-right"))
    parts.append(_table_html(pack.tables["complaints_outcome"], table_id="t-complaints-outcome") + "</section>")
    parts.append('<section class="page-section" id="panels"><h2>7. Feedback panels and actions</h2>')
    parts.append(_table_html(pack.tables["panels"], table_id="t-panels"))
    parts.append(_table_html(pack.tables["actions"], table_id="t-actions") + "</section>")
    parts.append('<section class="page-section" id="definitions"><h2>8. How the figures are counted</h2>')
    parts.append("<ul>" + "".join(f"<li><strong>{_esc(term)}</strong>: {_esc(text)}</li>"
                                  for term, text in DEFINITIONS) + "</ul>")
    parts.append(f'<p class="suppression">{_esc(pack.suppression.note)}</p></section>')
    parts.append("</body></html>")
    return "\n".join(parts)


SPC_KEY = ("How to read the charts: grey dots are common-cause months, the normal variation of the process; a "
           "blue star marks a special-cause improvement and an orange cross a special-cause concern. The solid line "
           "is the mean, the dashed lines the process limits, the dash-dot line the board's target. Along the top, "
           "an open triangle marks a feedback panel and a diamond a completed panel action on one of the right's "
           "entitlements. With fewer than 15 months a chart is a run chart, without limits. Hover over a point "
           "for its figures.")

DEFINITIONS: tuple[tuple[str, str], ...] = (
    ("Eligible", "instances of the entitlement triggered in the quarter, less those recorded as not applicable and "
                 "those not yet due on the as-of date."),
    ("Delivered", "delivered, or offered and declined, on or before the as-of date."),
    ("On time", "delivered on or before the N-th working day after the trigger, N from the Code for standard or "
                "enhanced victims; weekends and England and Wales bank holidays are not working days."),
    ("95% CI", "the Wilson score interval; with small numbers it is wide, and differences inside it may be chance."),
    ("SPC", "XmR charts by the NHS England Making Data Count rules over the monthly history up to the quarter's "
            "end: a month beyond the process limits, 7 in a row on one side of the mean, 7 rising or falling, or 2 of "
            "3 close to a limit is special cause. A month still being delivered on the data date is left out."),
    ("Referral uptake", "victims whose crime was reported in the quarter, followed through each step; see the "
                        "Referrals table for each step's definition."),
    ("Surveys", "responses received in the quarter; a score of 4 or 5 of 5 counts as satisfied."),
    ("Complaints", "received in the quarter, by right and outcome as of the as-of date."),
    ("Rates", "every rate is its numerator over its denominator at the level shown; rates are never averaged."),
)


# --- XLSX ---------------------------------------------------------------------------------------------

def _neutral(value):
    """Text a spreadsheet would run as a formula, prefixed with ' so it stays text."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def _sheet_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.astype(object).map(_neutral)
    out.columns = [_neutral(c) for c in out.columns]
    return out.where(out.notna(), None)


def readme_rows(pack: BoardPack) -> list[tuple[str, str]]:
    f = pack.filters
    rows = [
        ("Title", pack.title),
        ("Quarter", pack.quarter.describe()),
        ("Period", f"{pack.quarter.first_month:%Y-%m-%d} to {pack.quarter.last_day:%Y-%m-%d}"),
        ("Filters", filters_text(f)),
        ("Data as of", f"{f.as_of:%Y-%m-%d}"),
        ("Generated (UTC)", f"{pack.generated_at:%Y-%m-%d %H:%M}"),
        ("Store", f"{pack.store_name} ({pack.store_source})"),
        ("Synthetic data", "yes: synthetic demonstration data, no real victim is described" if pack.is_demo else "no"),
        ("Suppression", pack.suppression.note),
        ("Suppression threshold", f"counts from 1 to {pack.suppression.threshold - 1} are hidden, shown as {SUPPRESSED}"),
        ("Counts hidden", f"{pack.suppression.cells_hidden}"),
        ("SPC history", pack.spc_months),
    ]
    rows += [("Note", note) for note in pack.notes]
    rows += [(f"Sheet {t.sheet}", f"{t.title}. {t.note}") for t in pack.tables.values()]
    rows += list(DEFINITIONS)
    return rows


def render_xlsx(pack: BoardPack) -> bytes:
    """The pack's tables as an XLSX workbook: a README sheet (period, filters, as-of, suppression), then one
    sheet per table. Text that could run as a formula is prefixed with '."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        readme = pd.DataFrame(readme_rows(pack), columns=["Item", "Value"])
        _sheet_frame(readme).to_excel(writer, sheet_name="README", index=False)
        for table in pack.tables.values():
            _sheet_frame(table.frame).to_excel(writer, sheet_name=table.sheet, index=False)
        for sheet in writer.sheets.values():
            for column in sheet.columns:
                width = max(len(str(c.value)) if c.value is not None else 0 for c in column[:200])
                sheet.column_dimensions[column[0].column_letter].width = min(max(10, width + 2), 80)
    return buffer.getvalue()


def board_pack_files(store: Store, catalogue: Catalogue, quarter: Quarter, **options) -> tuple[BoardPack, str, bytes]:
    """The pack for a quarter, its HTML and its XLSX (options: those of build_board_pack)."""
    pack = build_board_pack(store, catalogue, quarter, **options)
    return pack, render_html(pack), render_xlsx(pack)


def pack_file_name(quarter: Quarter, extension: str) -> str:
    """'board-pack-2025Q3.html'."""
    return f"board-pack-{quarter}.{extension}"
