"""Before Qt opens a window: can it load its platform plugin? If not, say what to install.

On Linux, Qt draws through a platform plugin (xcb for X11, wayland) that links system libraries
the PySide6 wheel and the installer do not carry (``libxcb-cursor0``, ``libxcb-icccm4``, …).
When one is missing Qt prints a developer's message and *aborts the process*, so nothing can be
caught after ``QApplication(...)``: the check has to run before it. It loads the plugin the way
Qt would (``dlopen``), and when that fails names the Debian/Ubuntu packages to install.

``QT_SYSTEM_LIBRARIES`` is the one list of those libraries: the README's ``apt-get install``
line, ``.ci/run``, the installer's exclusions and the ``.deb``'s dependencies are checked
against it by the tests. This module imports no Qt at import time (the packaging code reads the
list with a bare Python).
"""

from __future__ import annotations

import ctypes
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

logger = logging.getLogger(__name__)

# Every library that the Qt the app uses (Core, Gui, Widgets, Network's local sockets for one
# app at a time, and the plugins the installer keeps: xcb and Wayland platforms, input methods,
# the desktop portal) links and the PySide6 wheel does not ship, with the Debian/Ubuntu package
# that provides it (glibc, libstdc++, zlib and zstd aside: every system has them).
# tests/packaging/test_platform_check.py reads their ELF dependencies and fails when PySide6
# starts needing one that is not here.
QT_SYSTEM_LIBRARIES: dict[str, str] = {
    "libEGL.so.1": "libegl1",
    "libGL.so.1": "libgl1",
    "libX11.so.6": "libx11-6",
    "libX11-xcb.so.1": "libx11-xcb1",
    "libbrotlicommon.so.1": "libbrotli1",
    "libbrotlidec.so.1": "libbrotli1",
    "libdbus-1.so.3": "libdbus-1-3",
    "libfontconfig.so.1": "libfontconfig1",
    "libfreetype.so.6": "libfreetype6",
    "libglib-2.0.so.0": "libglib2.0-0",
    "libgssapi_krb5.so.2": "libgssapi-krb5-2",
    "libgthread-2.0.so.0": "libglib2.0-0",
    "libwayland-client.so.0": "libwayland-client0",
    "libwayland-cursor.so.0": "libwayland-cursor0",
    "libxcb.so.1": "libxcb1",
    "libxcb-cursor.so.0": "libxcb-cursor0",
    "libxcb-icccm.so.4": "libxcb-icccm4",
    "libxcb-image.so.0": "libxcb-image0",
    "libxcb-keysyms.so.1": "libxcb-keysyms1",
    "libxcb-randr.so.0": "libxcb-randr0",
    "libxcb-render.so.0": "libxcb-render0",
    "libxcb-render-util.so.0": "libxcb-render-util0",
    "libxcb-shape.so.0": "libxcb-shape0",
    "libxcb-shm.so.0": "libxcb-shm0",
    "libxcb-sync.so.1": "libxcb-sync1",
    "libxcb-util.so.1": "libxcb-util1",
    "libxcb-xfixes.so.0": "libxcb-xfixes0",
    "libxcb-xkb.so.1": "libxcb-xkb1",
    "libxkbcommon.so.0": "libxkbcommon0",
    "libxkbcommon-x11.so.0": "libxkbcommon-x11-0",
}

# What the README's first commands need beyond the libraries: Debian's python3 has no venv
# module without it.
SOURCE_INSTALL_PACKAGES = ("python3-venv",)

XCB_PLUGIN = "libqxcb.so"
PLATFORM_UNAVAILABLE_EXIT = 1


def system_packages() -> list[str]:
    """The Debian/Ubuntu packages of ``QT_SYSTEM_LIBRARIES``, sorted, each once."""
    return sorted(set(QT_SYSTEM_LIBRARIES.values()))


def apt_install_line() -> str:
    """The one ``apt-get install`` line the README gives for Linux (and ``.ci/run`` runs)."""
    return "sudo apt-get install -y " + " ".join([*SOURCE_INSTALL_PACKAGES, *system_packages()])


def candidate_platforms(environ: Mapping[str, str]) -> list[str]:
    """The platform plugins Qt will try, in order, as Qt 6 chooses them on Linux.

    ``QT_QPA_PLATFORM`` is a ``;``-separated list, each entry with optional ``:arguments``.
    Unset, Qt tries Wayland first in a Wayland session, else xcb.
    """
    requested = environ.get("QT_QPA_PLATFORM", "").strip()
    if requested:
        return [entry.split(":", 1)[0].strip() for entry in requested.split(";") if entry]
    if environ.get("XDG_SESSION_TYPE") == "wayland":
        return ["wayland", "xcb"]
    return ["xcb"]


