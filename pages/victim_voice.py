"""Victim voice: survey results by survey with intervals and trends; complaints by right and outcome, with the time
to acknowledge."""

import numpy as np
import pandas as pd
import streamlit as st

from metrics import contract
from metrics.outcome_disclosure import histogram_mask, months_mask, table_mask, within_shown
from metrics.referrals import HISTOGRAM_CAP, working_day_distribution
from metrics.victim_voice import (ALL, NOT_STATED, SURVEY_COUNT_COLUMNS, SURVEY_MEASURES, complaint_crosstab,
                                  complaint_outcomes, complaint_rates_by_right, survey_measure_series, survey_rates,
                                  unsupported_filters)
from ui import charts, data, display
from ui import outcome_views as views
from ui.frame import page_context

ctx = page_context("victim_voice")
catalogue, filters = ctx.catalogue, ctx.filters
policy = views.board_policy(ctx)
context = filters.describe("Received")
ACK_CODE = "r12_complaint_acknowledged"  # the catalogue's timescale for acknowledging a complaint
SHORT_LABELS = {"overall": "Satisfied overall", "kept_informed": "Kept informed", "treated_fairly": "Treated fairly",
                "aware_of_code": "Aware of the Code"}  # headline cards are narrow; their help has the full question

st.caption(f"{context}. Survey responses count in the month they were received, complaints in the month they were "
           "received; both as of the data date. They are linked to a case, not to a victim, so they follow the "
           "district, command-area and offence-group filters only."
           + (" Small numbers are hidden for the board (see the notes under each table)." if policy else ""))
unsupported = unsupported_filters(filters)
if unsupported:
    names = ", ".join(label.lower() for label in unsupported)
    st.info(f"Survey responses and complaints are linked to a case, not to a victim, so they cannot be filtered by "
            f"{names}. Clear {'that filter' if len(unsupported) == 1 else 'those filters'} in the sidebar to see "
            "them; they are never shown unfiltered instead.", icon=":material/filter_alt_off:")
    st.stop()


def survey_label(code: str) -> str:
    return "All surveys" if code == ALL else contract.label(code)


# --- surveys ----------------------------------------------------------------------------------------------------------
st.markdown("#### Survey results")
survey_counts = data.survey_results(ctx).reset_index(drop=True)
survey_hidden = pd.DataFrame(False, index=survey_counts.index, columns=list(SURVEY_COUNT_COLUMNS))
if policy is not None:
    nested = [pair for _, n, d in SURVEY_MEASURES.values() for pair in ((n, d), (d, "responses"))]
    survey_hidden = table_mask(survey_counts, dimension="survey", counts=SURVEY_COUNT_COLUMNS, total=ALL,
                               nested=nested, policy=policy)
everyone = survey_counts[survey_counts["survey"] == ALL]
responses = int(everyone["responses"].iloc[0]) if len(everyone) else 0
if responses == 0:
    st.caption("No survey responses were received in this selection.")
