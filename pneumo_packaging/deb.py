"""The Debian/Ubuntu package: the bundle under /opt, commands on PATH, a menu entry and icon.

    python3 -m pneumo_packaging deb [--bundle dist/pneumo-desktop] [--out dist]

Built with ``dpkg-deb`` from a staging folder. Its dependencies are what the bundle's binaries
link and do not carry, as ``dpkg-shlibdeps`` (dpkg-dev) computes them from the build machine's
packages (with the minimum versions their symbols need: ``libc6 (>= 2.x)`` is the glibc
floor), plus the Qt system libraries the app names when they are missing
(``pneumo_desktop.platform_check``). Every file belongs to the package, so removing it leaves
nothing behind; the menu and icon caches are refreshed by the desktop's own dpkg triggers.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from pneumo_desktop.platform_check import system_packages

from .commands import console_commands
from .elf import is_elf, needed_libraries
from .project import (
    APP_NAME,
    DESKTOP_FILE,
    ICON_PNG,
    SUMMARY,
    BuildError,
    project_version,
)

INSTALL_DIR = Path("/opt") / APP_NAME
ICON_SIZE = 512  # resources/pneumo_desktop.png
MAINTAINER = "pneumo_desktop maintainers"
DESCRIPTION = """\
 Decision support for a radiologist reading paediatric chest X-rays, offline:
 open a film and see the model's verdict, its probability against the operating
 threshold and why (Grad-CAM and LIME overlays); scan a folder at night and work
 down a worklist in the morning. Not a diagnosis: every film is read by the
 radiologist. Commands: pneumo-desktop (the application), pneumo-scan (the
 headless batch scanner), pneumo-receive (a DICOM node for the X-ray unit) and
 pneumo-calibrate (the threshold for this site's films)."""


def deb_architecture() -> str:
    return _run(["dpkg", "--print-architecture"]).strip()


def _run(command: list[str], cwd: Path | None = None) -> str:
    if shutil.which(command[0]) is None:
        raise BuildError(f"{command[0]} not found: sudo apt-get install dpkg-dev")
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if done.returncode != 0:
        raise BuildError(f"{' '.join(command[:2])} … failed:\n{done.stderr[-4000:]}")
    return done.stdout


def parse_shlibs(output: str) -> list[str]:
    """The dependencies in ``dpkg-shlibdeps -O`` output (``shlibs:Depends=a (>= 1), b``)."""
    for line in output.splitlines():
        if line.startswith("shlibs:Depends="):
            return [d.strip() for d in line.split("=", 1)[1].split(",") if d.strip()]
    return []


def package_name(dependency: str) -> str:
    return re.split(r"[\s(:]", dependency.strip(), maxsplit=1)[0]


def merge_depends(computed: list[str], qt_packages: list[str]) -> list[str]:
    """``computed`` with each Qt system package unversioned, and every one of them listed.

    dpkg-shlibdeps takes the minimum versions of libraries without a symbols file from the
    build machine's packages (``libx11-xcb1 (>= 2:1.8.4)`` on Debian 12), higher than what Qt
    needs: the PySide6 wheels are built against an old manylinux baseline, which any system
    with the bundle's glibc provides. The versions that matter, glibc's and the C++ runtime's,
    come from symbols files and are kept."""
    declared = set(qt_packages)
    rest = [d for d in computed if package_name(d) not in declared]
    return sorted([*rest, *declared], key=package_name)


def glibc_floor_of(depends: list[str]) -> str | None:
    """The version in ``libc6 (>= 2.34)``: the oldest glibc the package runs on."""
    for dependency in depends:
        match = re.fullmatch(r"libc6\s*\(>=\s*([\d.]+)[^)]*\)", dependency.strip())
        if match:
            return match.group(1)
    return None


def dpkg_owners(names: set[str]) -> dict[str, str]:
    """The installed package that holds a library of each name, for those the system has."""
    if not names:
        return {}
    done = subprocess.run(
        ["dpkg-query", "-S", *(f"*/{name}" for name in sorted(names))],
        capture_output=True,
        text=True,
    )  # exit status 1 when some name is not found: expected
    owners = {}
    for line in done.stdout.splitlines():
        packages, _, path = line.partition(": ")
        if path and "diversion" not in packages:
            owners.setdefault(Path(path).name, packages.split(",")[0].split(":")[0].strip())
    return owners


def packages_to_exclude(bundled: set[str], needed: set[str], owners: dict[str, str]) -> set[str]:
    """Packages whose libraries the bundle carries itself and needs nothing else from.

    dpkg-shlibdeps, finding no package for a bundled copy (of libssl, libzstd, …), falls back
    to the system's copy and its package: a dependency the bundle does not have, with a
    minimum version that can make the package uninstallable where it would run."""
    carried = {owners[name] for name in bundled if name in owners}
    used = {owners[name] for name in needed - bundled if name in owners}
    return carried - used


def strongest(depends: list[str]) -> list[str]:
    """One entry per package: of several ``pkg (>= v)``, the highest ``v`` (dpkg compares)."""
    chosen: dict[str, str] = {}
    for dependency in depends:
        name = package_name(dependency)
        if name not in chosen or _stronger(dependency, chosen[name]):
            chosen[name] = dependency
    return sorted(chosen.values(), key=package_name)


def _stronger(candidate: str, current: str) -> bool:
    """Whether ``candidate`` asks more than ``current``: a minimum over none, or a higher one."""
    new, old = _minimum(candidate), _minimum(current)
    return new is not None and (old is None or _version_greater(new, old))


def _minimum(dependency: str) -> str | None:
    match = re.fullmatch(r"[^\s(]+\s*\(>=\s*([^)\s]+)\s*\)", dependency.strip())
    return match.group(1) if match else None


def _version_greater(a: str, b: str) -> bool:
    return subprocess.run(["dpkg", "--compare-versions", a, "gt", b]).returncode == 0


def _shlibdeps(elf_files: list[Path], library_dirs: list[Path], exclude: set[str]) -> list[str]:
    with tempfile.TemporaryDirectory() as work:
        # dpkg-shlibdeps reads the source package's control file from the working directory.
        (Path(work) / "debian").mkdir()
        (Path(work) / "debian" / "control").write_text(
            f"Source: {APP_NAME}\n\nPackage: {APP_NAME}\nArchitecture: any\n", encoding="utf-8"
        )
        output = _run(
            [
                "dpkg-shlibdeps", "-O", "--ignore-missing-info",
                *(f"-x{package}" for package in sorted(exclude)),
                *(f"-l{d}" for d in library_dirs), *(f"-e{p}" for p in elf_files),
            ],
            cwd=Path(work),
        )  # fmt: skip
    return parse_shlibs(output)


def shlib_depends(folder: Path) -> list[str]:
    """dpkg-shlibdeps over every ELF file of ``folder``, in one process per core (it takes
    minutes on one). The bundle's own libraries are found through ``-l``; packages that only
    provide copies of them are excluded."""
    elf_files = sorted(p for p in folder.rglob("*") if is_elf(p))
    library_dirs = sorted({p.parent for p in elf_files})
    bundled = {p.name for p in folder.rglob("*.so*")}
    needed = {name for path in elf_files for name in needed_libraries(path)}
    exclude = packages_to_exclude(bundled, needed, dpkg_owners(bundled | needed))
    workers = max(1, min(os.cpu_count() or 1, 8))
    chunks = [elf_files[i::workers] for i in range(workers) if elf_files[i::workers]]
    with ThreadPoolExecutor(len(chunks)) as pool:
        results = pool.map(lambda chunk: _shlibdeps(chunk, library_dirs, exclude), chunks)
        return strongest([d for depends in results for d in depends])


def control_text(version: str, architecture: str, depends: list[str], size_kib: int) -> str:
    return (
        f"Package: {APP_NAME}\n"
        f"Version: {version}\n"
        f"Architecture: {architecture}\n"
        f"Maintainer: {MAINTAINER}\n"
        f"Installed-Size: {size_kib}\n"
        f"Depends: {', '.join(depends)}\n"
        "Section: science\n"
        "Priority: optional\n"
        f"Description: {SUMMARY}\n"
        f"{DESCRIPTION}\n"
    )


def desktop_entry(template: str) -> str:
    """The menu entry with the installed command and icon name."""
    entry = re.sub(r"(?m)^Exec=.*$", f"Exec={APP_NAME} %f", template)
    return re.sub(r"(?m)^Icon=.*$", f"Icon={APP_NAME}", entry)


def _normalise_modes(root: Path) -> None:
    """0755 for folders and programs, 0644 for the rest, whatever the build's umask was."""
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            os.chmod(Path(folder) / name, 0o755)
        for name in files:
            path = Path(folder) / name
            if not path.is_symlink():
                os.chmod(path, 0o755 if path.stat().st_mode & 0o111 else 0o644)


def stage(bundle: Path, root: Path) -> None:
    """The package's file tree under ``root``, without DEBIAN/."""
    if not (bundle / APP_NAME).is_file():
        raise BuildError(f"{bundle / APP_NAME} not found: build the bundle first")
    shutil.copytree(bundle, root / INSTALL_DIR.relative_to("/"), symlinks=True)
    bin_dir = root / "usr" / "bin"
    bin_dir.mkdir(parents=True)
    for command in (APP_NAME, *console_commands()):
        # The program tells the commands apart by the name it is started as.
        (bin_dir / command).symlink_to(INSTALL_DIR / command)
    applications = root / "usr" / "share" / "applications"
    applications.mkdir(parents=True)
    (applications / f"{APP_NAME}.desktop").write_text(
        desktop_entry(DESKTOP_FILE.read_text(encoding="utf-8")), encoding="utf-8"
    )
    icons = root / "usr" / "share" / "icons" / "hicolor" / f"{ICON_SIZE}x{ICON_SIZE}" / "apps"
    icons.mkdir(parents=True)
    shutil.copyfile(ICON_PNG, icons / f"{APP_NAME}.png")
    _normalise_modes(root)


def _size_kib(root: Path) -> int:
    total = sum(p.lstat().st_size for p in root.rglob("*") if not p.is_dir())
    return (total + 1023) // 1024


def build_deb(bundle: Path, out_dir: Path, compression: str = "zstd") -> Path:
    """Build ``<out_dir>/pneumo-desktop_<version>_<arch>.deb`` from the bundle folder.

    zstd by default: every dpkg on a system new enough for the bundle's glibc reads it
    (Debian 12, Ubuntu 22.04 and later), and it compresses the folder in seconds where xz takes
    minutes, for a ~25% larger file."""
    version = project_version()
    architecture = deb_architecture()
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{APP_NAME}_{version}_{architecture}.deb"
    with tempfile.TemporaryDirectory(dir=out_dir) as work:
        root = Path(work) / "root"
        stage(bundle, root)
        computed = shlib_depends(root / INSTALL_DIR.relative_to("/"))
        depends = merge_depends(computed, system_packages())
        floor = glibc_floor_of(depends)
        (root / "DEBIAN").mkdir(mode=0o755)
        (root / "DEBIAN" / "control").write_text(
            control_text(version, architecture, depends, _size_kib(root)), encoding="utf-8"
        )
        _run(["dpkg-deb", "--root-owner-group", f"-Z{compression}", "--build", str(root),
              str(target)])
    print(f"built {target} (glibc floor {floor}; depends: {', '.join(depends)})", flush=True)
    return target

