"""Screenshots of every tab, as a person sees them: run under a real X server (Xvfb).

    Xvfb :99 -screen 0 1440x900x24 & DISPLAY=:99 python tools/screenshots.py \
        --image ../shared/data/chest_xray/test/PNEUMONIA/person1_virus_6.jpeg \
        --folder ../shared/data/chest_xray/test/NORMAL --out resources/screenshots \
        --site-folder ../shared/data/chest_xray/test

The screen is grabbed from the X server's root window (what a monitor would show), not
rendered from the widgets.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--folder", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("resources/screenshots"))
    parser.add_argument("--lime-samples", type=int, default=1000)
    parser.add_argument("--site-folder", type=Path,
                        help="a NORMAL/ + PNEUMONIA/ folder to calibrate the site on (site "
                        "calibration and audit trail shots)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    from PySide6.QtCore import QEventLoop, QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from pneumo_desktop.core.model import default_models_dir
    from pneumo_desktop.ui.main_window import MainWindow
    from pneumo_desktop.ui.preferences import Preferences

    app = QApplication(sys.argv[:1])
    scratch = Path(tempfile.mkdtemp(prefix="pneumo-shots-"))
    # Never the user's own site profile: the shots show the factory threshold unless
    # --site-folder calibrates this scratch one.
    os.environ["PNEUMO_SITE_PROFILE"] = str(scratch / "site_profile.json")
    settings = QSettings(str(scratch / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(default_models_dir(), scratch / "results.sqlite3", Preferences(settings))
    window.batch_tab.confirm = lambda question: False
    window.setGeometry(0, 0, 1440, 900)
    window.show()

    def wait_for(signal, timeout_s: float = 600) -> None:
        loop = QEventLoop()
        signal.connect(loop.quit)
        QTimer.singleShot(int(timeout_s * 1000), loop.quit)
        loop.exec()

    def settle(ms: int = 700) -> None:
        loop = QEventLoop()
        QTimer.singleShot(ms, loop.quit)
        loop.exec()

    def shoot(name: str) -> None:
        settle()
        screen = app.primaryScreen().grabWindow(0)
        screen.save(str(args.out / f"{name}.png"))
        print(f"wrote {args.out / name}.png", flush=True)

    shoot("viewer_start")  # the empty viewer says how to open a film or scan a folder
    window.start_loading_model()
    wait_for(window.modelReady)

    viewer = window.viewer_tab
    panel = viewer.explain_panel
    window.open_in_viewer(args.image)
    wait_for(viewer.classified)
    shoot("viewer_gradcam")

    panel.lime.samples_spin.setValue(args.lime_samples)
    panel.start_lime()
    wait_for(panel.limeFinished)
    lime_index = next(i for i in range(panel.overlay_combo.count())
                      if "boundar" in panel.overlay_combo.itemText(i).lower())
    panel.overlay_combo.setCurrentIndex(lime_index)
    shoot("viewer_lime")

    panel.model_input_check.setChecked(True)
    panel.feature_maps.check.setChecked(True)
    wait_for(panel.featureMapsReady, 120)
    shoot("viewer_model_input_and_feature_maps")
    panel.model_input_check.setChecked(False)
    panel.feature_maps.check.setChecked(False)

    window.scan_folder(args.folder)
    wait_for(window.batch_tab.scanFinished)
    # The morning's worklist: a film agreed, the next selected, its preview beside the table.
    worklist = window.batch_tab
    worklist.select_path(worklist.worklist_paths()[0])
    worklist.worklist.agree_and_next()
    worklist.worklist.focus_table()
    shoot("worklist")

    # The reading loop: a film opened from the worklist, its review bar, corners and a ruler.
    from pneumo_desktop.core.annotations import Annotation

    window.batch_tab.select_path(window.batch_tab.worklist_paths()[0])
    window.open_in_viewer(window.batch_tab.worklist_paths()[0], from_worklist=True)
    wait_for(viewer.classified)
    height, width = viewer.image_view.pixels.shape
    viewer.marks.set_marks([Annotation.ruler((width * 0.3, height * 0.45),
                                             (width * 0.7, height * 0.45))])
    shoot("viewer_reading")

    window.tabs.setCurrentWidget(window.about_tab)
    shoot("about")
    if args.site_folder:
        shoot_site(window, args.site_folder, wait_for, shoot)
    window.close()
    return 0


def shoot_site(window, folder: Path, wait_for, shoot) -> None:
    """The Site calibration tab on ``folder``'s films, then the audit trail once applied."""
    tab = window.site.calibration_tab
    window.tabs.setCurrentWidget(tab)
    tab.folder_box.score(folder)
    wait_for(tab.folder_box.scored)
    wait_for(tab.overviewUpdated)
    shoot("site_calibration")
    tab.confirm = lambda title, question: True
    tab.apply()
    wait_for(tab.overviewUpdated)
    window.tabs.setCurrentWidget(window.site.audit_view)
    shoot("audit_trail")


if __name__ == "__main__":
    sys.exit(main())
