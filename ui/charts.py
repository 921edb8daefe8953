"""Every chart in the app: one Plotly template, rate charts with intervals, and their text alternatives.

Colour is never the only signal: each series also has its own marker symbol and a legend label,
and every figure comes with a sentence describing it for screen readers and a data table.
"""

from __future__ import annotations

import math

import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

__all__ = ["TEMPLATE", "PALETTE", "SYMBOLS", "sparkline_figure", "trend_figure", "small_multiples_figure",
           "interval_figure", "paired_interval_figure", "describe_trend", "describe_intervals"]

# UK Government Analysis Function categorical palette (chosen for colour-blind safety and contrast).
PALETTE = ("#12436D", "#28A197", "#801650", "#F46A25", "#3D3D3D", "#A285D1")
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "star", "triangle-down", "hexagon")
TEMPLATE = "vcd"

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


def sparkline_figure(months: pd.Series, rates: pd.Series, height: int = 64) -> go.Figure:
    """A small monthly line on a fixed 0-100% scale, so month-to-month noise is not magnified."""
    fig = go.Figure(go.Scatter(x=months, y=rates, mode="lines", line=dict(width=2, color=PALETTE[0]),
                               hoverinfo="skip"))
    fig.add_trace(go.Scatter(x=months.iloc[-1:], y=rates.iloc[-1:], mode="markers", hoverinfo="skip",
                             marker=dict(size=6, color=PALETTE[0])))
    fig.update_layout(template=TEMPLATE, height=height, showlegend=False, margin=dict(l=0, r=4, t=2, b=2),
                      xaxis=dict(visible=False), yaxis=dict(range=[0, 1.02], visible=True, showticklabels=False,
                                                            gridcolor="#e5e6e7", tickvals=[0, 0.5, 1], zeroline=False))
    return fig


def small_multiples_figure(frame: pd.DataFrame, series: str, rate: str, lower: str, upper: str,
                           numerator: str, denominator: str, columns: int = 2, row_height: int = 190) -> go.Figure:
    """One small chart per series, on the same 0-100% scale, with its 95% interval as a band.

    Small multiples instead of one chart of many lines: each series stays readable, and a wide band
    shows at a glance when a swing is just small numbers.
    """
    names = list(dict.fromkeys(frame[series]))
    rows = max(1, math.ceil(len(names) / columns))
    fig = make_subplots(rows=rows, cols=columns, shared_xaxes=True, shared_yaxes=True,
                        subplot_titles=names, vertical_spacing=0.5 / max(rows, 1) if rows > 1 else 0.1,
                        horizontal_spacing=0.06)
    for i, name in enumerate(names):
        rows_i = frame[frame[series] == name].sort_values("month")
        row, col = i // columns + 1, i % columns + 1
        fig.add_trace(go.Scatter(x=pd.concat([rows_i["month"], rows_i["month"][::-1]]),
                                 y=pd.concat([rows_i[upper], rows_i[lower][::-1]]),
                                 fill="toself", fillcolor="rgba(18, 67, 109, 0.15)", line=dict(width=0),
                                 hoverinfo="skip", showlegend=False), row=row, col=col)
        fig.add_trace(go.Scatter(
            x=rows_i["month"], y=rows_i[rate], mode="lines+markers", showlegend=False,
            line=dict(width=2, color=PALETTE[0]), marker=dict(size=5, color=PALETTE[0]),
            customdata=rows_i[[numerator, denominator, lower, upper]].to_numpy(),
            hovertemplate="%{x|%b %Y}: %{y:.1%}<br>%{customdata[0]:,} of %{customdata[1]:,}"
                          "<br>95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%}<extra></extra>"), row=row, col=col)
    fig.update_yaxes(tickformat=".0%", range=[0, 1.02], gridcolor="#e5e6e7")
    fig.update_xaxes(tickformat="%b %y", showgrid=False)
    fig.update_annotations(font_size=13)
    fig.update_layout(template=TEMPLATE, height=rows * row_height + 40, margin=dict(l=10, r=10, t=30, b=10))
    return fig


def trend_figure(frame: pd.DataFrame, series: str, rate: str, lower: str, upper: str,
                 numerator: str, denominator: str, height: int = 360) -> go.Figure:
    """Monthly rates, one line per series, with the 95% interval in the hover text.

    `frame` has a 'month' column (first day of month) and the named columns.
    """
    fig = go.Figure()
    for i, (name, rows) in enumerate(frame.groupby(series, sort=False)):
        rows = rows.sort_values("month")
        custom = rows[[numerator, denominator, lower, upper]].to_numpy()
        fig.add_trace(go.Scatter(
            x=rows["month"], y=rows[rate], name=str(name), mode="lines+markers",
            marker=dict(symbol=SYMBOLS[i % len(SYMBOLS)], size=8), line=dict(width=2),
            customdata=custom,
            hovertemplate="%{x|%b %Y}: %{y:.1%}<br>%{customdata[0]:,} of %{customdata[1]:,}"
                          "<br>95% CI %{customdata[2]:.1%} to %{customdata[3]:.1%}<extra>%{fullData.name}</extra>",
        ))
    _rate_axis(fig)
    fig.update_layout(template=TEMPLATE, height=height, xaxis=dict(tickformat="%b %Y", title=None))
    return fig


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


def describe_trend(frame: pd.DataFrame, series: str, rate: str, what: str) -> str:
    """A sentence per series: first and last month's rate and the range, for screen readers."""
    sentences = []
    for name, rows in frame.groupby(series, sort=False):
        rows = rows.dropna(subset=[rate]).sort_values("month")
        if rows.empty:
            continue
        first, last = rows.iloc[0], rows.iloc[-1]
        sentences.append(
            f"{name}: {first[rate]:.0%} in {first['month']:%b %Y}, {last[rate]:.0%} in {last['month']:%b %Y} "
            f"(lowest {rows[rate].min():.0%}, highest {rows[rate].max():.0%})")
    if not sentences:
        return f"Line chart of {what} by month: no data for this selection."
    return f"Line chart of {what} by month. " + "; ".join(sentences) + "."


def describe_intervals(frame: pd.DataFrame, category: str, rate: str, lower: str, upper: str, what: str) -> str:
    parts = [f"{row[category]} {row[rate]:.0%} ({row[lower]:.0%} to {row[upper]:.0%})"
             for _, row in frame.dropna(subset=[rate]).iterrows()]
    return f"Dot plot of {what} with 95% intervals: " + ("; ".join(parts) if parts else "no data") + "."
