"""Feedback panels: the log of panels, their findings and the actions they led to; what each completed action
achieved; candidate themes for the next panel. Victim services record panels, findings and actions here."""

import logging
from dataclasses import replace
from datetime import date

import pandas as pd
import streamlit as st

from data_access import audit, panel_edits
from data_access.explore import pivot_counts
from data_access.outcomes import complaints_by_right
from metrics import contract
from metrics.contact_measures import contact_measure_rates
from metrics.disclosure import MARKER, DisclosurePolicy, suppress_breakdown, suppression_note
from metrics.filters import DIMENSIONS, add_months, month_end
from metrics.improvement import OPEN_STATUSES, action_verdict, overdue_actions, verdict_table
from metrics.panel_planning import PLANNING_DIMENSIONS, THEME_LABELS, candidate_themes, group_concerns, group_series
from metrics.pivot import PivotSpec
from metrics.summaries import exceptions, series_spc
from ui import access, data, display
from ui.auditing import recorded
from ui.frame import page_context

ctx = page_context("feedback_panels")
PAGE_ID = "feedback_panels"
catalogue, filters, store = ctx.catalogue, ctx.filters, ctx.store
log = logging.getLogger("pages.feedback_panels")
editor = panel_edits.may_edit(ctx.role)
board = ctx.role == access.BOARD_ROLE  # aggregates only, small counts hidden (metrics.disclosure)
policy = DisclosurePolicy.load() if board else None

_FLASH = "fp_flash"  # a message to show once, after the rerun that follows a save
_OPENED = "fp_opened"  # the row as it was when the user opened it, for the conflict check
_OUTCOME = "fp_outcome"  # the last save's result, shown under the form until the next attempt
_REVISION = "fp_revision"  # bumped after a save or a reload, so the form's widgets start afresh
_CURRENT = "fp_current"  # what is being recorded and which row: the widgets' defaults when they are drawn afresh
NEW = "__new__"
_TEXT = st.column_config.TextColumn  # free text is shown as text in tables: never Markdown, never HTML

MEASURE_NAMES = {e.code: f"{e.label} (Right {e.right_no})" for e in catalogue.entitlements}
MEASURE_NAMES.update({m.code: f"{m.label} (contact log)" for m in catalogue.contact_measures})

st.caption(f"Panels, findings and actions are force-wide: the sidebar filters do not apply to the log. Data as of "
           f"{store.meta.data_as_of:%d %B %Y}; an action is overdue when it is still open (proposed, agreed or in "
           "progress) and its due date is before that date.")
if _FLASH in st.session_state:
    st.success(st.session_state.pop(_FLASH), icon=":material/check_circle:")

labels = ["Panel log", "Improvement tracking", "Panel planning"] + (["Record and edit"] if editor else [])
# Only the open tab runs (stateful tabs), and the tab chosen is kept in the link.
tabs = st.tabs(labels, key="panels_tab", on_change="rerun", bind="query-params")


def theme_label(theme: str) -> str:
    return THEME_LABELS.get(theme, contract.label(theme))


def themes_text(value) -> str:
    return ", ".join(theme_label(t.strip()) for t in str(value or "").split(";") if t.strip())


def dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series).dt.strftime("%d %b %Y").fillna("–")


def right_text(value) -> str:
    return "–" if pd.isna(value) else f"Right {int(value)}: {catalogue.right(int(value)).short_title}"


# --- the panel log ---------------------------------------------------------------------------------------

def heard_counts(counts: pd.Series) -> pd.Series:
    """Victims heard at each panel: numbers, or for the board text with 1 to 9 shown as the confidential mark."""
    if not board:
        return counts.astype("Int64")
    return pd.Series(["–" if pd.isna(c) else MARKER if policy.is_small([c])[0] else f"{int(c):,}" for c in counts],
                     index=counts.index)


