"""The .deb, the .tar.gz and the Windows installer, built from a small stand-in bundle (fast;
the real bundle's installers are tested in test_bundle.py)."""

from __future__ import annotations

import re
import subprocess
import tarfile
from pathlib import Path

import pytest

from pneumo_desktop.platform_check import system_packages
from pneumo_packaging import deb, nsis, tarball
from pneumo_packaging.project import BuildError
from tests.packaging.conftest import require_tool

SHLIBDEPS_OUTPUT = (
    "shlibs:Depends=libc6 (>= 2.34), libegl1, libfontconfig1 (>= 2.12.6), "
    "libxcb-cursor0 (>= 0.0.99), libstdc++6 (>= 12)\n"
)


def _stand_in_bundle(root: Path, windows: bool = False) -> Path:
    bundle = root / "pneumo-desktop"
    (bundle / "_internal" / "models").mkdir(parents=True)
    (bundle / "_internal" / "PySide6" / "Qt" / "plugins").mkdir(parents=True)
    (bundle / "_internal" / "models" / "cnn_deep_aug.card.json").write_text("{}")
    (bundle / "_internal" / "PySide6" / "Qt" / "plugins" / "libqxcb.so").write_bytes(b"q")
    suffix = ".exe" if windows else ""
    program = bundle / f"pneumo-desktop{suffix}"
    program.write_bytes(b"MZ" if windows else b"#!/bin/sh\n")
    program.chmod(0o755)
    if windows:
        (bundle / "pneumo-scan.exe").write_bytes(b"MZ")
    else:
        (bundle / "pneumo-scan").symlink_to("pneumo-desktop")
    return bundle


def test_dependencies_from_dpkg_shlibdeps_plus_the_qt_system_packages():
    computed = deb.parse_shlibs("dpkg-shlibdeps: warning: ignore me\n" + SHLIBDEPS_OUTPUT)
    assert computed[0] == "libc6 (>= 2.34)" and len(computed) == 5
    depends = deb.merge_depends(computed, system_packages())
    names = [deb.package_name(d) for d in depends]
    assert len(names) == len(set(names)), "each package once"
    assert set(system_packages()) <= set(names)
    # Qt's libraries unversioned (Debian 12's shlibs ask more than the wheel needs), glibc's
    # and the C++ runtime's floors kept; every Qt system package declared.
    assert "libxcb-cursor0" in depends and "libfontconfig1" in depends
    assert "libxcb-icccm4" in depends
    assert "libstdc++6 (>= 12)" in depends
    assert deb.glibc_floor_of(depends) == "2.34"


def test_control_file_fields():
    control = deb.control_text("0.1.0", "amd64", ["libc6 (>= 2.34)", "libegl1"], 123456)
    fields = dict(re.findall(r"^([A-Za-z-]+): (.*)$", control, re.MULTILINE))
    assert fields["Package"] == "pneumo-desktop" and fields["Version"] == "0.1.0"
    assert fields["Architecture"] == "amd64" and fields["Installed-Size"] == "123456"
    assert fields["Depends"] == "libc6 (>= 2.34), libegl1"
    description = control.split("Description: ", 1)[1].splitlines()
    assert all(line.startswith(" ") and len(line) <= 80 for line in description[1:])
    assert control.endswith("\n")


def test_staged_package_tree(tmp_path):
    bundle = _stand_in_bundle(tmp_path)
    root = tmp_path / "root"
    deb.stage(bundle, root)
    opt = root / "opt" / "pneumo-desktop"
    assert (opt / "_internal" / "models" / "cnn_deep_aug.card.json").is_file()
    assert (opt / "pneumo-scan").readlink() == Path("pneumo-desktop")
    for command in ("pneumo-desktop", "pneumo-scan", "pneumo-receive", "pneumo-calibrate"):
        link = root / "usr" / "bin" / command
        assert link.readlink() == Path("/opt/pneumo-desktop") / command
    entry = (root / "usr/share/applications/pneumo-desktop.desktop").read_text()
    assert "\nExec=pneumo-desktop %f\n" in entry and "\nIcon=pneumo-desktop\n" in entry
    assert (root / "usr/share/icons/hicolor/512x512/apps/pneumo-desktop.png").is_file()
    assert (opt / "pneumo-desktop").stat().st_mode & 0o777 == 0o755
    assert (opt / "_internal/models/cnn_deep_aug.card.json").stat().st_mode & 0o777 == 0o644


def test_menu_entry_is_valid(tmp_path):
    validate = require_tool("desktop-file-validate", "desktop-file-utils")
    entry = tmp_path / "pneumo-desktop.desktop"
    entry.write_text(deb.desktop_entry(deb.DESKTOP_FILE.read_text(encoding="utf-8")))
    done = subprocess.run([validate, str(entry)], capture_output=True, text=True)
    assert done.returncode == 0 and not done.stdout.strip(), done.stdout + done.stderr


def test_staging_refuses_a_folder_that_is_no_bundle(tmp_path):
    with pytest.raises(BuildError, match="build the bundle first"):
        deb.stage(tmp_path, tmp_path / "root")


