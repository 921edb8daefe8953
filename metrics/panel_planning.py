"""Candidate themes for the next feedback panel, from the data. Pure: SQL builders and frame functions.

Three kinds of evidence, all aggregates:

1. Groups of victims whose delivery is getting worse: for each level of PLANNING_DIMENSIONS (offence group,
   standard or enhanced, sex, ethnicity, age band, disability), an XmR chart of the monthly delivered rate of
   every measured entitlement added together (numerators and denominators summed, then divided). A group whose
   latest month is a special-cause concern ("ongoing"), or that had concern months in the period's last
   quarter ("recent"), is listed (group_concerns). The board's entitlement exceptions (metrics.summaries)
   are the second list; complaints by right (metrics.victim_voice) the third.
2. Each panel theme is linked to the groups that stand for it (THEME_GROUPS), so a concern in a group is
   evidence for its theme.
3. Victims a panel could invite: the seed's criterion is a finalised case with no outstanding complaint. For
   each theme, the cases closed in the window (by the as-of date) with no complaint open on the as-of date
   (theme_cases_sql). The contract has no theme on a case, so each theme is mapped to case attributes
   (THEME_CASES); docs/assumptions-caveats.md states the mapping and its limits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

import pandas as pd

from metrics import contract
from metrics.summaries import SeriesSpc, month_runs, series_spc

__all__ = ["PLANNING_DIMENSIONS", "MINORITY_ETHNICITIES", "THEME_LABELS", "ThemeCases", "THEME_CASES", "THEME_GROUPS",
           "theme_cases_sql", "theme_counts", "group_series", "group_concerns", "candidate_themes"]

PLANNING_DIMENSIONS = ("offence_group", "victim_type", "sex", "ethnicity", "age_band", "disability")
MINORITY_ETHNICITIES = tuple(e for e in contract.ETHNICITIES if e not in ("white", "unknown"))
THEME_LABELS = {
    "sexual_violence_domestic_abuse": "Sexual violence and domestic abuse",
    "vawg": "Violence against women and girls",
    "minority_communities": "Victims from minority communities",
    "stalking_harassment": "Stalking and harassment",
    "high_harm": "High-harm offences",
    "other": "Other",
}


@dataclass(frozen=True)
class ThemeCases:
    condition: str  # SQL over the `finalised` CTE of theme_cases_sql; fixed text, never from input
    words: str  # the same in words, for captions and docs


# Which finalised cases belong to each theme (a case can belong to several). 'other' has no mapping.
THEME_CASES: dict[str, ThemeCases] = {
    "sexual_violence_domestic_abuse": ThemeCases(
        "offence_group = 'sexual_offences' OR domestic_abuse",
        "a sexual offence, or a case flagged as domestic abuse"),
    "vawg": ThemeCases(
        "any_female AND (offence_group IN ('sexual_offences', 'violence_against_the_person') OR domestic_abuse)",
        "a female victim of a sexual offence, violence against the person, or domestic abuse"),
    "minority_communities": ThemeCases(
        "any_minority OR hate_crime",
        "a victim whose ethnicity is recorded as Asian, Black, mixed or other, or a case flagged as a hate crime"),
    "stalking_harassment": ThemeCases(
        "offence_group = 'public_order'",
        "a public order offence (a proxy: the contract has no stalking or harassment flag)"),
    "high_harm": ThemeCases(
        "any_most_serious",
        "a victim with enhanced rights as a victim of the most serious crime"),
}

# The groups (dimension, level) whose SPC stands for each theme.
THEME_GROUPS: dict[str, tuple[tuple[str, str], ...]] = {
    "sexual_violence_domestic_abuse": (("offence_group", "sexual_offences"),),
    "vawg": (("sex", "female"),),
    "minority_communities": tuple(("ethnicity", e) for e in MINORITY_ETHNICITIES),
    "stalking_harassment": (("offence_group", "public_order"),),
    "high_harm": (("victim_type", "enhanced"),),
}


def theme_cases_sql(as_of: date, since: date) -> tuple[str, dict]:
    """Per theme, the cases closed from `since` to `as_of` with no complaint open on `as_of`.

    A case is finalised when its status is closed and its closed_at falls in the window (a closed case without
    a date cannot be placed in it and is left out). A complaint is open on the as-of date when it was received
    by then and not closed by then (as in metrics.victim_voice). Returns one row: 'all' (every such case) and
    one column per theme of THEME_CASES.
    """
    if since > as_of:
        raise ValueError("the window starts after the as-of date")
    counts = ",\n       ".join(f"count(*) FILTER (WHERE {theme.condition}) AS {name}"
                               for name, theme in THEME_CASES.items())
    sql = f"""WITH
