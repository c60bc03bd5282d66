"""PyInstaller hook: highdicom reads its DICOM standard tables (``_standard/*.json``) and its
sRGB ICC profile with ``pkgutil.get_data``: data files, which import analysis does not see."""

from PyInstaller.utils.hooks import collect_data_files

datas = collect_data_files("highdicom", includes=["_standard/*.json", "_icc_profiles/*.icc"])
