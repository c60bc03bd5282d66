"""What the PyInstaller bundle leaves out, and how its libraries are stripped.

``build.spec`` runs PyInstaller's analysis and then calls these functions on its lists of
``(destination, source, kind)`` entries. They are plain functions over those lists so that
tests can run them on made-up entries (``tests/packaging/test_spec_rules.py``).

The rule throughout: the bundle holds what the app loads and nothing else. Qt modules and
plugins it does not use, test suites, other GUI toolkits and training-only libraries are left
out; system libraries of the desktop (X11/xcb, EGL, fontconfig, …) come from the operating
system, as the ``.deb`` declares (``pneumo_desktop.platform_check.QT_SYSTEM_LIBRARIES``).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePath

from pneumo_desktop.core.card import sha256_of
from pneumo_desktop.platform_check import QT_SYSTEM_LIBRARIES
from pneumo_packaging.project import cache_key

Entry = tuple[str, str, str]  # PyInstaller TOC entry: (destination, source, kind)

# Qt modules the app does not import (it uses QtCore, QtGui, QtWidgets, and QtNetwork's local
# sockets for one app at a time; grep "PySide6\.Qt" pneumo_desktop/). Excluding the Python
# modules keeps their hooks from collecting their Qt libraries, plugins and QML files.
UNUSED_QT_MODULES = (
    "Qt3DAnimation", "Qt3DCore", "Qt3DExtras", "Qt3DInput", "Qt3DLogic", "Qt3DRender",
    "QtAxContainer", "QtBluetooth", "QtCharts", "QtConcurrent", "QtDataVisualization",
    "QtDBus", "QtDesigner", "QtGraphs", "QtGraphsWidgets", "QtHelp", "QtHttpServer",
    "QtLabsStyleKit", "QtLocation", "QtMultimedia", "QtMultimediaWidgets",
    "QtNetworkAuth", "QtNfc", "QtOpenGL", "QtOpenGLWidgets", "QtPdf", "QtPdfWidgets",
    "QtPositioning", "QtPrintSupport", "QtQml", "QtQmlFeatures", "QtQuick", "QtQuick3D",
    "QtQuickControls2", "QtQuickTest", "QtQuickWidgets", "QtRemoteObjects", "QtScxml",
    "QtSensors", "QtSerialBus", "QtSerialPort", "QtSpatialAudio", "QtSql", "QtStateMachine",
    "QtSvg", "QtSvgWidgets", "QtTest", "QtTextToSpeech", "QtUiTools", "QtWebChannel",
    "QtWebEngineCore", "QtWebEngineQuick", "QtWebEngineWidgets", "QtWebSockets", "QtWebView",
    "QtXml",
)  # fmt: skip

# Parts of scikit-learn, scikit-image and SciPy that nothing the app runs imports (LIME,
# SLIC superpixels, the calibration's statistics and ROC, the overlays; checked by
# tests/packaging/test_unused_subpackages.py), though PyInstaller's analysis follows
# their mentions: ~12 MiB.
UNUSED_SUBPACKAGES = (
    "sklearn.cluster", "sklearn.datasets", "sklearn.decomposition", "sklearn.ensemble",
    "sklearn.feature_extraction", "sklearn.manifold", "sklearn.neighbors", "sklearn.tree",
    "skimage.feature", "skimage.metrics", "skimage.restoration", "skimage.transform",
    "scipy.signal",
)  # fmt: skip

# Python packages the app never imports at run time although something it imports mentions
# them (optional imports that PyInstaller follows).
EXCLUDED_PACKAGES = (
    # Other GUI toolkits: the app is PySide6 only (tkinter is also ~5 MB of Tcl/Tk).
    "tkinter", "_tkinter", "PyQt5", "PyQt6", "PySide2", "wx", "gi",
    # Interactive and development tools.
    "IPython", "ipykernel", "jupyter_client", "notebook", "pytest", "_pytest", "pytestqt",
    "importlinter", "grimp", "pyvirtualdisplay", "PyInstaller", "setuptools", "pkg_resources",
    # Training and model export: the app only reads the files they wrote to models/ (the
    # import-linter contracts keep it that way).
    "training", "pneumo_packaging", "tensorflow", "keras", "tf_keras", "tensorboard",
    "tensorboard_data_server", "tf2onnx", "onnx", "h5py", "ml_dtypes", "optree",
    # Other deep-learning frameworks that optional imports mention, and CUDA wheels.
    "jax", "jaxlib", "flax", "torch", "openvino", "nvidia",
    # pynetdicom's example applications (the app has its own receiver) and test suite.
    "pynetdicom.apps", "pynetdicom.tests",
    # Parts of onnxruntime for building and tuning models, not running them.
    "onnxruntime.transformers", "onnxruntime.quantization", "onnxruntime.tools",
    "onnxruntime.training",
    # HTTP clients: the app works offline (pydicom imports requests, optionally, only to
    # download its own test files; matplotlib certifi only to read images from URLs).
    "requests", "urllib3", "charset_normalizer", "idna", "certifi",
    # Pillow formats the app does not read (it reads JPEG, PNG, BMP, TIFF and DICOM; AVIF
    # alone is 5 MB of codec), and Pillow's Tk bridge.
    "PIL._avif", "PIL.AvifImagePlugin", "PIL._webp", "PIL.WebPImagePlugin", "PIL._imagingtk",
    "PIL.ImageTk",
    # Optional data-frame support in sklearn/skimage; the app passes numpy arrays.
    "pandas", "polars", "pyarrow", "dask",
    # matplotlib's GUI backends (hooksconfig in build.spec also limits the backends collected).
    "matplotlib.backends.backend_qtagg", "matplotlib.backends.backend_qt",
    "matplotlib.backends.backend_tkagg", "matplotlib.backends.backend_webagg",
    "matplotlib.tests", "mpl_toolkits.mplot3d.tests",
    *UNUSED_SUBPACKAGES,
)  # fmt: skip

# Test-suite folders. Not "testing" (numpy.testing and the like are imported at run time), and
# no file-name rule: scipy.stats._bws_test is a module scipy.stats imports.
TEST_FOLDERS = frozenset({"tests"})


def test_modules(package: str) -> list[str]:
    """Module names of a package's test suites (its ``tests`` folders), found on disk without
    importing the package; [] when it is not installed. Some hooks collect every submodule,
    these included, and they pull in pytest."""
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return []
    base = Path(list(spec.submodule_search_locations)[0])
    found = []
    for folder, dirs, _files in os.walk(base):
        rel = Path(folder).relative_to(base.parent)
        for name in sorted(dirs):
            if name in TEST_FOLDERS:
                found.append(".".join((*rel.parts, name)))
                dirs.remove(name)
    return found


def excluded_modules(packages_with_tests: Iterable[str] = ("scipy", "skimage", "sklearn")):
    """PyInstaller's ``excludes``: the packages above, unused Qt modules, and test suites."""
    excluded = list(EXCLUDED_PACKAGES)
    for package in packages_with_tests:
        excluded += test_modules(package)
    excluded += [f"PySide6.{name}" for name in UNUSED_QT_MODULES]
    return excluded


