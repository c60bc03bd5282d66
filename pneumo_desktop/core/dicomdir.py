"""Read the DICOMDIR of a CD or USB stick into patient -> study -> series -> image, with the
path of every image file (no Qt). The UI lists it; :func:`~.imaging.load_image` opens a film.

Decisions:

* **pydicom's FileSet** parses the record hierarchy. Only IMAGE records are listed: SR
  documents, presentation states and key-object notes on the same disc are not films.
* **File names as the disc has them.** A DICOMDIR names files in upper case
  (``DICOM\\PA000000\\IM000001``), but Linux mounts a plain ISO 9660 disc in lower case, and
  without name mapping shows ``IM000001.;1``. Each referenced path is matched against the
  folder, ignoring case and the ISO 9660 version, before pydicom sees it, so the same disc
  reads on Windows and Linux.
* **Missing files are reported, not fatal**: a stick copied half-way still lists what is there,
  and :attr:`DicomDir.missing` names the rest.
"""

from __future__ import annotations

import datetime as dt
import os
from dataclasses import dataclass
from pathlib import Path

import pydicom
from pydicom import config
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.fileset import FileInstance, FileSet
from pydicom.uid import MediaStorageDirectoryStorage

from .dicom import DICOMDIR_NAME
from .dicom_context import parse_date
from .dicom_preamble import iso_9660_name


class DicomDirError(Exception):
    """The DICOMDIR cannot be read; ``str(err)`` is meant for the user."""


@dataclass(frozen=True)
class DicomDirImage:
    path: Path  # the image file, as found on disc
    sop_instance_uid: str
    instance_number: int | None


@dataclass(frozen=True)
class DicomDirSeries:
    series_instance_uid: str
    modality: str
    series_number: int | None
    images: tuple[DicomDirImage, ...]


@dataclass(frozen=True)
class DicomDirStudy:
    study_instance_uid: str
    study_date: dt.date | None
    study_description: str
    accession_number: str
    series: tuple[DicomDirSeries, ...]


@dataclass(frozen=True)
class DicomDirPatient:
    patient_id: str
    patient_name: str  # DICOM PN as stored, e.g. "Doe^Jane"
    studies: tuple[DicomDirStudy, ...]


@dataclass(frozen=True)
class DicomDir:
    path: Path  # the DICOMDIR file
    patients: tuple[DicomDirPatient, ...]
    missing: tuple[Path, ...]  # files the DICOMDIR lists that are not on the disc

    @property
    def images(self) -> list[Path]:
        """Every image file, patient by patient, study by study, in series and instance order."""
        return [
            image.path
            for patient in self.patients
            for study in patient.studies
            for series in study.series
            for image in series.images
        ]


def find_dicomdir(folder: str | os.PathLike[str]) -> Path | None:
    """The DICOMDIR at the top of ``folder`` (a disc or stick), any case; None if there is none."""
    try:
        for entry in Path(folder).iterdir():
            if iso_9660_name(entry.name) == DICOMDIR_NAME and entry.is_file():
                return entry
    except OSError:
        return None
    return None