def panel_log() -> None:
    panels = panel_edits.read_table(store, "panels").sort_values(["held_on", "panel_id"], ascending=[False, True])
    findings = panel_edits.read_table(store, "panel_findings")
    actions = overdue_actions(panel_edits.read_table(store, "actions"), store.meta.data_as_of)
    if panels.empty:
        st.info("No feedback panels are recorded yet." + (" Record one under **Record and edit**." if editor else ""),
                icon=":material/info:")
        return
    heard_columns = ["victims_live", "victims_recorded", "victims_via_support_worker"]
    heard = panels[heard_columns].fillna(0).astype(int).sum()
    open_actions = actions[actions["status"].isin(OPEN_STATUSES)]
    overdue = actions[actions["overdue"]]
    cells = st.columns(3 if board else 4)
    cells[0].metric("Panels held", f"{len(panels):,}", border=True)
    cells[-2].metric("Open actions", f"{len(open_actions):,}", border=True)
    cells[-1].metric("Overdue actions", f"{len(overdue):,}", border=True)
    if board:  # as in the board pack: no total of victims heard, and each panel's small counts hidden
        st.caption(suppression_note(policy, int(sum(policy.is_small(panels[c].fillna(0)).sum() for c in heard_columns))))
    else:
        cells[1].metric("Victims heard", f"{int(heard.sum()):,}", border=True,
                        help="Live, pre-recorded or through their support worker, over every panel recorded.")
        st.caption(f"Victims heard: {int(heard['victims_live']):,} live, {int(heard['victims_recorded']):,} "
                   f"pre-recorded and {int(heard['victims_via_support_worker']):,} through their support worker.")
    if len(overdue):
        st.warning(f"**{len(overdue)} open action{'s are' if len(overdue) != 1 else ' is'} overdue** (marked "
                   "⚠ Overdue in the action log below, with the days since it fell due).", icon=":material/schedule:")

    st.markdown("#### Panels")
    finding_counts = findings.groupby("panel_id").size()
    st.dataframe(pd.DataFrame({
        "Held on": dates(panels["held_on"]),
        "Panel": panels["panel_id"],
        "Title": panels["title"].fillna(""),
        "Themes": panels["themes"].map(themes_text),
        "Format": panels["format"].map(lambda v: contract.label(v) if isinstance(v, str) else "–"),
        "Staff attending": panels["staff_attendees"].astype("Int64"),
        "Victims live": heard_counts(panels["victims_live"]),
        "Pre-recorded": heard_counts(panels["victims_recorded"]),
        "Through a support worker": heard_counts(panels["victims_via_support_worker"]),
        "Staff feedback (1-5)": panels["staff_feedback_score"],
        "Findings": panels["panel_id"].map(finding_counts).fillna(0).astype(int),
    }), hide_index=True, column_config={"Title": _TEXT(), "Staff feedback (1-5)": st.column_config.NumberColumn(
        format="%.1f")}, alt="Table of feedback panels, newest first: date, title, themes, format, staff attending, "
                             "victims heard and the staff feedback score")

    options = ["all"] + list(panels["panel_id"])
    held = dict(zip(panels["panel_id"], dates(panels["held_on"])))
    chosen = st.selectbox("Show the findings and actions of", options, key="fp_log_panel",
                          format_func=lambda p: "Every panel" if p == "all" else f"Panel {p}, held {held[p]}")
    if chosen != "all":
        findings = findings[findings["panel_id"] == chosen]
        actions = actions[actions["finding_id"].isin(list(findings["finding_id"]))]

    st.markdown("#### Findings")
    panel_of = dict(zip(findings["finding_id"], findings["panel_id"]))
    st.dataframe(pd.DataFrame({
        "Finding": findings["finding_id"],
        "Panel": [f"{p} ({held.get(p, '–')})" for p in findings["panel_id"]],
        "Kind": findings["kind"].map(contract.label),
        "Right": findings["right_no"].map(right_text),
        "Entitlement": findings["entitlement"].map(lambda c: MEASURE_NAMES.get(c, c) if isinstance(c, str) else "–"),
        "Summary": findings["summary"],
    }), hide_index=True, column_config={"Summary": _TEXT(width="large")},
        alt="Table of panel findings: praise, concern or suggestion, the right or entitlement it concerns, and what "
            "victims said")

    st.markdown("#### Actions")
    actions = actions.sort_values(["overdue", "days_overdue", "due_on", "action_id"],
                                  ascending=[False, False, True, True], na_position="last", kind="stable")
    flag = ["⚠ Overdue by " + (f"{d} day" if d == 1 else f"{d:,} days") if o else "" for o, d in
            zip(actions["overdue"], actions["days_overdue"].fillna(0).astype(int))]
    st.dataframe(pd.DataFrame({
        "Overdue": flag,
        "Action": actions["action_id"],
        "Title": actions["title"],
        "Owner": actions["owner"].fillna(""),
        "Raised": dates(actions["raised_on"]),
        "Due": dates(actions["due_on"]),
        "Status": actions["status"].map(contract.label),
        "Completed": dates(actions["completed_on"]),
        "Measure": actions["measure"].map(lambda c: MEASURE_NAMES.get(c, c) if isinstance(c, str) else "–"),
        "From finding": [f"{f} (panel {panel_of.get(f, '–')})" if isinstance(f, str) else "–"
                         for f in actions["finding_id"]],
    }), hide_index=True, column_config={"Title": _TEXT(width="large"), "Owner": _TEXT()},
        alt="Table of panel actions, overdue ones first (marked Overdue in words): owner, dates, status and the "
            "measure each should move")


