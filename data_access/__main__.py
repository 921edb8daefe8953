"""Command line: `python -m data_access demo --db PATH [--cases N] [--start YYYY-MM] [--months M] [--seed S]`,
`python -m data_access info --db PATH` and
`python -m data_access import --db PATH [--user NAME] [--replace-demo] [--reload] [--as-of YYYY-MM-DD] FILE_OR_DIR...`
`python -m data_access purge --db PATH --closed-before YYYY-MM-DD [--user NAME] [--yes]` and
`python -m data_access export-summary --db PATH --force CODE --out DIR [--replace] [--user NAME]`.

Exit codes of import: 0 = imported, or nothing new to import (rows may have been rejected: see the summary);
1 = refused (a bad file, a demo store, another import running): the store was not changed;
2 = wrong command-line arguments; 3 = the import failed (e.g. a full disk): the store was not changed.

Exit codes of purge: 0 = purged, or nothing was due for erasure; 1 = not done: without --yes (the counts that
would be erased are printed), another import or purge running, or not a store: the store was not changed;
2 = wrong command-line arguments; 3 = the purge failed (e.g. the audit trail could not be written, a full disk):
the store was not changed.

Exit codes of export-summary: 0 = written; 1 = not written (no cube in the store, a bad force code, the folder
already there without --replace, the audit trail could not record it): nothing was written."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from datetime import date
from pathlib import Path

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


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date as YYYY-MM-DD, got {text!r}") from None


def _cut_off(text: str) -> date:
    day = _day(text)
    if day > date.today():
        raise argparse.ArgumentTypeError(f"the cut-off date {text!r} is after today; a retention cut-off is a date "
                                         "in the past")
    return day


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
    load = commands.add_parser(
        "import", help="load a force's exports (cases.csv, victims.parquet, entitlements.xlsx, ...) into a store",
        description="Validate each row against the data contract, load the good rows and keep the rejected ones "
                    "(with line, column and reason) in the store. All or nothing: a refused file or a failure "
                    "leaves the store exactly as it was. See docs/data-contract.md, 'Importing'.")
    load.add_argument("--db", required=True, help="the store file (created by the first import)")
    load.add_argument("--user", help="who is importing, for the import log (default: the operating-system user)")
    load.add_argument("--replace-demo", action="store_true",
                      help="if the store holds the synthetic demo, discard it and start a new store from these files")
    load.add_argument("--reload", action="store_true",
                      help="load files even if an identical file was loaded before")
    load.add_argument("--as-of", type=_day, metavar="YYYY-MM-DD",
                      help="the store's default as-of date (default: the latest event date in the data, at most today)")
    load.add_argument("paths", nargs="+", metavar="FILE_OR_DIR", help="files named after contract tables, or folders")
    purge = commands.add_parser(
        "purge", help="erase cases closed before a date, with their victims and everything about them",
        description="Retention: erase every closed case whose closed_at is before the cut-off date, with its "
                    "victims, contacts, entitlements, referrals, surveys, complaints and the rejected import rows "
                    "that mention them, by writing a new store without them. Without --yes, only prints the "
                    "counts per table that would be erased. See docs/data-contract.md, 'Retention and erasure'.")
    purge.add_argument("--db", required=True, help="the store file")
    purge.add_argument("--closed-before", required=True, type=_cut_off, metavar="YYYY-MM-DD",
                       help="erase cases closed before this date (the date itself is kept)")
    purge.add_argument("--user", help="who is purging, for the erasure log and the audit trail "
                                      "(default: the operating-system user)")
    purge.add_argument("--yes", action="store_true", help="confirm: really erase (without it, nothing changes)")
    export = commands.add_parser(
        "export-summary", help="write the monthly summary cube as Parquet, by force and month, for a collation",
        description="Counts only (no ids, nothing about a person), by trigger month, entitlement, command area, "
                    "district, offence group and standard or enhanced victims, as DIR/force=CODE/month=YYYY-MM/. "
                    "See docs/collation.md.")
    export.add_argument("--db", required=True, help="the store file")
    export.add_argument("--force", required=True, metavar="CODE", help="the force's code in the collation, e.g. essex")
    export.add_argument("--out", required=True, metavar="DIR", help="the collation folder (shared by every force)")
    export.add_argument("--replace", action="store_true", help="overwrite this force's earlier export")
    export.add_argument("--user", help="who is exporting, for the audit trail (default: the operating-system user)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.command not in ("import", "purge") else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.command == "import":
        return _import(args)
    if args.command == "purge":
        return _purge(args)
    if args.command == "export-summary":
        return _export_summary(args)

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


IMPORT_AUDIT_ROLE = "admin"  # loading exports is an administrator's task, as on the Data page


def _import(args: argparse.Namespace) -> int:
    from data_access import audit
    from data_access.importer import clean_user, import_files

    user = clean_user(args.user)
    paths = [Path(p) for p in args.paths]
    trail = audit.default_audit_path(args.db)
    # Recorded before anything is read (DPA 2018 s.62: collection); no record, no import.
    try:
        Path(args.db).parent.mkdir(parents=True, exist_ok=True)
        audit.record(trail, user=user, role=IMPORT_AUDIT_ROLE, action="import",
                     detail={"via": "command line", "paths": [str(p) for p in paths]})
    except (audit.AuditError, ValueError, OSError) as exc:
        print(f"error: the audit trail ({trail}) could not record this import, so nothing was imported: {exc}",
              file=sys.stderr)
        return 1
    report = import_files(args.db, paths, user, replace_demo=args.replace_demo,
                          reload=args.reload, data_as_of=args.as_of)
    try:
        audit.record(trail, user=user, role=IMPORT_AUDIT_ROLE, action="import",
                     row_count=sum(f.rows_loaded for f in report.files),
                     detail={"via": "command line", "import_id": report.import_id, "status": report.status,
                             "files": [{"file": f.name, "table": f.table, "status": f.status, "read": f.rows_read,
                                        "loaded": f.rows_loaded, "rejected": f.rows_rejected} for f in report.files]})
    except (audit.AuditError, ValueError) as exc:  # the import itself was recorded before it ran
        print(f"warning: the audit trail could not record this import's outcome: {exc}", file=sys.stderr)
    out = sys.stdout if report.ok else sys.stderr
    print(f"Import {report.import_id} into {report.db_path} by {report.user}: {report.status.replace('_', ' ')}",
          file=out)
    for f in report.files:
        where = f"{f.name} -> {f.table}" if f.table else f.name
        if f.status == "loaded":
            print(f"  {where}: {f.counts} ({f.rows_inserted:,} new, {f.rows_updated:,} updated)", file=out)
            for r in f.rejects:
                print(f"      line {r.line}{', ' + r.column if r.column else ''}: {r.reason}", file=out)
            if f.rows_rejected > len(f.rejects):
                print(f"      ... and {f.rows_rejected - len(f.rejects):,} more rejected line(s), kept in the "
                      f"store's import_rejects table (import {report.import_id})", file=out)
        else:
            print(f"  {where}: {f.status.replace('_', ' ').upper()}: {f.message}", file=out)
        for note in f.notes:
            print(f"      note: {note}", file=out)
    for note in report.notes:
        print(f"  note: {note}", file=out)
    if report.ok:
        print(report.message, file=out)
        return 0
    print(f"error: {report.message}", file=sys.stderr)
    return 1 if report.status == "refused" else 3


def _purge(args: argparse.Namespace) -> int:
    from data_access.purge import purge_closed_cases

    report = purge_closed_cases(args.db, args.closed_before, args.user, confirm=args.yes)
    out = sys.stdout if report.ok else sys.stderr
    print(f"Purge {report.purge_id} of {report.db_path} by {report.user}: cases closed before "
          f"{report.closed_before:%Y-%m-%d}", file=out)
    if report.counts:
        print("  rows that would be erased, per table:" if report.status == "not_confirmed"
              else "  rows erased, per table:", file=out)
        for table, n in report.counts:
            print(f"    {table:<16}{n:>12,}", file=out)
    for note in report.notes:
        print(f"  note: {note}", file=out)
    if report.ok:
        print(report.message, file=out)
        return 0
    if report.status == "not_confirmed":
        print(report.message + (": to erase these rows, run the same command with --yes" if report.total else ""),
              file=sys.stderr)
        return 1
    print(f"error: {report.message}", file=sys.stderr)
    return 1 if report.status == "refused" else 3


def _export_summary(args: argparse.Namespace) -> int:
    from data_access import audit
    from data_access.collation import export_summary
    from data_access.importer import clean_user

    user = clean_user(args.user)
    trail = audit.default_audit_path(args.db)
    try:  # a disclosure to another organisation: recorded first, as every download is
        audit.record(trail, user=user, role=IMPORT_AUDIT_ROLE, action="download",
                     detail={"via": "command line", "what": "summary cube export", "force": args.force,
                             "out": str(args.out)})
    except (audit.AuditError, ValueError, OSError) as exc:
        print(f"error: the audit trail ({trail}) could not record this export, so nothing was written: {exc}",
              file=sys.stderr)
        return 1
    try:
        report = export_summary(args.db, args.force, args.out, replace=args.replace)
    except StoreError as exc:
        print(f"error: {exc}; nothing was written", file=sys.stderr)
        return 1
    print(f"Exported {report.rows:,} rows over {report.months} months to {report.folder} "
          f"(counts as of {report.manifest['counts_as_of']}; {report.manifest['data']}).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
