"""pneumo_packaging.spec_rules: what the bundle leaves out, on made-up PyInstaller entries."""

from __future__ import annotations

import json
import os
import stat
import sys
import textwrap

import pytest

from pneumo_packaging import spec_rules
from pneumo_packaging.spec_rules import keep_data, keep_qt, prune


@pytest.mark.parametrize(
    ("dest", "kept"),
    [
        ("PySide6/Qt/lib/libQt6Widgets.so.6", True),
        ("PySide6/Qt/lib/libQt6Core.so.6", True),
        ("PySide6/Qt/lib/libQt6Qml.so.6", False),
        ("PySide6/Qt/lib/libQt6WebEngineCore.so.6", False),
        ("PySide6/Qt/lib/libQt6Network.so.6", True),  # QLocalServer: one app at a time
        ("PySide6/Qt/lib/libQt6Svg.so.6", False),
        ("PySide6/Qt6Quick.dll", False),  # Windows wheels have no Qt/ level
        ("PySide6/opengl32sw.dll", False),
        ("PySide6/Qt/plugins/platforms/libqxcb.so", True),
        ("PySide6/Qt/plugins/platforms/libqwayland.so", True),
        ("PySide6/Qt/plugins/platforms/libqoffscreen.so", True),
        ("PySide6/plugins/platforms/qwindows.dll", True),
        ("PySide6/Qt/plugins/platforms/libqvnc.so", False),
        ("PySide6/Qt/plugins/platforms/libqeglfs.so", False),
        ("PySide6/Qt/plugins/platformthemes/libqgtk3.so", False),
        ("PySide6/Qt/plugins/platformthemes/libqxdgdesktopportal.so", True),
        ("PySide6/Qt/plugins/platforminputcontexts/libqtvirtualkeyboardplugin.so", False),
        ("PySide6/Qt/plugins/platforminputcontexts/libcomposeplatforminputcontextplugin.so", True),
        ("PySide6/Qt/plugins/imageformats/libqjpeg.so", False),
        ("PySide6/Qt/plugins/xcbglintegrations/libqxcb-glx-integration.so", False),
        ("PySide6/Qt/translations/qtbase_de.qm", False),
        ("PySide6/Qt/qml/QtQuick/Controls/qmldir", False),
        ("numpy/_core/_multiarray_umath.cpython-311-x86_64-linux-gnu.so", True),
    ],
)
def test_keep_qt(dest, kept):
    assert keep_qt(dest) is kept


def test_matplotlib_keeps_only_the_fonts_and_settings_the_report_uses():
    assert keep_data("matplotlib/mpl-data/fonts/ttf/DejaVuSans.ttf")
    assert keep_data("matplotlib/mpl-data/fonts/ttf/DejaVuSans-Bold.ttf")
    assert keep_data("matplotlib/mpl-data/matplotlibrc")
    assert not keep_data("matplotlib/mpl-data/fonts/ttf/STIXGeneral.ttf")
    assert not keep_data("matplotlib/mpl-data/fonts/ttf/cmr10.ttf")
    assert not keep_data("matplotlib/mpl-data/fonts/ttf/DejaVuSerif.ttf")
    assert not keep_data("matplotlib/mpl-data/sample_data/goog.npz")
    assert not keep_data("matplotlib/mpl-data/images/home.png")


def test_system_and_unused_libraries():
    assert spec_rules.system_library("libxcb-cursor.so.0")
    assert spec_rules.system_library("libstdc++.so.6")
    assert not spec_rules.system_library("libQt6Core.so.6")
    assert spec_rules.unused_library("onnxruntime/capi/libonnxruntime.so.1.32.0")
    assert not spec_rules.unused_library(
        "onnxruntime/capi/onnxruntime_pybind11_state.cpython-311-x86_64-linux-gnu.so"
    )
    assert not spec_rules.unused_library("onnxruntime/capi/libonnxruntime_providers_shared.so")


def _lib(dest, kind="BINARY"):
    return (dest, f"/src/{dest}", kind)


# A made-up bundle: the app's extension links Widgets; a dropped Qt plugin links QtQml (which
# Widgets does not need) and GTK (only the plugin needs it); a kept plugin links QtSvg
# (dropped by name, so it must come back); the system's libxcb-cursor is bundled with its
# own dependency libXau, and libpng is needed both by fontconfig (system) and by Pillow.
LINKS = {
    "app.so": {"libQt6Widgets.so.6"},
    "libQt6Widgets.so.6": {"libQt6Core.so.6", "libstdc++.so.6"},
    "libqgtk3.so": {"libQt6Qml.so.6", "libgtk-3.so.0"},
    "libgtk-3.so.0": {"libcairo.so.2"},
    "libqtls.so": {"libQt6Svg.so.6"},
    "libxcb-cursor.so.0": {"libXau.so.6"},
    "libfontconfig.so.1": {"libpng16.so.16", "libexpat.so.1"},
    "_imaging.so": {"libpng16.so.16"},
}
BINARIES = [
    _lib("app.so", "EXTENSION"),
    _lib("_imaging.so", "EXTENSION"),
    _lib("PySide6/Qt/lib/libQt6Widgets.so.6"),
    _lib("PySide6/Qt/lib/libQt6Core.so.6"),
    _lib("PySide6/Qt/lib/libQt6Qml.so.6"),
    _lib("PySide6/Qt/lib/libQt6Svg.so.6"),
    _lib("PySide6/Qt/plugins/platformthemes/libqgtk3.so"),
    _lib("PySide6/Qt/plugins/styles/libqtls.so"),  # a kept folder, for the test's sake
    _lib("libgtk-3.so.0"),
    _lib("libcairo.so.2"),
    _lib("libstdc++.so.6"),
    _lib("libxcb-cursor.so.0"),
    _lib("libXau.so.6"),
    _lib("libfontconfig.so.1"),
    _lib("libpng16.so.16"),
    _lib("libexpat.so.1"),
]


