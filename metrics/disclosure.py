"""Statistical disclosure control for aggregate audiences: the board, and every export meant for it.

Pure (pandas and numpy only). Callers pass the frames they already have and get back the same frames
with every suppressed value removed (missing), a mask of what was removed and a note that says why.
With threshold t (default 10, `DisclosurePolicy`):

1. Primary: a count from 1 to t-1 is hidden. Zero is shown: it identifies nobody.
2. Complements: the people a count leaves out of a count that contains it are counted too (eligible -
   delivered = not delivered; eligible_timed - on time = not on time; ...). Where such a complement is 1
   to t-1, the part is hidden, so the complement cannot be worked out from the part and its whole.
3. Secondary: no hidden count, and no complement from 1 to t-1, may be worked out from what is shown:
   a total minus the other cells, a whole minus its part, or any chain of such steps across rows,
   columns, totals, sub-totals and linked tables (checked exactly, by linear algebra, over every
   relation at once). Where one could be, the smallest non-zero count that breaks the chain is hidden
   too, preferring cells that are not totals. And where a total is shown, the cells hidden under it
   must together come to at least t and to more than their number, so that neither their sum nor "each
   is at least 1" gives a small count away.
4. A rate, with its interval, is hidden where its numerator or its denominator is.
5. Differencing between filter choices: `differencing_check` judges a view against the wider views one
   filter away, which the data-access layer counts.

Ties are broken by the rows' key values (level names, months), never by their order in the frame, so
the same figures always give the same result. docs/security.md ("Disclosure control") has the
reasoning and the attacks that remain possible.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from metrics.compliance import COUNT_COLUMNS

__all__ = ["MARKER", "THRESHOLD_ENV", "DEFAULT_THRESHOLD", "COMPLIANCE_NESTED", "COMPLIANCE_RATES",
           "DisclosurePolicy", "Suppressed", "ComplianceSuppressed", "DifferencingCheck", "suppression_note",
           "suppress_compliance", "suppress_breakdown", "suppress_series", "suppress_margins", "differencing_check"]

MARKER = "[c]"  # the ONS's mark for a confidential value
THRESHOLD_ENV = "VCD_SUPPRESSION_THRESHOLD"
DEFAULT_THRESHOLD = 10

# (part, whole): in every row the part counts some of the whole's people, so whole - part counts people too.
COMPLIANCE_NESTED = (("delivered", "eligible"), ("delivered_on_time", "eligible_timed"),
                     ("delivered_on_time", "delivered"), ("eligible_timed", "eligible"))
COMPLIANCE_RATES = {"delivered_rate": ("delivered", "eligible"),
                    "on_time_rate": ("delivered_on_time", "eligible_timed")}
RATE_SUFFIXES = ("", "_lower", "_upper")  # a rate and its interval go together
_COMPLIANCE_KEYS = ("entitlement", "right_no", "breakdown", "level")
_COMPLIANCE_LABELS = ("label", "month")


# --- the policy and the result -----------------------------------------------------------------------------

def _parse_threshold(value, source: str) -> int:
    text = str(value).strip()
    if isinstance(value, bool) or not re.fullmatch(r"[0-9]+", text) or int(text) < 1:
        raise ValueError(f"{source} must be a whole number of at least 1 (the smallest count that may be shown).")
    return int(text)


@dataclass(frozen=True)
class DisclosurePolicy:
    """Counts from 1 to threshold - 1 are suppressed (threshold 1 suppresses nothing)."""

    threshold: int = DEFAULT_THRESHOLD

    def __post_init__(self):
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | np.integer) or self.threshold < 1:
            raise ValueError("The suppression threshold must be a whole number of at least 1 "
                             "(the smallest count that may be shown).")
        object.__setattr__(self, "threshold", int(self.threshold))

    @classmethod
    def load(cls, value: int | str | None = None, environ: Mapping[str, str] | None = None) -> DisclosurePolicy:
        """The threshold given, else the environment's VCD_SUPPRESSION_THRESHOLD, else 10."""
        if value is not None:
            return cls(_parse_threshold(value, "The suppression threshold"))
        text = (os.environ if environ is None else environ).get(THRESHOLD_ENV, "").strip()
        return cls(_parse_threshold(text, THRESHOLD_ENV)) if text else cls()

    def is_small(self, counts) -> np.ndarray:
        """True for each count from 1 to threshold - 1."""
        counts = np.asarray(counts)
        return (counts >= 1) & (counts < self.threshold)

    @property
    def hidden_range(self) -> str:
        """'1 to 9', '1', or '' when nothing is suppressed."""
        top = self.threshold - 1
        return "" if top < 1 else "1" if top == 1 else f"1 to {top}"


def suppression_note(policy: DisclosurePolicy, hidden: int) -> str:
    """The plain-English note shown under a table: what is hidden, why, and how many values."""
    if not policy.hidden_range:
        return "No counts are hidden: the suppression threshold is 1."
    small = "Counts of 1 are" if policy.threshold == 2 else f"Counts from {policy.hidden_range} are"
    text = (f"{small} hidden to protect the people counted and shown as {MARKER} (confidential), as is any other "
            "count from which a hidden one could be worked out (from a total, the other cells, or the people a "
            "count leaves out), and any rate built on a hidden count.")
    if hidden == 0:
        return text + " Nothing in this table needed hiding."
    return text + (" 1 value in this table is hidden." if hidden == 1 else f" {hidden} values in this table are hidden.")


