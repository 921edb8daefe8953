"""Every chart in the app: one Plotly template, rate charts with intervals, SPC and funnel charts, and
their text alternatives.

Colour is never the only signal: each series also has its own marker symbol and a legend label,
and every figure comes with a sentence describing it for screen readers and a data table.
Free text typed by people (panel and action titles, unit names from the data) reaches a figure only
through `safe_text`, which escapes it so Plotly shows it as text and never as markup.
"""

from __future__ import annotations

import html
import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio

from metrics.funnel import FUNNEL_BANDS, FunnelResult, funnel_curve
from metrics.spc import POINT_TYPES, SpcResult
from metrics.summaries import month_runs

__all__ = ["TEMPLATE", "PALETTE", "SYMBOLS", "GREY", "POINT_STYLES", "BAND_STYLES", "ANNOTATION_STYLES",
           "interval_figure", "paired_interval_figure", "describe_intervals",
           "safe_text", "spc_axis", "spc_figure", "describe_spc", "funnel_figure", "describe_funnel", "month_runs",
           "steps_figure", "describe_steps", "working_days_figure", "describe_working_days", "before_after_figure",
           "count_bars_figure", "describe_counts"]

# UK Government Analysis Function categorical palette (chosen for colour-blind safety and contrast).
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "triangle-down", "hexagon")
TEMPLATE = "vcd"
# The palette's neutral: common-cause points, process limits, units within funnel limits.
GREY = "#8C8C8C"

# SPC point types (metrics.spc.POINT_TYPES): the Making Data Count meaning (improvement blue, concern
# orange, neither purple, common cause grey) in the palette's colours, each with its own symbol and the
# type's words in the legend and hover, so no one needs to tell the colours apart.
POINT_STYLES: dict[str, tuple[str, str, int]] = {  # point type -> (symbol, colour, size)
    "common_cause": ("circle", GREY, 7),
    "special_cause_improvement": ("star", PALETTE[0], 13),
    "special_cause_concern": ("x", PALETTE[3], 11),
    "special_cause_neither": ("hexagon", PALETTE[5], 11),
    "not_assessed": ("circle", PALETTE[0], 7),
}
# Funnel bands (metrics.funnel.FUNNEL_BANDS): above is better for every rate here; the 99.8% band
# filled, the 95% band open.
BAND_STYLES: dict[str, tuple[str, str, int]] = {
    "within": ("circle", GREY, 9),
    "above_95": ("triangle-up-open", PALETTE[0], 12),
    "above_998": ("triangle-up", PALETTE[0], 13),
    "below_95": ("triangle-down-open", PALETTE[3], 12),
    "below_998": ("triangle-down", PALETTE[3], 13),
}
ANNOTATION_STYLES = {  # kind -> (legend name, symbol, colour)
    "panel": ("Feedback panel held", "triangle-down-open", PALETTE[4]),
    "action": ("Panel action completed", "diamond", PALETTE[1]),
}
TARGET_COLOUR = PALETTE[2]
_MAX_FREE_TEXT = 160

pio.templates[TEMPLATE] = go.layout.Template(
    layout=dict(
        colorway=PALETTE,
        font=dict(family="Source Sans Pro, Arial, sans-serif", size=14, color="#0b0c0c"),
        paper_bgcolor="white",
        plot_bgcolor="white",
        margin=dict(l=10, r=10, t=30, b=10),
        hoverlabel=dict(font_size=14),
        legend=dict(orientation="h", yanchor="top", y=-0.15, x=0),
        xaxis=dict(showgrid=False, linecolor="#b1b4b6", ticks="outside"),
        yaxis=dict(gridcolor="#e5e6e7", zeroline=False, linecolor="#b1b4b6"),
    )
)


def _rate_axis(fig: go.Figure, axis: str = "y") -> None:
    fig.update_layout(**{f"{axis}axis": dict(tickformat=".0%", range=[0, 1.02], title=None)})


