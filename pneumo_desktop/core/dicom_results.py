"""DICOM results a PACS viewer can show beside the film (highdicom).

For one classified DICOM film, two new objects in the film's study, for the film's patient:

* a **Secondary Capture** image: the film with the Grad-CAM overlay, and a banner burned in
  with the verdict, the model and "derived image, not for diagnosis on its own"
  (``BurnedInAnnotation YES``, ``ImageType DERIVED\\SECONDARY``, ``DerivationDescription``,
  ``SourceImageSequence`` pointing at the film);
* a **Comprehensive SR** holding P(pneumonia), the verdict and band, the threshold and its
  source, the model's name, version and sha256 (TID 4019 algorithm identification), and the
  radiologist's review once there is one.

Why Comprehensive SR and not a Key Object Selection: a KOS can only point at images and carry
a coded title and a free-text note, so P(pneumonia) and the threshold would be text. The SR's
content is TID 1500 (Measurement Report), the template DICOM and IHE's AI Results profile use
for algorithm output and that PACS viewers (e.g. OHIF) and dcmqi read: the probability and
threshold are numbers, verdict, band and review are codes.

Concepts DICOM has no code for (band, threshold source, the review) use the local coding
scheme ``99PNEUMO``, declared in each object's Coding Scheme Identification Sequence.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import highdicom as hd
import numpy as np
import pydicom
from highdicom.coding_schemes import CodingSchemeIdentificationItem
from PIL import Image, ImageDraw, ImageFont
from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sr.codedict import codes
from pydicom.sr.coding import Code
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
from pydicom.valuerep import TM

from .. import __version__
from .dicom_context import parse_date
from .dicom_preamble import is_dicom_file
from .files import write_bytes_atomically
from .identity import ModelIdentity
from .receiver import is_uid
from .results import Band, Prediction, ReviewMark, Status, ThresholdSource, Verdict

MANUFACTURER = "pneumo_desktop"
NOT_FOR_DIAGNOSIS = "DERIVED IMAGE - COMPUTER-AIDED SCREENING, NOT FOR DIAGNOSIS ON ITS OWN"
MIN_WIDTH = 768  # pixels: narrower pictures are enlarged before the banner is burned in
SC_SERIES_NUMBER, SR_SERIES_NUMBER = 9901, 9902  # after the unit's own series in a viewer

LOCAL_SCHEME = "99PNEUMO"
_LOCAL_SCHEME_ITEM = CodingSchemeIdentificationItem(
    LOCAL_SCHEME, name="pneumo_desktop local codes",
    responsible_organization="pneumo_desktop",
)
PNEUMONIA = Code("233604007", "SCT", "Pneumonia")
CHEST_XRAY = Code("399208008", "SCT", "Plain chest X-ray")
TRIAGE_BAND = Code("BAND", LOCAL_SCHEME, "Triage band")
THRESHOLD_SOURCE = Code("THRSRC", LOCAL_SCHEME, "Threshold source")
RADIOLOGIST_REVIEW = Code("REVIEW", LOCAL_SCHEME, "Radiologist review")
RADIOLOGIST_LABEL = Code("RADLABEL", LOCAL_SCHEME, "Pneumonia per radiologist")
BAND_CODES = {band: Code(band.value.upper(), LOCAL_SCHEME, band.wording.replace("—", "-"))
              for band in Band}
SOURCE_CODES = {
    ThresholdSource.FACTORY: Code("FACTORY", LOCAL_SCHEME, "Model card threshold"),
    ThresholdSource.SITE: Code("SITE", LOCAL_SCHEME, "Site-calibrated threshold"),
}
REVIEW_CODES = {
    ReviewMark.AGREE: Code("AGREE", LOCAL_SCHEME, "Agrees with the model"),
    ReviewMark.DISAGREE: Code("DISAGREE", LOCAL_SCHEME, "Disagrees with the model"),
}


@dataclass(frozen=True)
class Review:
    """The radiologist's mark on the film, as the SR records it."""

    mark: ReviewMark
    corrected_label: Verdict | None = None  # with DISAGREE
    note: str | None = None
    reviewer: str | None = None  # the person's name, when known

    @property
    def label(self) -> Verdict | None:
        return self.corrected_label if self.mark is ReviewMark.DISAGREE else None


@dataclass(frozen=True)
class DicomResultFiles:
    secondary_capture: Path
    structured_report: Path


class DicomResultError(ValueError):
    """No DICOM result can be made for this film; the message says why."""


