"""``pneumo-scan FOLDER --out results.csv [--db FILE] [--resume] [--report FILE.pdf]
[--profile FILE]``: the headless batch scanner.

Every result is committed to a SQLite store as it is produced (``--db``; without it a temporary
one), so a scan killed mid-way and started again with ``--resume`` runs only the files that
have no result yet. The CSV is written at the end, atomically, most suspicious first; then,
with ``--report``, a PDF report (summary, worklist, flagged films with Grad-CAM). A report that
can't be written exits with EXIT_REPORT, the CSV already in place. The site profile (the
user's, or ``--profile``) sets the threshold when it was calibrated for this model.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from pathlib import Path

from . import runtime
from .core.scan import DEFAULT_BATCH_SIZE

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_MODEL = 3
EXIT_REPORT = 4

log = logging.getLogger("pneumo_desktop.cli")  # not "__main__" under python -m


def _say(message: str, end: str = "\n") -> None:
    if sys.stderr is not None:  # a windowed build has no console
        print(message, end=end, file=sys.stderr, flush=True)


def _fail(status: int, message: str) -> int:
    """Tell the user (stderr) and the log why the run ends; returns the exit status."""
    log.error("%s (exit status %d)", message, status, extra=runtime.ALREADY_SHOWN)
    _say(f"pneumo-scan: {message}")
    return status


def _progress(item) -> None:
    """One ``\r``-updated line: done of total, this run's rate and the time left."""
    rate, eta = item.rate or 0.0, item.eta or 0.0
    _say(
        f"\rscanned {item.done}/{item.total} images, {rate:.1f} images/s, ETA {eta:.0f} s",
        end="\n" if item.done == item.total else "",
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pneumo-scan",
        description="Classify every X-ray under FOLDER and write one CSV row per file.",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, required=True, help="CSV file to write")
    parser.add_argument("--db", type=Path, help="SQLite results store (kept; enables --resume)")
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the last unfinished scan of FOLDER in --db instead of starting anew",
    )
    parser.add_argument("--report", type=Path, metavar="FILE.pdf",
                        help="also write a PDF report (after the CSV)")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="site profile to use (default: the user's, when it was "
                        "calibrated for this model)")
    parser.add_argument("--models-dir", type=Path, help="default: the bundled models/")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    return parser


def scan_main(argv: list[str] | None = None) -> int:
    runtime.configure("pneumo-scan", gui=False)
    args = _parser().parse_args(argv)
    log.info("pneumo-scan %s", " ".join(sys.argv[1:] if argv is None else argv))
    if args.resume and args.db is None:
        return _fail(EXIT_USAGE, "--resume needs --db FILE (the store of the scan to resume)")
    if not args.folder.is_dir():
        return _fail(EXIT_USAGE, f"folder not found: {args.folder}")
    if args.profile is not None and not args.profile.is_file():
        return _fail(EXIT_USAGE, f"site profile not found: {args.profile}")

    from .core.model import Classifier, ModelError

    try:
        classifier = Classifier(args.models_dir, batch_size=args.batch_size)
    except ModelError as error:
        return _fail(EXIT_MODEL, str(error))
    from .core.site_profile import SiteProfileError

    try:
        profile_notice = _use_site_profile(classifier, args.profile)
    except SiteProfileError as error:
        return _fail(EXIT_USAGE, str(error))
    runtime.log_model_loaded(classifier)
    _say(
        f"pneumo-scan: model {classifier.card.name} {classifier.card.version} on "
        f"{classifier.device} ({classifier.provider}), threshold {classifier.threshold:.4f} "
        f"({classifier.operating_point.source})"
    )
    _say(f"pneumo-scan: {profile_notice}")
    if args.db is not None:
        return _scan(args, classifier, args.db)
    with tempfile.TemporaryDirectory(prefix="pneumo-scan-") as scratch:
        return _scan(args, classifier, Path(scratch) / "results.sqlite3")


def _use_site_profile(classifier, path: Path | None) -> str:
    """Put the site profile's threshold on ``classifier`` when it was calibrated for this
    model; returns the line that says which threshold is in use and why. A damaged profile
    named with ``--profile`` raises :class:`SiteProfileError` (the run ends); the user's own
    damaged profile is only reported, and the factory threshold used."""
    from .core.site_profile import SiteProfileError, use_site_profile

    try:
        notice = use_site_profile(classifier, path).notice
    except SiteProfileError as error:
        if path is not None:
            raise
        notice = f"{error}; factory threshold {classifier.threshold:.4f} in use"
        log.warning(notice, extra=runtime.ALREADY_SHOWN)
    else:
        log.info(notice)
    return notice


def _scan(args, classifier, db_path: Path) -> int:
    from .core.batch import ResumeError, find_unfinished_scan, run_scan
    from .core.csv_export import write_csv
    from .core.results import Status
    from .core.store import ResultStore

    with ResultStore(db_path) as store:
        resume_id = None
        if args.resume:
            unfinished = find_unfinished_scan(store, args.folder)
            if unfinished is not None:
                resume_id = unfinished.id
                _say(f"pneumo-scan: resuming scan {resume_id} ({unfinished.done_files} done)")
            else:
                _say("pneumo-scan: no unfinished scan of this folder; starting a new one")
        scan_id = None
        try:
            for item in run_scan(
                store, classifier, args.folder, resume_scan_id=resume_id,
                batch_size=args.batch_size,
            ):
                if item.result is None:
                    scan_id = item.scan_id
                    _say(f"pneumo-scan: {item.total} images, {item.total - item.done} to scan")
                elif item.scanned % args.batch_size == 0 or item.done == item.total:
                    _progress(item)
        except ResumeError as error:
            return _fail(EXIT_USAGE, str(error))
        results = store.results(scan_id)
        info = store.scan(scan_id)
    write_csv(args.out, results)
    failed = sum(r.status is not Status.OK for r in results)
    _say(f"pneumo-scan: wrote {args.out} ({len(results)} rows, {failed} unreadable files)")
    if args.report is not None:
        return _report(args.report, info, results, classifier)
    return EXIT_OK


def _report(path: Path, info, results, classifier) -> int:
    from .core.pdf_report import write_scan_report

    try:
        write_scan_report(path, info, results, classifier)
    except Exception as error:  # the CSV stands; say why the PDF doesn't, in one line
        log.exception("the PDF report %s could not be written", path,
                      extra=runtime.ALREADY_SHOWN)
        _say(f"pneumo-scan: could not write the PDF report {path}: {error}")
        return EXIT_REPORT
    _say(f"pneumo-scan: wrote {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(scan_main())