@dataclass(frozen=True)
class Suppressed:
    """A frame with its suppressed values removed, the mask of what was removed, and the policy applied.

    frame: the input's rows and columns; hidden counts are <NA> (Int64 columns), hidden rates NaN.
    hidden: booleans of the same shape, True where a value was removed (a NaN rate is not always hidden:
    a rate with no denominator is NaN too).
    """

    frame: pd.DataFrame
    hidden: pd.DataFrame
    policy: DisclosurePolicy

    @property
    def cells_hidden(self) -> int:
        return int(self.hidden.to_numpy().sum())

    @property
    def note(self) -> str:
        return suppression_note(self.policy, self.cells_hidden)

    def for_display(self) -> pd.DataFrame:
        """The frame with MARKER in every hidden cell (object columns where there is one), for tables and files."""
        out = self.frame.astype(object)
        return out.mask(self.hidden, MARKER)


@dataclass(frozen=True)
class ComplianceSuppressed:
    """suppress_compliance's result: the entitlement rows, and the right rows if any were given."""

    entitlements: Suppressed
    rights: Suppressed | None


# --- the model: counts as variables, and the sums that tie them together -----------------------------------

_SHOWN, _IMPLIED, _ELSEWHERE = 0, 1, 2  # a frame's cell; a complement or unseen rest; a total shown elsewhere


class _Model:
    """Every count in play, displayed or implied, and the relations total = sum(parts) between them."""

    def __init__(self, counts: Sequence[str], nested: Sequence[tuple[str, str]]):
        self.counts = tuple(counts)
        self.nested = tuple(nested)
        if not self.counts:
            raise ValueError("no count columns named")
        for part, whole in self.nested:
            if part not in self.counts or whole not in self.counts or part == whole:
                raise ValueError(f"nested pair ('{part}', '{whole}') must name two different count columns")
        self.values: list[int] = []
        self.kind: list[int] = []
        self.row_of: list[int] = []
        self.column_of: list[int] = []
        self.rows: list[list[int]] = []  # per row, its variable for each count, then for each complement
        self.row_keys: list[tuple[str, ...]] = []
        self.row_depth: list[int] = []  # how many relations a row is the total of: totals are hidden last
        self.row_labels: list[str] = []
        self.relations: list[tuple[int, tuple[int, ...]]] = []
        self.complements: list[tuple[int, int, int]] = []  # (whole, part, complement) within one row
        self.cells: dict[int, tuple[int, int, str]] = {}  # variable -> (frame number, row position, column)

    def _variable(self, value: int, kind: int, row: int, column: int) -> int:
        self.values.append(int(value))
        self.kind.append(kind)
        self.row_of.append(row)
        self.column_of.append(column)
        return len(self.values) - 1

    def add_row(self, values: Sequence[int], key: tuple[str, ...], label: str, kind: int = _SHOWN,
                cell: tuple[int, int] | None = None) -> int:
        row = len(self.rows)
        variables = [self._variable(v, kind, row, i) for i, v in enumerate(values)]
        by_name = dict(zip(self.counts, values, strict=True))
        for j, (part, whole) in enumerate(self.nested):
            complement = by_name[whole] - by_name[part]
            if complement < 0:
                raise ValueError(f"{label}: '{part}' is larger than '{whole}', which should include it")
            variables.append(self._variable(complement, _IMPLIED, row, len(self.counts) + j))
            whole_var, part_var = variables[self.counts.index(whole)], variables[self.counts.index(part)]
            self.relations.append((whole_var, (part_var, variables[-1])))
            self.complements.append((whole_var, part_var, variables[-1]))
        if cell is not None:
            for v, name in zip(variables, self.counts, strict=False):
                self.cells[v] = (cell[0], cell[1], name)
        self.rows.append(variables)
        self.row_keys.append(key)
        self.row_depth.append(0)
        self.row_labels.append(label)
        return row

    def row_values(self, row: int) -> list[int]:
        return [self.values[v] for v in self.rows[row][:len(self.counts)]]

    def add_margin(self, total: int, parts: Sequence[int], label: str) -> None:
        """total's row = the sum of the parts' rows, column by column. Parts that add up to less than the
        total leave a rest that nobody sees but anyone can work out: it becomes an implied row."""
        if not parts:
            return
        rest = np.asarray(self.row_values(total)) - np.sum([self.row_values(p) for p in parts], axis=0)
        if (rest < 0).any():
            column = self.counts[int(np.flatnonzero(rest < 0)[0])]
            raise ValueError(f"{label}: the rows add up to more than their total in '{column}'")
        parts = list(parts)
        if rest.any():
            parts.append(self.add_row(rest.tolist(), (*self.row_keys[total], "~rest"), f"{label} (the rest)", _IMPLIED))
        for i in range(len(self.rows[total])):
            self.relations.append((self.rows[total][i], tuple(self.rows[p][i] for p in parts)))
        self.row_depth[total] += 1