def read_dicomdir(path: str | os.PathLike[str]) -> DicomDir:
    """The patients, studies, series and image files a DICOMDIR lists; :class:`DicomDirError`
    when ``path`` is not a readable DICOMDIR. pydicom warns about each listed file that is
    missing; :attr:`DicomDir.missing` names them."""
    path = Path(path)
    name = path.name or str(path)
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError as exc:
        raise DicomDirError(f'Cannot read "{name}": not a DICOMDIR.') from exc
    except OSError as exc:
        detail = f"the file could not be read ({exc.strerror or exc})"
        raise DicomDirError(f'Cannot read "{name}": {detail}.') from exc
    except (ValueError, KeyError, TypeError, EOFError) as exc:
        raise DicomDirError(f'Cannot read "{name}": the DICOMDIR is damaged ({exc}).') from exc
    if ds.file_meta.get("MediaStorageSOPClassUID") != MediaStorageDirectoryStorage:
        raise DicomDirError(f'Cannot read "{name}": not a DICOMDIR.')
    try:
        missing = _resolve_file_ids(ds, path.parent)
        file_set = FileSet(ds)
    except (ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
        # No record sequence, broken record offsets, a file ID outside the disc, ...
        raise DicomDirError(f'Cannot read "{name}": the DICOMDIR is damaged ({exc}).') from exc
    patients: dict[str, dict[str, dict[str, list[FileInstance]]]] = {}
    for instance in file_set:
        if instance.node.record_type != "IMAGE" or len(instance.node.ancestors) < 3:
            continue
        series, study, patient = instance.node.ancestors[:3]
        by_study = patients.setdefault(patient.key, {})
        by_study.setdefault(study.key, {}).setdefault(series.key, []).append(instance)
    return DicomDir(path, tuple(_patient(studies) for studies in patients.values()), missing)


# --------------------------------------------------------------------------- internals


def _patient(studies: dict[str, dict[str, list[FileInstance]]]) -> DicomDirPatient:
    first = next(iter(next(iter(studies.values())).values()))[0]
    return DicomDirPatient(
        patient_id=_text(first, "PatientID"),
        patient_name=_text(first, "PatientName"),
        studies=tuple(_study(series) for series in studies.values()),
    )


def _study(series: dict[str, list[FileInstance]]) -> DicomDirStudy:
    first = next(iter(series.values()))[0]
    all_series = sorted((_series(images) for images in series.values()), key=_series_order)
    return DicomDirStudy(
        study_instance_uid=_text(first, "StudyInstanceUID"),
        study_date=parse_date(_text(first, "StudyDate")),
        study_description=_text(first, "StudyDescription"),
        accession_number=_text(first, "AccessionNumber"),
        series=tuple(all_series),
    )


def _series(instances: list[FileInstance]) -> DicomDirSeries:
    images = [
        DicomDirImage(
            Path(instance.path),
            _text(instance, "ReferencedSOPInstanceUIDInFile"),
            _number(instance, "InstanceNumber"),
        )
        for instance in instances
    ]
    images.sort(key=lambda image: (image.instance_number is None, image.instance_number or 0))
    first = instances[0]
    return DicomDirSeries(
        series_instance_uid=_text(first, "SeriesInstanceUID"),
        modality=_text(first, "Modality"),
        series_number=_number(first, "SeriesNumber"),
        images=tuple(images),
    )


def _series_order(series: DicomDirSeries) -> tuple[bool, int]:
    return series.series_number is None, series.series_number or 0


def _text(instance: FileInstance, keyword: str) -> str:
    # A FileInstance answers a keyword from its own record or the nearest record above it.
    value = getattr(instance, keyword, None)
    return "" if value is None else str(value).strip()


def _number(instance: FileInstance, keyword: str) -> int | None:
    try:
        return int(getattr(instance, keyword, None))
    except (TypeError, ValueError):
        return None


def _resolve_file_ids(ds: Dataset, root: Path) -> tuple[Path, ...]:
    """Point each record's Referenced File ID at the file as the disc spells it; return the
    files that are not there."""
    listings: dict[Path, dict[str, str]] = {}
    missing = []
    for record in ds.DirectoryRecordSequence:
        if "ReferencedFileID" not in record or not record.ReferencedFileID:
            continue
        element = record["ReferencedFileID"]
        parts = [element.value] if isinstance(element.value, str) else list(element.value)
        found = _match_case(root, parts, listings)
        if found is None:
            missing.append(root.joinpath(*parts))
        elif found != parts:
            # The disc's spelling (lower case) is not a valid CS value: skip the validation.
            tag = element.tag
            record[tag] = DataElement(tag, "CS", found, validation_mode=config.IGNORE)
    return tuple(missing)


def _match_case(root: Path, parts: list[str], listings: dict[Path, dict[str, str]]) -> list | None:
    folder, found = root, []
    for part in parts:
        if folder not in listings:
            try:
                listings[folder] = {iso_9660_name(entry.name): entry.name
                                    for entry in folder.iterdir()}
            except OSError:
                listings[folder] = {}
        actual = listings[folder].get(iso_9660_name(part))
        if actual is None:
            return None
        found.append(actual)
        folder = folder / actual
    return found