victim_flags AS (
    SELECT case_id,
           bool_or(sex = 'female') AS any_female,
           bool_or(list_contains($minority, ethnicity)) AS any_minority,
           bool_or(enhanced_category = 'most_serious_crime') AS any_most_serious
    FROM victims
    GROUP BY case_id
),
open_complaints AS (
    SELECT DISTINCT case_id
    FROM complaints
    WHERE case_id IS NOT NULL AND CAST(received_at AS DATE) <= $as_of
      AND (closed_at IS NULL OR CAST(closed_at AS DATE) > $as_of)
),
finalised AS (
    SELECT k.offence_group,
           COALESCE(k.domestic_abuse, false)     AS domestic_abuse,
           COALESCE(k.hate_crime, false)         AS hate_crime,
           COALESCE(f.any_female, false)         AS any_female,
           COALESCE(f.any_minority, false)       AS any_minority,
           COALESCE(f.any_most_serious, false)   AS any_most_serious
    FROM cases k
    LEFT JOIN victim_flags f ON f.case_id = k.case_id
    WHERE k.status = 'closed' AND CAST(k.closed_at AS DATE) BETWEEN $since AND $as_of
      AND k.case_id NOT IN (SELECT case_id FROM open_complaints)
)
SELECT count(*) AS "all",
       {counts}
FROM finalised"""
    return sql, {"as_of": as_of, "since": since, "minority": list(MINORITY_ETHNICITIES)}


def theme_counts(row: pd.DataFrame) -> pd.DataFrame:
    """theme_cases_sql's one row -> one row per theme: theme, label, cases, definition."""
    values = row.iloc[0] if len(row) else pd.Series(dtype="int64")
    return pd.DataFrame({
        "theme": list(THEME_CASES),
        "label": [THEME_LABELS[t] for t in THEME_CASES],
        "cases": [int(values.get(t, 0)) for t in THEME_CASES],
        "definition": [THEME_CASES[t].words for t in THEME_CASES],
    })


def group_series(counts: pd.DataFrame, dimension: str, months: pd.DatetimeIndex) -> dict[str, SeriesSpc]:
    """SPC of each level's monthly delivered rate, from pivot counts with rows 'month' and columns `dimension`
    (row_level 'YYYY-MM', column_level the level, eligible and delivered summed over the entitlements)."""
    frame = counts.copy()
    frame["month"] = pd.to_datetime(frame["row_level"] + "-01")
    return {str(level): series_spc(rows, months, code=f"{dimension}:{level}", label=contract.label(str(level)),
                                   numerator="delivered", denominator="eligible")
            for level, rows in frame.groupby("column_level", sort=True)}


_CONCERN_COLUMNS = ["dimension", "level", "group", "status", "since", "concern_months", "months_of_concern",
                    "latest_month", "latest_rate", "latest_numerator", "latest_denominator", "mean", "signals"]