# --------------------------------------------------------------------------------------- Qt

# Plugins kept, by folder; a folder absent here is dropped whole:
#  platforms: how Qt talks to the display: xcb (X11) and wayland on Linux, windows on
#    Windows, cocoa on macOS, offscreen for headless runs (--self-test on a server, CI).
#    Dropped: eglfs/linuxfb/vnc/vkkhrdisplay/minimal (embedded devices; vnc needs QtNetwork).
#  platformthemes: xdgdesktopportal gives native file dialogs on GNOME/KDE/Flatpak; the gtk3
#    theme is dropped (it pulls GTK 3, cairo, pango and harfbuzz into the bundle).
#  platforminputcontexts: compose keys and ibus input methods (typing in file dialogs); not
#    the virtual keyboard, which is Qt Quick.
#  styles: on Windows the native look (qmodernwindowsstyle) is a plugin.
#  wayland-shell-integration: xdg-shell is how every current compositor places windows (the
#    others are for embedded/IVI systems); wayland-decoration-client: bradient draws the
#    title bar where the compositor does not (adwaita needs QtSvg).
#  Dropped: xcbglintegrations and wayland-graphics-integration-client (OpenGL surfaces: the
#    app's widgets and QGraphicsView paint with the raster engine), imageformats (the app
#    decodes images with Pillow/pydicom; Qt's built-in PNG reader shows the model card's
#    plots), iconengines (SVG icons: needs QtSvg), generic (touch/tuio: needs QtNetwork),
#    egldeviceintegrations (eglfs), tls/networkinformation (QtNetwork), accessiblebridge.
_LIB = r"\.(so|dll|dylib)$"
QT_PLUGIN_KEEP = {
    "platforms": re.compile(r"^(lib)?q(xcb|wayland|offscreen|windows|cocoa)" + _LIB),
    "platformthemes": re.compile(r"^(lib)?qxdgdesktopportal" + _LIB),
    "platforminputcontexts": re.compile(r"^(lib)?(compose|ibus)platforminputcontextplugin" + _LIB),
    "styles": re.compile(r".*"),
    "wayland-shell-integration": re.compile(r"^(lib)?xdg-shell" + _LIB),
    "wayland-decoration-client": re.compile(r"^(lib)?bradient" + _LIB),
}