def interval_figure(frame: pd.DataFrame, category: str, rate: str, lower: str, upper: str,
                    numerator: str, denominator: str, reference: float | None = None,
                    reference_label: str = "All", height: int | None = None) -> go.Figure:
    """Each category's rate as a point with its 95% interval, in the order given (never ranked by rate)."""
    frame = frame.iloc[::-1]  # Plotly draws the first category at the bottom; keep reading order top-down
    custom = frame[[numerator, denominator, lower, upper]].to_numpy()
    fig = go.Figure(go.Scatter(
        x=frame[rate], y=frame[category], mode="markers",
        marker=dict(symbol="diamond", size=10, color=PALETTE[0]),
        error_x=dict(type="data", symmetric=False, array=frame[upper] - frame[rate],
                     arrayminus=frame[rate] - frame[lower], color=PALETTE[0], thickness=1.5),
        customdata=custom, name="Rate with 95% interval",
        hovertemplate="%{y}: %{x:.1%}<br>%{customdata[0]:,} of %{customdata[1]:,}"
                      "<br>95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%}<extra></extra>",
    ))
    if reference is not None and not math.isnan(reference):
        fig.add_vline(x=reference, line_dash="dash", line_color=PALETTE[4],
                      annotation_text=f"{reference_label}: {reference:.1%}", annotation_position="top")
    # A dot plot needs no zero baseline: the axis fits the intervals so their overlap can be seen.
    fig.update_layout(xaxis=dict(tickformat=".0%", title=None))
    fig.update_layout(template=TEMPLATE, height=height or max(220, 34 * len(frame) + 90), showlegend=False,
                      yaxis=dict(title=None, type="category"))
    return fig


def paired_interval_figure(frame: pd.DataFrame, category: str, group: str, groups: tuple[str, str],
                           labels: tuple[str, str], rate: str, lower: str, upper: str,
                           numerator: str, denominator: str) -> go.Figure:
    """Two groups' rates per category, side by side on one axis, with different symbols and 95% intervals."""
    fig = go.Figure()
    order = list(dict.fromkeys(frame[category]))[::-1]
    for i, (value, label) in enumerate(zip(groups, labels)):
        rows = frame[frame[group] == value].set_index(category).reindex(order).dropna(subset=[rate]).reset_index()
        fig.add_trace(go.Scatter(
            x=rows[rate], y=rows[category], mode="markers", name=label, offsetgroup=label,
            marker=dict(symbol=("circle", "diamond")[i], size=10, color=PALETTE[(0, 3)[i]]),
            error_x=dict(type="data", symmetric=False, array=rows[upper] - rows[rate],
                         arrayminus=rows[rate] - rows[lower], thickness=1.5),
            customdata=rows[[numerator, denominator, lower, upper]].to_numpy(),
            hovertemplate=f"{label}<br>" + "%{y}: %{x:.1%}<br>%{customdata[0]:,} of %{customdata[1]:,}"
                          "<br>95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%}<extra></extra>"))
    _rate_axis(fig, "x")
    fig.update_layout(template=TEMPLATE, scattermode="group", scattergap=0.4,
                      height=max(240, 44 * len(order) + 110),
                      yaxis=dict(title=None, type="category", categoryorder="array", categoryarray=order),
                      legend=dict(orientation="h", yanchor="bottom", y=1.0, x=0))
    return fig



def describe_intervals(frame: pd.DataFrame, category: str, rate: str, lower: str, upper: str, what: str) -> str:
    parts = [f"{row[category]} {row[rate]:.0%} ({row[lower]:.0%} to {row[upper]:.0%})"
             for _, row in frame.dropna(subset=[rate]).iterrows()]
    return f"Dot plot of {what} with 95% intervals: " + ("; ".join(parts) if parts else "no data") + "."


# --- SPC and funnel charts ---------------------------------------------------------------------------

def safe_text(text, limit: int = _MAX_FREE_TEXT) -> str:
    """Untrusted free text for Plotly: shortened, and HTML-escaped so tags show as typed, never as markup."""
    text = "" if text is None or (isinstance(text, float) and math.isnan(text)) else str(text)
    text = " ".join(text.split())  # no line breaks or tabs
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return html.escape(text, quote=True)


def _segments(points: pd.DataFrame, column: str) -> tuple[list, list]:
    """x and y for a line per partition (a gap between partitions), skipping rows where it is NaN."""
    xs, ys = [], []
    for _, rows in points.groupby("partition", sort=True):
        rows = rows.dropna(subset=[column])
        if rows.empty:
            continue
        if xs:
            xs.append(None)
            ys.append(None)
        xs += list(rows["date"])
        ys += list(rows[column])
    return xs, ys


