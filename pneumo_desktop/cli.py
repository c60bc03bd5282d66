"""``pneumo-scan FOLDER --out results.csv [--db FILE] [--resume] [--report FILE.pdf]
[--anonymise] [--profile FILE] [--watch] [--dicom-out DIR [--pacs AE@HOST:PORT]]``: the
headless batch scanner.

Every result is committed to a SQLite store as it is produced (``--db``; without it a temporary
one), so a scan killed mid-way and started again with ``--resume`` runs only the files that
have no result yet. The CSV is written at the end, atomically, most suspicious first; then,
with ``--report``, a PDF report (summary, worklist with reviews, notes and patients, the top of
each band with Grad-CAM). A report that can't be written exits with EXIT_REPORT, the CSV
already in place. ``--anonymise`` leaves the patient's name, ID and study UID out of the CSV
and the PDF (the DICOM results of ``--dicom-out`` go to the patient's record and keep them).
The site profile (the user's, or ``--profile``) sets the threshold when it was calibrated for
this model.

``--watch``: after the films already there, each new film is scanned into the same scan as it
arrives (once its size is stable), until Ctrl+C or SIGTERM; then the CSV is written and the
exit status is 0. ``--dicom-out``: a Secondary Capture and a Structured Report for each
classified DICOM film, written outside FOLDER, and with ``--pacs`` sent to a DICOM node.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from contextlib import ExitStack
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
    parser.add_argument("--anonymise", "--anonymize", action="store_true",
                        help="leave patient names, IDs and study UIDs out of the CSV and PDF")
    parser.add_argument("--profile", type=Path, metavar="FILE",
                        help="site profile to use (default: the user's, when it was "
                        "calibrated for this model)")
    parser.add_argument("--models-dir", type=Path, help="default: the bundled models/")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    watching = parser.add_argument_group("films that arrive on their own")
    watching.add_argument(
        "--watch", action="store_true",
        help="then keep scanning each new film under FOLDER as it arrives, until Ctrl+C or "
             "SIGTERM; the CSV is written after that",
    )
    watching.add_argument("--settle", type=float, default=2.0, metavar="SECONDS",
                          help="with --watch: a new film counts once its size has not "
                               "changed for this long (default 2)")
    watching.add_argument("--poll", action="store_true",
                          help="with --watch: poll FOLDER instead of using file notifications "
                               "(network shares; chosen by itself on a share it recognises)")
    watching.add_argument("--dicom-out", type=Path, metavar="DIR",
                          help="write a Secondary Capture image and a Structured Report for "
                               "each classified DICOM film into DIR (outside FOLDER)")
    watching.add_argument("--pacs", metavar="AE@HOST:PORT",
                          help="with --dicom-out: also send them there by DICOM C-STORE")
    return parser


def _check_dicom_options(args) -> str | None:
    """What is wrong with --watch/--dicom-out/--pacs, or None; sets ``args.pacs_node``."""
    from .core.dicom_send import DicomNode
    from .core.receiver import AE_TITLE_RULE, is_ae_title

    args.pacs_node = None
    if args.settle < 0:
        return "--settle must be 0 seconds or more"
    if args.pacs is not None and args.dicom_out is None:
        return "--pacs needs --dicom-out DIR (the results to send)"
    if args.dicom_out is not None and \
            args.dicom_out.resolve().is_relative_to(args.folder.resolve()):
        return f"--dicom-out must be outside FOLDER, or the results would be scanned as films: " \
               f"{args.dicom_out}"
    if args.pacs is not None:
        ae_title, _, address = args.pacs.partition("@")
        host, _, port = address.rpartition(":")
        if not (ae_title and host and port.isdigit() and 0 < int(port) < 65536):
            return f"--pacs must look like PACS@192.168.1.5:104, not {args.pacs!r}"
        if not is_ae_title(ae_title):
            return f"--pacs: {ae_title!r} is not an AE title ({AE_TITLE_RULE})"
        args.pacs_node = DicomNode(host, int(port), ae_title)
    return None


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
    problem = _check_dicom_options(args)
    if problem is not None:
        return _fail(EXIT_USAGE, problem)

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
    from .core.batch import ResumeError
    from .core.csv_export import write_csv
    from .core.results import Status
    from .core.scan_lease import ScanLease
    from .core.store import ResultStore
    from .core.watch import FilmWatcher

    stop = runtime.stop_on_signals() if args.watch else None  # then: stop, write CSV, exit 0
    exporter = _DicomResults(args, classifier) if args.dicom_out is not None else None
    with ExitStack() as stack:
        watcher = None
        if args.watch:  # started before the folder is listed: nothing slips in between
            watcher = stack.enter_context(FilmWatcher(
                args.folder, settle_seconds=args.settle, polling=True if args.poll else None))
        store = stack.enter_context(ResultStore(db_path))
        try:
            scan_id = _scan_folder(args, store, classifier, stop, exporter)
        except ResumeError as error:
            return _fail(EXIT_USAGE, str(error))
        if watcher is not None:  # the scan stays ours: no other process resumes it meanwhile
            with ScanLease(store.path, scan_id):
                _watch(args, store, classifier, scan_id, watcher, stop, exporter)
        results = store.results(scan_id)
        info = store.scan(scan_id)
    write_csv(args.out, results, anonymise=args.anonymise)
    failed = sum(r.status is not Status.OK for r in results)
    _say(f"pneumo-scan: wrote {args.out} ({len(results)} rows, {failed} unreadable files)")
    if exporter is not None:
        _say(exporter.summary())
    if args.report is not None:
        return _report(args.report, info, results, classifier, anonymise=args.anonymise)
    return EXIT_OK


def _scan_folder(args, store, classifier, stop, exporter) -> int:
    """The films already in FOLDER (a new scan, or the unfinished one with --resume); returns
    the scan's id."""
    from .core.batch import find_unfinished_scan, run_scan

    resume_id = None
    if args.resume:
        unfinished = find_unfinished_scan(store, args.folder)
        if unfinished is not None:
            resume_id = unfinished.id
            _say(f"pneumo-scan: resuming scan {resume_id} ({unfinished.done_files} done)")
        else:
            _say("pneumo-scan: no unfinished scan of this folder; starting a new one")
    scan_id = None
    for item in run_scan(
        store, classifier, args.folder, resume_scan_id=resume_id,
        batch_size=args.batch_size, cancel=stop,
    ):
        if item.result is None:
            scan_id = item.scan_id
            _say(f"pneumo-scan: {item.total} images, {item.total - item.done} to scan")
            continue
        if item.scanned % args.batch_size == 0 or item.done == item.total:
            _progress(item)
        if exporter is not None:
            exporter.add(item.result)
    return scan_id