# Qt libraries of modules the app does not use. Any that a kept binary still links is put back
# by prune(), so a PySide6 upgrade cannot break the bundle, only make it bigger.
QT_LIB_DROP = re.compile(
    r"^(lib)?Qt6(Qml\w*|Quick\w*|Pdf\w*|Svg\w*|OpenGL\w*|Sql|Test|Designer\w*|"
    r"WebEngine\w*|WebChannel\w*|WebSockets|3D\w*|Charts\w*|Multimedia\w*|Xml|PrintSupport|"
    r"Concurrent|EglFS\w*|VirtualKeyboard\w*|Graphs\w*|DataVisualization\w*|ShaderTools|"
    r"Positioning\w*|Location|Sensors\w*|SerialPort|Bluetooth|Nfc|TextToSpeech|"
    r"StateMachine\w*|Scxml\w*|RemoteObjects\w*|SpatialAudio|HttpServer|Help|UiTools|"
    r"Labs\w*|Lottie\w*|WlShellIntegration|WaylandEgl\w*|WaylandCompositor\w*)\b",
    re.IGNORECASE,
)

# Windows: the software OpenGL renderer (opengl32sw.dll, ~20 MB) and ANGLE/Direct3D shader
# compiler DLLs serve OpenGL/Qt Quick only; the app's widgets paint with the raster engine.
QT_WINDOWS_GL_DROP = re.compile(r"^(opengl32sw|d3dcompiler_\d+|libEGL|libGLESv2)\.dll$", re.I)


def qt_parts(dest: str) -> tuple[str, ...] | None:
    """The path parts after PySide6/ (``plugins/platforms/libqxcb.so``); None outside it."""
    parts = PurePath(dest).parts
    if not parts or parts[0] != "PySide6":
        return None
    rest = parts[1:]
    if rest[:1] == ("Qt",):  # Linux/macOS wheels: PySide6/Qt/{lib,plugins,translations}
        rest = rest[1:]
    return rest


def keep_qt(dest: str) -> bool:
    """Whether a file under PySide6/ belongs in the bundle (True for every other file)."""
    rest = qt_parts(dest)
    if rest is None:
        return True
    if rest[:1] == ("translations",):
        return False  # the app is English and installs no QTranslator
    if rest[:1] in (("qml",), ("resources",), ("libexec",)):
        return False  # QML modules, WebEngine resources and helper process
    if rest[:1] == ("plugins",) and len(rest) >= 3:
        keep = QT_PLUGIN_KEEP.get(rest[1])
        return bool(keep and keep.match(rest[-1]))
    return not (QT_LIB_DROP.match(rest[-1]) or QT_WINDOWS_GL_DROP.match(rest[-1]))


# ------------------------------------------------------------------------- other libraries

# Libraries the operating system provides. Qt's (X11/xcb, EGL, fontconfig, freetype, glib,
# dbus) come from the one list the .deb depends on and the README installs: a copy from the
# build machine would be loaded beside the system's own graphics stack. The C++ runtime too:
# the system's is as new as the system's graphics drivers need (a bundled older libstdc++
# makes Mesa fail with "GLIBCXX_3.4.xx not found" on newer distributions).
SYSTEM_LIBRARIES = frozenset({*QT_SYSTEM_LIBRARIES, "libstdc++.so.6", "libgcc_s.so.1"})

# onnxruntime's wheel carries its C API library beside the Python module, which does not link
# it (the module embeds the runtime): 34 MB the app never loads.
UNUSED_LIBRARY = re.compile(r"^libonnxruntime\.so(\.\d+)*$")


def system_library(dest: str) -> bool:
    return PurePath(dest).name in SYSTEM_LIBRARIES


def unused_library(dest: str) -> bool:
    return not keep_qt(dest) or bool(UNUSED_LIBRARY.match(PurePath(dest).name))


@dataclass
class Pruned:
    """The lists after prune(), and what it did (for build.spec's log)."""

    binaries: list[Entry]
    datas: list[Entry]
    removed: set[str] = field(default_factory=set)  # destinations
    restored: set[str] = field(default_factory=set)  # library names put back
    orphans: set[str] = field(default_factory=set)  # library names only removed ones linked