def _vertical_markers(fig: go.Figure, kind: str, dates: pd.Series, texts: list[str], y_line: float,
                      y_marker: float) -> None:
    name, symbol, colour = ANNOTATION_STYLES[kind]
    # All at once: each add_shape copies every shape already on the figure.
    fig.update_layout(shapes=[*fig.layout.shapes, *(
        dict(type="line", x0=day, x1=day, y0=0, y1=y_line, xref="x", yref="paper",
             line=dict(color=colour, width=1, dash="dot"), opacity=0.45, layer="below") for day in dates)])
    fig.add_trace(go.Scatter(
        x=list(dates), y=[y_marker] * len(dates), mode="markers", name=name,
        marker=dict(symbol=symbol, size=11, color=colour, line=dict(width=1.5, color=colour)),
        hovertext=texts, hoverinfo="text"))


MIN_SPC_SPAN = 0.10  # an SPC chart's axis covers at least 10 percentage points, so small noise is not magnified


def _nice_ticks(low: float, high: float) -> list[float]:
    """4 to 7 round tick values between low and high, never above 100%."""
    for step in (0.01, 0.02, 0.05, 0.1, 0.2, 0.25):
        if (high - low) / step <= 6:
            break
    start = math.ceil(low / step - 1e-9) * step
    ticks = list(np.arange(start, min(high, 1.0) + 1e-9, step))
    return [round(t, 4) for t in ticks]


def spc_axis(points: pd.DataFrame, target: float | None) -> tuple[float, float]:
    """The value range an SPC chart shows: the values, mean, limits (within 0-100%) and target, padded,
    covering at least MIN_SPC_SPAN. The limits say which swings are noise, so the axis can be zoomed."""
    values = pd.concat([points[c] for c in ("value", "mean", "upl", "lpl")]).dropna().clip(0.0, 1.0)
    if target is not None:
        values = pd.concat([values, pd.Series([target])])
    if values.empty:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    span = max(high - low, MIN_SPC_SPAN)
    middle = (low + high) / 2
    low, high = middle - span / 2, middle + span / 2
    if low < 0:
        low, high = 0.0, span
    if high > 1:
        low, high = 1.0 - span, 1.0
    pad = 0.06 * span
    return max(0.0, low - pad), high + pad