def _watch(args, store, classifier, scan_id, watcher, stop, exporter) -> None:
    from .core.watch import scan_arrivals

    if stop.is_set():  # stopped during the scan of the films already there
        return
    how = "polling" if watcher.polling else "file notifications"
    _say(f"pneumo-scan: watching {args.folder} for new films ({how}); Ctrl+C to stop")
    count = 0
    for result in scan_arrivals(store, classifier, scan_id, watcher, stop=stop,
                                batch_size=args.batch_size):
        count += 1
        verdict = result.band.wording if result.band else f"{result.status}: {result.message}"
        _say(f"pneumo-scan: new film {result.path}: {verdict}")
        if exporter is not None:
            exporter.add(result)
    log.info("watching %s stopped after %d new film(s)", args.folder, count)
    _say(f"pneumo-scan: stopped watching after {count} new film(s)")


class _DicomResults:
    """--dicom-out/--pacs: the SC and SR of each classified DICOM film; a film whose results
    cannot be written or sent is reported and the scan goes on."""

    def __init__(self, args, classifier):
        self.out, self.folder, self.node = args.dicom_out, args.folder, args.pacs_node
        self.classifier = classifier
        self.written = self.sent = self.failed = 0

    def add(self, result) -> None:
        from .core.dicom_export import export_scan_result
        from .core.dicom_results import DicomResultError
        from .core.dicom_send import DicomSendError, send_to_pacs
        from .core.imaging import ImageLoadError

        try:
            files = export_scan_result(result, self.classifier, self.out,
                                       scanned_folder=self.folder)
            if files is None:
                return
            self.written += 1
            if self.node is not None:
                send_to_pacs([files.secondary_capture, files.structured_report], self.node)
                self.sent += 1
        except (DicomResultError, DicomSendError, ImageLoadError, OSError) as error:
            self.failed += 1
            log.warning("DICOM results of %s: %s", result.path, error,
                        extra=runtime.ALREADY_SHOWN)
            _say(f"\npneumo-scan: DICOM results of {result.path}: {error}")

    def summary(self) -> str:
        sent = f", {self.sent} sent to {self.node}" if self.node is not None else ""
        failed = f", {self.failed} failed" if self.failed else ""
        return (f"pneumo-scan: DICOM results (SC + SR) of {self.written} film(s) in "
                f"{self.out}{sent}{failed}")


def _report(path: Path, info, results, classifier, *, anonymise: bool) -> int:
    from .core.pdf_report import write_scan_report

    try:
        write_scan_report(path, info, results, classifier, anonymise=anonymise)
    except Exception as error:  # the CSV stands; say why the PDF doesn't, in one line
        log.exception("the PDF report %s could not be written", path,
                      extra=runtime.ALREADY_SHOWN)
        _say(f"pneumo-scan: could not write the PDF report {path}: {error}")
        return EXIT_REPORT
    _say(f"pneumo-scan: wrote {path}")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(scan_main())
