"""PyInstaller hook: pylibjpeg and the decoder plugins it finds through entry points.

pylibjpeg discovers its plugins (pylibjpeg-openjpeg for JPEG 2000, pylibjpeg-rle) with
``importlib.metadata.entry_points``, which reads the packages' ``dist-info`` folders: a frozen
app needs that metadata, and the plugin modules, which nothing imports by name. Every
installed plugin is collected except pylibjpeg-libjpeg, which is GPL-3 and must not ship.
"""

from importlib import metadata

from PyInstaller.utils.hooks import copy_metadata

NOT_SHIPPED = {"pylibjpeg-libjpeg"}  # GPL-3: JPEG lossless/JPEG-LS come from python-gdcm

datas = copy_metadata("pylibjpeg")
hiddenimports = []
excludedimports = ["libjpeg"]
for distribution in metadata.distributions():
    name = distribution.metadata["Name"]
    if name in NOT_SHIPPED:
        continue
    plugins = [e for e in distribution.entry_points if e.group.startswith("pylibjpeg.")]
    if plugins:
        datas += copy_metadata(name)
        hiddenimports += sorted({entry.module for entry in plugins})