def spc_figure(series: pd.DataFrame, result: SpcResult, *, target: float | None = None,
               panels: pd.DataFrame | None = None, actions: pd.DataFrame | None = None,
               height: int = 330) -> go.Figure:
    """An XmR chart (or a run chart) of a monthly rate.

    series: month, numerator, denominator, rate (metrics.summaries.monthly_series); result: its
    xmr_chart. Special-cause points get their own symbol, colour and words; the mean and limits are
    drawn per partition (a rebase starts new ones); the target is a dash-dot line; feedback panels and
    completed actions are markers along the top with their date and title in the hover text. The value
    axis is zoomed to the data (spc_axis): the process limits show what is noise.
    """
    points = result.points.merge(series.rename(columns={"month": "date"})[["date", "numerator", "denominator"]],
                                 on="date", how="left")
    low, high = spc_axis(points, target)
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=points["date"], y=points["value"], mode="lines", name="Monthly rate",
                             line=dict(width=1.5, color=GREY), hoverinfo="skip", showlegend=False))
    xs, ys = _segments(points, "mean")
    if xs:
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", name="Mean", hoverinfo="skip",
                                 line=dict(width=2, color=PALETTE[4])))
    for trial, name, dash in ((False, "Process limits", "dash"), (True, "Trial limits (under 12 months)", "dot")):
        part = points[points["trial"] == trial]
        for i, column in enumerate(("upl", "lpl")):
            xs, ys = _segments(part, column)
            if xs:
                ys = [None if y is None else float(np.clip(y, 0.0, 1.0)) for y in ys]  # drawn within 0-100% only
                fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines", hoverinfo="skip", legendgroup=name, name=name,
                                         showlegend=i == 0, line=dict(width=1.5, color=GREY, dash=dash)))
    if target is not None and len(points):
        fig.add_trace(go.Scatter(x=[points["date"].iloc[0], points["date"].iloc[-1]], y=[target, target],
                                 mode="lines", name=f"Target {target:.0%}", hoverinfo="skip",
                                 line=dict(width=2, color=TARGET_COLOUR, dash="dashdot")))
    for point_type, (symbol, colour, size) in POINT_STYLES.items():
        rows = points[points["point_type"] == point_type]
        if rows.empty:
            continue
        label = POINT_TYPES[point_type].label
        why = [f"<br>{label}" + (f": {signals}" if signals else "") for signals in rows["signals"]]
        fig.add_trace(go.Scatter(
            x=rows["date"], y=rows["value"], mode="markers", name=label if point_type != "not_assessed" else "Month",
            marker=dict(symbol=symbol, size=size, color=colour, line=dict(width=1, color=colour)),
            customdata=[[int(n), int(d), w]
                        for n, d, w in zip(rows["numerator"].fillna(0), rows["denominator"].fillna(0), why)],
            hovertemplate="%{x|%b %Y}: %{y:.1%}<br>%{customdata[0]:,} of %{customdata[1]:,}%{customdata[2]}"
                          "<extra></extra>"))
    ticks = _nice_ticks(low, high)
    marked = [(kind, frame) for kind, frame in (("panel", panels), ("action", actions))
              if frame is not None and len(frame)]
    if marked:  # a strip above the data for the panel and action markers
        strip = 0.16 * (high - low)
        top = high + strip
        rows_y = {"panel": high + 0.72 * strip, "action": high + 0.32 * strip}
        for kind, frame in marked:
            column = "held_on" if kind == "panel" else "completed_on"
            words = "Feedback panel held" if kind == "panel" else "Action completed"
            texts = [f"{words} {d:%d %b %Y}<br>{safe_text(t)}" for d, t in zip(frame[column], frame["title"])]
            _vertical_markers(fig, kind, frame[column], texts, (rows_y[kind] - low) / (top - low), rows_y[kind])
        high = top
    fig.update_layout(template=TEMPLATE, height=height, margin=dict(l=10, r=10, t=10, b=10),
                      yaxis=dict(tickformat=".0%", range=[low, high], tickvals=ticks, title=None),
                      xaxis=dict(tickformat="%b %y", title=None),
                      legend=dict(orientation="h", yanchor="top", y=-0.16, x=0, font_size=12),
                      hovermode="closest")
    return fig


def describe_spc(label: str, result: SpcResult, what: str, *, target: float | None = None,
                 panels: int = 0, actions: int = 0) -> str:
    """The SPC chart in words, for screen readers and the alt text."""
    observed = result.points.dropna(subset=["value"])
    chart = "XmR chart" if result.kind == "xmr" else "Run chart"
    if observed.empty:
        return f"{chart} of {what} for {label}: no months with a value, so nothing can be shown."
    first, last = observed.iloc[0], observed.iloc[-1]
    parts = [f"{chart} of {what} for {label} by month, {first['date']:%b %Y} to {last['date']:%b %Y} "
             f"({len(observed)} months with a value)"]
    if result.kind == "xmr" and not np.isnan(last["upl"]):
        parts.append(f"mean {last['mean']:.1%}, process limits {last['lpl']:.1%} to {last['upl']:.1%}"
                     + (" (trial limits)" if last["trial"] else ""))
    else:
        parts.append(f"mean {last['mean']:.1%}, no process limits")
    parts.append(f"latest, {last['date']:%b %Y}: {last['value']:.1%}; {result.variation_text.label}")
    for point_type in ("special_cause_concern", "special_cause_improvement", "special_cause_neither"):
        months = observed.loc[observed["point_type"] == point_type, "date"]
        if len(months):
            parts.append(f"{POINT_TYPES[point_type].label} in {month_runs(list(months))}")
    if target is not None:
        assurance = result.assurance_text
        parts.append(f"target {target:.0%}: " + (assurance.label if assurance else "no assurance without limits"))
    if panels or actions:
        parts.append(f"{panels} feedback panel{'s' if panels != 1 else ''} and {actions} completed "
                     f"action{'s' if actions != 1 else ''} marked")
    return "; ".join(parts) + "."


