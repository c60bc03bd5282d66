"""``pneumo-receive --into FOLDER [--ae-title PNEUMO] [--port 11112] [--bind ADDRESS]
[--allow AE ...]``: the DICOM node the X-ray unit sends its films to.

Runs until Ctrl+C or SIGTERM, then closes its associations and exits 0. Films land in FOLDER
(one subfolder per study); ``pneumo-scan FOLDER --watch`` scans them as they arrive.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from . import runtime
from .core.receiver import (
    AE_TITLE_RULE,
    DEFAULT_AE_TITLE,
    DEFAULT_BIND,
    DEFAULT_PORT,
    ReceiverConfig,
    StorageReceiver,
    is_ae_title,
)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_LISTEN = 3  # the address or port cannot be listened on

log = logging.getLogger("pneumo_desktop.receive")


def _ae_title(text: str) -> str:
    title = text.strip()
    if not is_ae_title(title):
        raise argparse.ArgumentTypeError(f"{text!r} is not an AE title ({AE_TITLE_RULE})")
    return title


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pneumo-receive",
        description="Receive DICOM films (C-STORE) from an X-ray unit into a folder.",
    )
    parser.add_argument("--into", type=Path, required=True, metavar="FOLDER",
                        help="where received films are stored (created if missing)")
    parser.add_argument("--ae-title", type=_ae_title, default=DEFAULT_AE_TITLE,
                        help=f"this node's AE title (default {DEFAULT_AE_TITLE})")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT,
                        help=f"TCP port to listen on (default {DEFAULT_PORT})")
    parser.add_argument("--bind", default=DEFAULT_BIND, metavar="ADDRESS",
                        help=f"address to listen on (default {DEFAULT_BIND}: every address of "
                             "this machine; 127.0.0.1 for this machine only)")
    parser.add_argument("--allow", type=_ae_title, nargs="+", default=[], metavar="AE",
                        help="accept only these calling AE titles (default: any)")
    return parser


def _show_activity() -> None:
    """The console shows each association and film as it happens (a console command's
    stderr otherwise gets only warnings and errors from runtime's handler; the log file gets
    everything)."""
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
    console.addFilter(lambda record: record.levelno < logging.WARNING)
    logging.getLogger("pneumo_desktop.core.receiver").addHandler(console)
    logging.getLogger("pynetdicom").setLevel(logging.WARNING)  # per-PDU chatter otherwise


def receive_main(argv: list[str] | None = None) -> int:
    runtime.configure("pneumo-receive", gui=False)
    args = _parser().parse_args(argv)
    _show_activity()
    if not 0 <= args.port <= 65535:
        log.error("port %d is not a TCP port (0 to 65535)", args.port)
        return EXIT_USAGE
    try:
        args.into.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        log.error("cannot use %s as the folder for received films: %s", args.into, error)
        return EXIT_USAGE
    config = ReceiverConfig(args.into, args.ae_title, args.port, args.bind, tuple(args.allow))
    receiver = StorageReceiver(config)
    stop = runtime.stop_on_signals()
    try:
        receiver.start()
    except OSError as error:
        log.error("cannot listen on %s:%d: %s", args.bind, args.port, error)
        return EXIT_LISTEN
    try:
        while not stop.wait(0.5):  # a timed wait lets Windows deliver Ctrl+C
            pass
    finally:
        receiver.stop()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(receive_main())
