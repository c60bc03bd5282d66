"""One runtime configuration for every entry point: environment, logging, exception hooks.

:func:`configure` is the first call of ``pneumo-desktop``, ``pneumo-scan`` and every later
console command. Nothing else in the package changes the process when it is imported.

* **Environment**: :data:`ENVIRONMENT`, the settings the benchmarks measured with
  (``bench/_common.py`` applies the same through :func:`apply_environment`), set before
  TensorFlow or lime is imported. A value the user already set wins.
* **Streams**: a windowed (PyInstaller) build has no console: ``sys.stdout`` and ``sys.stderr``
  are None, and anything that prints (lime's progress bar, TensorFlow) would crash. Both go to
  the null device instead.
* **Logging**: a rotating file in the user's log directory (``PNEUMO_LOG_DIR`` overrides it),
  one per program, plus stderr when there is one. A failure at a clinic leaves a trace that
  Help → "Open log folder" shows.
* **Exceptions**: ``sys.excepthook`` and ``threading.excepthook`` log uncaught exceptions with
  their tracebacks (as napari's ``NotificationManager`` routes every error to one place), and
  ``warnings`` go to the log too.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import platform
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from . import __version__

APP_DIR_NAME = "pneumo_desktop"
LOG_DIR_VARIABLE = "PNEUMO_LOG_DIR"
LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(threadName)s] %(message)s"
MAX_LOG_BYTES = 2 * 2**20  # per file; with the backups at most 12 MiB of logs per program
LOG_BACKUPS = 5

ENVIRONMENT = {
    # TensorFlow's C++ start-up lines are noise to a clinic user; warnings and errors remain.
    "TF_CPP_MIN_LOG_LEVEL": "2",
    # oneDNN kernels are off by default on AMD processors and make inference faster there
    # (the README's scan and training figures were measured with them on).
    "TF_ENABLE_ONEDNN_OPTS": "1",
    # lime shows a tqdm progress bar per sample; tqdm reads this when it is first imported.
    "TQDM_DISABLE": "1",
}

#: ``extra=`` for a record the program has already told its user in its own words: the log
#: file keeps it, the console does not repeat it.
ALREADY_SHOWN = {"shown_to_user": True}

log = logging.getLogger(__name__)


def apply_environment() -> None:
    """Set :data:`ENVIRONMENT`, keeping any value already set."""
    for name, value in ENVIRONMENT.items():
        os.environ.setdefault(name, value)


def log_dir() -> Path:
    """``PNEUMO_LOG_DIR``, else the user's log directory (``platformdirs``), e.g.
    ``~/.local/state/pneumo_desktop/log`` or ``%LOCALAPPDATA%\\pneumo_desktop\\Logs``."""
    override = os.environ.get(LOG_DIR_VARIABLE)
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir(APP_DIR_NAME, appauthor=False))


@dataclass
class _Installed:
    """What :func:`configure` changed, so that :func:`reset` can undo exactly that."""

    handlers: list[logging.Handler]
    root_level: int
    excepthook: object
    threading_excepthook: object
    log_file: Path


_installed: _Installed | None = None


def configure(app_name: str, *, gui: bool) -> Path:
    """Set up the process for ``app_name`` (``pneumo-desktop``, ``pneumo-scan``, …); returns
    the log file's path. ``gui``: a windowed program, whose stderr (when it has one) may show
    every log line; a console command speaks to its user itself, so its stderr gets only
    warnings and errors. Calling it again replaces the earlier configuration."""
    global _installed
    reset()
    apply_environment()
    for name in ("stdout", "stderr"):
        if getattr(sys, name) is None:
            setattr(sys, name, open(os.devnull, "w", encoding="utf-8"))  # noqa: SIM115

    folder = log_dir()
    folder.mkdir(parents=True, exist_ok=True)
    log_file = folder / f"{app_name}.log"
    formatter = logging.Formatter(LOG_FORMAT)
    # Not safe for two processes rotating the same file at once: each program has its own.
    file_handler = logging.handlers.RotatingFileHandler(
        log_file, maxBytes=MAX_LOG_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
    )
    file_handler.setFormatter(formatter)
    handlers: list[logging.Handler] = [file_handler]
    if _is_console(sys.stderr):
        console = logging.StreamHandler(sys.stderr)
        if gui:  # whoever started the app from a terminal wants the whole story
            console.setFormatter(formatter)
            console.setLevel(logging.INFO)
        else:
            console.setFormatter(_OneLineFormatter(f"{app_name}: %(levelname)s: %(message)s",
                                                   log_file))
            console.setLevel(logging.WARNING)
        console.addFilter(lambda record: not getattr(record, "shown_to_user", False))
        handlers.append(console)
    root = logging.getLogger()
    _installed = _Installed(handlers, root.level, sys.excepthook, threading.excepthook,
                            log_file)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(logging.INFO)
    logging.captureWarnings(True)
    sys.excepthook = _log_uncaught
    threading.excepthook = _log_uncaught_in_thread
    log.info(
        "%s %s starting (pid %d): Python %s on %s; log %s", app_name, __version__, os.getpid(),
        platform.python_version(), platform.platform(), log_file,
    )
    return log_file


def reset() -> None:
    """Undo :func:`configure` (for tests, and before configuring again)."""
    global _installed
    if _installed is None:
        return
    root = logging.getLogger()
    for handler in _installed.handlers:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(_installed.root_level)
    logging.captureWarnings(False)
    sys.excepthook = _installed.excepthook
    threading.excepthook = _installed.threading_excepthook
    _installed = None


def stop_on_signals() -> threading.Event:
    """An event set by Ctrl+C, SIGTERM (and Ctrl+Break on Windows) instead of their default
    (an exception or death), for a long-running command that then ends cleanly: it finishes
    what it holds, writes its output and exits 0 (``pneumo-receive``, ``pneumo-scan
    --watch``). Call from the main thread. Wait on it with a timeout: Windows delivers
    Ctrl+C only between the main thread's waits."""
    stop = threading.Event()
    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), lambda signum, frame: stop.set())
    return stop


