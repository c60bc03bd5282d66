"""``pneumo-desktop [FILE_OR_FOLDER]``: the desktop application.

One app at a time per user and results database: a second start hands FILE_OR_FOLDER to the
running window (brought forward) and exits 0 (``ui/single_instance.py``).

Also ``pneumo-desktop --self-test``: load the bundled model, verify its checksum, classify an
image made on the spot, print the result and exit 0 (the installer's smoke test).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import runtime

_LAUNCHED = time.perf_counter()  # start-up time is measured from here (--startup-time)

log = logging.getLogger("pneumo_desktop.app")  # not "__main__" under python -m


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pneumo-desktop", description=__doc__)
    parser.add_argument("path", nargs="?", help="an X-ray to open, or a folder to scan")
    parser.add_argument("--models-dir", type=Path, help="default: the bundled models/")
    parser.add_argument("--db", type=Path, help="results database (default: user data dir)")
    parser.add_argument("--self-test", action="store_true", help="check the model and exit")
    parser.add_argument(
        "--startup-time",
        action="store_true",
        help="print the seconds from launch to a visible window, and to a loaded model, then quit",
    )
    return parser


def _resources_dir() -> Path:
    """``resources/`` of the installer's bundle or of the checkout."""
    bundle = getattr(sys, "_MEIPASS", None)
    root = Path(bundle) if bundle else Path(__file__).resolve().parents[1]
    return root / "resources"


def self_test(models_dir: Path | None) -> int:
    """Headless check of the installed application; exit status 0 when all is well."""
    import numpy as np

    from .core.imaging import load_image_bytes
    from .core.model import Classifier, ModelError

    try:
        classifier = Classifier(models_dir)  # verifies the sha256 against the card
    except ModelError as error:
        log.error("self-test: the model was refused: %s", error)
        print(f"self-test FAILED: {error}")
        return 1
    runtime.log_model_loaded(classifier)
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    pixels = (rng.uniform(0, 255, (512, 400)) * np.linspace(0.3, 1, 400)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    image = load_image_bytes(buffer.getvalue(), "self-test.png", min_side=classifier.input_size)
    prediction = classifier.classify(classifier.prepare(image))
    if not 0.0 <= prediction.probability <= 1.0:
        log.error("self-test: probability %s out of range", prediction.probability)
        print(f"self-test FAILED: probability {prediction.probability} out of range")
        return 1
    # The installer's smoke test reads this line on stdout.
    outcome = (
        f"self-test OK: model {classifier.card.name} {classifier.card.version} "
        f"(sha256 verified) on {classifier.device} ({classifier.provider}); generated image -> "
        f"{prediction.verdict or prediction.status} "
        f"(P(pneumonia) = {prediction.probability:.3f})"
    )
    log.info(outcome)
    print(outcome)
    return 0


def main(argv: list[str] | None = None) -> int:
    runtime.configure("pneumo-desktop", gui=True)
    args = _parser().parse_args(argv)
    if args.self_test:
        return self_test(args.models_dir)

    from .platform_check import qt_import_problem, qt_platform_problem, report_platform_problem

    if (platform_problem := qt_platform_problem()) is not None:
        return report_platform_problem(platform_problem)  # instead of Qt aborting the process
    try:
        return _start(args)
    except ImportError as error:  # a Qt module whose system library is missing (QtNetwork's
        problem = qt_import_problem(error)  # libgssapi_krb5, say): the package, not a traceback
        if problem is None:
            raise
        return report_platform_problem(problem)


def _start(args: argparse.Namespace) -> int:
    from PySide6.QtWidgets import QApplication

    from .core.store import default_db_path
    from .ui.single_instance import InstanceServer, hand_over, instance_name

    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setOrganizationName("pneumo_desktop")
    app.setApplicationName("pneumo_desktop")
    db_path = args.db or default_db_path()
    instance = None
    if not args.startup_time:  # a measurement runs beside the user's app, never into it
        name = instance_name(db_path)
        if hand_over(name, args.path):
            log.info("handed %s to the running app", args.path or "nothing")
            return 0
        instance = InstanceServer(name, app)
        if not instance.listen():  # another start got there first: hand over to it
            hand_over(name, args.path)
            return 0
    return _run_window(app, args, db_path, instance)


def _run_window(app, args: argparse.Namespace, db_path: Path, instance) -> int:
    from PySide6.QtCore import QTimer

    from .core.model import default_models_dir
    from .ui.main_window import MainWindow
    from .ui.preferences import Preferences
    from .ui.single_instance import serve_window

    icon = _resources_dir() / "pneumo_desktop.png"
    if icon.is_file():
        from PySide6.QtGui import QIcon

        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow(args.models_dir or default_models_dir(), db_path, Preferences())
    if instance is not None:
        serve_window(instance, window)
    window.show()
    visible = time.perf_counter() - _LAUNCHED
    if args.startup_time:
        print(f"window visible after {visible:.2f} s", flush=True)

        def report_loaded(_classifier) -> None:
            print(f"model loaded after {time.perf_counter() - _LAUNCHED:.2f} s", flush=True)
            window.close()

        def report_refused(reason: str) -> None:
            print(f"model refused after {time.perf_counter() - _LAUNCHED:.2f} s: {reason}",
                  file=sys.stderr, flush=True)  # fmt: skip
            app.exit(1)  # now: the window's message box that follows would wait for a click

        window.modelReady.connect(report_loaded)
        window.modelFailed.connect(report_refused)
    # Load the model once the event loop has painted the window.
    QTimer.singleShot(0, window.start_loading_model)
    if args.path:
        QTimer.singleShot(0, lambda: window.open_argument(args.path))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