else:
    measures = list(SURVEY_MEASURES)
    choose = st.columns(2)
    measure = choose[0].selectbox("Question", measures, format_func=lambda m: SURVEY_MEASURES[m][0],
                                  key="survey_measure")
    # Every survey of the contract, whether or not this selection has responses to it, so a choice survives a filter.
    surveys = sorted(set(contract.SURVEYS) | {s for s in survey_counts["survey"] if s != ALL}, key=survey_label)
    trend_survey = choose[1].selectbox("Survey (for the trend)", [ALL, *surveys], format_func=survey_label,
                                       key="survey_trend")
    label, numerator, denominator = SURVEY_MEASURES[measure]

    rates = survey_rates(survey_counts)
    hidden_of = {(s, c): bool(survey_hidden.loc[i, c]) for i, s in zip(survey_counts.index, survey_counts["survey"])
                 for c in SURVEY_COUNT_COLUMNS}
    rates["numerator_hidden"] = [hidden_of[(s, SURVEY_MEASURES[m][1])] for s, m in zip(rates["survey"],
                                                                                       rates["measure"])]
    rates["denominator_hidden"] = [hidden_of[(s, SURVEY_MEASURES[m][2])] for s, m in zip(rates["survey"],
                                                                                         rates["measure"])]
    hidden_rate = rates["numerator_hidden"] | rates["denominator_hidden"]
    for column in ("rate", "rate_lower", "rate_upper"):
        rates[column] = rates[column].mask(hidden_rate)

    # For the board, the trend's months are protected with the table's total for the same survey and question.
    months = data.history_months(ctx)
    history = survey_measure_series(survey_rates(data.survey_history(ctx)), measure, trend_survey)
    hidden_months: set[str] = set()
    if policy is not None:
        period = survey_measure_series(survey_rates(data.survey_results(ctx, ("month",))), measure, trend_survey)
        totals_row = survey_counts[survey_counts["survey"] == trend_survey]
        total = (pd.Series({"numerator": totals_row[numerator].iloc[0], "denominator": totals_row[denominator].iloc[0]})
                 if len(totals_row) else pd.Series({"numerator": 0, "denominator": 0}))
        mask, total_hidden = months_mask(history, period, total, policy=policy)
        hidden_months = set(history.loc[mask, "level"])
        if len(totals_row) and (total_hidden[0] or total_hidden[1]):  # hidden in the trend's protection: in the table
            survey_hidden.loc[totals_row.index[0], [numerator, denominator]] = True
            chosen = (rates["survey"] == trend_survey) & (rates["measure"] == measure)
            rates.loc[chosen, ["rate", "rate_lower", "rate_upper"]] = np.nan
            rates.loc[chosen, ["numerator_hidden", "denominator_hidden"]] = True

    headline = rates[rates["survey"] == ALL].set_index("measure")
    columns = st.columns(len(measures))
    for column, code in zip(columns, measures):
        row = headline.loc[code]
        column.metric(SHORT_LABELS[code], display.format_rate_short(row["rate"]), border=True,
                      help=f"{SURVEY_MEASURES[code][0]}: of all surveys' responses that answered the question"
                           + ("; 4 or 5 out of 5 counts as satisfied." if code != "aware_of_code" else "."))
        counted = views.count_text(row["numerator"], row["denominator"], row["numerator_hidden"],
                                   row["denominator_hidden"])
        column.caption(f"{counted} · 95% CI {display.interval_text(row['rate_lower'], row['rate_upper'])}")

    chosen_rates = rates[(rates["measure"] == measure)].copy()
    chosen_rates["survey_label"] = chosen_rates["survey"].map(survey_label)
    by_survey = chosen_rates[chosen_rates["survey"] != ALL].sort_values("survey_label")
    plotted = by_survey.dropna(subset=["rate"])
    overall = headline.loc[measure, "rate"]
    alt = charts.describe_intervals(plotted, "survey_label", "rate", "rate_lower", "rate_upper",
                                    f"{label.lower()} by survey")
    if plotted.empty:
        st.caption("No survey has answers to this question to show.")
    else:
        st.plotly_chart(charts.interval_figure(plotted, "survey_label", "rate", "rate_lower", "rate_upper",
                                               "numerator", "denominator", reference=overall,
                                               reference_label="All surveys"),
                        alt=alt, config={"displaylogo": False}, key=f"survey_chart_{measure}")
    definition = (f"{label}: those answering 4 or 5 out of 5 ÷ those who answered the question"
                  if measure != "aware_of_code" else f"{label}: those aware ÷ those who answered the question")
    answered = views.count_words(everyone[denominator].iloc[0], survey_hidden.loc[everyone.index[0], denominator])
    responded = views.count_words(responses, survey_hidden.loc[everyone.index[0], "responses"])
    st.caption(f"{definition}. {context}; n = {answered} answers in {responded} responses.")
    st.caption("Each survey's rate with its 95% interval; the dashed line is all surveys together. Surveys are listed "
               "alphabetically; the table has every survey and question.")
    table = pd.DataFrame({
        "Survey": [survey_label(s) for s in rates["survey"]],
        "Question": rates["label"],
        "Rate %": rates["rate"] * 100,
        "n of N": [views.count_text(n, d, hn, hd) for n, d, hn, hd in
                   zip(rates["numerator"], rates["denominator"], rates["numerator_hidden"],
                       rates["denominator_hidden"])],
        "95% CI": [display.interval_text(lo, hi) for lo, hi in zip(rates["rate_lower"], rates["rate_upper"])],
    })
    table["_all"] = table["Survey"] == "All surveys"
    table = table.sort_values(["_all", "Survey"], kind="stable").drop(columns="_all")
    with st.expander("The chart in words, and every survey and question as a table"):
        st.text(alt)
        st.dataframe(table, hide_index=True, column_config={"Rate %": st.column_config.NumberColumn(format="%.1f%%")},
                     alt="Table of each survey's results for each question, with n of N and the 95% interval")
    views.suppression_caption(policy, int(survey_hidden.to_numpy().sum()))

    st.markdown(f"##### Trend: {label.lower()}, {survey_label(trend_survey).lower()}")
    st.caption(display.SPC_KEY + " Survey numbers are small, so most months' differences are noise: read the "
               "limits, not the height of the line.")
    panels, actions = data.annotations(ctx)
    item, month_hidden = views.masked_series(history, months, hidden_months, code=f"survey_{measure}",
                                             label=f"{label}: {survey_label(trend_survey)}")
    views.spc_section(item, month_hidden, key="survey_spc", what=label.lower(), definition=definition,
                      context=data.history_filters(ctx).describe("Received"), panels=panels, actions=actions)