def _imports_of(source):
    return LINKS.get(os.path.basename(source), set())


def _names(entries):
    return {os.path.basename(e[0]) for e in entries}


def test_prune_drops_unused_and_system_libraries_and_what_only_they_need():
    datas = [
        ("libQt6Qml.so.6", "PySide6/Qt/lib/libQt6Qml.so.6", "SYMLINK"),
        ("libQt6Core.so.6", "PySide6/Qt/lib/libQt6Core.so.6", "SYMLINK"),
        ("PySide6/Qt/translations/qt_de.qm", "/src/qt_de.qm", "DATA"),
        ("models/card.json", "/src/card.json", "DATA"),
    ]
    pruned = prune(
        BINARIES, datas, _imports_of, system_dependencies={"libXau.so.6", "libexpat.so.1"}
    )
    kept = _names(pruned.binaries)
    # What the app needs stays; a dropped Qt library that a kept plugin links comes back.
    assert {"app.so", "_imaging.so", "libQt6Widgets.so.6", "libQt6Core.so.6"} <= kept
    assert "libQt6Svg.so.6" in kept and pruned.restored == {"libQt6Svg.so.6"}
    # The gtk3 theme goes with what only it needed; QtQml goes although named by a link.
    assert not kept & {"libqgtk3.so", "libgtk-3.so.0", "libcairo.so.2", "libQt6Qml.so.6"}
    # System libraries go and never come back, though Widgets links libstdc++; so do their
    # own dependencies, unless a kept binary needs one too (Pillow's libpng).
    assert not kept & {"libstdc++.so.6", "libxcb-cursor.so.0", "libfontconfig.so.1"}
    assert not kept & {"libXau.so.6", "libexpat.so.1"}
    assert "libpng16.so.16" in kept
    assert {"libcairo.so.2", "libXau.so.6", "libexpat.so.1"} <= pruned.orphans
    # A link to a removed library would dangle; translations go; the model stays.
    assert [d[0] for d in pruned.datas] == ["libQt6Core.so.6", "models/card.json"]


def test_prune_never_removes_an_extension_module():
    binaries = [_lib("libqgtk3_dropped.so"), _lib("helper.so", "EXTENSION")]
    pruned = prune(
        binaries,
        [],
        lambda source: {"helper.so"} if "dropped" in source else set(),
        unused=lambda dest: "dropped" in dest,
    )
    assert _names(pruned.binaries) == {"helper.so"}


def test_system_dependencies_follow_the_build_machine_s_libraries():
    links = {"libxcb.so.1": {"libXau.so.6", "libXdmcp.so.6"}, "libXdmcp.so.6": {"libbsd.so.0"}}
    installed = ("libxcb.so.1", "libXdmcp.so.6")
    found = spec_rules.system_dependencies(
        resolve=lambda name: f"/usr/lib/{name}" if name in installed else None,
        imports_of=lambda path: links.get(os.path.basename(path), set()),
    )
    assert found == {"libXau.so.6", "libXdmcp.so.6", "libbsd.so.0"}


def test_test_modules_finds_test_folders_without_importing(tmp_path, monkeypatch):
    package = tmp_path / "fakepkg"
    (package / "stats" / "tests").mkdir(parents=True)
    (package / "tests").mkdir()
    for folder in (package, package / "stats", package / "stats" / "tests", package / "tests"):
        (folder / "__init__.py").write_text("raise RuntimeError('imported')\n")
    (package / "stats" / "_page_trend_test.py").write_text("")  # a real module, not a test
    monkeypatch.syspath_prepend(str(tmp_path))
    assert sorted(spec_rules.test_modules("fakepkg")) == ["fakepkg.stats.tests", "fakepkg.tests"]
    assert spec_rules.test_modules("no_such_package_here") == []
    assert "fakepkg" not in sys.modules


