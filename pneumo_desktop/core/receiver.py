"""A DICOM Storage SCP: the node an X-ray unit sends its films to (pynetdicom).

* Every public storage SOP class, in every transfer syntax pynetdicom knows, compressed
  included. The object is stored as received: the file meta plus the dataset bytes exactly as
  they came off the wire, never decoded and re-encoded (a JPEG Lossless film stays one).
* Each object goes to ``<folder>/<StudyInstanceUID>/<SOPInstanceUID>.dcm``, written as
  ``….dcm.partial``, fsynced, then renamed (:func:`~.files.write_bytes_atomically`): a
  watcher that ignores ``*.partial`` never sees half a film, and a receiver killed mid-write
  leaves at most a ``.partial``.
* C-ECHO is answered; each association is logged (calling AE, address, objects stored).
* With an allow-list, associations from other calling AE titles are rejected.
* It listens on the address it is given, only: ``0.0.0.0`` (the default) is every address of
  the machine, which the X-ray unit on the clinic's LAN needs; tests use loopback.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .files import PARTIAL_SUFFIX, write_bytes_atomically

log = logging.getLogger(__name__)

DEFAULT_AE_TITLE = "PNEUMO"
DEFAULT_PORT = 11112  # the registered DICOM port for non-privileged use
DEFAULT_BIND = "0.0.0.0"  # every address: the X-ray unit reaches us over the clinic's LAN

# C-STORE response statuses (PS3.4 B.2.3)
STATUS_SUCCESS = 0x0000
STATUS_INVALID_INSTANCE = 0x0117
STATUS_OUT_OF_RESOURCES = 0xA700
STATUS_CANNOT_UNDERSTAND = 0xC210

_UID = re.compile(r"[0-9]+(\.[0-9]+)*")  # a UID is digits and dots; nothing else may name a file


def is_uid(text: object) -> bool:
    return isinstance(text, str) and len(text) <= 64 and _UID.fullmatch(text) is not None


#: The AE title rule in words, for the messages of every entry point that checks one.
AE_TITLE_RULE = "1 to 16 ASCII characters, no backslash"


def is_ae_title(text: object) -> bool:
    """1 to 16 printable ASCII characters, not all spaces, no backslash (PS3.5 AE): the one
    check of an AE title (command lines, the app's settings)."""
    return (isinstance(text, str) and 0 < len(text) <= 16 and bool(text.strip())
            and text.isascii() and text.isprintable() and "\\" not in text)


@dataclass(frozen=True)
class ReceiverConfig:
    folder: Path
    ae_title: str = DEFAULT_AE_TITLE
    port: int = DEFAULT_PORT  # 0: any free port (tests); see StorageReceiver.address
    bind: str = DEFAULT_BIND
    allowed_calling_ae: tuple[str, ...] = ()  # empty: any calling AE title is accepted


class StorageReceiver:
    """Listens in background threads from :meth:`start` until :meth:`stop`."""

    def __init__(self, config: ReceiverConfig):
        self.config = config
        self.folder = Path(config.folder)
        self._server = None
        self._lock = threading.Lock()
        self._stored_by_association: dict[int, int] = {}
        self.stored = 0  # objects stored since start

    @property
    def address(self) -> tuple[str, int]:
        """The (address, port) actually listened on; the port is the real one with port 0."""
        if self._server is None:
            raise RuntimeError("the receiver is not running")
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        """Bind and listen. Raises OSError when the address cannot be bound (port in use, an
        address this machine does not have)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        stale = remove_stale_partials(self.folder)
        if stale:
            log.warning("removed %d incomplete file(s) left by an earlier receiver", stale)
        # pynetdicom (and pydicom under it) only once a receiver starts: the app's window
        # imports this module for its settings, and ~0.45 s of imports would delay every start.
        from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
        from pynetdicom.sop_class import Verification

        ae = AE(ae_title=self.config.ae_title)
        for context in AllStoragePresentationContexts:
            ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        ae.add_supported_context(Verification)
        ae.require_calling_aet = list(self.config.allowed_calling_ae)
        handlers = [
            (evt.EVT_C_STORE, self._on_store),
            (evt.EVT_C_ECHO, self._on_echo),
            (evt.EVT_ACCEPTED, self._on_accepted),
            (evt.EVT_REJECTED, self._on_rejected),
            (evt.EVT_RELEASED, self._on_closed),
            (evt.EVT_ABORTED, self._on_closed),
        ]
        self._server = ae.start_server(
            (self.config.bind, self.config.port), block=False, evt_handlers=handlers
        )
        host, port = self.address
        allowed = ", ".join(self.config.allowed_calling_ae) or "any calling AE title"
        log.info("DICOM receiver %s listening on %s:%d, storing into %s (accepting %s)",
                 self.config.ae_title, host, port, self.folder, allowed)

    def stop(self) -> None:
        """Stop listening and close open associations; a store being written finishes first
        or leaves only its ``.partial``."""
        if self._server is not None:
            self._server.shutdown()
            self._server = None
            log.info("DICOM receiver stopped after storing %d object(s)", self.stored)

    def __enter__(self) -> "StorageReceiver":
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    # Event handlers (each association runs in its own thread) ----------------------------
    @staticmethod
    def _peer(event) -> str:
        requestor = event.assoc.requestor
        return f"{requestor.ae_title!r} at {requestor.address}:{requestor.port}"

    def _on_accepted(self, event) -> None:
        with self._lock:
            self._stored_by_association[id(event.assoc)] = 0
        log.info("association from %s accepted", self._peer(event))

    def _on_rejected(self, event) -> None:
        log.warning("association from %s rejected: calling AE title not in the allow-list",
                    self._peer(event))

    def _on_closed(self, event) -> None:
        with self._lock:
            count = self._stored_by_association.pop(id(event.assoc), 0)
        from pynetdicom import evt

        how = "released" if event.event is evt.EVT_RELEASED else "aborted"
        log.info("association from %s %s: %d object(s) stored", self._peer(event), how, count)

    def _on_echo(self, event) -> int:
        log.info("C-ECHO from %s", self._peer(event))
        return STATUS_SUCCESS

    def _on_store(self, event) -> int:
        sop_uid = str(event.request.AffectedSOPInstanceUID or "")
        if not is_uid(sop_uid):
            log.error("refused an object from %s: SOP Instance UID %r is not a valid UID",
                      self._peer(event), sop_uid[:80])
            return STATUS_INVALID_INSTANCE
        try:
            study_uid = event.dataset.get("StudyInstanceUID")
        except Exception as error:  # pydicom raises many types on a garbled dataset
            log.error("refused %s from %s: the dataset cannot be read (%s)",
                      sop_uid, self._peer(event), error)
            return STATUS_CANNOT_UNDERSTAND
        folder = self.folder / str(study_uid) if is_uid(str(study_uid)) else self.folder
        target = folder / f"{sop_uid}.dcm"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            write_bytes_atomically(target, event.encoded_dataset())
        except OSError as error:  # disk full, folder not writable, ...
            log.error("could not store %s from %s: %s", target, self._peer(event), error)
            return STATUS_OUT_OF_RESOURCES
        with self._lock:
            self.stored += 1
            key = id(event.assoc)
            self._stored_by_association[key] = self._stored_by_association.get(key, 0) + 1
        log.info("stored %s from %s (%s)", target.relative_to(self.folder), self._peer(event),
                 event.context.transfer_syntax.name)
        return STATUS_SUCCESS


def remove_stale_partials(folder: Path, older_than_s: float = 60.0) -> int:
    """Delete ``*.partial`` files under ``folder`` older than ``older_than_s``: writing one
    takes well under a second, so these are what a killed receiver left (a younger one may be
    another receiver's, at work on the same folder). Returns how many."""
    removed, now = 0, time.time()
    for partial in Path(folder).rglob(f"*{PARTIAL_SUFFIX}"):
        try:
            if now - partial.stat().st_mtime < older_than_s:
                continue
            partial.unlink()
            removed += 1
        except OSError as error:
            log.warning("could not remove %s: %s", partial, error)
    return removed
