"""Victim voice: survey results by survey with intervals and trends; complaints by right and outcome, with the time
to acknowledge.

The board sees only the survey results by survey and question and the complaints by right and by outcome, for its
quarter, force-wide, as the board pack has them (small numbers hidden over each group of tables at once; see
ui/outcome_views.py): the trend, the time to acknowledge and the two-way table are not offered to it."""

import pandas as pd
import streamlit as st

from metrics import contract
from metrics.disclosure import MARKER
from metrics.rates import wilson_interval
from metrics.referrals import HISTOGRAM_CAP, working_day_distribution
from metrics.victim_voice import (ALL, NOT_STATED, SURVEY_MEASURES, complaint_crosstab, complaint_outcomes,
                                  complaint_rates_by_right, survey_measure_series, survey_rates, unsupported_filters)
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


def survey_help(code: str) -> str:
    return (f"{SURVEY_MEASURES[code][0]}: of all surveys' responses that answered the question"
            + ("; 4 or 5 out of 5 counts as satisfied." if code != "aware_of_code" else "."))


if policy is not None:  # the board: the quarter's survey and complaint tables from the board pack, and nothing else
    pack = views.board_pack(ctx)
    views.board_note(pack, "The monthly trend of a question for a chosen survey, the chart of each survey's "
                           "results, the time to acknowledge a complaint and the table of complaints by right and "
                           "outcome together")
    st.markdown("#### Survey results")
    surveys = pack.tables["surveys"]
    everyone = surveys.frame[surveys.frame["Survey"] == "All surveys"].set_index("Measure")
    if everyone.empty:
        st.caption("No survey responses were received in the quarter.")
    else:
        for column, (code, (label, _, _)) in zip(st.columns(len(SURVEY_MEASURES)), SURVEY_MEASURES.items()):
            row = everyone.loc[label]
            column.metric(SHORT_LABELS[code], display.format_rate_short(views.pack_number(row["Share %"]) / 100),
                          border=True, help=survey_help(code))
            counted = views.count_text(views.pack_number(row["Count"]), views.pack_number(row["Answered"]),
                                       row["Count"] == MARKER, row["Answered"] == MARKER)
            interval = row["95% CI"] if isinstance(row["95% CI"], str) else "–"
            column.caption(f"{counted} · 95% CI {interval}")
        views.pack_table(surveys, key="board_surveys")
        first_rows = surveys.frame.drop_duplicates("Survey")
        views.suppression_caption(policy, int((first_rows["Responses"] == MARKER).sum()
                                              + (surveys.frame[["Count", "Answered"]] == MARKER).to_numpy().sum()))
    st.markdown("#### Complaints")
    by_right, by_outcome = pack.tables["complaints_right"], pack.tables["complaints_outcome"]
    total = by_right.frame[by_right.frame["Right"] == "All complaints"]
    if total.empty:
        st.caption("No complaints were received in the quarter.")
    else:
        total = total.iloc[0]
        received, acknowledged = views.pack_number(total["Complaints"]), views.pack_number(total["Acknowledged"])
        rate = lower = upper = float("nan")  # the share only from two counts shown (it then reveals nothing more)
        if received > 0 and acknowledged >= 0:
            rate, (lower, upper) = acknowledged / received, wilson_interval(acknowledged, received)
        kpis = st.columns(3)
        kpis[0].metric("Complaints received", views.count_words(received, total["Complaints"] == MARKER),
                       border=True, help="Complaints received in the quarter (and by the data date).")
        kpis[1].metric("Acknowledged", display.format_rate_short(rate), border=True,
                       help="Complaints acknowledged (or given a substantive response) by the data date ÷ complaints "
                            "received.")
        counted = views.count_text(acknowledged, received, total["Acknowledged"] == MARKER,
                                   total["Complaints"] == MARKER)
        kpis[1].caption(f"{counted} · 95% CI {display.interval_text(float(lower), float(upper))}")
        median = total["Median working days to acknowledge"]
        kpis[2].metric("Median working days to acknowledge",
                       MARKER if median == MARKER else display.number(views.pack_number(median)), border=True,
                       help="Over the complaints acknowledged by the data date; weekends and bank holidays are not "
                            "working days, and the same day is 0.")
        for table, key in ((by_right, "board_complaints_right"), (by_outcome, "board_complaints_outcome")):
            st.markdown(f"##### {'By right' if table is by_right else 'By outcome'}")
            views.pack_table(table, key=key)
            views.suppression_caption(policy, int((table.frame[["Complaints", "Acknowledged"]] == MARKER)
                                                  .to_numpy().sum()))
        st.caption("The table of complaints by right and outcome together is not shown to the board: a two-way table "
                   "of small numbers cannot be protected by hiding cells one way at a time.")
    st.stop()