def _closure(roots: Iterable[Entry], by_name: dict[str, Entry], imports_of) -> set[str]:
    """Names of the bundled libraries that the roots link, directly or through each other."""
    seen: set[str] = set()
    todo = list(roots)
    while todo:
        for name in imports_of(todo.pop()[1]):
            if name in by_name and name not in seen:
                seen.add(name)
                todo.append(by_name[name])
    return seen


def _is_library(entry: Entry) -> bool:
    return entry[2] in ("BINARY", "EXTENSION")


def _symlink_target(entry: Entry) -> str:
    return os.path.normpath(os.path.join(os.path.dirname(entry[0]), entry[1]))


def prune(
    binaries: list[Entry],
    datas: list[Entry],
    imports_of: Callable[[str], Iterable[str]],
    unused: Callable[[str], bool] = unused_library,
    system: Callable[[str], bool] = system_library,
    system_dependencies: Iterable[str] = (),
) -> Pruned:
    """Remove unused and system libraries, and what only they needed.

    ``imports_of(source)`` gives the base names of the libraries a binary links directly (ELF
    ``NEEDED``, PE imports). An *unused* library that a kept binary still links comes back (a
    Qt upgrade can make the bundle bigger, never broken); a *system* one never does: the
    system provides it, with its own dependencies. Libraries that only the removed ones need go
    too: the gtk3 theme's GTK and cairo, and what the system libraries link
    (``system_dependencies``: names, e.g. libxcb's libXau, found on the build machine), unless
    a kept binary links them itself. Extension modules always stay (Python imports them), and
    so do symbolic links unless they point at something removed.
    """
    dropped = [e for e in binaries if unused(e[0]) or system(e[0])]
    dropped_names = {PurePath(e[0]).name for e in dropped}
    system_names = {PurePath(e[0]).name for e in dropped if system(e[0])}
    kept = [e for e in binaries if e not in dropped]
    by_name = {PurePath(e[0]).name: e for e in binaries if _is_library(e)}
    kept_by_name = {name: e for name, e in by_name.items() if name not in system_names}
    # Candidates for removal: what the dropped files link, directly or not, and what the
    # system's libraries link. The other kept binaries are the roots; their dependencies are
    # followed inside the bundle, never through a system library.
    candidates = _closure(dropped, by_name, imports_of) | (set(system_dependencies) & set(by_name))
    candidates -= {name for name, e in by_name.items() if e[2] == "EXTENSION"}
    roots = [e for e in kept if PurePath(e[0]).name not in candidates]
    needed_by_kept = _closure(roots, kept_by_name, imports_of)
    restored = (dropped_names - system_names) & needed_by_kept
    orphans = candidates - needed_by_kept - dropped_names
    removed = {e[0] for e in dropped if PurePath(e[0]).name not in restored}
    removed |= {e[0] for e in binaries if PurePath(e[0]).name in orphans}

    def dangles(entry: Entry) -> bool:
        # PyInstaller links top-level names to libraries in package folders (these links are
        # in datas, of kind SYMLINK): a link to a removed library would dangle.
        return entry[2] == "SYMLINK" and _symlink_target(entry) in removed

    removed_data = {e[0] for e in datas if not keep_data(e[0]) or dangles(e)}
    return Pruned(
        binaries=[e for e in binaries if e[0] not in removed and not dangles(e)],
        datas=[e for e in datas if e[0] not in removed_data],
        removed=removed | removed_data,
        restored=restored,
        orphans=orphans,
    )


def system_dependencies(
    resolve: Callable[[str], str | None], imports_of: Callable[[str], Iterable[str]]
) -> set[str]:
    """Names of every library the system libraries link, directly or not, as the build
    machine resolves them (``resolve(name)`` gives a path, or None when not installed)."""
    seen: set[str] = set()
    todo = sorted(SYSTEM_LIBRARIES)
    while todo:
        path = resolve(todo.pop())
        for name in imports_of(path) if path else ():
            if name not in seen:
                seen.add(name)
                todo.append(name)
    return seen


# ------------------------------------------------------------------------------ data files

# matplotlib draws the PDF report's text in DejaVu Sans and nothing else: its other fonts
# (STIX and Computer Modern for mathematics, DejaVu Serif and Mono), the sample data and the
# GUI toolbar's icons are ~7 MB the app never reads.
MPL_DATA_DROP = re.compile(
    r"^matplotlib/mpl-data/(sample_data/|images/|"
    r"fonts/ttf/(STIX|cm|DejaVuSerif|DejaVuSansMono))"
)