def funnel_figure(result: FunnelResult, *, unit_word: str = "District", height: int = 420) -> go.Figure:
    """A Spiegelhalter funnel plot: each unit's rate against its denominator, with the 95% and 99.8%
    limits around the selection's pooled rate. Units outside the limits are labelled; nothing is ranked."""
    units = result.units[result.units["band"] != "no_data"]
    fig = go.Figure()
    if units.empty or np.isnan(result.centre):
        return fig
    low, high = float(units["denominator"].min()), float(units["denominator"].max())
    curve = funnel_curve(result.centre, high * 1.08, min_denominator=max(1.0, low * 0.5), method=result.method)
    fig.add_trace(go.Scatter(x=[curve["denominator"].min(), curve["denominator"].max()], y=[result.centre] * 2,
                             mode="lines", name=f"Whole selection: {result.centre:.1%}", hoverinfo="skip",
                             line=dict(color=PALETTE[4], width=2)))
    for level, dash, words in (("95", "dash", "95% limits"), ("998", "dot", "99.8% limits")):
        for i, side in enumerate(("upper", "lower")):
            fig.add_trace(go.Scatter(x=curve["denominator"], y=curve[f"{side}_{level}"], mode="lines", name=words,
                                     legendgroup=level, showlegend=i == 0, hoverinfo="skip",
                                     line=dict(color=GREY, width=1.5, dash=dash)))
    for band, (symbol, colour, size) in BAND_STYLES.items():
        rows = units[units["band"] == band]
        if rows.empty:
            continue
        names = [safe_text(u, 60) for u in rows["unit"]]
        fig.add_trace(go.Scatter(
            x=rows["denominator"].astype(float), y=rows["rate"], name=FUNNEL_BANDS[band].label, mode="markers",
            marker=dict(symbol=symbol, size=size, color=colour, line=dict(width=2, color=colour)),
            customdata=[[name, int(n), int(d)] for name, n, d in zip(names, rows["numerator"], rows["denominator"])],
            hovertemplate=f"{unit_word} %{{customdata[0]}}: %{{y:.1%}}<br>%{{customdata[1]:,.0f}} of "
                          f"%{{customdata[2]:,.0f}}<br>{FUNNEL_BANDS[band].label}<extra></extra>"))
    # Units outside the limits are named on the chart too, with staggered leader lines so neighbours stay readable.
    outside = units[units["band"] != "within"].sort_values("denominator")
    for k, (_, row) in enumerate(outside.iterrows()):
        up = row["band"].startswith("above")
        dx, dy = ((-30, 26), (30, 44), (0, 62))[k % 3]
        fig.add_annotation(x=float(row["denominator"]), y=row["rate"], text=safe_text(row["unit"], 40), showarrow=True,
                           arrowhead=0, arrowwidth=1, arrowcolor=GREY, ax=dx, ay=-dy if up else dy,
                           font=dict(size=12, color=PALETTE[4]))
    shown = curve.loc[curve["denominator"] >= low * 0.9, ["lower_998", "upper_998"]].stack()
    values = pd.concat([units["rate"], shown])
    span = max(values.max() - values.min(), 0.02)
    fig.update_layout(template=TEMPLATE, height=height, margin=dict(l=10, r=10, t=10, b=10),
                      xaxis=dict(title=dict(text="Eligible (the denominator)", font_size=13), rangemode="tozero",
                                 tickformat=","),
                      yaxis=dict(tickformat=".0%", title=None,
                                 range=[max(0.0, values.min() - 0.3 * span), min(1.05, values.max() + 0.3 * span)]),
                      legend=dict(orientation="h", yanchor="top", y=-0.18, x=0, font_size=12))
    return fig


def describe_funnel(result: FunnelResult, what: str, unit_word: str = "districts") -> str:
    units = result.units[result.units["band"] != "no_data"]
    if units.empty or np.isnan(result.centre):
        return f"Funnel plot of {what} by {unit_word}: no {unit_word} with any cases, so nothing to compare."
    parts = [f"{row['unit']} {row['rate']:.0%} of {int(row['denominator']):,} ({row['band_label'].lower()})"
             for _, row in units.iterrows()]
    return (f"Funnel plot of {what} by {unit_word}: each rate against its number of eligible cases, with 95% and "
            f"99.8% limits around the rate for the whole selection, {result.centre:.1%}. {result.note} "
            f"In alphabetical order: " + "; ".join(parts) + ".")