# --- improvement tracking --------------------------------------------------------------------------------

def measure_series() -> tuple[dict[str, pd.DataFrame], dict[str, object]]:
    """Each measured entitlement's and contact measure's monthly series and SPC, over the SPC history."""
    months = data.history_months(ctx)
    targets, _ = data.targets(ctx)
    _, by_entitlement = data.board_spc(ctx, targets)
    items = dict(by_entitlement)
    contact = contact_measure_rates(data.contact_history(ctx), catalogue)
    for m in catalogue.contact_measures:
        items[m.code] = series_spc(contact[contact["measure"] == m.code], months, code=m.code, label=m.label,
                                   numerator="numerator", denominator="denominator", target=targets.get(m.code, "rate"))
    return {code: item.series for code, item in items.items()}, items


def improvement_tracking() -> None:
    actions = panel_edits.read_table(store, "actions")
    with_measure = actions[actions["measure"].notna() & (actions["measure"] != "")]
    history = data.history_filters(ctx)
    st.caption(f"Each action names the measure it should move. Its measure's monthly rate ({history.describe()}; "
               "the sidebar filters apply) is compared before and after the month the action was completed: the "
               "months after are judged against the mean and process limits of the months before (SPC), and the "
               "two periods' rates are compared with a 95% interval for the difference. Improved = a special cause "
               "above the earlier mean; worse = below it; no change = neither; too early to tell = fewer than 6 "
               "months with a value on either side, or fewer than 15 in all. A change after an action is not "
               "proof the action caused it. " + data.unsettled_note(ctx))
    if with_measure.empty:
        st.info("No action names a measure yet, so there is nothing to track.", icon=":material/info:")
        return
    series, items = measure_series()
    verdicts, not_judged = verdict_table(actions, series, MEASURE_NAMES)
    st.markdown("#### Completed actions: what changed")
    if verdicts.empty:
        st.info("No completed action names a measure the dashboard can chart yet.", icon=":material/info:")
    else:
        tally = verdicts["verdict_label"].value_counts()
        st.markdown(" · ".join(f"**{label}**: {int(tally.get(label, 0))}"
                               for label in ("Improved", "No change", "Worse", "Too early to tell")))
        st.dataframe(pd.DataFrame({
            "Action": verdicts["action_id"], "Title": verdicts["title"], "Owner": verdicts["owner"].fillna(""),
            "Completed": dates(verdicts["completed_on"]), "Measure": verdicts["measure_label"],
            "Verdict": verdicts["verdict_label"], "Why": verdicts["brief" if board else "reason"],
        }), hide_index=True, column_config={"Title": _TEXT(width="medium"), "Owner": _TEXT(),
                                            "Why": _TEXT(width="large")},
            alt="Table of completed panel actions with a measure: the verdict (improved, no change, worse or too early "
                "to tell) and why, in words")
    for row in not_judged.itertuples():
        st.caption(f"Action {display.plain(row.action_id)}: no verdict. {row.why}")
    if board:  # monthly counts can be small: the board's charts are the board pack's, disclosure-controlled
        st.caption("For the board, the reasons give no figures. Each measure's chart, with completed actions marked "
                   "and small counts hidden, is in the board pack on the Board overview.")
        return

    st.markdown("#### One action's measure, before and after")
    done_first = with_measure.assign(_done=with_measure["status"] == "done").sort_values(
        ["_done", "completed_on", "action_id"], ascending=[False, True, True], kind="stable")
    by_id = done_first.set_index("action_id")
    chosen = st.selectbox("Action", list(by_id.index), key="fp_track_action",
                          format_func=lambda a: f"{a} · {contract.label(by_id.loc[a, 'status'])} · "
                                                f"{MEASURE_NAMES.get(by_id.loc[a, 'measure'], by_id.loc[a, 'measure'])}")
    action = by_id.loc[chosen]
    st.text(f"{chosen}: {action['title']}")
    item = items.get(action["measure"])
    if item is None:
        st.info("This action's measure is not one the dashboard measures from the force's records, so there is no "
                "chart.",
                icon=":material/info:")
        return
    completed = pd.NaT if pd.isna(action["completed_on"]) else pd.Timestamp(action["completed_on"])
    marker = None
    if action["status"] == "done" and not pd.isna(completed):
        marker = pd.DataFrame({"action_id": [chosen], "completed_on": [completed], "measure": [action["measure"]],
                               "title": [action["title"]]})
    panels, _ = data.annotations(ctx)
    what = "rate" if action["measure"] in {m.code for m in catalogue.contact_measures} else "delivered rate"
    with st.container(border=True):
        display.spc_chart(item, key="fp_track_chart", what=what, definition=MEASURE_NAMES.get(item.code, item.code),
                          context=history.describe(), panels=panels, actions=marker)
    if marker is None:
        st.info("This action is not completed, so there is no before and after yet.", icon=":material/info:")
        return
    result = action_verdict(item.series, completed.date())
    evidence = result.evidence.proportions
    st.markdown(f"**Verdict: {result.label}**")
    st.text(result.reason)
    st.dataframe(pd.DataFrame({
        "Period": [f"Before ({result.evidence.before_range})", f"After ({result.evidence.after_range})"],
        "Months with a value": [evidence.before_months, evidence.after_months],
        "n of N": [display.count_text(evidence.before_numerator, evidence.before_denominator),
                   display.count_text(evidence.after_numerator, evidence.after_denominator)],
        "Rate %": [evidence.before_rate * 100, evidence.after_rate * 100],
        "95% CI": [display.interval_text(evidence.before_lower, evidence.before_upper),
                   display.interval_text(evidence.after_lower, evidence.after_upper)],
    }), hide_index=True, column_config={"Rate %": st.column_config.NumberColumn(format="%.1f%%")},
        alt="Table of the measure's rate before and after the action, with counts and 95% intervals")
    if pd.notna(evidence.difference):
        st.caption(f"Difference, after minus before: {evidence.difference * 100:+.1f} percentage points (95% CI "
                   f"{evidence.lower * 100:+.1f} to {evidence.upper * 100:+.1f}, Newcombe's hybrid score interval).")