def write_dicom_results(
    source_path: Path,
    prediction: Prediction,
    model: ModelIdentity,
    overlay_rgb: np.ndarray,
    out_dir: Path,
    *,
    review: Review | None = None,
    scanned_folder: Path | None = None,
) -> DicomResultFiles:
    """Write the SC and SR of one film to ``out_dir/<StudyInstanceUID>/`` and return their
    paths. ``overlay_rgb`` is the film as shown, overlay blended in (H x W x 3 uint8).
    ``out_dir`` may not be the film's folder nor lie inside ``scanned_folder``: a result
    written there would be scanned as a film."""
    source_path, out_dir = Path(source_path), Path(out_dir).resolve()
    for forbidden in (source_path.resolve().parent, scanned_folder):
        if forbidden is not None and out_dir.is_relative_to(Path(forbidden).resolve()):
            raise DicomResultError(
                f"DICOM results must go outside the scanned folder, not into {out_dir}"
            )
    source = with_patient_and_study(_read_header(source_path))
    try:
        sc = secondary_capture(source, prediction, model, overlay_rgb, review)
        sr = structured_report(source, prediction, model, review)
    except DicomResultError:
        raise
    except (ValueError, TypeError) as error:  # highdicom refuses a value it cannot carry
        raise DicomResultError(f'the header of "{source_path.name}" has a value a DICOM '
                               f"result cannot carry: {error}") from error
    folder = out_dir / str(source.StudyInstanceUID)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for dataset, kind in ((sc, "sc"), (sr, "sr")):
        buffer = io.BytesIO()
        dataset.save_as(buffer, enforce_file_format=True)
        paths.append(write_bytes_atomically(
            folder / f"{source.SOPInstanceUID}.{kind}.dcm", buffer.getvalue()))
    return DicomResultFiles(*paths)


def _read_header(path: Path) -> Dataset:
    """The film's header; like :func:`~.imaging.load_image`, a ``.dcm`` without the 128-byte
    preamble (old units wrote them) is read too."""
    has_preamble = is_dicom_file(path)
    try:
        source = pydicom.dcmread(path, stop_before_pixels=True, force=not has_preamble)
    except (OSError, ValueError, EOFError, pydicom.errors.InvalidDicomError) as error:
        raise DicomResultError(f'"{path.name}" is not a readable DICOM file') from error
    # A forced read of another format "succeeds" with nonsense tags: demand a real group.
    if not any(tag.group in (0x0008, 0x0010, 0x0020) for tag in source.keys()):
        raise DicomResultError(f'"{path.name}" is not a readable DICOM file')
    return source


def _check(source: Dataset, prediction: Prediction) -> None:
    if prediction.status is not Status.OK or prediction.verdict is None:
        raise DicomResultError("the film has no verdict (it is not a chest X-ray the model "
                               "reads), so there is no result to write")
    missing = [key for key in ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
                               "SOPClassUID") if not source.get(key)]
    if missing:
        raise DicomResultError(f"the film lacks {', '.join(missing)}: a result could not be "
                               "linked to its study")
    for key in ("StudyInstanceUID", "SOPInstanceUID"):  # they name the result's files
        if not is_uid(str(source[key].value)):
            raise DicomResultError(f"the film's {key} {str(source[key].value)[:64]!r} is not a "
                                   "valid UID (digits and dots): no result is written for it")


# Patient and study attributes a result must carry (type 2: present, possibly empty). Films
# from some units omit a few; the result then carries them empty rather than failing.
_PATIENT_AND_STUDY = ("PatientName", "PatientID", "PatientBirthDate", "PatientSex", "StudyDate",
                      "StudyTime", "ReferringPhysicianName", "StudyID", "AccessionNumber")


def with_patient_and_study(source: Dataset) -> Dataset:
    """A copy of the film's header with every attribute of ``_PATIENT_AND_STUDY`` present;
    a sex, date or time the standard does not allow (units write "X", "20241399", "25:99")
    is left empty rather than refused, so the result still reaches the patient's record."""
    header = Dataset()
    header.update(source)
    header.file_meta = getattr(source, "file_meta", Dataset())
    for keyword in _PATIENT_AND_STUDY:
        if keyword not in header:
            setattr(header, keyword, None)
    sex = str(header.PatientSex or "").strip().upper()
    header.PatientSex = sex if sex in ("M", "F", "O") else None
    for keyword in ("PatientBirthDate", "StudyDate"):
        date = parse_date(str(header[keyword].value or ""))
        setattr(header, keyword, date.strftime("%Y%m%d") if date else None)
    if _time(str(header.StudyTime or "")) is None:
        header.StudyTime = None
    charsets = header.get("SpecificCharacterSet")
    if charsets == "ISO_IR 6":  # the default repertoire, stated: highdicom wants it unstated
        del header.SpecificCharacterSet
    elif isinstance(charsets, MultiValue) and charsets and not charsets[0]:
        # "\\ISO 2022 IR 87" (Japanese): the empty first value is the default, ISO 2022 IR 6
        header.SpecificCharacterSet = ["ISO 2022 IR 6", *charsets[1:]]
    return header