def group_concerns(series: Mapping[tuple[str, str], SeriesSpc], dimension_labels: Mapping[str, str],
                   recent_from: date) -> pd.DataFrame:
    """Groups whose latest month is a special-cause concern ('ongoing'), or that were concerning from
    `recent_from` on but are back within their limits ('recent'). Strongest first: ongoing before recent, then
    the most months of concern; ties alphabetically. Columns: _CONCERN_COLUMNS."""
    rows = []
    for (dimension, level), item in series.items():
        points = item.spc.points
        concern = points[(points["point_type"] == "special_cause_concern") & points["value"].notna()]
        ongoing = item.spc.variation_icon.startswith("concern")
        recent = concern[concern["date"] >= pd.Timestamp(recent_from)]
        if not ongoing and (item.spc.variation_icon != "common_cause" or recent.empty):
            continue
        latest = item.latest
        at_latest = item.series[item.series["month"] == latest["date"]].iloc[0]
        shown = concern if ongoing else recent
        rows.append({
            "dimension": dimension, "level": level,
            "group": f"{dimension_labels.get(dimension, dimension)}: {contract.label(level)}",
            "status": "ongoing" if ongoing else "recent", "since": item.since if ongoing else recent["date"].min(),
            "concern_months": month_runs(shown["date"]), "months_of_concern": len(shown),
            "latest_month": latest["date"], "latest_rate": latest["value"],
            "latest_numerator": int(at_latest["numerator"]), "latest_denominator": int(at_latest["denominator"]),
            "mean": latest["mean"], "signals": latest["signals"] if ongoing else "",
        })
    frame = pd.DataFrame(rows, columns=_CONCERN_COLUMNS)
    if frame.empty:
        return frame
    frame["_ongoing"] = frame["status"] == "ongoing"
    frame = frame.sort_values(["_ongoing", "months_of_concern", "group"], ascending=[False, False, True], kind="stable")
    return frame.drop(columns="_ongoing").reset_index(drop=True)


def candidate_themes(cases: pd.DataFrame, concerns: pd.DataFrame, panels: pd.DataFrame,
                     themes: Iterable[str] | None = None) -> pd.DataFrame:
    """One row per theme: the groups standing for it that are of concern, when a panel last heard it, and the
    finalised cases with no open complaint. Themes with a concern come first, then those heard longest ago
    (never heard first); ties in the contract's order.

    cases: theme_counts. concerns: group_concerns. panels: held_on and themes (';'-separated) per panel.
    Columns: theme, label, concerns (words, '' if none), has_concern, last_panel (Timestamp or NaT), cases,
    definition.
    """
    chosen = list(themes) if themes is not None else list(THEME_CASES)
    heard: dict[str, pd.Timestamp] = {}
    for held_on, listed in zip(pd.to_datetime(panels["held_on"]), panels["themes"]):
        for theme in str(listed).split(";"):
            theme = theme.strip()
            if theme and (theme not in heard or held_on > heard[theme]):
                heard[theme] = held_on
    counts = cases.set_index("theme")
    rows = []
    for order, theme in enumerate(chosen):
        wanted = set(THEME_GROUPS.get(theme, ()))
        mine = concerns[[(d, lvl) in wanted for d, lvl in zip(concerns["dimension"], concerns["level"])]] \
            if len(concerns) else concerns
        words = "; ".join(
            f"{r.group}: concerning {'since ' + format(r.since, '%b %Y') if r.status == 'ongoing' else 'in ' + r.concern_months}"
            + (" (ongoing)" if r.status == "ongoing" else " (recent)") for r in mine.itertuples())
        rows.append({"theme": theme, "label": THEME_LABELS.get(theme, contract.label(theme)), "concerns": words, "has_concern": bool(len(mine)),
                     "last_panel": heard.get(theme, pd.NaT),
                     "cases": int(counts.loc[theme, "cases"]) if theme in counts.index else 0,
                     "definition": counts.loc[theme, "definition"] if theme in counts.index else "",
                     "_order": order})
    frame = pd.DataFrame(rows)
    frame["_never"] = frame["last_panel"].isna()
    frame = frame.sort_values(["has_concern", "_never", "last_panel", "_order"], ascending=[False, False, True, True],
                              na_position="first", kind="stable")
    return frame.drop(columns=["_order", "_never"]).reset_index(drop=True)
