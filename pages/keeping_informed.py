"""Keeping victims informed: first contact, updates kept to the agreed frequency, face-to-face contact,
and (for victim services) who is overdue for an update, from the contact log."""

import pandas as pd
import streamlit as st

from data_access.queries import CASE_LEVEL_ROLES, overdue_updates
from metrics import contract
from metrics.contact_measures import contact_measure_rates
from metrics.summaries import RIGHT_BREAKDOWNS, series_spc
from ui import data, display
from ui.auditing import audit_filters, recorded
from ui.frame import page_context

ctx = page_context("keeping_informed")
catalogue, filters = ctx.catalogue, ctx.filters
settings = catalogue.contact_log

st.caption(f"{filters.describe('Reported')}. Victims belong to the month their crime was reported. These measures come "
           "from the contact log and sit beside Right 6; they are not added into any right's rate.")
if settings is None or not catalogue.contact_measures:
    st.info("The catalogue defines no measures from the contact log.", icon=":material/info:")
    st.stop()

counts = data.contact_measure_counts(ctx, RIGHT_BREAKDOWNS)
rates = contact_measure_rates(counts, catalogue)
totals = counts[counts["breakdown"] == "total"].iloc[0]
headline = rates[rates["breakdown"] == "total"].set_index("measure")

columns = st.columns(len(catalogue.contact_measures))
for column, measure in zip(columns, catalogue.contact_measures):
    row = headline.loc[measure.code]
    column.metric(measure.label, display.format_rate_short(row["rate"]), border=True, help=measure.description)
    column.caption(f"{display.count_text(row['numerator'], row['denominator'])} · 95% CI "
                   f"{display.interval_text(row['rate_lower'], row['rate_upper'])}")
st.caption(
    f"First contact: median {display.number(totals['initial_working_days_median'])} working days "
    f"({display.number(totals['initial_working_hours_median'])} working hours, "
    f"{settings.working_hours[0]} to {settings.working_hours[1]}) after the report; the force standard is "
    f"{settings.initial_contact_standard_working_days} working day(s). "
    f"Victims not kept to their frequency waited a median {display.number(totals['days_overdue_median'])} days "
    f"longer than agreed. Left out of the updates measure: {int(totals['updates_not_investigated']):,} victims whose "
    f"crime was not investigated, {int(totals['updates_closed_early']):,} whose case closed within their frequency, "
    f"and {int(totals['updates_not_yet_due']):,} whose first {settings.update_window_days} days had not ended by the "
    f"data date. Contacts per victim: {display.ratio(totals['contacts'], totals['victims'])}.")

st.markdown("#### Monthly trend: improving, deteriorating or just varying?")
targets, target_problems = data.targets(ctx)
display.target_problems(target_problems, targets.source)
months = data.history_months(ctx)
history = contact_measure_rates(data.contact_history(ctx), catalogue)
panels, actions = data.annotations(ctx)
rebase = display.rebase_choice(months, actions, catalogue, [m.code for m in catalogue.contact_measures])
st.caption(display.SPC_KEY + f" {data.unsettled_note(ctx)} Victims count in the month their crime was reported. "
           "Updates are judged over each "
           f"victim's first {settings.update_window_days} days, so that chart stops about three months before the "
           "data date.")
items = [series_spc(history[history["measure"] == m.code], months, code=m.code, label=m.label, numerator="numerator",
                    denominator="denominator", target=targets.get(m.code, "rate"), rebase=rebase)
         for m in catalogue.contact_measures]
for column, item in zip(columns, items):  # each headline gets its SPC words too, under its rate
    column.markdown(display.icons_markdown(item))
display.spc_grid(items, key="contact_spc", what="rate",
                 definitions={m.code: m.description.rstrip(".") for m in catalogue.contact_measures},
                 context=data.history_filters(ctx).describe("Reported"), panels=panels, actions=actions)

st.markdown("#### Breakdowns")
chosen = st.selectbox("Measure", [m.code for m in catalogue.contact_measures], key="contact_measure",
                      format_func=lambda code: catalogue.contact_measure(code).label)
chosen_measure = catalogue.contact_measure(chosen)
source = rates[rates["measure"] == chosen]
reference = float(source[source["breakdown"] == "total"]["rate"].iloc[0])


def contact_rate_table(rows: pd.DataFrame, title: str) -> None:
    st.dataframe(pd.DataFrame({
        title: rows["level_label"],
        "Rate %": rows["rate"] * 100,
        "n of N": [display.count_text(n, d) for n, d in zip(rows["numerator"], rows["denominator"])],
        "95% CI": [display.interval_text(lo, hi) for lo, hi in zip(rows["rate_lower"], rows["rate_upper"])],
    }), hide_index=True, column_config={"Rate %": st.column_config.NumberColumn(format="%.1f%%")},
        alt=f"Table of {chosen_measure.label.lower()} by {title.lower()}, alphabetical")