def _time(text: str) -> TM | None:
    try:
        return TM(text.strip()) if text.strip() else None
    except ValueError:
        return None


def _series_uid(source: Dataset, kind: str) -> str:
    # The same result series for every film of a study: derived from the study, not random.
    return generate_uid(entropy_srcs=[str(source.StudyInstanceUID), MANUFACTURER, kind])


def _instance_number(source: Dataset) -> int:
    try:
        return max(1, int(source.get("InstanceNumber") or 1))
    except (TypeError, ValueError):
        return 1


# --------------------------------------------------------------------------- Secondary Capture


def banner_lines(prediction: Prediction, model: ModelIdentity,
                 review: Review | None = None) -> list[str]:
    """The text burned into the Secondary Capture, top to bottom."""
    lines = [  # the default font has no em dash
        f"{prediction.band.wording.replace('—', '-')}   "
        f"P(pneumonia) {prediction.probability:.3f}   "
        f"threshold {prediction.threshold:.3f} ({prediction.threshold_source.value})",
        f"{model.name} {model.version}   model sha256 {model.sha256[:16]}",
    ]
    if review is not None:
        verdict = "agrees" if review.mark is ReviewMark.AGREE else \
            f"disagrees: {review.label.value if review.label else '?'}"
        lines.append(f"Radiologist {verdict}")
    lines.append(NOT_FOR_DIAGNOSIS)
    return lines