# --- panel planning --------------------------------------------------------------------------------------

@st.cache_data(ttl=3600, max_entries=64, show_spinner=False)
def _group_counts(_ctx, store_key: str, _filters, filters_key: str, dimension: str) -> pd.DataFrame:
    return pivot_counts(_ctx.store, _ctx.catalogue, _filters, PivotSpec(rows="month", measure="delivered_rate",
                                                                        columns=dimension))


@st.cache_data(ttl=3600, max_entries=16, show_spinner=False)
def _theme_cases(_ctx, store_key: str, as_of: date, since: date) -> pd.DataFrame:
    return panel_edits.finalised_cases_by_theme(_ctx.store, as_of, since)


def small_hidden(counts: pd.Series, policy: DisclosurePolicy) -> pd.Series:
    """Counts as text, with 1 to threshold-1 shown as the confidential marker (each count stands alone)."""
    return pd.Series([MARKER if policy.is_small([c])[0] else f"{int(c):,}" for c in counts], index=counts.index)


def panel_planning() -> None:
    # Planning is force-wide: the period from the sidebar, no other filter.
    force = replace(ctx, filters=replace(filters, selections={}))
    history = data.history_filters(force)
    months = data.history_months(force)
    since = filters.first_month
    until = min(month_end(filters.last_month), filters.as_of)
    recent_from = max(add_months(filters.last_month, -2), filters.first_month)
    st.caption(f"Force-wide, whatever the sidebar's other filters: the trends run {history.describe()}; cases and "
               f"complaints count from {since:%d %b %Y} to {until:%d %b %Y}. Panels hear victims whose cases are "
               "finalised and who have no complaint outstanding, so each theme counts the cases closed in that time "
               "with no complaint open on the data date (aggregates only: no case is listed).")

    series = {}
    for dimension in PLANNING_DIMENSIONS:
        counts = _group_counts(force, ctx.store_key, history, repr(history), dimension)
        for level, item in group_series(counts, dimension, months).items():
            series[(dimension, level)] = item
    concerns = group_concerns(series, {k: d.label for k, d in DIMENSIONS.items()}, recent_from)
    panels = panel_edits.read_table(store, "panels")
    cases = _theme_cases(force, ctx.store_key, filters.as_of, since)
    themes = candidate_themes(cases, concerns, panels)

    st.markdown("#### Candidate themes")
    cases_shown = small_hidden(themes["cases"], policy) if board else themes["cases"].map("{:,}".format)
    st.dataframe(pd.DataFrame({
        "Theme": themes["label"],
        "Groups of concern (SPC)": themes["concerns"].replace("", "none"),
        "Last heard at a panel": dates(themes["last_panel"]).replace("–", "never"),
        "Finalised cases, no open complaint": cases_shown,
        "Cases counted": themes["definition"],
    }), hide_index=True, alt="Table of panel themes: the groups standing for each theme whose delivery shows a "
                             "special-cause concern, when a panel last heard the theme, and the finalised cases with "
                             "no open complaint")
    st.caption("Themes with a group of concern come first, then those a panel heard longest ago (never heard first). "
               "A theme's groups: sexual violence and domestic abuse, the sexual offences group; violence against "
               "women and girls, female victims; minority communities, victims recorded as Asian, Black, mixed or "
               "other ethnicity; stalking and harassment, public order offences (a proxy); high harm, "
               "enhanced-rights victims. The mapping is an assumption (docs/assumptions-caveats.md)."
               + (" " + suppression_note(policy, int(sum(policy.is_small(themes["cases"])))) if board else ""))

    st.markdown("#### Groups whose delivery shows a special-cause concern")
    if concerns.empty:
        st.info("No group's delivered rate shows a special-cause concern.", icon=":material/info:")
    else:
        table = pd.DataFrame({
            "Group": concerns["group"],
            "Concern": [f"Ongoing since {s:%b %Y}" if st_ == "ongoing" else f"Recent: {m}"
                        for s, st_, m in zip(concerns["since"], concerns["status"], concerns["concern_months"])],
            "Months of concern": concerns["months_of_concern"],
        })
        if not board:
            table["Latest month"] = concerns["latest_month"].dt.strftime("%b %Y")
            table["Latest rate %"] = concerns["latest_rate"] * 100
            table["n of N"] = [display.count_text(n, d) for n, d in
                               zip(concerns["latest_numerator"], concerns["latest_denominator"])]
            table["Mean %"] = concerns["mean"] * 100
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.1f%%") for c in ("Latest rate %", "Mean %")},
            alt="Table of groups of victims whose monthly delivered rate shows a special-cause concern, longest first")
        st.caption("Each group's rate adds up every measured entitlement's instances for its victims, then divides; "
                   "an XmR chart of it by month decides (Making Data Count rules, as on every page). Ongoing concerns "
                   "come first, then those with the most months of concern.")

    st.markdown("#### Entitlements with a special-cause concern")
    targets, _ = data.targets(force)
    rights_spc, entitlements_spc = data.board_spc(force, targets)
    worst = exceptions(rights_spc, entitlements_spc, catalogue, recent_from=recent_from)
    if worst.empty:
        st.info("No right or entitlement shows a special-cause concern.", icon=":material/info:")
    else:
        st.dataframe(pd.DataFrame({
            "Right or entitlement": worst["label"],
            "Right": worst["right_no"].map(right_text),
            "Concern": [f"Ongoing since {s:%b %Y}" if st_ == "ongoing" else f"Recent: {m}"
                        for s, st_, m in zip(worst["since"], worst["status"], worst["concern_months"])],
        }), hide_index=True, alt="Table of rights and entitlements whose latest months are a special-cause concern")

    st.markdown("#### Complaints by right")
    complaints = complaints_by_right(store, replace(filters, selections={}))
    per_right = complaints[complaints["right_no"].notna() & (complaints["outcome"] == "all")].copy()
    still_open = complaints[complaints["right_no"].notna() & (complaints["outcome"] == "open")].set_index("right_no")
    per_right["open"] = per_right["right_no"].map(still_open["complaints"]).fillna(0).astype(int)
    per_right = per_right.sort_values("right_no")
    if per_right.empty:
        st.info("No complaints were received in the period.", icon=":material/info:")
        return
    shown = {"complaints": per_right["complaints"].map("{:,}".format), "open": per_right["open"].map("{:,}".format)}
    note = ""
    if board:
        protected = suppress_breakdown(per_right[["right_no", "complaints", "open"]].assign(
            right_no=per_right["right_no"].astype(int).astype(str)), dimension="right_no",
            counts=["complaints", "open"], nested=[("open", "complaints")], policy=policy)
        shown = {c: protected.frame[c].map(lambda v: MARKER if pd.isna(v) else f"{int(v):,}") for c in shown}
        note = " " + suppression_note(policy, int(protected.hidden.sum()))
    st.dataframe(pd.DataFrame({
        "Right": ["Not stated" if r == 0 else right_text(r) for r in per_right["right_no"]],
        "Complaints received": list(shown["complaints"]),
        "Still open on the data date": list(shown["open"]),
    }), hide_index=True, alt="Table of complaints received in the period by the right they concern, in right order")
    st.caption("Complaints received in the period, by the right they concern (in the Code's order), as on the "
               "Victim voice figures." + note)