def needs_xcb_check(environ: Mapping[str, str]) -> bool:
    """Whether Qt will load the xcb plugin: it is a candidate and no Wayland one comes first
    with a Wayland display to connect to."""
    platforms = candidate_platforms(environ)
    if "xcb" not in platforms:
        return False
    before_xcb = platforms[: platforms.index("xcb")]
    return not ("wayland" in before_xcb and environ.get("WAYLAND_DISPLAY"))


def _plugin_dirs(environ: Mapping[str, str]) -> list[Path]:
    """Where Qt looks for platform plugins: the environment's overrides, then its own path."""
    dirs = [Path(p) for p in environ.get("QT_QPA_PLATFORM_PLUGIN_PATH", "").split(os.pathsep) if p]
    for entry in environ.get("QT_PLUGIN_PATH", "").split(os.pathsep):
        if entry:
            dirs.append(Path(entry) / "platforms")
    from PySide6.QtCore import QLibraryInfo  # the module only: no application, no plugin

    dirs.append(Path(QLibraryInfo.path(QLibraryInfo.LibraryPath.PluginsPath)) / "platforms")
    return dirs


def find_xcb_plugin(environ: Mapping[str, str]) -> Path | None:
    for folder in _plugin_dirs(environ):
        if (folder / XCB_PLUGIN).is_file():
            return folder / XCB_PLUGIN
    return None


def load_error(library: str | os.PathLike) -> str | None:
    """The dynamic loader's message when ``library`` cannot be loaded, else None."""
    try:
        ctypes.CDLL(os.fspath(library))
    except OSError as error:
        return str(error)
    return None


def missing_libraries(
    loader_message: str, load: Callable[[str], str | None] = load_error
) -> list[str]:
    """The system libraries that cannot be loaded: each of ``QT_SYSTEM_LIBRARIES`` that fails
    on its own, and any other that the loader's message names."""
    missing = [name for name in QT_SYSTEM_LIBRARIES if load(name) is not None]
    named = re.findall(r"(lib[\w.+-]+?\.so(?:\.\d+)*)\b", loader_message)
    missing += [name for name in named if name not in missing and name != XCB_PLUGIN]
    return missing


def describe_missing(missing: list[str], loader_message: str) -> str:
    """Plain words for the user: what is wrong and the command that fixes it."""
    known = [name for name in missing if name in QT_SYSTEM_LIBRARIES]
    packages = sorted({QT_SYSTEM_LIBRARIES[name] for name in known})
    unknown = [name for name in missing if name not in QT_SYSTEM_LIBRARIES]
    lines = [
        "Pneumo Desktop cannot open its window: system libraries that Qt needs (to draw on "
        "the screen with X11/xcb, or for its other modules) are missing or damaged:",
        "    " + ", ".join(missing or ["(see the loader's message below)"]),
    ]
    if packages:
        lines += [
            "On Debian or Ubuntu, install them with:",
            "    sudo apt-get install " + " ".join(packages),
            "(other Linux distributions: install the packages that provide these files).",
        ]
    if unknown or not packages:
        lines += [f"The system loader said: {loader_message}"]
    lines += ["The headless scanner (pneumo-scan) and --self-test work without them."]
    return "\n".join(lines)


def qt_import_problem(error: ImportError,
                      load: Callable[[str], str | None] = load_error) -> str | None:
    """What to tell the user when importing a Qt module failed because a shared library could
    not be loaded (the xcb check cannot see those: QtNetwork's ``libgssapi_krb5``, say); None
    for any other ImportError, which stays a bug to report with its traceback."""
    message = str(error)
    if not re.search(r"lib[\w.+-]+?\.so", message):
        return None
    return describe_missing(missing_libraries(message, load), message)


def qt_platform_problem(environ: Mapping[str, str] | None = None) -> str | None:
    """None when Qt can open its window here; else what to tell the user. Linux only."""
    environ = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") or not needs_xcb_check(environ):
        return None
    plugin = find_xcb_plugin(environ)
    if plugin is None:
        return None  # not a layout we know: let Qt report it
    loader_message = load_error(plugin)
    if loader_message is not None:
        return describe_missing(missing_libraries(loader_message), loader_message)
    if not environ.get("DISPLAY"):
        return (
            "Pneumo Desktop cannot open its window: there is no display (DISPLAY is not set). "
            "Start it from a desktop session. The headless scanner (pneumo-scan) and "
            "--self-test work without one."
        )
    return None


def report_platform_problem(message: str) -> int:
    """Tell the user and return the exit status: the log (and stderr, where logging writes when
    there is a terminal; Python's last-resort handler does before logging is configured) and,
    since a program started from the menu has no terminal, a desktop dialog tool if there is
    one. The dialog is left running on its own: the application exits at once."""
    logger.error("%s", message)
    if os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        for command in (
            ["zenity", "--error", "--no-markup", "--text", message],
            ["kdialog", "--error", message],
            ["xmessage", "-center", message],
        ):
            if shutil.which(command[0]):
                subprocess.Popen(  # noqa: S603 - fixed programs, the message as one argument
                    command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                )
                break
    return PLATFORM_UNAVAILABLE_EXIT