# --- referral uptake and the victim's voice -------------------------------------------------------------------

def steps_figure(steps: pd.DataFrame, *, height: int | None = None) -> go.Figure:
    """A funnel of counts, one horizontal bar per step from the top down, each labelled with its count and its
    share of the step it follows (steps: label, count, share; NaN share for the first step or where hidden).
    A step whose count is missing (hidden) has no bar and says so."""
    frame = steps.iloc[::-1]  # Plotly draws the first category at the bottom
    counts = pd.to_numeric(frame["count"], errors="coerce")
    texts = []
    for count, share in zip(counts, frame["share"]):
        if pd.isna(count):
            texts.append("hidden [c]")
        elif pd.isna(share):
            texts.append(f"{int(count):,}")
        else:
            texts.append(f"{int(count):,} ({share:.0%})")
    labels = [safe_text(label, 60) for label in frame["label"]]
    fig = go.Figure(go.Bar(
        x=counts.fillna(0), y=labels, orientation="h", text=texts,
        textposition="auto", marker=dict(color=PALETTE[0]), cliponaxis=False, name="Records",
        hovertemplate="%{y}: %{text}<extra></extra>"))
    hidden = [label for label, count in zip(labels, counts) if pd.isna(count)]
    if hidden:  # a bar of no length shows no text: the words go beside the axis, so a gap never reads as none
        fig.add_trace(go.Scatter(x=[0] * len(hidden), y=hidden, mode="text", text=["hidden [c]"] * len(hidden),
                                 textposition="middle right", hoverinfo="skip", cliponaxis=False))
    fig.update_layout(template=TEMPLATE, height=height or 44 * len(frame) + 60, showlegend=False,
                      margin=dict(l=10, r=30, t=10, b=10),
                      xaxis=dict(title=None, tickformat=",", rangemode="tozero"),
                      yaxis=dict(title=None, type="category"), uniformtext=dict(minsize=11, mode="show"))
    return fig


def describe_steps(name: str, steps: pd.DataFrame) -> str:
    """A funnel in words: each step's count and its share of the step before."""
    parts = []
    for _, row in steps.iterrows():
        count = pd.to_numeric(pd.Series([row["count"]]), errors="coerce").iloc[0]
        if pd.isna(count):
            parts.append(f"{row['label']}: hidden")
        elif pd.isna(row["share"]):
            parts.append(f"{row['label']}: {int(count):,}")
        else:
            parts.append(f"{row['label']}: {int(count):,} ({row['share']:.0%} of the step before)")
    return f"Funnel for {name}, from the top step down: " + "; ".join(parts) + "."


_BAR_KINDS = {  # kind -> (colour, pattern): the pattern and the legend words carry the meaning, not the colour
    True: (PALETTE[0], ""),
    False: (PALETTE[3], "/"),
    None: (GREY, "."),
}


def working_days_figure(bars: pd.DataFrame, *, names: dict, height: int = 320) -> go.Figure:
    """A histogram of whole working days (bars: label, count, share, within True/False/None), the bars within
    the limit solid, those beyond hatched and the undated dotted, each kind named in the legend. `names` maps
    True/False/None to the legend's words. A bar whose count is missing (hidden) is left empty."""
    fig = go.Figure()
    order = list(bars["label"])
    kinds = [None if pd.isna(w) else bool(w) for w in bars["within"]]
    for kind, (colour, pattern) in _BAR_KINDS.items():
        rows = bars[[k is kind for k in kinds]]
        if rows.empty:
            continue
        counts = pd.to_numeric(rows["count"], errors="coerce")
        texts = ["[c]" if pd.isna(c) else f"{int(c):,}" for c in counts]
        fig.add_trace(go.Bar(
            x=rows["label"], y=counts.fillna(0), name=names[kind], text=texts, textposition="outside",
            cliponaxis=False, marker=dict(color=colour, pattern=dict(shape=pattern, fgcolor="white" if pattern else None),
                                          line=dict(color=colour, width=1.5)),
            hovertemplate="%{x} working days: %{text}<extra>" + names[kind] + "</extra>"))
    fig.update_layout(template=TEMPLATE, height=height, barmode="overlay", bargap=0.15,
                      xaxis=dict(title=dict(text="Working days", font_size=13), type="category",
                                 categoryorder="array", categoryarray=order),
                      yaxis=dict(title=None, tickformat=",", rangemode="tozero"),
                      legend=dict(orientation="h", yanchor="top", y=-0.22, x=0, font_size=12),
                      margin=dict(l=10, r=10, t=24, b=10))
    return fig