def test_tarball_keeps_the_link_and_belongs_to_nobody(tmp_path):
    bundle = _stand_in_bundle(tmp_path)
    built = tarball.build_tarball(bundle, tmp_path / "out")
    assert re.fullmatch(r"pneumo-desktop-[\d.]+-linux-\w+\.tar\.gz", built.name)
    with tarfile.open(built) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert members["pneumo-desktop/pneumo-scan"].issym()
    assert members["pneumo-desktop/pneumo-scan"].linkname == "pneumo-desktop"
    assert members["pneumo-desktop/pneumo-desktop"].mode & 0o111
    assert "pneumo-desktop/_internal/models/cnn_deep_aug.card.json" in members
    assert {(m.uid, m.uname) for m in members.values()} == {(0, "root")}


def test_nsis_file_lists_install_and_remove_exactly_the_bundle(tmp_path):
    bundle = _stand_in_bundle(tmp_path, windows=True)
    odd = bundle / "_internal" / "odd $dir"
    odd.mkdir()
    (odd / "a $b.txt").write_text("x")
    install, uninstall = nsis.file_lists(bundle)
    files = sorted(str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file())
    packed = re.findall(r'^File "(.*)"$', install, re.MULTILINE)
    assert sorted(str(Path(p).relative_to(bundle)) for p in packed) == files
    assert 'SetOutPath "$INSTDIR\\_internal\\odd $$dir"' in install  # $ taken literally
    deleted = re.findall(r'^Delete "\$INSTDIR\\(.*)"$', uninstall, re.MULTILINE)
    assert sorted(d.replace("$$", "$").replace("\\", "/") for d in deleted) == files
    folders = re.findall(r'^RMDir "\$INSTDIR\\(.*)"$', uninstall, re.MULTILINE)
    assert folders.index("_internal\\PySide6\\Qt\\plugins") < folders.index("_internal")
    assert folders[-1] == "_internal"  # deepest first; the install folder itself is the script's
    assert uninstall.index("RMDir") > uninstall.rindex("Delete")


def test_nsis_refuses_links_and_unpackable_names(tmp_path):
    with pytest.raises(BuildError, match="symbolic links"):
        nsis.file_lists(_stand_in_bundle(tmp_path))  # the Linux stand-in has pneumo-scan -> …
    with pytest.raises(BuildError, match="cannot be packed"):
        nsis.source_path(Path('/x/"quoted".dll'))


def test_windows_installer_compiles_and_holds_the_bundle(tmp_path):
    """Debian's makensis compiles the script against a stand-in folder; 7-Zip, which reads
    NSIS installers, lists where each file would be installed."""
    require_tool("makensis", "nsis")
    bundle = _stand_in_bundle(tmp_path, windows=True)
    built = nsis.build_installer(bundle, tmp_path / "out")
    assert built.name.startswith("pneumo-desktop-") and built.name.endswith("-setup.exe")
    assert built.read_bytes()[:2] == b"MZ"
    seven_zip = require_tool("7z", "p7zip-full")
    listing = subprocess.run(
        [seven_zip, "l", "-slt", str(built)], capture_output=True, text=True, check=True
    ).stdout
    paths = set(re.findall(r"^Path = (.*)$", listing, re.MULTILINE)) - {str(built)}
    installed = {p for p in paths if not p.startswith("$PLUGINSDIR")}
    expected = {str(p.relative_to(bundle)) for p in bundle.rglob("*") if p.is_file()}
    assert installed == expected | {"uninstall.exe"}


def test_packages_of_bundled_copies_are_not_dependencies():
    owners = {"libssl.so.3": "libssl3", "libcrypto.so.3": "libssl3", "libzstd.so.1": "libzstd1",
              "libEGL.so.1": "libegl1", "libc.so.6": "libc6"}  # fmt: skip
    bundled = {"libssl.so.3", "libzstd.so.1", "libQt6Core.so.6"}
    needed = {"libssl.so.3", "libzstd.so.1", "libEGL.so.1", "libc.so.6", "libcrypto.so.3"}
    # libzstd1 only provides what the bundle carries; libssl3 also provides libcrypto, which
    # the bundle does not carry, so it stays a dependency.
    assert deb.packages_to_exclude(bundled, needed, owners) == {"libzstd1"}


def test_dpkg_owners_finds_the_package_of_a_system_library():
    require_tool("dpkg-query", "dpkg")
    owners = deb.dpkg_owners({"libc.so.6", "libno-such-library.so.9"})
    assert owners == {"libc.so.6": "libc6"}


def test_the_strongest_of_several_minimum_versions_wins():
    require_tool("dpkg", "dpkg")
    merged = deb.strongest(["libc6 (>= 2.34)", "libegl1", "libc6 (>= 2.35)", "libc6 (>= 2.4)",
                            "libstdc++6 (>= 11)", "libstdc++6", "libgl1", "libegl1"])  # fmt: skip
    assert merged == ["libc6 (>= 2.35)", "libegl1", "libgl1", "libstdc++6 (>= 11)"]