display.breakdown_tabs(
    source, rate="rate", numerator="numerator", denominator="denominator", what=chosen_measure.label.lower(),
    definition=f"{chosen_measure.label}: {chosen_measure.numerator} ÷ {chosen_measure.denominator}",
    context=filters.describe("Reported"), count_word="victims", key="contact", reference=reference,
    table=contact_rate_table)

st.markdown("#### Contacts per victim and channels")
by = counts[counts["breakdown"].isin(["offence_group", "district", "victim_type"])].copy()
by["Group"] = by["breakdown"].map({"offence_group": "Offence group", "district": "District",
                                   "victim_type": "Standard or enhanced"})
by["Level"] = by["level"].map(contract.label)
by["Contacts per victim"] = by["contacts"] / by["victims"]
by["With a face-to-face contact"] = by["victims_face_to_face"] / by["victims"] * 100
left, right = st.columns([3, 2])
with left:
    st.dataframe(by[["Group", "Level", "victims", "contacts", "Contacts per victim", "With a face-to-face contact"]].rename(
        columns={"victims": "Victims", "contacts": "Contacts"}), hide_index=True, height=380,
        column_config={"Contacts per victim": st.column_config.NumberColumn(format="%.1f"),
                       "With a face-to-face contact": st.column_config.NumberColumn(format="%.0f%%")},
        alt="Table of contacts per victim by offence group, district and standard or enhanced victims")
with right:
    mix = data.channel_mix(ctx).assign(Channel=lambda f: f["channel"].map(contract.label))
    mix["Share of contacts"] = mix["contacts"] / mix["contacts"].sum() * 100
    st.dataframe(mix[["Channel", "contacts", "Share of contacts"]].rename(columns={"contacts": "Contacts"}),
                 hide_index=True, column_config={"Share of contacts": st.column_config.NumberColumn(format="%.1f%%")},
                 alt="Table of contacts by channel with their share")
mix_by = st.segmented_control("Channel mix by", ["Offence group", "District", "Standard or enhanced"],
                              default="Standard or enhanced", key="channel_mix_by", required=True)
breakdown = {"Offence group": "offence_group", "District": "district", "Standard or enhanced": "victim_type"}[mix_by]
shares = display.channel_shares(data.channel_mix(ctx, breakdown))
st.dataframe(shares, hide_index=True, column_config={
    c: st.column_config.NumberColumn(format="%.1f%%") for c in shares.columns if c not in ("Level", "Contacts")},
    alt=f"Table of the share of contacts by channel, for each {mix_by.lower()}")

st.markdown("#### Overdue for an update")
if ctx.role not in CASE_LEVEL_ROLES:
    st.caption("The list of victims overdue for an update is shown to victim services only.")
else:
    page_size = 50
    page = st.number_input("Page", min_value=1, value=1, step=1, key="overdue_page") - 1
    rows, total = overdue_updates(ctx.store, catalogue, filters, role=ctx.role, page=int(page), page_size=page_size)
    # Shown only once the trail holds who saw which victims (DPA 2018 s.62: consultation).
    if recorded(ctx, "view_case_level", "keeping_informed", "list of victims",
                filters=audit_filters(filters, list="overdue_updates", page=int(page) + 1),
                ids=[str(v) for v in rows["victim_id"]], row_count=len(rows)):
        st.caption(f"{total:,} victims of open, investigated cases whose last update is older than the frequency they "
                   f"agreed (or {settings.default_update_frequency_days} days), as of {filters.as_of:%d %b %Y}, most "
                   f"overdue first. The period filter does not apply here; the others do. Showing "
                   f"{min(total, page * page_size + 1):,} to {min(total, (page + 1) * page_size):,}.")
        if len(rows):
            rows = rows.assign(offence_group=rows["offence_group"].map(contract.label),
                               victim_type=rows["victim_type"].map(contract.label))
            st.dataframe(rows.rename(columns={
                "victim_id": "Victim", "case_id": "Case", "district": "District", "team": "Team",
                "offence_group": "Offence group", "victim_type": "Standard or enhanced", "report_date": "Reported",
                "frequency_days": "Agreed every (days)", "last_update_date": "Last update",
                "days_since_update": "Days since", "days_overdue": "Days overdue"}), hide_index=True,
                alt="Table of victims overdue for an update, most overdue first")

st.markdown("#### Definitions")
for measure in catalogue.contact_measures:
    with st.expander(measure.label):
        st.markdown(f"**What it measures.** {measure.description}")
        st.markdown(f"**Numerator.** {measure.numerator}")
        st.markdown(f"**Denominator.** {measure.denominator}")
        st.markdown(f"**Period.** Victims count in {measure.period}.")
        if measure.note:
            st.markdown(f"**Note.** {measure.note}")
st.caption(f"Contacts that count as updates: {', '.join(contract.label(k).lower() for k in settings.update_kinds)}. "
           "Contacts after the data date, before the report or after the case closed are ignored.")
