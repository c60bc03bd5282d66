"""The reading loop's step: from pressing A (agree and next) on a film to the next film's verdict
on screen, through the real widgets (a Batch tab that scanned the folder, the viewer linked to
its worklist) and the bundled model, for 224 px test films and for the full-resolution
originals, side by side in one run. Aim (issue 12): one film read and reviewed with three keys
and no mouse, at under 1 s a step.

Usage: python bench/reading_step.py [--films N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from _common import DATA_DIR, fullres_files, machine  # noqa: E402 - the path first
from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from pneumo_desktop.core.model import Classifier  # noqa: E402
from pneumo_desktop.core.scan import list_images  # noqa: E402
from pneumo_desktop.ui.batch_tab import BatchTab  # noqa: E402
from pneumo_desktop.ui.inference_service import InferenceService  # noqa: E402
from pneumo_desktop.ui.viewer_tab import ViewerTab  # noqa: E402
from pneumo_desktop.ui.worklist_link import BatchTabWorklist  # noqa: E402

TIMEOUT_MS = 300_000


def wait_for(signal, action) -> list:
    """Run ``action`` and wait for ``signal``; returns its arguments."""
    loop, got = QEventLoop(), []

    def done(*args):
        got.extend(args)
        loop.quit()

    signal.connect(done)
    QTimer.singleShot(TIMEOUT_MS, loop.quit)
    action()
    if not got:
        loop.exec()
    signal.disconnect(done)
    if not got:
        raise TimeoutError(f"no {signal} within {TIMEOUT_MS / 1000:.0f} s")
    return got


def step_times(inference: InferenceService, films: list[Path], work: Path) -> list[float]:
    folder = work / "films"
    folder.mkdir()
    for film in films:  # a copy in a temp folder: the scan's folder holds these films only
        shutil.copy(film, folder / film.name)
    db = work / "results.sqlite3"
    batch, viewer = BatchTab(inference, db), ViewerTab(inference)
    batch.confirm = lambda question: False
    link = BatchTabWorklist(batch, db)
    viewer.set_worklist(link)
    batch.reviewSaved.connect(viewer.review_bar.refresh)
    wait_for(batch.scanFinished, lambda: batch.start_scan(folder))
    viewer.resize(1366, 768)
    viewer.show()
    order = batch.worklist_paths()
    wait_for(viewer.classified, lambda: viewer.open_path(order[0], from_worklist=True))
    steps = []
    for expected in order[1:]:
        viewer.image_view.setFocus()
        started = time.perf_counter()
        shown = wait_for(viewer.classified,
                         lambda: QTest.keyClick(viewer.image_view, Qt.Key.Key_A))
        steps.append(time.perf_counter() - started)
        if shown[0] != expected:
            raise RuntimeError(f"A went to {shown[0]}, not the worklist's next {expected}")
    link.close()
    viewer.close()
    batch.close()
    return steps


def describe(steps: list[float]) -> str:
    ordered = sorted(steps)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (f"median {statistics.median(steps):.3f} s, p90 {p90:.3f} s, "
            f"max {max(steps):.3f} s over {len(steps)} steps")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--films", type=int, default=20, help="films per set (default 20)")
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    app.setApplicationName("pneumo_desktop_bench")
    small = list_images(DATA_DIR / "test" / "NORMAL")[: args.films // 2] + list_images(
        DATA_DIR / "test" / "PNEUMONIA")[: args.films - args.films // 2]
    originals = fullres_files()
    large = originals[:: max(1, len(originals) // args.films)][: args.films]
    inference = InferenceService(Classifier())
    print(f"{machine()}; bundled model; A pressed on the film to the next verdict on screen")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, films in (("224 px test films", small), ("full-resolution originals", large)):
            work = Path(tmp) / name.split()[0]
            work.mkdir()
            results[name] = step_times(inference, films, work)
            print(f"{name}: {describe(results[name])}")
    inference.shutdown(timeout=60)
    small_median, large_median = (statistics.median(v) for v in results.values())
    print(f"full resolution / 224 px, median step: {large_median / small_median:.2f}x; "
          f"aim < 1 s a step: {'met' if max(small_median, large_median) < 1 else 'not met'}")


if __name__ == "__main__":
    main()
