"""Command line: `python -m data_access demo --db PATH [--cases N] [--start YYYY-MM] [--months M] [--seed S]`
and `python -m data_access info --db PATH`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date

from data_access.store import StoreError, open_store
from metrics.filters import add_months


def _month(text: str) -> date:
    try:
        year, month = text.split("-")
        return date(int(year), int(month), 1)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a month as YYYY-MM, got {text!r}") from None


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of 1 or more, got {text!r}")
    return value


def default_demo_start(months: int, today: date | None = None) -> date:
    """The first month of a demo period that ends with the last complete month before today."""
    return add_months((today or date.today()).replace(day=1), -months)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data_access", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    demo = commands.add_parser("demo", help="build a deterministic synthetic store (Essex-like force)")
    demo.add_argument("--db", required=True, help="path of the store file to create or replace")
    demo.add_argument("--cases", type=_positive, default=160_000, help="cases over the whole period (default 160000, one force-year)")
    demo.add_argument("--start", type=_month, help="first month, YYYY-MM (default: so the period ends last month)")
    demo.add_argument("--months", type=_positive, default=12, help="number of months (default 12)")
    demo.add_argument("--seed", type=int, default=7, help="random seed; the same seed and arguments give the same store")
    info = commands.add_parser("info", help="describe a store")
    info.add_argument("--db", required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")

    try:
        if args.command == "demo":
            from data_access.demo import build_demo_store

            start = args.start or default_demo_start(args.months)
            began = time.perf_counter()
            path = build_demo_store(args.db, cases=args.cases, start=start, months=args.months, seed=args.seed)
            print(f"Built demo store {path} in {time.perf_counter() - began:.1f} s: {args.cases:,} cases, "
                  f"{args.months} months from {start:%Y-%m}, seed {args.seed}. The data is synthetic.")
        else:
            store = open_store(args.db)
            try:
                for key, value in vars(store.meta).items():
                    print(f"{key}: {value}")
            finally:
                store.close()
    except StoreError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
