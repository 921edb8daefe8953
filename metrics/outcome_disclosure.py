"""Disclosure control for the board's referral uptake and victim voice figures: which counts to hide.

Pure, built on metrics.disclosure. The board sees these figures for one quarter, force-wide, in exactly three
groups of tables, and nothing else about them: the referral funnel by service; survey results by survey and
question; complaints by right and by outcome. They are the board pack's tables (ui/boardpack.py), which the
Board overview, the Referral uptake page and the Victim voice page all show to the board, so one pattern of
hidden cells serves every view the board can reach.

Each group is protected in one call, with every relation between its counts:
- the funnel's steps are nested (considered ⊇ offered ⊇ consent given ⊇ referred ⊇ within the limit, contacted;
  contacted ⊇ engaged), and the people between ANY step and an earlier one it is part of are counted (considered
  but not referred, say), not only those between a step and the one before it;
- a survey question's satisfied answers are part of its answers, which are part of the responses;
- complaints by right and by outcome are two breakdowns of the same total, protected together
  (metrics.disclosure.suppress_margins): protected apart, a total hidden for one is given back by the other.

Breakdowns by district or group, months, working-day histograms and choices of service, measure or survey are
not offered to the board: each would be one more table linked to these totals, and protecting each view on its
own lets one view's hidden count be worked out from another's figures (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from metrics.disclosure import DisclosurePolicy, suppress_breakdown, suppress_margins
from metrics.referrals import ALL_SERVICES, REFERRAL_COUNT_COLUMNS, REFERRAL_STEPS
from metrics.victim_voice import ALL, SURVEY_COUNT_COLUMNS, SURVEY_MEASURES

__all__ = ["nested_pairs", "REFERRAL_NESTED", "SURVEY_NESTED", "COMPLAINT_COUNTS", "COMPLAINT_NESTED",
           "referral_mask", "survey_mask", "complaint_masks"]


def nested_pairs(parent_of: Mapping[str, str | None]) -> tuple[tuple[str, str], ...]:
    """Every (part, whole) pair of a tree of counts given as count -> the count it is part of (None at the top):
    each count with its parent, its parent's parent and so on, since whole - part counts people at every level."""
    pairs = []
    for part in parent_of:
        whole = parent_of[part]
        while whole is not None:
            pairs.append((part, whole))
            whole = parent_of[whole]
    return tuple(pairs)


REFERRAL_NESTED = nested_pairs({step.column: step.of for step in REFERRAL_STEPS})
SURVEY_NESTED = nested_pairs({"responses": None, **{d: "responses" for _, _, d in SURVEY_MEASURES.values()},
                              **{n: d for _, n, d in SURVEY_MEASURES.values()}})
COMPLAINT_COUNTS = ("complaints", "acknowledged")
COMPLAINT_NESTED = (("acknowledged", "complaints"),)


def _mask(result, index, counts: Sequence[str]) -> pd.DataFrame:
    return pd.DataFrame(result.hidden[list(counts)].to_numpy(dtype=bool), index=index, columns=list(counts))


def referral_mask(totals: pd.DataFrame, policy: DisclosurePolicy) -> pd.DataFrame:
    """The funnel by service (service, REFERRAL_COUNT_COLUMNS; the ALL_SERVICES row the total) -> booleans
    (True = hide) with the frame's index and the count columns."""
    counts = list(REFERRAL_COUNT_COLUMNS)
    if totals.empty:
        return pd.DataFrame(False, index=totals.index, columns=counts)
    view = totals[["service", *counts]].reset_index(drop=True)
    result = suppress_breakdown(view, dimension="service", counts=counts, total=ALL_SERVICES,
                                nested=list(REFERRAL_NESTED), policy=policy)
    return _mask(result, totals.index, counts)


def survey_mask(totals: pd.DataFrame, policy: DisclosurePolicy) -> pd.DataFrame:
    """Survey results by survey (survey, SURVEY_COUNT_COLUMNS; the ALL row the total) -> booleans (True = hide)."""
    counts = list(SURVEY_COUNT_COLUMNS)
    if totals.empty:
        return pd.DataFrame(False, index=totals.index, columns=counts)
    view = totals[["survey", *counts]].reset_index(drop=True)
    result = suppress_breakdown(view, dimension="survey", counts=counts, total=ALL, nested=list(SURVEY_NESTED),
                                policy=policy)
    return _mask(result, totals.index, counts)


def complaint_masks(by_right: pd.DataFrame, by_outcome: pd.DataFrame,
                    policy: DisclosurePolicy) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Complaints by right (right: a key as text, ALL for the total) and by outcome (outcome, ALL for the total),
    each with COMPLAINT_COUNTS, protected together -> a mask for each (True = hide). The two total rows are the
    same complaints, so they get the same mask."""
    counts = list(COMPLAINT_COUNTS)
    masks = (pd.DataFrame(False, index=by_right.index, columns=counts),
             pd.DataFrame(False, index=by_outcome.index, columns=counts))
    if by_right.empty and by_outcome.empty:
        return masks
    rights = by_right[by_right["right"] != ALL]
    outcomes = by_outcome[by_outcome["outcome"] != ALL]
    totals = {tuple(int(v) for v in row) for row in pd.concat(
        [by_right.loc[by_right["right"] == ALL, counts], by_outcome.loc[by_outcome["outcome"] == ALL, counts]],
    ).itertuples(index=False, name=None)}
    if len(totals) != 1:
        raise ValueError("complaints by right and by outcome must have the same total row")
    total = totals.pop()
    frame = pd.DataFrame({
        "breakdown": ["right"] * len(rights) + ["outcome"] * len(outcomes) + [""],
        "level": [*rights["right"].astype(str), *outcomes["outcome"].astype(str), ALL],
        **{c: [*rights[c].astype(int), *outcomes[c].astype(int), total[i]] for i, c in enumerate(counts)},
    })
    result = suppress_margins(frame, breakdown="breakdown", dimension="level", counts=counts, total=ALL,
                              nested=list(COMPLAINT_NESTED), policy=policy)
    hidden = result.hidden[counts].to_numpy(dtype=bool)
    n_rights, n_outcomes = len(rights), len(outcomes)
    total_hidden = hidden[-1]
    right_mask, outcome_mask = masks
    right_mask.loc[rights.index] = hidden[:n_rights]
    outcome_mask.loc[outcomes.index] = hidden[n_rights:n_rights + n_outcomes]
    right_mask.loc[by_right["right"] == ALL] = total_hidden
    outcome_mask.loc[by_outcome["outcome"] == ALL] = total_hidden
    return right_mask, outcome_mask