class _Relations:
    """The relations as flat arrays, so that working out what is known is a few numpy passes."""

    def __init__(self, model: _Model):
        self.total = np.array([t for t, _ in model.relations], dtype=np.int64)
        sizes = np.array([len(p) for _, p in model.relations], dtype=np.int64)
        self.part_ptr = np.concatenate([[0], np.cumsum(sizes)])
        self.parts = np.array([v for _, p in model.relations for v in p], dtype=np.int64)
        # every member of each relation (total first), with the relation it belongs to and its sign
        self.member_rel = np.concatenate([np.arange(len(sizes)), np.repeat(np.arange(len(sizes)), sizes)])
        self.member_var = np.concatenate([self.total, self.parts])
        self.member_sign = np.concatenate([-np.ones(len(sizes)), np.ones(len(self.parts))])
        self.count = len(sizes)
        order = np.argsort(self.member_var, kind="stable")
        self._rels_by_var = self.member_rel[order]
        self._var_ptr = np.searchsorted(self.member_var[order], np.arange(len(model.values) + 1))

    def relations_of(self, v: int) -> np.ndarray:
        return self._rels_by_var[self._var_ptr[v]:self._var_ptr[v + 1]]

    def members_of(self, r: int) -> tuple[int, np.ndarray]:
        return int(self.total[r]), self.parts[self.part_ptr[r]:self.part_ptr[r + 1]]

    def propagate(self, published: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """What can be worked out one relation at a time: a relation with one unknown member gives it away.
        Returns (known, the relation that gave each variable away or -1, the step at which it did)."""
        known = published.copy()
        given_by = np.full(len(known), -1, dtype=np.int64)
        step = np.zeros(len(known), dtype=np.int64)
        for n in range(1, len(known) + 2):
            unknown = ~known[self.member_var]
            open_count = np.bincount(self.member_rel, weights=unknown, minlength=self.count)
            single = unknown & (open_count[self.member_rel] == 1)
            if not single.any():
                break
            found, first = np.unique(self.member_var[single], return_index=True)
            given_by[found] = self.member_rel[single][first]
            step[found] = n
            known[found] = True
        return known, given_by, step

    def sum_violation(self, known: np.ndarray, values: np.ndarray, threshold: int) -> int:
        """The first relation whose total is known while the unknown parts under it come to 1..t-1, or
        to no more than their number (each then must be 1); -1 if none."""
        if not self.count:
            return -1
        unknown = ~known[self.parts]
        starts = self.part_ptr[:-1]
        n_unknown = np.add.reduceat(unknown.astype(np.int64), starts)
        hidden_sum = np.add.reduceat(np.where(unknown, values[self.parts], 0), starts)
        nonzero = np.add.reduceat((unknown & (values[self.parts] > 0)).astype(np.int64), starts)
        bad = (known[self.total] & (n_unknown >= 2) & (hidden_sum > 0)
               & ((hidden_sum < threshold) | (hidden_sum <= nonzero)))
        hits = np.flatnonzero(bad)
        return int(hits[0]) if len(hits) else -1


def _determined(rel: _Relations, known: np.ndarray) -> np.ndarray:
    """Unknown variables that the relations still pin down exactly when solved together (a chain that no
    single relation shows, such as a cell linking two otherwise separate blocks of hidden cells)."""
    determined = np.zeros(len(known), dtype=bool)
    unknown_member = ~known[rel.member_var]
    live = np.unique(rel.member_rel[unknown_member])
    if not len(live):
        return determined
    keep = np.isin(rel.member_rel, live) & unknown_member
    rel_ids, var_ids, signs = rel.member_rel[keep], rel.member_var[keep], rel.member_sign[keep]
    # connected blocks of unknowns, each solved on its own (small dense matrices)
    variables = np.unique(var_ids)
    parent = {int(v): int(v) for v in variables}

    def root(v: int) -> int:
        while parent[v] != v:
            parent[v] = parent[parent[v]]
            v = parent[v]
        return v

    first_var: dict[int, int] = {}
    for r, v in zip(rel_ids.tolist(), var_ids.tolist(), strict=True):
        if r in first_var:
            a, b = root(first_var[r]), root(v)
            if a != b:
                parent[max(a, b)] = min(a, b)
        else:
            first_var[r] = v
    block_of_var = np.array([root(int(v)) for v in variables])
    block_of_entry = block_of_var[np.searchsorted(variables, var_ids)]
    for block in np.unique(block_of_var):
        cols = variables[block_of_var == block]
        in_block = block_of_entry == block
        rows = np.unique(rel_ids[in_block])
        matrix = np.zeros((len(rows), len(cols)))
        matrix[np.searchsorted(rows, rel_ids[in_block]), np.searchsorted(cols, var_ids[in_block])] = signs[in_block]
        determined[cols] = _fixed_columns(matrix)
    return determined


def _fixed_columns(matrix: np.ndarray) -> np.ndarray:
    """For each column (unknown) of a homogeneous system, whether the system fixes its value.

    Gauss-Jordan elimination to reduced row echelon form: a column is fixed exactly when it has a pivot
    whose row has no entry in any free column. Written with row operations rather than LAPACK, whose
    threads crawl on a busy server; the matrices are small and their entries small integers.
    """
    a = matrix.astype(float)
    n_rows, n_cols = a.shape
    pivots: list[int] = []
    for col in range(n_cols):
        row = len(pivots)
        if row == n_rows:
            break
        best = row + int(np.argmax(np.abs(a[row:, col])))
        if abs(a[best, col]) < 1e-9:
            continue
        if best != row:
            a[[row, best]] = a[[best, row]]
        a[row] /= a[row, col]
        others = np.abs(a[:, col]) > 1e-12
        others[row] = False
        if others.any():
            a[others] -= np.multiply.outer(a[others, col], a[row])
        pivots.append(col)
    free = np.ones(n_cols, dtype=bool)
    free[pivots] = False
    fixed = np.zeros(n_cols, dtype=bool)
    for row, col in enumerate(pivots):
        fixed[col] = not (np.abs(a[row, free]) > 1e-9).any()
    return fixed


class _Protector:
    """Chooses which displayed cells to hide (rules 1 to 3 of the module docstring)."""

    def __init__(self, model: _Model, threshold: int):
        self.model = model
        self.rel = _Relations(model)
        self.values = np.asarray(model.values, dtype=np.int64)
        kind = np.asarray(model.kind)
        self.displayed = kind != _IMPLIED
        self.hideable = kind == _SHOWN
        self.sensitive = (self.values >= 1) & (self.values < threshold)
        self.threshold = threshold

    def preference(self, v: int) -> tuple:
        """Smallest non-zero first, cells that are not totals before totals, then by the row's key."""
        row = self.model.row_of[v]
        return (self.values[v] == 0, self.model.row_depth[row], self.values[v], self.model.row_keys[row],
                self.model.column_of[v])

    def ranked(self, candidates, hidden: np.ndarray) -> list[int]:
        usable = {int(c) for c in candidates if self.hideable[c] and not hidden[c]}
        return sorted(usable, key=self.preference)

    def support(self, v: int, given_by: np.ndarray, hidden: np.ndarray) -> list[int]:
        """The shown cells that v was worked out from, through every step of the chain."""
        seen, stack, found = {v}, [v], set()
        while stack:
            x = stack.pop()
            if given_by[x] < 0:
                continue
            total, parts = self.rel.members_of(int(given_by[x]))
            for m in (total, *parts.tolist()):
                if m in seen:
                    continue
                seen.add(m)
                if self.displayed[m] and not hidden[m]:
                    found.add(m)
                else:
                    stack.append(m)
        return self.ranked(found, hidden)

    def protect(self) -> np.ndarray:
        hidden = self.displayed & self.sensitive  # rule 1
        for whole, part, complement in self.model.complements:  # rule 2
            if self.sensitive[complement] and not hidden[whole] and self.displayed[part]:
                hidden[part] = True
        # A total shown elsewhere is taken to be hidden there as it would be as a table of its own.
        for row, kind in enumerate(self.model.kind[v] for v in (r[0] for r in self.model.rows)):
            if kind == _ELSEWHERE:
                variables = self.model.rows[row][:len(self.model.counts)]
                alone = _Model(self.model.counts, self.model.nested)
                alone.add_row(self.model.row_values(row), ("",), self.model.row_labels[row])
                hidden[variables] = _Protector(alone, self.threshold).protect()[:len(variables)]
        while True:  # rule 3: hide one more cell at a time until nothing can be worked out
            choice = self.next_cell(hidden)
            if choice is None:
                return hidden
            if choice < 0:  # only a total shown elsewhere could stop it: hide the whole table (fail safe)
                return hidden | self.hideable
            hidden[choice] = True

    def next_cell(self, hidden: np.ndarray) -> int | None:
        published = self.displayed & ~hidden
        known, given_by, step = self.rel.propagate(published)
        must_stay_unknown = (self.displayed & hidden) | (~self.displayed & self.sensitive)
        leaks = np.flatnonzero(known & must_stay_unknown)
        if len(leaks):
            # the first link of a chain first: mending it may mend the rest
            v = int(leaks[np.lexsort((leaks, step[leaks]))[0]])
            return self.mend_leak(v, known, given_by, hidden)
        r = self.rel.sum_violation(known, self.values, self.threshold)
        if r >= 0:
            total, parts = self.rel.members_of(r)
            choices = [p for p in self.ranked(parts.tolist(), hidden) if self.values[p] > 0]
            if not choices:
                choices = [total] if self.hideable[total] and not hidden[total] else self.support(total, given_by, hidden)
            return choices[0] if choices else -1
        determined = _determined(self.rel, known) & must_stay_unknown
        if not determined.any():
            return None
        v = int(np.flatnonzero(determined)[0])
        return self.break_chain(v, known, hidden)

    def mend_leak(self, v: int, known: np.ndarray, given_by: np.ndarray, hidden: np.ndarray) -> int:
        """A shown cell to hide so that no single relation gives v away. Relations that give it away from shown
        cells alone come first (the others may be mended on the way); of their cells, the one in most of them;
        then, as rule 3 says, a non-zero part (the smallest) before the total, zeros last."""
        published = self.displayed & ~hidden
        for usable in (published, known):
            coverage: dict[int, int] = {}
            category: dict[int, int] = {}
            for r in self.rel.relations_of(v).tolist():
                total, parts = self.rel.members_of(r)
                members = [total, *parts.tolist()]
                if any(not usable[m] for m in members if m != v):
                    continue  # this relation does not give v away, or not from shown cells alone
                for m in members:
                    if m != v and self.hideable[m] and not hidden[m]:
                        coverage[m] = coverage.get(m, 0) + 1
                        kind = 1 if m == total else 0 if self.values[m] > 0 else 2
                        category[m] = min(category.get(m, kind), kind)
            if coverage:
                return min(coverage, key=lambda m: (-coverage[m], category[m], self.preference(m)))
        choices = self.support(v, given_by, hidden)
        return choices[0] if choices else -1

    def break_chain(self, v: int, known: np.ndarray, hidden: np.ndarray) -> int:
        """The preferred shown cell whose hiding leaves v undetermined: first the cells of v's own relations,
        then those of every relation with an unknown member."""
        rel = self.rel
        own = np.isin(rel.member_rel, rel.member_rel[rel.member_var == v])
        live = np.isin(rel.member_rel, rel.member_rel[~known[rel.member_var]])
        candidates = self.ranked(rel.member_var[own], hidden)
        candidates += [c for c in self.ranked(rel.member_var[live], hidden) if c not in candidates]
        for c in candidates:
            trial = hidden.copy()
            trial[c] = True
            known, _, _ = self.rel.propagate(self.displayed & ~trial)
            if not known[v] and not _determined(self.rel, known)[v]:
                return c
        return candidates[0] if candidates else -1


# --- frames in, frames out ---------------------------------------------------------------------------------

def _key_text(value) -> str:
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _with_index(frame: pd.DataFrame, wanted: Sequence[str]) -> pd.DataFrame:
    """The frame with any wanted key kept in the index brought out as a column (a view for reading keys)."""
    names = [n for n in frame.index.names if n is not None and n in wanted and n not in frame.columns]
    return frame.reset_index(level=names) if names else frame


def _counts_of(frame: pd.DataFrame, counts: Sequence[str], what: str) -> np.ndarray:
    missing = [c for c in counts if c not in frame.columns]
    if missing:
        raise ValueError(f"{what}: column(s) {', '.join(repr(c) for c in missing)} missing")
    out = np.zeros((len(frame), len(counts)), dtype=np.int64)
    for j, column in enumerate(counts):
        values = pd.to_numeric(frame[column], errors="coerce").astype(float).to_numpy()
        bad = np.isnan(values) | (values < 0) | (values != np.floor(values))
        if bad.any():
            raise ValueError(f"{what}: column '{column}' must hold whole numbers of 0 or more; "
                             f"{int(bad.sum())} row(s) do not")
        out[:, j] = values.astype(np.int64)
    return out


def _check_columns(frame: pd.DataFrame, allowed: set[str], what: str) -> None:
    """Refuse numeric columns that are none of counts, rates or keys: they could carry a hidden count."""
    for column in frame.columns:
        if column in allowed:
            continue
        values = frame[column]
        numeric = pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype)
        if values.dtype == object:
            numeric = bool(values.map(lambda x: isinstance(x, int | float | np.number)).any())
        if numeric:
            raise ValueError(f"{what}: column '{column}' is not a count, a rate or a key, so it cannot be checked "
                             "for disclosure; drop it, or name it in keep= if it reveals no count")