st.caption(f"{context}. Survey responses count in the month they were received, complaints in the month they were "
           "received; both as of the data date. They are linked to a case, not to a victim, so they follow the "
           "district, command-area and offence-group filters only.")
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
    label, _, denominator = SURVEY_MEASURES[measure]

    rates = survey_rates(survey_counts)
    months = data.history_months(ctx)
    history = survey_measure_series(survey_rates(data.survey_history(ctx)), measure, trend_survey)

    headline = rates[rates["survey"] == ALL].set_index("measure")
    columns = st.columns(len(measures))
    for column, code in zip(columns, measures):
        row = headline.loc[code]
        column.metric(SHORT_LABELS[code], display.format_rate_short(row["rate"]), border=True,
                      help=survey_help(code))
        counted = views.count_text(row["numerator"], row["denominator"])
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
    answered = views.count_words(everyone[denominator].iloc[0])
    responded = views.count_words(responses)
    st.caption(f"{definition}. {context}; n = {answered} answers in {responded} responses.")
    st.caption("Each survey's rate with its 95% interval; the dashed line is all surveys together. Surveys are listed "
               "alphabetically; the table has every survey and question.")
    table = pd.DataFrame({
        "Survey": [survey_label(s) for s in rates["survey"]],
        "Question": rates["label"],
        "Rate %": rates["rate"] * 100,
        "n of N": [views.count_text(n, d) for n, d in zip(rates["numerator"], rates["denominator"])],
        "95% CI": [display.interval_text(lo, hi) for lo, hi in zip(rates["rate_lower"], rates["rate_upper"])],
    })
    table["_all"] = table["Survey"] == "All surveys"
    table = table.sort_values(["_all", "Survey"], kind="stable").drop(columns="_all")
    with st.expander("The chart in words, and every survey and question as a table"):
        st.text(alt)
        st.dataframe(table, hide_index=True, column_config={"Rate %": st.column_config.NumberColumn(format="%.1f%%")},
                     alt="Table of each survey's results for each question, with n of N and the 95% interval")

    st.markdown(f"##### Trend: {label.lower()}, {survey_label(trend_survey).lower()}")
    st.caption(display.SPC_KEY + " Survey numbers are small, so most months' differences are noise: read the "
               "limits, not the height of the line.")
    panels, actions = data.annotations(ctx)
    item, month_hidden = views.masked_series(history, months, code=f"survey_{measure}",
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
    total = by_right[by_right["right_no"].isna()].iloc[0]

    kpis = st.columns(3)
    kpis[0].metric("Complaints received", views.count_words(total["complaints"]),
                   border=True, help="Complaints received in the period (and by the data date).")
    kpis[1].metric("Acknowledged", display.format_rate_short(total["acknowledged_rate"]),
                   border=True, help="Complaints acknowledged (or given a substantive response) by the data date ÷ "
                                     "complaints received.")
    counted = views.count_text(total["acknowledged"], total["complaints"])
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
                         "complaints": shown_rights["complaints"].astype(float)})
    alt = charts.describe_counts(bars, "Right", "complaints", "complaints received by the right they concern")
    st.plotly_chart(charts.count_bars_figure(bars, "Right", "complaints", name="Complaints"), key="complaints_by_right",
                    alt=alt, config={"displaylogo": False})
    st.caption(f"Complaints received, by the right of the Code they concern, in the order of the rights (not ranked). "
               f"{context}; n = {views.count_words(total['complaints'])} complaints. "
               "The table below has the same figures, with how many were acknowledged.")
    with st.expander("The chart in words"):
        st.text(alt)
    right_table = pd.DataFrame({
        "Right": [right_label(r) for r in by_right["right_no"]],
        "Complaints": [int(c) for c in by_right["complaints"]],
        "Acknowledged %": by_right["acknowledged_rate"] * 100,
        "n of N": [views.count_text(a, c) for a, c in zip(by_right["acknowledged"], by_right["complaints"])],
        "95% CI": [display.interval_text(lo, hi) for lo, hi in
                   zip(by_right["acknowledged_rate_lower"], by_right["acknowledged_rate_upper"])],
        "Median working days to acknowledge": by_right["median_working_days_to_acknowledge"],
    })
    st.dataframe(right_table.astype({"Complaints": str}), hide_index=True, column_config={
        "Acknowledged %": st.column_config.NumberColumn(format="%.1f%%"),
        "Median working days to acknowledge": st.column_config.NumberColumn(format="%.1f")},
        alt="Table of complaints by right: received, the share acknowledged by the data date with n of N and its "
            "95% interval, and the median working days to acknowledge")

    st.markdown("##### By outcome")
    outcome_table = pd.DataFrame({
        "Outcome": ["All complaints" if o == ALL else "Not recorded" if o == "not_recorded" else contract.label(o)
                    for o in outcomes["outcome"]],
        "Complaints": [int(c) for c in outcomes["complaints"]],
        "Acknowledged": [int(c) for c in outcomes["acknowledged"]],
    })
    st.dataframe(outcome_table.astype(str), hide_index=True,
                 alt="Table of complaints by their outcome as of the data date, in the order a complaint runs")
    st.caption("The outcome as of the data date: a complaint not closed by then is open; one closed with no outcome "
               "recorded is not recorded.")
    with st.expander("Complaints by right and outcome"):
        cross = complaint_crosstab(complaints)
        cross.insert(0, "Right", [right_label(r) for r in cross.pop("right_no")])
        cross.columns = ["Right"] + ["All outcomes" if c == ALL else "Not recorded" if c == "not_recorded"
                                     else contract.label(c) for c in cross.columns[1:]]
        st.dataframe(cross, hide_index=True, alt="Table of complaints by right (rows) and outcome (columns), "
                                                 "with totals")

    st.markdown("##### Time to acknowledge")
    views.histogram_section(
        distribution, key="complaint_times", what="complaints, by working days from receipt to acknowledgement",
        limit_words=f"{ack_days} working days",
        definition=(f"Working days from a complaint being received to its acknowledgement (or a substantive "
                    f"response), as of the data date; the Code's timescale, from the catalogue, is {ack_days} working "
                    f"days ({ack.timescale_note or 'see the catalogue'})."),
        context=context, undated_words="Not acknowledged by the data date")

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