def burn_in(overlay_rgb: np.ndarray, lines: list[str]) -> np.ndarray:
    """The picture with a black banner above it carrying ``lines`` (the last in yellow), so
    the film itself is not covered. A picture narrower than ``MIN_WIDTH`` is enlarged first,
    so the banner stays readable."""
    rgb = np.asarray(overlay_rgb)
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"overlay must be H x W x 3 uint8, got {rgb.dtype} {rgb.shape}")
    picture = Image.fromarray(rgb)
    if picture.width < MIN_WIDTH:
        height = round(picture.height * MIN_WIDTH / picture.width)
        picture = picture.resize((MIN_WIDTH, height), Image.Resampling.BICUBIC)
    width = picture.width
    size = max(12, width // 55)
    font = ImageFont.load_default(size=size)
    while size > 10 and max(font.getlength(line) for line in lines) > width - size:
        size -= 1
        font = ImageFont.load_default(size=size)
    line_height = round(size * 1.35)
    banner = Image.new("RGB", (width, line_height * len(lines) + size), (0, 0, 0))
    draw = ImageDraw.Draw(banner)
    for index, line in enumerate(lines):
        colour = (255, 220, 0) if index == len(lines) - 1 else (255, 255, 255)
        draw.text((size // 2, size // 2 + index * line_height), line, fill=colour, font=font)
    return np.ascontiguousarray(np.vstack([np.asarray(banner), np.asarray(picture)]))


def secondary_capture(
    source: Dataset, prediction: Prediction, model: ModelIdentity, overlay_rgb: np.ndarray,
    review: Review | None = None,
) -> hd.sc.SCImage:
    """The SC image of ``source`` (a dataset with the film's header) with the overlay and
    verdict burned in."""
    _check(source, prediction)
    pixels = burn_in(overlay_rgb, banner_lines(prediction, model, review))
    orientation = source.get("PatientOrientation")
    image = hd.sc.SCImage.from_ref_dataset(
        source, pixels, "RGB", 8, "PATIENT",
        series_instance_uid=_series_uid(source, "sc"), series_number=SC_SERIES_NUMBER,
        sop_instance_uid=generate_uid(), instance_number=_instance_number(source),
        manufacturer=MANUFACTURER,
        # highdicom insists on an orientation for a PATIENT image; the film's is used below
        patient_orientation=("L", "F"),
        series_description="pneumo_desktop result image (derived, not for diagnosis)",
        software_versions=__version__, manufacturer_model_name=model.name,
        transfer_syntax_uid=ExplicitVRLittleEndian,
    )
    # Patient Orientation is type 2 here: the film's own, or empty when the film has none
    # (a guess would put the patient's left on the wrong side).
    image.PatientOrientation = list(orientation) if orientation else None
    # The film is a chest X-ray (the model read it as one): an unpaired body part, so no
    # Laterality (type 2C).
    image.BodyPartExamined = source.get("BodyPartExamined") or "CHEST"
    image.BurnedInAnnotation = "YES"
    image.LossyImageCompression = "00"
    image.ImageComments = NOT_FOR_DIAGNOSIS.capitalize()
    image.DerivationDescription = (
        f"Grad-CAM overlay and screening result of {model.name} {model.version} burned into "
        "the original film; not for diagnosis on its own"
    )[:1024]
    image.SourceImageSequence = [_reference(source)]
    return image


def _reference(source: Dataset) -> Dataset:
    item = Dataset()
    item.ReferencedSOPClassUID = source.SOPClassUID
    item.ReferencedSOPInstanceUID = source.SOPInstanceUID
    return item


# --------------------------------------------------------------------------- Structured Report


def structured_report(
    source: Dataset, prediction: Prediction, model: ModelIdentity,
    review: Review | None = None,
) -> hd.sr.ComprehensiveSR:
    """A TID 1500 Comprehensive SR of the verdict on ``source``."""
    _check(source, prediction)
    sr = hd.sr
    device = sr.ObserverContext(
        observer_type=codes.DCM.Device,
        observer_identifying_attributes=sr.DeviceObserverIdentifyingAttributes(
            uid=generate_uid(entropy_srcs=[model.sha256]), name=MANUFACTURER,
            manufacturer_name=MANUFACTURER, model_name=f"{model.name} {model.version}",
        ),
    )
    person = None
    if review is not None and review.reviewer:
        person = sr.ObserverContext(
            observer_type=codes.DCM.Person,
            observer_identifying_attributes=sr.PersonObserverIdentifyingAttributes(
                name=review.reviewer),
        )
    algorithm = sr.AlgorithmIdentification(
        name=model.name, version=model.version, manufacturer=MANUFACTURER,
        parameters=[f"model sha256 {model.sha256}",
                    f"operating threshold {prediction.threshold:.6f} "
                    f"({prediction.threshold_source.value})"],
    )
    unitless = codes.UCUM.NoUnits
    measurements = [
        sr.Measurement(name=codes.DCM.Probability, value=round(prediction.probability, 6),
                       unit=unitless),
        sr.Measurement(name=codes.DCM.ThresholdValue, value=round(prediction.threshold, 6),
                       unit=unitless),
    ]
    pneumonia_found = prediction.verdict is Verdict.PNEUMONIA
    evaluations = [
        sr.QualitativeEvaluation(PNEUMONIA, codes.DCM.Present if pneumonia_found
                                 else codes.DCM.Absent),
        sr.QualitativeEvaluation(TRIAGE_BAND, BAND_CODES[prediction.band]),
        sr.QualitativeEvaluation(THRESHOLD_SOURCE, SOURCE_CODES[prediction.threshold_source]),
    ]
    if review is not None:
        evaluations.append(sr.QualitativeEvaluation(RADIOLOGIST_REVIEW, REVIEW_CODES[review.mark]))
        if review.label is not None:
            evaluations.append(sr.QualitativeEvaluation(
                RADIOLOGIST_LABEL, codes.DCM.Present if review.label is Verdict.PNEUMONIA
                else codes.DCM.Absent))
    group = sr.MeasurementsAndQualitativeEvaluations(
        tracking_identifier=sr.TrackingIdentifier(
            uid=generate_uid(), identifier="Pneumonia screening"),
        finding_type=PNEUMONIA,
        finding_sites=[sr.FindingSite(codes.SCT.Lung)],
        algorithm_id=algorithm,
        measurements=measurements,
        qualitative_evaluations=evaluations,
        source_images=[sr.SourceImageForMeasurementGroup.from_source_image(source)],
    )
    if review is not None and review.note:
        group[0].ContentSequence.append(sr.TextContentItem(
            name=codes.DCM.Comment, value=review.note[:1024],
            relationship_type=sr.RelationshipTypeValues.CONTAINS))
    report = sr.MeasurementReport(
        observation_context=sr.ObservationContext(
            observer_person_context=person, observer_device_context=device),
        procedure_reported=CHEST_XRAY,
        imaging_measurements=[group],
    )
    return sr.ComprehensiveSR(
        evidence=[source], content=report[0],
        series_instance_uid=_series_uid(source, "sr"), series_number=SR_SERIES_NUMBER,
        sop_instance_uid=generate_uid(), instance_number=_instance_number(source),
        manufacturer=MANUFACTURER, is_complete=True,
        series_description="pneumo_desktop screening result (not for diagnosis on its own)",
        coding_schemes=[_LOCAL_SCHEME_ITEM],
    )