# --- recording panels, findings and actions (victim services) ---------------------------------------------

DEMO_EDIT_NOTE = (
    "**Editing saves into a real store.** This dashboard is running on the synthetic demo store, which refuses "
    "every change so that real records are never mixed with invented ones. With a real store (set by `VCD_STORE` "
    "or `path` under `[store]`, with sign-in configured), victim services record panels, findings and actions "
    "here: each save is checked field by field, recorded in the audit trail, and refused if someone else changed "
    "the same row after you opened it.")
_TABLE_CHOICES = {"panels": "Panel", "panel_findings": "Finding", "actions": "Action"}


def _day(text: str) -> date | None:
    return date.fromisoformat(text) if text else None


def _int(text: str) -> int | None:
    return int(text) if text else None


def _choice_options(values: list[str], current: str) -> list[str]:
    """The allowed values, with the stored one kept even if it is no longer allowed (the checks then say so)."""
    return values if current in values else values + [current]


def _opened_row(table: str, choice: str) -> dict:
    """The snapshot of the row the user opened, taken once when they choose it (or a new row with a new id)."""
    opened = st.session_state.get(_OPENED)
    if opened is None or opened["table"] != table or opened["choice"] != choice:
        original = None if choice == NEW else panel_edits.read_row(store, table, choice)
        row = original or panel_edits.row_texts(table, {_key(table): panel_edits.new_id(table)})
        opened = {"table": table, "choice": choice, "original": original, "row": row,
                  "revision": st.session_state.get(_REVISION, 0)}
        st.session_state[_OPENED] = opened
        st.session_state.pop(_OUTCOME, None)
    return opened