def keep_data(dest: str) -> bool:
    """Whether a data file belongs in the bundle."""
    if not keep_qt(dest):
        return False
    posix = PurePath(dest).as_posix()
    if any(posix.startswith(package.replace(".", "/") + "/") for package in UNUSED_SUBPACKAGES):
        return False  # data of a part left out (sklearn.datasets' tables)
    return not MPL_DATA_DROP.match(posix)


# ------------------------------------------------------------------------------ JSON tables

MINIFY_MIN_BYTES = 1 << 20


def minify_json_datas(datas: list[Entry], cache: Path) -> tuple[list[Entry], int]:
    """The data entries with large JSON files replaced by minified copies (same content, no
    indentation: highdicom's 23 MB table of the DICOM standard's modules is 16 MB without
    it); and the bytes saved. Copies are cached in ``cache`` like stripped libraries."""
    cache.mkdir(parents=True, exist_ok=True)
    result, saved = [], 0
    for dest, src, kind in datas:
        if kind == "DATA" and src.endswith(".json") and os.path.getsize(src) >= MINIFY_MIN_BYTES:
            out = cache / f"{cache_key(src)}-{PurePath(src).name}"
            if not out.exists():
                with open(src, encoding="utf-8") as handle:
                    content = json.load(handle)
                partial = out.with_name(out.name + ".tmp")
                partial.write_text(
                    json.dumps(content, separators=(",", ":"), ensure_ascii=False),
                    encoding="utf-8",
                )
                os.replace(partial, out)
            saved += os.path.getsize(src) - out.stat().st_size
            src = str(out)
        result.append((dest, src, kind))
    return result, saved


# ------------------------------------------------------------------------- duplicate files


def link_duplicates(binaries: list[Entry]) -> tuple[list[Entry], list[Entry], int]:
    """Libraries shipped twice under one name with the same bytes (NumPy's and SciPy's wheels
    both carry the same libgfortran and libquadmath): the first copy stays, each later one
    becomes a relative symbolic link to it. Returns the binaries, the links (PyInstaller's
    ``SYMLINK`` entries, for the data list) and the bytes saved."""
    first: dict[tuple[str, str], str] = {}  # (name, content hash) -> destination kept
    kept, links, saved = [], [], 0
    for dest, src, kind in binaries:
        if kind == "BINARY" and os.path.isfile(src) and not os.path.islink(src):
            key = (PurePath(dest).name, sha256_of(Path(src)))
            if key in first:
                target = os.path.relpath(first[key], os.path.dirname(dest) or ".")
                links.append((dest, PurePath(target).as_posix(), "SYMLINK"))
                saved += os.path.getsize(src)
                continue
            first[key] = dest
        kept.append((dest, src, kind))
    return kept, links, saved


# --------------------------------------------------------------------------------- stripping

STRIP_MIN_BYTES = 1 << 20


def should_strip(dest: str, size: int) -> bool:
    """Large libraries with symbol tables worth removing, except those in ``*.libs`` folders:
    auditwheel edited those with patchelf, and strip can break such files."""
    parts = PurePath(dest).parts
    return size >= STRIP_MIN_BYTES and not any(part.endswith(".libs") for part in parts[:-1])


def strip_binaries(
    binaries: list[Entry],
    cache: Path,
    strip_tool: str,
    wanted: Callable[[str, int], bool] = should_strip,
) -> tuple[list[Entry], int]:
    """The binaries with the wanted ones replaced by stripped copies (cached in ``cache`` by
    source path, size and time, so a rebuild does not strip again); and the bytes saved.

    Only the static symbol table goes (``--strip-all`` keeps the dynamic symbols the loader
    needs), as in any distribution's packages. PyInstaller's own ``strip=True`` is not used: it
    strips every binary, the patchelf-edited ones included.
    """
    cache.mkdir(parents=True, exist_ok=True)
    result, saved = [], 0
    for dest, src, kind in binaries:
        size = os.path.getsize(src)
        if _is_library((dest, src, kind)) and wanted(dest, size):
            out = cache / f"{cache_key(src)}-{PurePath(src).name}"
            if not out.exists():
                partial = out.with_name(out.name + ".tmp")
                subprocess.run([strip_tool, "--strip-all", "-o", str(partial), src], check=True)
                os.replace(partial, out)
            saved += size - out.stat().st_size
            src = str(out)
        result.append((dest, src, kind))
    return result, saved
