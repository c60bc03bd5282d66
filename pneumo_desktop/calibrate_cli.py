"""``pneumo-calibrate FOLDER [--target-sensitivity 0.98] [--profile FILE] [--apply]``: set the
clinic's operating threshold from its own films.

FOLDER holds the site's films sorted by a radiologist into ``NORMAL/`` and ``PNEUMONIA/``. The
command scores them, prints the local table (counts, AUC, sensitivity and specificity with 95%
intervals at the factory and proposed thresholds, the rule's verdict and what the site still
needs) on stdout, and with ``--apply`` writes the site profile that ``pneumo-scan`` and the app
then use, and records it in the audit trail of the results database (``--db``, default the
app's). Progress and notices go to stderr.

Exit status: 0 when it ran; 2 on a missing folder, a folder without films of both classes, a
target out of range or a damaged profile (left as it is); 3 when the model is refused.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import runtime
from .core.scan import DEFAULT_BATCH_SIZE

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_MODEL = 3

log = logging.getLogger("pneumo_desktop.calibrate_cli")  # not "__main__" under python -m


def _say(message: str, level: int = logging.INFO) -> None:
    """A line for the user (stderr), kept in the log file too."""
    log.log(level, message, extra=runtime.ALREADY_SHOWN)
    if sys.stderr is not None:
        print(f"pneumo-calibrate: {message}", file=sys.stderr, flush=True)


def _fail(status: int, message: str) -> int:
    _say(message, logging.ERROR)
    return status


def _parser() -> argparse.ArgumentParser:
    from .core.calibration import DEFAULT_TARGET_SENSITIVITY

    parser = argparse.ArgumentParser(
        prog="pneumo-calibrate",
        description="Calibrate the operating threshold on the site's labelled films "
        "(FOLDER/NORMAL, FOLDER/PNEUMONIA).",
    )
    parser.add_argument("folder", type=Path)
    parser.add_argument("--target-sensitivity", type=float, default=DEFAULT_TARGET_SENSITIVITY,
                        help="at least 0.95 (default %(default)s)")
    parser.add_argument("--profile", type=Path,
                        help="site profile file (default: the user's, in the data directory)")
    parser.add_argument("--apply", action="store_true", help="write the site profile")
    parser.add_argument("--db", type=Path,
                        help="results database whose audit trail records --apply (default: "
                        "the app's, in the user's data directory)")
    parser.add_argument("--models-dir", type=Path, help="default: the bundled models/")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    return parser


def calibrate_main(argv: list[str] | None = None) -> int:
    runtime.configure("pneumo-calibrate", gui=False)
    args = _parser().parse_args(argv)
    log.info("pneumo-calibrate %s", " ".join(sys.argv[1:] if argv is None else argv))
    from .core.calibration import CalibrationError, check_target
    from .core.local_films import labelled_files

    try:
        check_target(args.target_sensitivity)
        files = labelled_files(args.folder)
    except (CalibrationError, NotADirectoryError) as error:
        return _fail(EXIT_USAGE, str(error))
    if not files:
        return _fail(EXIT_USAGE, f"no films under {args.folder}/NORMAL or {args.folder}/PNEUMONIA")

    from .core.model import Classifier, ModelError

    try:
        classifier = Classifier(args.models_dir, batch_size=args.batch_size)
    except ModelError as error:
        return _fail(EXIT_MODEL, str(error))
    runtime.log_model_loaded(classifier)
    films = _score(files, classifier, args.batch_size)
    return _calibrate(args, classifier, films)


def _score(files, classifier, batch_size: int) -> list:
    from .core.local_films import score_labelled_files

    films = []
    for film in score_labelled_files(files, classifier, batch_size=batch_size):
        films.append(film)
        if not film.scored:
            _say(f"skipped {film.path}: {film.message}", logging.WARNING)
        if sys.stderr is not None and (len(films) % batch_size == 0 or len(films) == len(files)):
            print(f"pneumo-calibrate: scored {len(films)}/{len(files)} films", file=sys.stderr)
    _say(f"scored {len(films)} films, {sum(not film.scored for film in films)} skipped")
    return films


def _calibrate(args, classifier, films) -> int:
    from .core.calibration import CalibrationError, calibrate
    from .core.local_films import as_labelled_scores
    from .core.site_changes import apply_calibration
    from .core.site_profile import SiteProfileError, default_profile_path, profile_for_model
    from .core.store import default_db_path

    try:
        calibration = calibrate(
            as_labelled_scores(films), classifier.operating_point, args.target_sensitivity
        )
    except CalibrationError as error:
        return _fail(EXIT_USAGE, str(error))
    skipped = sum(not film.scored for film in films)
    print(format_table(calibration, classifier.card, skipped))
    log.info("AUC %.3f; %s", calibration.auc, calibration.verdict())
    path = args.profile or default_profile_path()
    try:
        _say(f"in use now: {profile_for_model(classifier.card, path).notice}")
    except SiteProfileError as error:
        _say(f"in use now: the factory threshold; {error}")
    if not args.apply:
        _say(f"not applied: add --apply to write the site profile {path}")
        return EXIT_OK
    try:
        profile = apply_calibration(calibration, classifier.card, profile_path=path,
                                    db_path=args.db or default_db_path())
    except SiteProfileError as error:
        return _fail(EXIT_USAGE, str(error))
    _say(f"wrote site profile {profile.path}: threshold {profile.operating_point.threshold:.4f}"
         f" (recorded in the audit trail of {args.db or default_db_path()})")
    return EXIT_OK


def format_table(calibration, card, skipped: int = 0) -> str:
    """The local table a radiologist reads before applying."""
    from .core.calibration import LocalMetrics

    films = calibration.films
    target = calibration.target_sensitivity
    rows = [
        ("factory (model card)", calibration.at_factory),
        (f"site: default rule (95% bound >= {target:g})", calibration.at_proposed),
        (f"point estimate >= {target:g} (information)",
         LocalMetrics.at(films, calibration.point_estimate_threshold)),
    ]
    lines = [
        f"Site calibration of {card.name} {card.version}: {films.scores.size} local films "
        f"({films.pneumonia_scores.size} pneumonia, {films.normal_scores.size} normal"
        + (f"; {skipped} skipped, unreadable or not a chest X-ray)" if skipped else ")"),
        f"ROC AUC {calibration.auc:.3f}",
        "",
        f"{'':44} {'threshold':>9}  {'sensitivity (95% CI)':<28} {'specificity (95% CI)':<28}"
        " flagged",
    ]
    for name, metrics in rows:
        lines.append(
            f"{name:44} {metrics.threshold:9.4f}  {str(metrics.sensitivity):<28} "
            f"{str(metrics.specificity):<28} {metrics.flagged.value:.1%}"
        )
    lines += [
        f"{'likely (upper) threshold':44} {calibration.factory.likely_threshold:9.4f} factory"
        f" -> {calibration.proposed.likely_threshold:.4f} site",
        "",
        f"Rule: {calibration.verdict()}",
        f"Still needed: {calibration.pneumonias_needed} more confirmed pneumonias (default "
        f"rule), {calibration.normals_needed} more confirmed normals (site likely threshold)",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(calibrate_main())