def describe_working_days(what: str, bars: pd.DataFrame) -> str:
    """The histogram in words: each bar's count, in order."""
    parts = []
    for _, row in bars.iterrows():
        count = pd.to_numeric(pd.Series([row["count"]]), errors="coerce").iloc[0]
        where = row["label"] if row["within"] is None or pd.isna(row["within"]) else f"{row['label']} working days"
        parts.append(f"{where}: {'hidden' if pd.isna(count) else f'{int(count):,}'}")
    return f"Bar chart of {what}: " + "; ".join(parts) + "."


def before_after_figure(series: pd.DataFrame, result: SpcResult, *, first_after: pd.Timestamp,
                        transition: pd.Timestamp | None, change_text: str, panels: pd.DataFrame | None = None,
                        actions: pd.DataFrame | None = None, height: int = 360) -> go.Figure:
    """spc_figure with the after period shaded and labelled, and the change's month (left out of both periods)
    hatched, so the comparison's sides are named on the chart, not only coloured."""
    fig = spc_figure(series, result, panels=panels, actions=actions, height=height)
    last = pd.Timestamp(series["month"].max()) + pd.DateOffset(days=15)
    start = pd.Timestamp(first_after) - pd.DateOffset(days=15)
    fig.add_vrect(x0=start, x1=last, fillcolor=PALETTE[1], opacity=0.08, line_width=0, layer="below",
                  annotation_text="After the change", annotation_position="bottom right", annotation_font_size=12)
    if transition is not None:
        fig.add_vrect(x0=pd.Timestamp(transition) - pd.DateOffset(days=15), x1=start, fillcolor=GREY, opacity=0.15,
                      line_width=0, layer="below", annotation_text="left out", annotation_position="bottom left",
                      annotation_font_size=11)
    fig.add_vline(x=start, line_dash="dash", line_color=PALETTE[4], line_width=1.5)
    fig.add_annotation(x=pd.Timestamp(series["month"].min()), y=0, yref="paper", yanchor="bottom", xanchor="left",
                       showarrow=False, text="Before the change", font=dict(size=12, color=PALETTE[4]),
                       hovertext=safe_text(change_text, 160))
    return fig


def count_bars_figure(frame: pd.DataFrame, category: str, count: str, *, name: str, height: int = 300) -> go.Figure:
    """Counts as vertical bars in the order given (never sorted by size), each with its value written on it;
    a missing (hidden) count has no bar and is written [c]."""
    counts = pd.to_numeric(frame[count], errors="coerce")
    texts = ["[c]" if pd.isna(c) else f"{int(c):,}" for c in counts]
    fig = go.Figure(go.Bar(x=[safe_text(c, 40) for c in frame[category]], y=counts.fillna(0), text=texts,
                           textposition="outside", cliponaxis=False, marker=dict(color=PALETTE[0]), name=name,
                           hovertemplate="%{x}: %{text}<extra></extra>"))
    fig.update_layout(template=TEMPLATE, height=height, showlegend=False, margin=dict(l=10, r=10, t=24, b=10),
                      xaxis=dict(title=None, type="category"), yaxis=dict(title=None, tickformat=",", rangemode="tozero"))
    return fig


def describe_counts(frame: pd.DataFrame, category: str, count: str, what: str) -> str:
    counts = pd.to_numeric(frame[count], errors="coerce")
    parts = [f"{c}: {'hidden' if pd.isna(n) else f'{int(n):,}'}" for c, n in zip(frame[category], counts)]
    return f"Bar chart of {what}, in order: " + ("; ".join(parts) if parts else "none") + "."
