"""The England & Wales working-day calendar that "within N working days" is measured against.

Weekends and England & Wales bank holidays (including substitute days and one-off holidays such
as coronations and state funerals, as published in the `holidays` package) are not working days.
"""

from __future__ import annotations

from datetime import date

import holidays
import numpy as np
import pandas as pd

__all__ = ["working_day_calendar"]


def working_day_calendar(first: date, last: date) -> pd.DataFrame:
    """One row per day from first to last inclusive: day, is_working_day, holiday_name, wd_seq, wd_seq_next.

    wd_seq counts working days from `first` up to and including the day; wd_seq_next is the wd_seq of
    the first working day on or after the day. So the due date for "N working days after T" is the
    working day with wd_seq = wd_seq(T) + N, and a delivery on day D is on time when
    wd_seq_next(D) <= wd_seq(T) + N (a delivery on a weekend after a Friday deadline is late).
    """
    if last < first:
        raise ValueError(f"calendar end {last} is before its start {first}")
    days = pd.date_range(first, last, freq="D")
    bank_holidays = holidays.country_holidays("GB", subdiv="ENG", years=range(first.year, last.year + 1))
    names = [bank_holidays.get(d.date()) for d in days]
    is_working = (days.day_of_week < 5) & np.array([n is None for n in names])
    wd_seq = np.cumsum(is_working).astype("int32")
    wd_seq_next = np.where(is_working, wd_seq, wd_seq + 1).astype("int32")
    return pd.DataFrame({
        "day": days.date,
        "is_working_day": is_working,
        "holiday_name": names,
        "wd_seq": wd_seq,
        "wd_seq_next": wd_seq_next,
    })