def current_log_file() -> Path | None:
    """The log file of the running configuration, None before :func:`configure`."""
    return _installed.log_file if _installed else None


def log_model_loaded(classifier) -> None:
    """The line every entry point logs once the model is ready: which model, which file
    (sha256 prefix), where it computes, and the operating threshold with its source."""
    from .core.store import model_sha256

    card = classifier.card
    sha256 = model_sha256(card) or "unknown"
    point = classifier.operating_point
    logging.getLogger("pneumo_desktop.model").info(
        "model %s %s loaded (sha256 %s…) on %s (%s); threshold %.4f (%s)", card.name,
        card.version, sha256[:12], classifier.device, classifier.provider, point.threshold,
        point.source,
    )


class _OneLineFormatter(logging.Formatter):
    """A console command's stderr: one line per problem, never a traceback; the log file
    keeps the traceback and the line says where."""

    def __init__(self, fmt: str, log_file: Path) -> None:
        super().__init__(fmt)
        self._log_file = log_file

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text, record.stack_info, record.msg, record.args
        try:
            if record.exc_info:
                error = record.exc_info[1]
                record.msg = f"{record.getMessage()}: {type(error).__name__}: {error} " \
                             f"(details in {self._log_file})"
                record.args = None
            record.exc_info = record.exc_text = record.stack_info = None
            return super().format(record)
        finally:
            record.exc_info, record.exc_text, record.stack_info, record.msg, record.args = saved


def _is_console(stream) -> bool:
    """A real stream, not the null device a windowed build was given."""
    return stream is not None and getattr(stream, "name", None) != os.devnull


def _log_uncaught(exc_type, exc, traceback) -> None:
    if issubclass(exc_type, KeyboardInterrupt):  # Ctrl+C stays quiet and ends the program
        sys.__excepthook__(exc_type, exc, traceback)
        return
    log.critical("uncaught exception", exc_info=(exc_type, exc, traceback))


def _log_uncaught_in_thread(args: threading.ExceptHookArgs) -> None:
    if args.exc_type is SystemExit:
        return
    name = args.thread.name if args.thread is not None else "unknown"
    log.critical("uncaught exception in thread %s", name,
                 exc_info=(args.exc_type, args.exc_value, args.exc_traceback))