def _key(table: str) -> str:
    return {"panels": "panel_id", "panel_findings": "finding_id", "actions": "action_id"}[table]


def _date_input(label: str, text: str, key: str):
    return st.date_input(label, value=_day(text), min_value=date(1990, 1, 1), max_value=date(2099, 12, 31),
                         format="YYYY-MM-DD", key=key)


def _panel_fields(row: dict, prefix: str) -> dict:
    values = {"panel_id": row["panel_id"]}
    left, right = st.columns([1, 3])
    with left:
        values["held_on"] = _date_input("Held on", row["held_on"], f"{prefix}_held_on")
    values["title"] = right.text_input("Title", row["title"], key=f"{prefix}_title",
                                       max_chars=panel_edits.TEXT_LIMITS["title"])
    themes = [t.strip() for t in row["themes"].split(";") if t.strip()]
    left, right = st.columns([3, 1])
    values["themes"] = left.multiselect("Themes", list(dict.fromkeys([*contract.PANEL_THEMES, *themes])),
                                        default=themes, format_func=theme_label, key=f"{prefix}_themes")
    formats = _choice_options(["", *contract.PANEL_FORMATS], row["format"])
    values["format"] = right.selectbox("Format", formats, index=formats.index(row["format"]),
                                       format_func=lambda v: contract.label(v) if v else "Not recorded",
                                       key=f"{prefix}_format")
    cells = st.columns(4)
    for cell, name in zip(cells, ("staff_attendees", "victims_live", "victims_recorded", "victims_via_support_worker")):
        values[name] = cell.number_input(panel_edits.FIELD_LABELS[name], min_value=0, step=1, value=_int(row[name]),
                                         key=f"{prefix}_{name}")
    score = float(row["staff_feedback_score"]) if row["staff_feedback_score"] else None
    values["staff_feedback_score"] = st.number_input("Staff feedback score (1 to 5)", min_value=1.0, max_value=5.0,
                                                     step=0.1, value=score, key=f"{prefix}_score")
    return values


def _finding_fields(row: dict, prefix: str, panels: pd.DataFrame) -> dict:
    held = dict(zip(panels["panel_id"], dates(panels["held_on"])))
    panel_ids = _choice_options(list(panels["panel_id"]), row["panel_id"]) if row["panel_id"] else list(panels["panel_id"])
    values = {"finding_id": row["finding_id"]}
    values["panel_id"] = st.selectbox("Panel", panel_ids, index=panel_ids.index(row["panel_id"]) if row["panel_id"]
                                      else None, format_func=lambda p: f"{p}, held {held.get(p, '(not in the store)')}",
                                      key=f"{prefix}_panel", placeholder="Choose the panel")
    kinds = _choice_options(list(contract.FINDING_KINDS), row["kind"]) if row["kind"] else list(contract.FINDING_KINDS)
    left, right = st.columns(2)
    values["kind"] = left.selectbox("Kind", kinds, index=kinds.index(row["kind"]) if row["kind"] else None,
                                    format_func=contract.label, key=f"{prefix}_kind", placeholder="Choose")
    rights = ["", *[str(r.number) for r in catalogue.rights]]
    rights = _choice_options(rights, row["right_no"])
    values["right_no"] = right.selectbox("Right", rights, index=rights.index(row["right_no"]),
                                         format_func=lambda r: right_text(int(r)) if r.isdigit() and 1 <= int(r) <= 12
                                         else ("None" if not r else r), key=f"{prefix}_right")
    codes = _choice_options(["", *[e.code for e in catalogue.entitlements]], row["entitlement"])
    values["entitlement"] = st.selectbox("Entitlement", codes, index=codes.index(row["entitlement"]),
                                         format_func=lambda c: MEASURE_NAMES.get(c, c) if c else "None",
                                         key=f"{prefix}_entitlement")
    values["summary"] = st.text_area("Summary: what victims said", row["summary"], key=f"{prefix}_summary",
                                     max_chars=panel_edits.TEXT_LIMITS["summary"])
    return values


