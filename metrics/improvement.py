"""What each completed panel action achieved, and the action log's overdue flags. Pure: frames in, frames out.

An action names the measure it should move (an entitlement code or a contact-log measure). Its verdict comes
from metrics.before_after around the action's completion date, on the measure's monthly series (higher is
better for every measure):

* Too early to tell: fewer than MIN_MONTHS_AFTER (6) months with a value after the action, fewer than 6
  before it, or fewer than 15 months in all, too few for process limits (before_after says which).
* Otherwise the SPC view decides: the months after the action are judged against the mean and limits of the
  months before it. A special cause above the before mean = improved; below = worse; none = no change.
* Special causes on both sides after the action: the difference in proportions (after minus before, with
  Newcombe's 95% interval) decides when its interval excludes no change; otherwise no change.

The reason always gives the SPC finding and the difference in proportions in words, never a bare percentage
change. An action is not proof of cause: the reason says when the measure was already unstable before it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from metrics.before_after import BeforeAfter, before_after
from metrics.summaries import month_runs

__all__ = ["MIN_MONTHS_AFTER", "VERDICTS", "VERDICT_LABELS", "OPEN_STATUSES", "ActionVerdict", "action_verdict",
           "verdict_table", "overdue_actions"]

MIN_MONTHS_AFTER = 6
VERDICTS = ("improved", "no_change", "worse", "too_early")
VERDICT_LABELS = {"improved": "Improved", "no_change": "No change", "worse": "Worse", "too_early": "Too early to tell"}
OPEN_STATUSES = ("proposed", "agreed", "in_progress")


@dataclass(frozen=True)
class ActionVerdict:
    verdict: str  # a key of VERDICT_LABELS
    reason: str  # why, in words, with the rates and counts
    brief: str  # why, in words without any figure drawn from the records (for aggregate audiences)
    evidence: BeforeAfter

    @property
    def label(self) -> str:
        return VERDICT_LABELS[self.verdict]


def action_verdict(series: pd.DataFrame, completed_on: date) -> ActionVerdict:
    """The verdict on one action from its measure's monthly series (month, numerator, denominator)."""
    evidence = before_after(series, completed_on, min_months=MIN_MONTHS_AFTER)
    spc, proportions = evidence.spc, evidence.proportions
    months = (f"Before: {evidence.before_range}; after: {evidence.after_range}"
              + (f" ({evidence.split.transition:%b %Y}, the month the action was completed, is left out)."
                 if evidence.split.transition is not None else "."))
    if spc.verdict == "too_early":  # its words count months, never people
        return ActionVerdict("too_early", f"{spc.words} {months}", f"{spc.words} {months}", evidence)
    if spc.verdict == "higher":
        verdict = "improved"
    elif spc.verdict == "lower":
        verdict = "worse"
    elif spc.verdict == "both":
        verdict = {"higher": "improved", "lower": "worse"}.get(proportions.verdict, "no_change")
    else:
        verdict = "no_change"
    lead = {"improved": "Improved", "worse": "Worse", "no_change": "No change"}[verdict]
    if spc.verdict == "both":
        lead += " (special causes on both sides after the action, so the difference in proportions decides)"
    return ActionVerdict(verdict, f"{lead}. {spc.words} {proportions.words} {months}",
                         f"{lead}. {_brief(evidence)} {months}", evidence)


def _brief(evidence: BeforeAfter) -> str:
    """The SPC finding without rates, limits or counts: which side, which months, which rules."""
    spc = evidence.spc
    after = int((evidence.months["period"].eq("after") & evidence.months["rate"].notna()).sum())
    if spc.verdict == "no_clear_change":
        text = (f"No special cause in the {after} months after the action, judged against the limits of the months "
                "before it.")
    else:
        parts = []
        for side, words in (("high", "above"), ("low", "below")):
            rows = spc.after_signals[spc.after_signals["signal_side"] == side]
            if len(rows):
                why = sorted({s for text in rows["signals"] for s in str(text).split("; ") if s})
                parts.append(f"{words} the before months' mean in {month_runs(rows['date'])} ({', '.join(why)})")
        text = "A special cause after the action, " + "; and ".join(parts) + "."
        if spc.verdict == "both":
            text += (" The difference in proportions " + ("excludes" if evidence.proportions.verdict in
                                                          ("higher", "lower") else "includes") + " no change.")
    if spc.before_unstable:
        text += " The months before were not stable themselves."
    return text


def verdict_table(actions: pd.DataFrame, series_by_measure: Mapping[str, pd.DataFrame],
                  measure_names: Mapping[str, str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Verdicts for the completed actions (status 'done', a completion date) that name a measure.

    actions: action_id, title, owner, completed_on, measure. series_by_measure: code -> monthly series of every
    measure that can be charted. Returns (verdicts, not_judged): verdicts has action_id, title, owner,
    completed_on, measure, measure_label, verdict, verdict_label, reason, brief, in completion order; not_judged has
    action_id, title, measure and why no verdict can be given (no measure, or one the records cannot measure).
    """
    done = actions[(actions["status"] == "done") & actions["completed_on"].notna()]
    done = done.sort_values(["completed_on", "action_id"], kind="stable")
    rows, skipped = [], []
    for action in done.itertuples(index=False):
        measure = action.measure if isinstance(action.measure, str) and action.measure else None
        if measure is None or measure not in series_by_measure:
            why = ("It names no measure." if measure is None else
                   "Its measure is not measured from the force's records, so there is no series to judge.")
            skipped.append({"action_id": action.action_id, "title": action.title, "measure": measure or "", "why": why})
            continue
        result = action_verdict(series_by_measure[measure], pd.Timestamp(action.completed_on).date())
        rows.append({"action_id": action.action_id, "title": action.title, "owner": action.owner,
                     "completed_on": pd.Timestamp(action.completed_on), "measure": measure,
                     "measure_label": measure_names.get(measure, measure), "verdict": result.verdict,
                     "verdict_label": result.label, "reason": result.reason, "brief": result.brief})
    columns = ["action_id", "title", "owner", "completed_on", "measure", "measure_label", "verdict", "verdict_label",
               "reason", "brief"]
    return (pd.DataFrame(rows, columns=columns),
            pd.DataFrame(skipped, columns=["action_id", "title", "measure", "why"]))


def overdue_actions(actions: pd.DataFrame, as_of: date, open_statuses: Iterable[str] = OPEN_STATUSES) -> pd.DataFrame:
    """The action log with `overdue` (open and due before the as-of date) and `days_overdue` (else <NA>)."""
    out = actions.copy()
    due = pd.to_datetime(out["due_on"])
    is_open = out["status"].isin(list(open_statuses))
    out["overdue"] = (is_open & due.notna() & (due < pd.Timestamp(as_of))).astype(bool)
    days = (pd.Timestamp(as_of) - due).dt.days
    out["days_overdue"] = days.where(out["overdue"]).astype("Int64")
    return out
