"""DICOM films the tests make: uncompressed (:func:`make_dicom`) and re-encoded in the compressed
transfer syntaxes CR/DR units send (:func:`compress_dicom`). Nothing here is a shipped binary:
every file is written by the test that uses it.

Reusable outside the test suite (e.g. to check decoding from the frozen bundle): it needs only
numpy, pydicom, pylibjpeg-openjpeg (JPEG 2000) and python-gdcm (JPEG Lossless, JPEG-LS).
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import (
    UID,
    ExplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGExtended12Bit,
    JPEGLossless,
    JPEGLosslessSV1,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

CR_IMAGE_STORAGE = UID("1.2.840.10008.5.1.4.1.1.1")

# The lossless syntaxes compress_dicom writes, and the encoder each one uses.
PYDICOM_ENCODED = (RLELossless, JPEG2000Lossless)  # Dataset.compress (JPEG 2000: openjpeg)
GDCM_ENCODED = (JPEGLosslessSV1, JPEGLossless, JPEGLSLossless)  # ImageChangeTransferSyntax
LOSSLESS_SYNTAXES = (JPEGLosslessSV1, JPEGLossless, JPEGLSLossless, JPEG2000Lossless, RLELossless)


def make_dicom(
    path: Path | None,
    stored: np.ndarray | None,
    *,
    photometric: str = "MONOCHROME2",
    syntax: UID = ExplicitVRLittleEndian,
    pixel_data: bytes | None = None,
    preamble: bool = True,
    **attrs,
) -> bytes:
    """A CR film of ``stored`` pixels (uint8 -> 8 bits stored, uint16 -> 12, int16 -> signed
    16); ``attrs`` set or override any element by keyword. Written to ``path`` when given."""
    meta = FileMetaDataset()
    meta.TransferSyntaxUID = syntax
    meta.MediaStorageSOPClassUID = CR_IMAGE_STORAGE
    meta.MediaStorageSOPInstanceUID = generate_uid()
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.PatientName, ds.PatientID, ds.PatientSex = "Doe^Jane", "P-0042", "F"
    ds.StudyDate, ds.StudyTime, ds.StudyID, ds.Modality = "20240131", "101500", "1", "CR"
    ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
    ds.SeriesNumber, ds.InstanceNumber = 1, 1
    ds.BodyPartExamined, ds.ViewPosition = "CHEST", "PA"
    if stored is not None:
        ds.Rows, ds.Columns = stored.shape[:2]
        ds.SamplesPerPixel = 1 if stored.ndim == 2 else stored.shape[2]
        ds.PhotometricInterpretation = photometric
        ds.BitsAllocated = stored.dtype.itemsize * 8
        signed = stored.dtype.kind == "i"
        ds.BitsStored = 8 if ds.BitsAllocated == 8 else 16 if signed else 12
        ds.HighBit = ds.BitsStored - 1
        ds.PixelRepresentation = int(signed)
        if ds.SamplesPerPixel == 3:
            ds.PlanarConfiguration = 0
        ds.PixelData = stored.tobytes() if pixel_data is None else pixel_data
        if syntax.is_private or syntax.is_compressed:  # private: unknown to pydicom
            ds["PixelData"].VR = "OB"
    for key, value in attrs.items():
        setattr(ds, key, value)
    buf = io.BytesIO()
    if preamble:
        ds.save_as(buf, enforce_file_format=True)
    else:  # bare dataset, no preamble and no file meta, as old modalities wrote them
        del ds.file_meta
        pydicom.dcmwrite(buf, ds, implicit_vr=True, little_endian=True)
    if path is not None:
        path.write_bytes(buf.getvalue())
    return buf.getvalue()


def compress_dicom(data: bytes, syntax: UID) -> bytes:
    """Re-encode the uncompressed DICOM file ``data`` in ``syntax``, losslessly for
    :data:`LOSSLESS_SYNTAXES` (and JPEG Extended, which gdcm writes for tests of the refusal).
    The result is checked to carry ``syntax``: an encoder that silently did nothing would make
    a decoding test pass without decoding anything."""
    if syntax in PYDICOM_ENCODED:
        ds = pydicom.dcmread(io.BytesIO(data))
        ds.compress(syntax)
        buf = io.BytesIO()
        ds.save_as(buf, enforce_file_format=True)
        encoded = buf.getvalue()
    elif syntax in (*GDCM_ENCODED, JPEGExtended12Bit):
        encoded = _gdcm_change_syntax(data, syntax)
    else:
        raise ValueError(f"no test encoder for {syntax.name}")
    written = pydicom.dcmread(io.BytesIO(encoded), stop_before_pixels=True)
    if written.file_meta.TransferSyntaxUID != syntax:
        raise RuntimeError(f"encoder wrote {written.file_meta.TransferSyntaxUID.name}")
    return encoded


def _gdcm_change_syntax(data: bytes, syntax: UID) -> bytes:
    import gdcm  # python-gdcm; imported here so the other helpers work without it

    target = {
        JPEGLosslessSV1: gdcm.TransferSyntax.JPEGLosslessProcess14_1,
        JPEGLossless: gdcm.TransferSyntax.JPEGLosslessProcess14,
        JPEGLSLossless: gdcm.TransferSyntax.JPEGLSLossless,
        JPEGExtended12Bit: gdcm.TransferSyntax.JPEGExtendedProcess2_4,
    }[syntax]
    # gdcm reads and writes files by name (no Python streams).
    with tempfile.TemporaryDirectory() as folder:
        source, target_path = os.path.join(folder, "in.dcm"), os.path.join(folder, "out.dcm")
        Path(source).write_bytes(data)
        reader = gdcm.ImageReader()
        reader.SetFileName(source)
        if not reader.Read():
            raise RuntimeError("gdcm could not read the source film")
        change = gdcm.ImageChangeTransferSyntax()
        change.SetTransferSyntax(gdcm.TransferSyntax(target))
        change.SetInput(reader.GetImage())
        if not change.Change():
            raise RuntimeError(f"gdcm could not encode {syntax.name}")
        writer = gdcm.ImageWriter()
        writer.SetFileName(target_path)
        writer.SetFile(reader.GetFile())
        writer.SetImage(change.GetOutput())
        if not writer.Write():
            raise RuntimeError("gdcm could not write the encoded film")
        return Path(target_path).read_bytes()