def _action_fields(row: dict, prefix: str, findings: pd.DataFrame) -> dict:
    kind_of = dict(zip(findings["finding_id"], findings["kind"]))
    finding_ids = _choice_options(["", *findings["finding_id"]], row["finding_id"])
    values = {"action_id": row["action_id"]}
    values["finding_id"] = st.selectbox(
        "From finding", finding_ids, index=finding_ids.index(row["finding_id"]), key=f"{prefix}_finding",
        format_func=lambda f: "None" if not f else f"{f} ({contract.label(kind_of.get(f, 'not in the store'))})")
    values["title"] = st.text_input("Title", row["title"], key=f"{prefix}_title",
                                    max_chars=panel_edits.TEXT_LIMITS["title"])
    left, right = st.columns(2)
    values["owner"] = left.text_input("Owner", row["owner"], key=f"{prefix}_owner",
                                      max_chars=panel_edits.TEXT_LIMITS["owner"])
    statuses = _choice_options(list(contract.ACTION_STATUSES), row["status"]) if row["status"] else \
        list(contract.ACTION_STATUSES)
    values["status"] = right.selectbox("Status", statuses, index=statuses.index(row["status"]) if row["status"] else 0,
                                       format_func=contract.label, key=f"{prefix}_status")
    cells = st.columns(3)
    with cells[0]:
        values["raised_on"] = _date_input("Raised on", row["raised_on"], f"{prefix}_raised_on")
    with cells[1]:
        values["due_on"] = _date_input("Due on", row["due_on"], f"{prefix}_due_on")
    with cells[2]:
        values["completed_on"] = _date_input("Completed on", row["completed_on"], f"{prefix}_completed_on")
    codes = _choice_options(["", *[e.code for e in catalogue.measured_entitlements],
                             *[m.code for m in catalogue.contact_measures],
                             *[e.code for e in catalogue.entitlements if not e.measured]], row["measure"])
    values["measure"] = st.selectbox("Measure it should move", codes, index=codes.index(row["measure"]),
                                     format_func=lambda c: MEASURE_NAMES.get(c, c) if c else "None",
                                     key=f"{prefix}_measure",
                                     help="An entitlement, or a measure from the contact log, whose chart the action "
                                          "should move; the improvement tracking judges the action by it.")
    return values


def _problems_text(problems) -> str:
    return "\n".join(f"- {display.plain(p.message)}" for p in problems)


def _save(table: str, opened: dict, values: dict) -> None:
    noun = panel_edits.TABLE_NOUNS[table]
    row_id = opened["row"][_key(table)]
    problems = panel_edits.validate_row(table, values, catalogue)
    if problems:
        st.session_state[_OUTCOME] = panel_edits.EditResult(
            "invalid", table, row_id, f"Not saved: {len(problems)} field(s) need correcting.", problems=tuple(problems))
        return
    changed = panel_edits.changed_fields(table, opened["original"], values)
    if opened["original"] is not None and not changed:
        st.session_state[_OUTCOME] = panel_edits.EditResult("unchanged", table, row_id,
                                                            "Nothing to save: no field was changed.")
        return
    # Field names only: the values of findings and actions are free text, kept in the store, not in the trail.
    if not recorded(ctx, "edit", PAGE_ID, "change", ids=[row_id],
                    detail={"table": table, "new": opened["original"] is None, "fields": changed, "stage": "requested"}):
        st.session_state.pop(_OUTCOME, None)
        return
    with st.spinner(f"Saving the {noun}: the store is rebuilt with the change, which takes a few seconds on a large "
                    "store…", show_time=True):
        result = panel_edits.save_row(store.path, table, values, original=opened["original"], user=ctx.user,
                                      role=ctx.role, catalogue=catalogue)
    try:  # the request is on record; its outcome is added, and a failure to add it is logged, not fatal
        audit.record(ctx.audit_db, user=ctx.user, role=ctx.role, action="edit", page=PAGE_ID, ids=[row_id],
                     detail={"table": table, "stage": "finished", "status": result.status,
                             "import_id": result.import_id})
    except (audit.AuditError, ValueError) as exc:
        log.error("audit record of an edit's outcome failed: %s", exc.__class__.__name__)
    if result.saved:
        st.session_state[_FLASH] = f"{result.message} It is in the log and the charts now."
        st.session_state[_REVISION] = st.session_state.get(_REVISION, 0) + 1
        st.session_state.pop(_OPENED, None)
        st.session_state.pop(_OUTCOME, None)
        st.cache_data.clear()  # figures are keyed by the store's build time, which has one-second resolution
        st.rerun()
    st.session_state[_OUTCOME] = result


