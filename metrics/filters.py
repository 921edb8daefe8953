"""The filters every page shares, and the dimensions a measure may be broken down by.

Only names in DIMENSIONS ever become SQL identifiers; every value is bound as a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date

from metrics import contract

__all__ = ["Dimension", "DIMENSIONS", "Filters", "month_start", "month_end", "add_months", "default_period", "SETTLING_DAYS",
           "filter_clauses"]


@dataclass(frozen=True)
class Dimension:
    name: str  # filter and breakdown key, also the URL query parameter
    column: str  # column of entitlement_facts
    label: str  # as shown to people
    values: tuple[str, ...] | None  # the contract's closed list; None = read from the store


DIMENSIONS: dict[str, Dimension] = {d.name: d for d in (
    Dimension("command_area", "command_area", "Command area", None),
    Dimension("district", "district", "District", None),
    Dimension("offence_group", "offence_group", "Offence group", contract.OFFENCE_GROUPS),
    Dimension("victim_type", "victim_type", "Standard or enhanced", contract.VICTIM_TYPES),
    Dimension("age_band", "age_band", "Age band", contract.AGE_BANDS),
    Dimension("sex", "sex", "Sex", contract.SEXES),
    Dimension("ethnicity", "ethnicity", "Ethnicity", contract.ETHNICITIES),
    Dimension("disability", "disability", "Disability", contract.DISABILITY),
)}


def month_start(d: date) -> date:
    return d.replace(day=1)


def add_months(d: date, months: int) -> date:
    """The first day of the month `months` after d's month."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def month_end(d: date) -> date:
    return date.fromordinal(add_months(d, 1).toordinal() - 1)


# A month whose last day is fewer than this many days before the as-of date is still "settling":
# entitlements with no timescale triggered in it may not be recorded yet, and they count as not
# delivered (they are never "not yet due"), so the month would look worse than it will be.
SETTLING_DAYS = 14


def default_period(first_month: date, last_month: date, as_of: date, months: int = 12) -> tuple[date, date]:
    """The period pages open with: the last `months` months that have settled (first days of months)."""
    end = last_month
    if (as_of - month_end(end)).days < SETTLING_DAYS and end > first_month:
        end = add_months(end, -1)
    start = max(first_month, add_months(end, -(months - 1)))
    return start, end


@dataclass(frozen=True)
class Filters:
    """A period of trigger months, the as-of date, and a selection per dimension (empty = all)."""

    first_month: date  # first day of the first month in the period
    last_month: date  # first day of the last month in the period
    as_of: date  # only what had happened by this date counts
    selections: dict[str, tuple[str, ...]] = field(default_factory=dict)  # dimension name -> chosen values

    def __post_init__(self) -> None:
        unknown = set(self.selections) - DIMENSIONS.keys()
        if unknown:
            raise ValueError(f"unknown filter dimension(s): {', '.join(sorted(unknown))}")
        if self.last_month < self.first_month:
            raise ValueError("the period ends before it starts")

    @property
    def period_start(self) -> date:
        return self.first_month

    @property
    def period_end(self) -> date:
        return month_end(self.last_month)

    def __hash__(self) -> int:  # dict field: hash a sorted, hashable view so filters can key caches
        return hash((self.first_month, self.last_month, self.as_of, tuple(sorted(self.selections.items()))))

    def includes_settling_month(self) -> bool:
        """Whether the period's last month ended fewer than SETTLING_DAYS before the as-of date."""
        return (self.as_of - self.period_end).days < SETTLING_DAYS

    def active(self) -> dict[str, tuple[str, ...]]:
        """The dimensions that actually narrow the data."""
        return {k: v for k, v in self.selections.items() if v}

    def with_selection(self, name: str, values: tuple[str, ...]) -> "Filters":
        return replace(self, selections={**self.selections, name: tuple(values)})

    def describe(self, event: str = "Triggered") -> str:
        """The filters in words, for captions and exports; `event` names what the period counts."""
        period = f"{self.first_month:%b %Y}" if self.first_month == self.last_month else \
            f"{self.first_month:%b %Y} to {self.last_month:%b %Y}"
        parts = [f"{event} {period}", f"as of {self.as_of:%d %b %Y}"]
        for name, values in self.active().items():
            dim = DIMENSIONS[name]
            parts.append(f"{dim.label}: {', '.join(contract.label(v) for v in values)}")
        if not self.active():
            parts.append("all victims")
        return "; ".join(parts)


def filter_clauses(filters: Filters, params: dict, alias: str, date_column: str, *, period: bool = True) -> str:
    """SQL conditions for the period (unless period=False), the as-of date and each active selection, with
    values bound in `params`.

    `alias` and `date_column` are supplied by the SQL builders, never by users; dimension columns come
    from the DIMENSIONS allow-list.
    """
    params.update(as_of=filters.as_of)
    clauses = [f"{alias}.{date_column} <= $as_of"]
    if period:
        params.update(period_start=filters.period_start, period_end=filters.period_end)
        clauses.insert(0, f"{alias}.{date_column} BETWEEN $period_start AND $period_end")
    for name, values in filters.active().items():
        params[f"sel_{name}"] = list(values)
        clauses.append(f"list_contains($sel_{name}, {alias}.{DIMENSIONS[name].column})")
    return "\n      AND ".join(clauses)