def test_excluded_modules_cover_training_unused_qt_and_test_suites():
    excluded = spec_rules.excluded_modules(packages_with_tests=("scipy",))
    assert {"tensorflow", "keras", "training", "pneumo_packaging", "tkinter"} <= set(excluded)
    assert {"PySide6.QtQml", "PySide6.QtSvg", "PySide6.QtWebEngineCore"} <= set(excluded)
    assert "PySide6.QtWidgets" not in excluded and "PySide6.QtGui" not in excluded
    assert "PySide6.QtNetwork" not in excluded  # ui/single_instance.py: QLocalServer
    assert "scipy.linalg.tests" in excluded
    assert not any(name.startswith("onnxruntime.capi") for name in excluded)


def test_should_strip_large_libraries_outside_patchelf_folders():
    big = 8 << 20
    assert spec_rules.should_strip("PySide6/Qt/lib/libicudata.so.73", big)
    assert not spec_rules.should_strip("numpy.libs/libscipy_openblas64_-32a4b2a6.so", big)
    assert not spec_rules.should_strip("PySide6/Qt/lib/libQt6Core.so.6", 1000)


def test_strip_binaries_replaces_sources_with_cached_stripped_copies(tmp_path):
    calls = tmp_path / "calls.log"
    fake_strip = tmp_path / "fake-strip"
    # A stand-in for binutils' strip: writes the first half of the input to -o, logs the call.
    fake_strip.write_text(
        textwrap.dedent(
            f"""\
            #!{sys.executable}
            import sys
            args = sys.argv[1:]
            out = args[args.index("-o") + 1]
            data = open(args[-1], "rb").read()
            open(out, "wb").write(data[: len(data) // 2])
            open({str(calls)!r}, "a").write(args[-1] + "\\n")
            """
        )
    )
    fake_strip.chmod(fake_strip.stat().st_mode | stat.S_IXUSR)
    big, small = tmp_path / "libbig.so", tmp_path / "libsmall.so"
    big.write_bytes(b"x" * (2 << 20))
    small.write_bytes(b"y" * 100)
    binaries = [
        ("libbig.so", str(big), "BINARY"),
        ("libsmall.so", str(small), "BINARY"),
        ("base_library.zip", str(big), "DATA"),
    ]
    cache = tmp_path / "cache"
    stripped, saved = spec_rules.strip_binaries(binaries, cache, str(fake_strip))
    assert saved == 1 << 20
    assert stripped[0][1] != str(big) and os.path.getsize(stripped[0][1]) == 1 << 20
    assert stripped[1:] == binaries[1:]
    again, saved_again = spec_rules.strip_binaries(binaries, cache, str(fake_strip))
    assert again == stripped and saved_again == saved
    assert calls.read_text().splitlines() == [str(big)]  # the second build used the cache


def test_large_json_tables_are_minified_with_the_same_content(tmp_path):
    table = {"module": [{"keyword": f"Attribute{i}", "type": "1C", "path": ["é"]}
                        for i in range(20000)]}
    big, small = tmp_path / "map.json", tmp_path / "small.json"
    big.write_text(json.dumps(table, indent=2, ensure_ascii=False), encoding="utf-8")
    small.write_text(json.dumps({"a": [1, 2]}, indent=2))
    assert big.stat().st_size >= spec_rules.MINIFY_MIN_BYTES
    datas = [("highdicom/_standard/map.json", str(big), "DATA"),
             ("x/small.json", str(small), "DATA")]
    minified, saved = spec_rules.minify_json_datas(datas, tmp_path / "cache")
    assert saved > big.stat().st_size // 3
    assert json.loads(open(minified[0][1], encoding="utf-8").read()) == table
    assert minified[1] == datas[1]


def test_data_of_a_part_left_out_is_left_out_too():
    assert not keep_data("sklearn/datasets/data/iris.csv")
    assert not keep_data("skimage/feature/orb_descriptor_positions.txt")
    assert keep_data("sklearn/utils/_repr_html/estimator.css")
    assert keep_data("sklearn/datasets_extra/x.txt")  # a name that only begins alike


def test_a_library_shipped_twice_becomes_a_link_to_the_first_copy(tmp_path):
    numpy_copy, scipy_copy, other = (tmp_path / n for n in ("n.so", "s.so", "o.so"))
    numpy_copy.write_bytes(b"gfortran" * 100)
    scipy_copy.write_bytes(b"gfortran" * 100)
    other.write_bytes(b"another build" * 100)
    binaries = [
        ("numpy.libs/libgfortran-0.so.5", str(numpy_copy), "BINARY"),
        ("scipy.libs/libgfortran-0.so.5", str(scipy_copy), "BINARY"),
        ("sklearn/libgfortran-0.so.5", str(other), "BINARY"),  # same name, other bytes
        ("scipy/_x.so", str(scipy_copy), "EXTENSION"),  # modules are never linked
    ]
    kept, links, saved = spec_rules.link_duplicates(binaries)
    assert kept == [binaries[0], binaries[2], binaries[3]]
    assert links == [("scipy.libs/libgfortran-0.so.5", "../numpy.libs/libgfortran-0.so.5",
                      "SYMLINK")]  # fmt: skip
    assert saved == 800