def _rate_columns(frame: pd.DataFrame, rates: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    return {f"{rate}{suffix}": pair for rate, pair in rates.items() for suffix in RATE_SUFFIXES
            if f"{rate}{suffix}" in frame.columns}


def _masked(frame: pd.DataFrame, counts: Sequence[str], hidden_counts: np.ndarray,
            rates: Mapping[str, tuple[str, str]], policy: DisclosurePolicy) -> Suppressed:
    """Remove the hidden counts, and every rate column whose numerator or denominator is hidden."""
    out = frame.copy()
    mask = pd.DataFrame(False, index=frame.index, columns=frame.columns)
    position = {c: j for j, c in enumerate(counts)}
    for column, j in position.items():
        mask[column] = hidden_counts[:, j]
        out[column] = pd.array(frame[column].to_numpy(dtype=np.int64), dtype="Int64")
        out[column] = out[column].mask(mask[column])
    for column, (numerator, denominator) in _rate_columns(frame, rates).items():
        mask[column] = hidden_counts[:, position[numerator]] | hidden_counts[:, position[denominator]]
        out[column] = frame[column].astype(float).mask(mask[column])
    return Suppressed(frame=out, hidden=mask, policy=policy)


def _check_rates(rates: Mapping[str, tuple[str, str]], counts: Sequence[str]) -> None:
    for rate, pair in rates.items():
        if len(pair) != 2 or any(c not in counts for c in pair):
            raise ValueError(f"rate '{rate}' must name a numerator and a denominator among the count columns")


def _unique_keys(keys: list[tuple[str, ...]], what: str) -> None:
    if len(set(keys)) != len(keys):
        raise ValueError(f"{what}: two or more rows have the same key; each row must be one cell of the table")


def suppress_breakdown(frame: pd.DataFrame, *, dimension: str, counts: Sequence[str], total="all",
                       by: Sequence[str] = (), parents: Mapping | None = None,
                       nested: Sequence[tuple[str, str]] = (), rates: Mapping[str, tuple[str, str]] | None = None,
                       keep: Sequence[str] = (), policy: DisclosurePolicy | None = None) -> Suppressed:
    """A one-way breakdown (or a two-level one) with its total, for each group of `by` columns.

    Rows whose `dimension` value is `total` are each group's total: the sum of its top-level rows. With
    `parents` (level -> parent level, e.g. district -> command area) a two-level table: each parent's row
    is the sum of its children's rows, and the total the sum of the rows that have no parent. A group with
    no total row is treated as if its total were shown elsewhere, as a table of its own would show it (the
    cautious assumption).
    `nested` lists (part, whole) count columns; `rates` maps a rate column to its (numerator, denominator);
    a rate's '_lower' and '_upper' columns go with it. Other numeric columns are refused unless in `keep`.
    """
    policy = DisclosurePolicy.load() if policy is None else policy
    rates = dict(rates or {})
    counts = list(counts)
    _check_rates(rates, counts)
    view = _with_index(frame, [*by, dimension])
    keys_needed = [*by, dimension]
    missing = [c for c in keys_needed if c not in view.columns]
    if missing:
        raise ValueError(f"breakdown table: key column(s) {', '.join(repr(c) for c in missing)} missing")
    values = _counts_of(view, counts, "breakdown table")
    _check_columns(view, {*keys_needed, *counts, *_rate_columns(view, rates), *keep}, "breakdown table")
    group_keys = [tuple(_key_text(v) for v in row) for row in view[list(by)].itertuples(index=False, name=None)]
    levels = list(view[dimension])
    parents = dict(parents or {})
    keys = [(*g, _key_text(level)) for g, level in zip(group_keys, levels, strict=True)]
    _unique_keys(keys, "breakdown table")

    model = _Model(counts, nested)
    row_at: dict[tuple[str, ...], int] = {}
    for pos in sorted(range(len(view)), key=lambda p: keys[p]):
        label = ", ".join(keys[pos])
        row_at[keys[pos]] = model.add_row(values[pos].tolist(), keys[pos], label, cell=(0, pos))
    for group in sorted(set(group_keys)):
        members = [p for p in range(len(view)) if group_keys[p] == group]
        where = ", ".join(group) or "the table"
        top = [row_at[keys[p]] for p in sorted(members, key=lambda p: keys[p])
               if levels[p] not in parents and not _is_total(levels[p], total)]
        totals = [row_at[keys[p]] for p in members if _is_total(levels[p], total)]
        if totals:
            total_row = totals[0]
        else:
            sums = np.sum([model.row_values(r) for r in top], axis=0) if top else np.zeros(len(counts), np.int64)
            total_row = model.add_row(np.asarray(sums).tolist(), (*group, "~total"), f"{where}: total", _ELSEWHERE)
        model.add_margin(total_row, top, f"{where}: total")
        by_parent: dict[str, list[int]] = {}
        for p in sorted(members, key=lambda p: keys[p]):
            if levels[p] in parents:
                by_parent.setdefault(_key_text(parents[levels[p]]), []).append(row_at[keys[p]])
        for parent, children in by_parent.items():
            if (*group, parent) not in row_at:
                raise ValueError(f"{where}: the parent level '{parent}' has no row of its own")
            model.add_margin(row_at[(*group, parent)], children, f"{where}: {parent}")
    hidden = _Protector(model, policy.threshold).protect()
    return _masked(frame, counts, _frame_mask(model, hidden, 0, len(frame), counts), rates, policy)


def _is_total(level, total) -> bool:
    try:
        return bool(level == total)
    except (TypeError, ValueError):
        return False


def _frame_mask(model: _Model, hidden: np.ndarray, frame_no: int, n_rows: int, counts: Sequence[str]) -> np.ndarray:
    mask = np.zeros((n_rows, len(counts)), dtype=bool)
    position = {c: j for j, c in enumerate(counts)}
    for v, (f, pos, column) in model.cells.items():
        if f == frame_no and hidden[v]:
            mask[pos, position[column]] = True
    return mask


def suppress_series(series: pd.DataFrame, *, numerator: str = "numerator", denominator: str = "denominator",
                    rate: str | None = "rate", key: str = "month",
                    policy: DisclosurePolicy | None = None) -> Suppressed:
    """A monthly series of one measure (metrics.summaries.monthly_series: month, numerator, denominator, rate).

    Each month is a cell, and the numerator is part of the denominator. The total over the months given
    is taken as shown elsewhere (the period's figure on another table), as a table of its own would show
    it, so pass the months the shown total covers.
    """
    rates = {rate: (numerator, denominator)} if rate else {}
    return suppress_breakdown(series, dimension=key, counts=[numerator, denominator], total=_NO_TOTAL,
                              nested=[(numerator, denominator)], rates=rates, policy=policy)


def suppress_margins(frame: pd.DataFrame, *, breakdown: str, dimension: str, counts: Sequence[str], total="all",
                     nested: Sequence[tuple[str, str]] = (), rates: Mapping[str, tuple[str, str]] | None = None,
                     keep: Sequence[str] = (), policy: DisclosurePolicy | None = None) -> Suppressed:
    """Several one-way breakdowns of one population that share its total, protected together: complaints by
    right and by outcome, say, each adding up to all complaints.

    Each row is one level (`dimension`) of one breakdown (`breakdown`); the one row whose `dimension` is
    `total` is the shared total (its `breakdown` value is ignored), and every breakdown's levels add up to it
    (levels that add up to less leave a rest anyone can work out, protected too). Protecting the breakdowns one
    at a time and then hiding a total hidden by any of them is not enough: the other breakdown, with its cells
    all shown, gives the total back. Here every relation is solved at once, so a total hidden for one breakdown
    has a cell hidden beside it in every other. The inner cells of the two-way table are not shown, so they are
    unknowns, not relations: pass only tables whose cross-classification nobody sees.
    """
    policy = DisclosurePolicy.load() if policy is None else policy
    rates = dict(rates or {})
    counts = list(counts)
    _check_rates(rates, counts)
    missing = [c for c in (breakdown, dimension) if c not in frame.columns]
    if missing:
        raise ValueError(f"margins: key column(s) {', '.join(repr(c) for c in missing)} missing")
    values = _counts_of(frame, counts, "margins")
    _check_columns(frame, {breakdown, dimension, *counts, *_rate_columns(frame, rates), *keep}, "margins")
    is_total = [_is_total(level, total) for level in frame[dimension]]
    if sum(is_total) != 1:
        raise ValueError("margins: exactly one row must be the shared total")
    keys = [("", "~total") if t else (_key_text(b), _key_text(level))
            for b, level, t in zip(frame[breakdown], frame[dimension], is_total, strict=True)]
    _unique_keys(keys, "margins")
    model = _Model(counts, nested)
    row_at: dict[tuple[str, ...], int] = {}
    for pos in sorted(range(len(frame)), key=lambda p: keys[p]):
        row_at[keys[pos]] = model.add_row(values[pos].tolist(), keys[pos], ", ".join(keys[pos]), cell=(0, pos))
    total_row = row_at[("", "~total")]
    for name in sorted({k[0] for k in keys if k != ("", "~total")}):
        parts = [row_at[k] for k in sorted(k for k in keys if k[0] == name and k != ("", "~total"))]
        model.add_margin(total_row, parts, f"by {name}")
    hidden = _Protector(model, policy.threshold).protect()
    return _masked(frame, counts, _frame_mask(model, hidden, 0, len(frame), counts), rates, policy)


class _NoTotal:
    def __eq__(self, other) -> bool:
        return False

    __hash__ = object.__hash__


_NO_TOTAL = _NoTotal()


def suppress_compliance(entitlements: pd.DataFrame, rights: pd.DataFrame | None = None, *,
                        hierarchy: Mapping[str, tuple[str, Mapping[str, str]]] | None = None,
                        keep: Sequence[str] = (), policy: DisclosurePolicy | None = None) -> ComplianceSuppressed:
    """Compliance counts per entitlement (and per right), as metrics.compliance and metrics.rates give them.

    entitlements: rows keyed by entitlement (and breakdown and level, if there are breakdowns), with the
    counts of COUNT_COLUMNS and optionally the rates of COMPLIANCE_RATES with their intervals.
    rights: rows keyed by right_no (a column or the index) and the same breakdowns, each the sum of its
    entitlements' rows (metrics.rates.rollup_to_rights). The 'total' breakdown's row is the sum of every
    other breakdown's rows, so 'month' rows must cover the period of the total.
    hierarchy: child breakdown -> (parent breakdown, child level -> parent level), e.g.
    {"district": ("command_area", {"Basildon": "South", ...})}, when both are shown.
    The tables passed in one call are protected together, so a cell hidden in one cannot be worked out
    from another: pass every table of a page or pack that shows these figures (entitlements and rights,
    period total and months) in one call, since a total left out is a total not protected with its parts.
    """
    policy = DisclosurePolicy.load() if policy is None else policy
    counts = list(COUNT_COLUMNS)
    ents = _with_index(entitlements, _COMPLIANCE_KEYS)
    has_levels = "breakdown" in ents.columns and "level" in ents.columns
    level_keys = ["breakdown", "level"] if has_levels else []
    needed = ["entitlement", *level_keys] + (["right_no"] if rights is not None else [])
    missing = [c for c in needed if c not in ents.columns]
    if missing:
        raise ValueError(f"entitlement rows: key column(s) {', '.join(repr(c) for c in missing)} missing")
    allowed = {*_COMPLIANCE_KEYS, *_COMPLIANCE_LABELS, *counts, *keep}
    ent_values = _counts_of(ents, counts, "entitlement rows")
    _check_columns(ents, allowed | set(_rate_columns(ents, COMPLIANCE_RATES)), "entitlement rows")
    frames = [(ents, ent_values, "entitlement")]
    if rights is not None:
        rts = _with_index(rights, _COMPLIANCE_KEYS)
        missing = [c for c in ["right_no", *level_keys] if c not in rts.columns]
        if missing:
            raise ValueError(f"right rows: key column(s) {', '.join(repr(c) for c in missing)} missing")
        right_values = _counts_of(rts, counts, "right rows")
        _check_columns(rts, allowed | set(_rate_columns(rts, COMPLIANCE_RATES)), "right rows")
        frames.append((rts, right_values, "right"))

    model = _Model(counts, COMPLIANCE_NESTED)
    # row id per (kind, unit, breakdown, level); unit is the entitlement code or the right number as text
    rows: dict[tuple[str, str, str, str], int] = {}
    right_of: dict[str, str] = {}
    for frame_no, (view, values, kind) in enumerate(frames):
        unit_column = "entitlement" if kind == "entitlement" else "right_no"
        units = [_key_text(u) if kind == "entitlement" else _right_text(u) for u in view[unit_column]]
        breakdowns = [_key_text(b) for b in view["breakdown"]] if has_levels else ["total"] * len(view)
        levels_ = [_key_text(x) for x in view["level"]] if has_levels else ["all"] * len(view)
        keys = [(kind, u, b, x) for u, b, x in zip(units, breakdowns, levels_, strict=True)]
        _unique_keys(keys, f"{kind} rows")
        for pos in sorted(range(len(view)), key=lambda p: keys[p]):
            rows[keys[pos]] = model.add_row(values[pos].tolist(), keys[pos], _compliance_label(keys[pos]),
                                             cell=(frame_no, pos))
        if kind == "entitlement" and rights is not None:
            for u, r in zip(units, view["right_no"], strict=True):
                right_of[u] = _right_text(r)

    # each right's rows are the sums of its entitlements' rows, breakdown by breakdown, level by level
    grouped: dict[tuple[str, str, str, str], list[int]] = {}
    for key in sorted(k for k in rows if k[0] == "entitlement" and k[1] in right_of):
        grouped.setdefault(("right", right_of[key[1]], key[2], key[3]), []).append(rows[key])
    for key, parts in sorted(grouped.items()):
        if key in rows:
            model.add_margin(rows[key], parts, _compliance_label(key))
    # within each unit, the 'total' row is the sum of each breakdown's rows, and parents of their children
    for kind, unit in sorted({(k[0], k[1]) for k in rows}):
        own = {k: r for k, r in rows.items() if (k[0], k[1]) == (kind, unit)}
        by_breakdown: dict[str, list[tuple[str, str, str, str]]] = {}
        for key in sorted(own):
            if key[2] != "total":
                by_breakdown.setdefault(key[2], []).append(key)
        total_key = (kind, unit, "total", "all")
        if total_key in rows:
            for breakdown, keys in by_breakdown.items():
                model.add_margin(rows[total_key], [own[k] for k in keys],
                                 f"{_compliance_label(total_key)}, by {breakdown}")
        for child, (parent, mapping) in (hierarchy or {}).items():
            children: dict[str, list[int]] = {}
            for key in by_breakdown.get(child, []):
                if key[3] not in mapping:
                    raise ValueError(f"hierarchy: {child} '{key[3]}' has no {parent}")
                children.setdefault(_key_text(mapping[key[3]]), []).append(own[key])
            for parent_level, parts in sorted(children.items()):
                parent_key = (kind, unit, parent, parent_level)
                if parent_key not in rows:
                    raise ValueError(f"hierarchy: {_compliance_label(parent_key)} has no row of its own")
                model.add_margin(rows[parent_key], parts, _compliance_label(parent_key))

    hidden = _Protector(model, policy.threshold).protect()

    def result(frame_no: int, original: pd.DataFrame) -> Suppressed:
        mask = _frame_mask(model, hidden, frame_no, len(original), counts)
        return _masked(original, counts, mask, COMPLIANCE_RATES, policy)

    return ComplianceSuppressed(entitlements=result(0, entitlements),
                                rights=None if rights is None else result(1, rights))


def _right_text(value) -> str:
    """A right number as two digits, so rights sort in number order."""
    try:
        return f"{int(value):02d}"
    except (TypeError, ValueError):
        raise ValueError("right rows: right_no must be a right's number") from None


def _compliance_label(key: tuple[str, str, str, str]) -> str:
    kind, unit, breakdown, level = key
    name = f"entitlement {unit}" if kind == "entitlement" else f"right {unit.lstrip('0')}"
    return name if breakdown == "total" else f"{name}, {breakdown} {level}"


# --- differencing between filter choices -------------------------------------------------------------------

@dataclass(frozen=True)
class DifferencingCheck:
    """Whether a filtered view must be withheld entirely, and why.

    too_small: the view's own population is 1 to t-1. revealing: the names of the wider views whose
    difference from this one is 1 to t-1 (for the log; the note does not name them, so it gives away
    no more than a withheld view does).
    """

    suppress: bool
    too_small: bool
    revealing: tuple[str, ...]
    note: str


def _population(value, what: str) -> np.ndarray:
    array = np.asarray(value, dtype=float)
    if np.isnan(array).any() or (array < 0).any() or (array != np.floor(array)).any():
        raise ValueError(f"{what} must be whole numbers of 0 or more")
    return array.astype(np.int64)


def differencing_check(current, neighbours: Mapping[str, object],
                       policy: DisclosurePolicy | None = None) -> DifferencingCheck:
    """Judge a filtered view against the views that differ from it by one filter removed.

    current: the view's population (a count, or an array of counts such as one per cell); neighbours:
    for each filter removed (named as the caller likes), the same count(s) for the wider view. A wider
    view has everybody the current one has, so neighbour - current counts the people the filter left
    out: if that is 1 to t-1, or the view's own population is, the view is withheld.
    """
    policy = DisclosurePolicy.load() if policy is None else policy
    here = _population(current, "the current view's counts")
    too_small = bool(policy.is_small(here).any())
    revealing = []
    for name, counts in neighbours.items():
        wider = _population(counts, f"the counts of the view without '{name}'")
        if wider.shape != here.shape:
            raise ValueError(f"the counts of the view without '{name}' do not match the current view's in shape")
        if (wider < here).any():
            raise ValueError(f"the view without '{name}' counts fewer people than the current view; removing a "
                             "filter can only add people, so the counts are not of the same thing")
        if policy.is_small(wider - here).any():
            revealing.append(str(name))
    suppress = too_small or bool(revealing)
    if too_small:
        note = (f"This view is not shown: it counts {policy.hidden_range} people, few enough that they could be "
                "identified. Widen the filters to see figures.")
    elif revealing:
        note = (f"This view is not shown: it differs from a wider view (one filter removed) by {policy.hidden_range} "
                "people, and comparing the two would reveal them. Widen or change the filters to see figures.")
    else:
        note = ""
    return DifferencingCheck(suppress=suppress, too_small=too_small, revealing=tuple(revealing), note=note)
