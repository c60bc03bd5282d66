"""Scanning a folder: list the images, decode them in parallel, predict in batches.

:func:`scan_files` is a generator: it yields one :class:`ScanResult` per file, in the order of
the file list, and checks ``cancel`` between batches, so a GUI worker or the command line can
drive it, show progress and stop it.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .files import PARTIAL_SUFFIX, FileIdentity, file_identity
from .imaging import ImageLoadError, is_image_file, load_image
from .intended_use import intended_use_notice
from .results import PatientStudy, Reason, ScanResult

if TYPE_CHECKING:  # pydicom is imported only when a DICOM film is read
    from .dicom_context import DicomContext

#: Files per ``classify_batch`` call: the batch the throughput benchmark measured with, used by
#: ``pneumo-scan``, the app's batch scan and the benches alike.
DEFAULT_BATCH_SIZE = 32


def default_decode_workers() -> int:
    """Decoding threads of a scan: one per core, at most 8."""
    return min(8, os.cpu_count() or 2)


def list_images(folder: Path) -> list[Path]:
    """Every supported image under ``folder``, recursively, sorted; hidden files and folders
    (names starting with ".") are skipped, and so are files of other types."""
    folder = Path(folder)
    if not folder.is_dir():
        raise NotADirectoryError(f"folder not found: {folder}")
    found = []
    for root, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if not d.startswith(".")]
        for name in files:
            # *.partial: a film the DICOM receiver is still writing (DICOM by content too).
            if name.startswith(".") or name.endswith(PARTIAL_SUFFIX):
                continue
            if is_image_file(Path(root) / name):
                found.append(Path(root) / name)
    return sorted(found)


def _decode(path: Path, classifier) -> tuple[np.ndarray, DicomContext | None]:
    """The model's input, and the DICOM context kept with the result."""
    image = load_image(path, min_side=classifier.input_size)
    return classifier.prepare(image), image.dicom


def patient_study(context: DicomContext | None) -> PatientStudy | None:
    """What a scan stores of a DICOM film's patient and study (None for other formats)."""
    if context is None:
        return None
    return PatientStudy(
        patient_id=context.patient_id, patient_name=context.patient_name,
        patient_age=context.age_text,
        study_date=context.study_date.isoformat() if context.study_date else "",
        study_uid=context.study_instance_uid, study_description=context.study_description,
    )


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def scan_files(
    files: Iterable[Path],
    classifier,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    workers: int | None = None,
    cancel: threading.Event | None = None,
) -> Iterator[ScanResult]:
    """Classify ``files``; one result per file, errors included, in input order.

    Decoding of the next batch runs in a thread pool while the current batch is predicted
    (Pillow and pydicom release the GIL while decoding).
    """
    files = [Path(f) for f in files]
    workers = workers or default_decode_workers()
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:

        identities: dict[Path, FileIdentity] = {}

        def submit(batch: list[Path]) -> list[Future]:
            # Each file's size and time before it is read (see ScanResult.file_identity).
            identities.update((path, file_identity(path)) for path in batch)
            return [pool.submit(_decode, path, classifier) for path in batch]

        batches = list(_batches(files, batch_size))
        pending = submit(batches[0]) if batches else []
        for index, batch in enumerate(batches):
            if cancel is not None and cancel.is_set():
                for future in pending:
                    future.cancel()
                return
            current = pending
            pending = submit(batches[index + 1]) if index + 1 < len(batches) else []
            for result in _classify_batch(batch, current, classifier):
                yield dataclasses.replace(result,
                                          file_identity=identities.pop(Path(result.path)))


def _classify_batch(batch: list[Path], futures: list[Future], classifier) -> list[ScanResult]:
    inputs, contexts, failed = {}, {}, {}
    for path, future in zip(batch, futures, strict=True):
        try:
            inputs[path], contexts[path] = future.result()
        except ImageLoadError as error:
            failed[path] = ScanResult.failed(str(path), str(error), error.reason)
        except MemoryError:
            failed[path] = ScanResult.failed(
                str(path), f'Cannot open "{path.name}": not enough memory.', Reason.OUT_OF_MEMORY
            )
    predictions = {}
    if inputs:
        batch_predictions = classifier.classify_batch(np.stack(list(inputs.values())))
        predictions = dict(zip(inputs, batch_predictions, strict=True))
    results = []
    for path in batch:
        if path in failed:
            results.append(failed[path])
            continue
        prediction, context = predictions[path], contexts[path]
        message, reason = "", None
        if not prediction.is_xray:
            # No verdict at all: a confident NORMAL on a photograph would be worse than none.
            message = (
                "This does not look like a chest X-ray (feature distance "
                f"{prediction.ood_distance:.0f} > {classifier.ood_threshold:.0f}); "
                "not classified."
            )
        elif (notice := intended_use_notice(context)) is not None:
            message, reason = notice, Reason.OUTSIDE_INTENDED_AGE
        results.append(ScanResult.from_prediction(str(path), prediction, message, reason,
                                                  patient_study(context)))
    return results