# --- complaints ------------------------------------------------------------------------------------------------------
st.markdown("#### Complaints")
complaints = data.complaints(ctx)
by_right = complaint_rates_by_right(complaints)
outcomes = complaint_outcomes(complaints)
total_row = by_right[by_right["right_no"].isna()]
received = int(total_row["complaints"].iloc[0]) if len(total_row) else 0
ack = catalogue.entitlement(ACK_CODE)
ack_days = ack.standard_days


def right_label(number) -> str:
    if pd.isna(number):
        return "All complaints"
    if int(number) == NOT_STATED:
        return "No right stated"
    return f"Right {int(number)}: {catalogue.right(int(number)).short_title}"


if received == 0:
    st.caption("No complaints were received in this selection.")
else:
    times = data.complaint_acknowledgement_times(ctx)
    distribution = working_day_distribution(times["working_days"], times["complaints"], limit=ack_days,
                                            cap=max(HISTOGRAM_CAP, ack_days + 5),
                                            undated_label="Not acknowledged")
    counts = ["complaints", "acknowledged"]
    right_hidden = pd.DataFrame(False, index=by_right.index, columns=counts)
    outcome_hidden = pd.DataFrame(False, index=outcomes.index, columns=counts)
    bars_hidden, times_total_hidden = np.zeros(len(distribution.bars), dtype=bool), False
    if policy is not None:
        keyed = by_right.assign(right=[ALL if pd.isna(r) else str(int(r)) for r in by_right["right_no"]])
        right_hidden = table_mask(keyed, dimension="right", counts=counts, total=ALL,
                                  nested=[("acknowledged", "complaints")], policy=policy)
        outcome_hidden = table_mask(outcomes, dimension="outcome", counts=counts, total=ALL,
                                    nested=[("acknowledged", "complaints")], policy=policy)
        bars_hidden, times_total_hidden = histogram_mask(distribution.bars, distribution.total, policy=policy)
        # The three tables share the total: a total count hidden in one is hidden in all.
        right_total, outcome_total = by_right["right_no"].isna(), outcomes["outcome"] == ALL
        for column in counts:
            hide = bool(right_hidden.loc[right_total, column].any() or outcome_hidden.loc[outcome_total, column].any()
                        or (column == "complaints" and times_total_hidden))
            right_hidden.loc[right_total, column] |= hide
            outcome_hidden.loc[outcome_total, column] |= hide
        times_total_hidden = bool(right_hidden.loc[right_total, "complaints"].any())
    within_hidden = not within_shown(distribution.bars, bars_hidden, times_total_hidden)
    any_right_hidden = right_hidden.any(axis=1)
    for column in ("acknowledged_rate", "acknowledged_rate_lower", "acknowledged_rate_upper",
                   "median_working_days_to_acknowledge"):
        by_right[column] = by_right[column].mask(any_right_hidden)
    total = by_right[by_right["right_no"].isna()].iloc[0]
    total_hidden = right_hidden.loc[by_right["right_no"].isna()].iloc[0]

    kpis = st.columns(3)
    kpis[0].metric("Complaints received", views.count_words(total["complaints"], total_hidden["complaints"]),
                   border=True, help="Complaints received in the period (and by the data date).")
    kpis[1].metric("Acknowledged", display.format_rate_short(total["acknowledged_rate"]),
                   border=True, help="Complaints acknowledged (or given a substantive response) by the data date ÷ "
                                     "complaints received.")
    counted = views.count_text(total["acknowledged"], total["complaints"], total_hidden["acknowledged"],
                               total_hidden["complaints"])
    kpis[1].caption(f"{counted} · 95% CI "
                    f"{display.interval_text(total['acknowledged_rate_lower'], total['acknowledged_rate_upper'])}")
    median = total["median_working_days_to_acknowledge"]
    kpis[2].metric("Median working days to acknowledge", "–" if pd.isna(median) else display.number(median),
                   border=True, help="Over the complaints acknowledged by the data date; weekends and bank holidays "
                                     "are not working days, and the same day is 0.")

    st.markdown("##### By right")
    shown_rights = by_right[by_right["right_no"].notna()]
    bars = pd.DataFrame({"Right": ["No right stated" if int(r) == NOT_STATED else f"Right {int(r)}"
                                   for r in shown_rights["right_no"]],
                         "complaints": shown_rights["complaints"].astype(float).mask(
                             right_hidden.loc[shown_rights.index, "complaints"])})
    alt = charts.describe_counts(bars, "Right", "complaints", "complaints received by the right they concern")
    st.plotly_chart(charts.count_bars_figure(bars, "Right", "complaints", name="Complaints"), key="complaints_by_right",
                    alt=alt, config={"displaylogo": False})
    st.caption(f"Complaints received, by the right of the Code they concern, in the order of the rights (not ranked). "
               f"{context}; n = {views.count_words(total['complaints'], total_hidden['complaints'])} complaints. "
               "The table below has the same figures, with how many were acknowledged.")
    with st.expander("The chart in words"):
        st.text(alt)
    right_table = pd.DataFrame({
        "Right": [right_label(r) for r in by_right["right_no"]],
        "Complaints": [views.count_or_marker(c, h) for c, h in zip(by_right["complaints"], right_hidden["complaints"])],
        "Acknowledged %": by_right["acknowledged_rate"] * 100,
        "n of N": [views.count_text(a, c, ha, hc) for a, c, ha, hc in
                   zip(by_right["acknowledged"], by_right["complaints"], right_hidden["acknowledged"],
                       right_hidden["complaints"])],
        "95% CI": [display.interval_text(lo, hi) for lo, hi in
                   zip(by_right["acknowledged_rate_lower"], by_right["acknowledged_rate_upper"])],
        "Median working days to acknowledge": by_right["median_working_days_to_acknowledge"],
    })
    st.dataframe(right_table.astype({"Complaints": str}), hide_index=True, column_config={
        "Acknowledged %": st.column_config.NumberColumn(format="%.1f%%"),
        "Median working days to acknowledge": st.column_config.NumberColumn(format="%.1f")},
        alt="Table of complaints by right: received, the share acknowledged by the data date with n of N and its "
            "95% interval, and the median working days to acknowledge")
    views.suppression_caption(policy, int(right_hidden.to_numpy().sum()))

    st.markdown("##### By outcome")
    outcome_table = pd.DataFrame({
        "Outcome": ["All complaints" if o == ALL else "Not recorded" if o == "not_recorded" else contract.label(o)
                    for o in outcomes["outcome"]],
        "Complaints": [views.count_or_marker(c, h)
                       for c, h in zip(outcomes["complaints"], outcome_hidden["complaints"])],
        "Acknowledged": [views.count_or_marker(c, h) for c, h in
                         zip(outcomes["acknowledged"], outcome_hidden["acknowledged"])],
    })
    st.dataframe(outcome_table.astype(str), hide_index=True,
                 alt="Table of complaints by their outcome as of the data date, in the order a complaint runs")
    st.caption("The outcome as of the data date: a complaint not closed by then is open; one closed with no outcome "
               "recorded is not recorded.")
    views.suppression_caption(policy, int(outcome_hidden.to_numpy().sum()))
    if policy is None:
        with st.expander("Complaints by right and outcome"):
            cross = complaint_crosstab(complaints)
            cross.insert(0, "Right", [right_label(r) for r in cross.pop("right_no")])
            cross.columns = ["Right"] + ["All outcomes" if c == ALL else "Not recorded" if c == "not_recorded"
                                         else contract.label(c) for c in cross.columns[1:]]
            st.dataframe(cross, hide_index=True, alt="Table of complaints by right (rows) and outcome (columns), "
                                                     "with totals")
    else:
        st.caption("The table of complaints by right and outcome together is not shown to the board: a two-way table "
                   "of small numbers cannot be protected by hiding cells one way at a time.")

    st.markdown("##### Time to acknowledge")
    views.histogram_section(
        distribution, key="complaint_times", what="complaints, by working days from receipt to acknowledgement",
        limit_words=f"{ack_days} working days",
        definition=(f"Working days from a complaint being received to its acknowledgement (or a substantive "
                    f"response), as of the data date; the Code's timescale, from the catalogue, is {ack_days} working "
                    f"days ({ack.timescale_note or 'see the catalogue'})."),
        context=context, undated_words="Not acknowledged by the data date", hidden=bars_hidden,
        total_hidden=times_total_hidden, within_hidden=within_hidden)
    views.suppression_caption(policy, int(bars_hidden.sum()))

st.markdown("#### Definitions")
with st.expander("Surveys"):
    st.markdown("Responses received in the period, per survey (rape, hate crime, domestic abuse, burglary, general) "
                "and for all surveys together. For overall satisfaction, being kept informed and being treated "
                "fairly (each scored 1 to 5), the share scoring 4 or 5 of those who answered that question; for "
                "awareness of the Victims' Code, the share aware of those who answered. Each with its Wilson 95% "
                "interval. A response with no case matches no district or offence-group filter.")
with st.expander("Complaints"):
    st.markdown("Complaints received in the period, by the right of the Code they concern (or none stated) and by "
                "their outcome as of the data date. **Acknowledged**: acknowledged by the data date. **Time to "
                "acknowledge**: working days from receipt to acknowledgement, weekends and England and Wales bank "
                "holidays excluded; the same day is 0. A complaint with no case matches no district or offence-group "
                "filter.")