def _show_outcome(table: str, values: dict) -> None:
    result = st.session_state.get(_OUTCOME)
    if result is None or result.table != table:
        return
    if result.status == "unchanged":
        st.info(result.message, icon=":material/info:")
    elif result.status == "invalid":
        st.error(f"{result.message}\n\n{_problems_text(result.problems)}", icon=":material/error:")
    elif result.status == "conflict":
        names = ", ".join(panel_edits.FIELD_LABELS[c.field] for c in result.conflicts)
        st.error(f"**Not saved: someone else saved this {panel_edits.TABLE_NOUNS[table]} after you opened it.** "
                 f"Changed since: {display.plain(names)}. Nothing was changed. Reload the stored values, make your "
                 "change again, and save.", icon=":material/sync_problem:")
        mine = panel_edits.row_texts(table, values)
        st.dataframe(pd.DataFrame({
            "Field": [panel_edits.FIELD_LABELS[c.field] for c in result.conflicts],
            "When you opened it": [c.opened for c in result.conflicts],
            "Stored now (their save)": [c.stored for c in result.conflicts],
            "Your edit": [mine[c.field] for c in result.conflicts],
        }), hide_index=True, column_config={c: _TEXT() for c in ("When you opened it", "Stored now (their save)",
                                                                  "Your edit")},
            alt="Table of the fields someone else changed: the value when you opened the row, the value stored now, "
                "and your edit")
        if st.button("Reload the stored values", icon=":material/refresh:", key="fp_reload"):
            st.session_state[_REVISION] = st.session_state.get(_REVISION, 0) + 1
            st.session_state.pop(_OPENED, None)
            st.session_state.pop(_OUTCOME, None)
            st.rerun()
    else:
        st.error(display.plain(result.message), icon=":material/error:")


def record_and_edit() -> None:
    if store.meta.is_demo:
        st.info(DEMO_EDIT_NOTE, icon=":material/science:")
        return
    st.caption("Choose what to record, then a row to edit or a new one. Each save is checked field by field, "
               "recorded in the audit trail (who, when, which fields) and then written into the store, which is "
               "rebuilt with it: a few seconds on a large store. If someone else saved the same row after you "
               "opened it, your save is refused and the changes are shown.")
    current = st.session_state.setdefault(_CURRENT, {"table": "actions"})
    table = st.segmented_control("Record", list(_TABLE_CHOICES), format_func=_TABLE_CHOICES.get,
                                 default=current["table"], required=True, key="fp_edit_table")
    current["table"] = table
    rows = panel_edits.read_table(store, table)
    key = _key(table)
    noun = panel_edits.TABLE_NOUNS[table]
    described = {}
    for row in rows.itertuples(index=False):
        row = row._asdict()
        extra = {"panels": lambda r: f"held {pd.Timestamp(r['held_on']):%d %b %Y}",
                 "panel_findings": lambda r: f"{contract.label(r['kind'])}, panel {r['panel_id']}",
                 "actions": lambda r: f"{contract.label(r['status'])}"}[table](row)
        described[row[key]] = f"{row[key]} · {extra}"  # ids, dates and codes only: no free text in a list label
    options = [NEW, *described]
    choice = st.selectbox(f"Which {noun}", options, index=options.index(current.get(table, NEW))
                          if current.get(table, NEW) in options else 0, key=f"fp_edit_{table}_choice",
                          format_func=lambda c: f"New {noun}" if c == NEW else described.get(c, c))
    current[table] = choice
    opened = _opened_row(table, choice)
    if choice != NEW and opened["original"] is None:
        st.warning(f"This {noun} is no longer in the store.", icon=":material/warning:")
        return
    row = opened["row"]
    if choice == NEW:
        st.markdown(f"New {noun}, id **{display.plain(row[key])}** (made up for it; it cannot be changed).")
    prefix = f"fp_{table}_{row[key]}_{opened['revision']}"
    with st.form(f"{prefix}_form", border=True):
        if table == "panels":
            values = _panel_fields(row, prefix)
        elif table == "panel_findings":
            values = _finding_fields(row, prefix, panel_edits.read_table(store, "panels"))
        else:
            values = _action_fields(row, prefix, panel_edits.read_table(store, "panel_findings"))
        submitted = st.form_submit_button(f"Save the {noun}", type="primary", icon=":material/save:",
                                          key=f"fp_save_{table}")
    if submitted:
        _save(table, opened, values)
    _show_outcome(table, values)


sections = [panel_log, improvement_tracking, panel_planning] + ([record_and_edit] if editor else [])
for tab, section in zip(tabs, sections):
    if tab.open:
        with tab:
            section()
