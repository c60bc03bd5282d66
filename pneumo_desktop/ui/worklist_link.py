"""The Batch tab's worklist as the viewer sees it (:class:`~.reading_order.Worklist`), over the
tab's public worklist API only: ``worklist_paths()`` (the order shown, after sort and filter),
``select_path()``, ``result_for_path()``, ``save_review()`` and ``current_scan_id``. A review
made in the viewer is saved by the worklist itself, so it shows there at once. The reader's
marks, which the worklist does not show, are stored through this link's own
:class:`AnnotationStore` (on the GUI thread, like the tab's store)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pneumo_desktop.core.annotation_store import AnnotationStore
from pneumo_desktop.core.annotations import Annotation
from pneumo_desktop.core.results import StoredResult
from pneumo_desktop.core.store import ResultStore
from pneumo_desktop.ui.batch_tab import BatchTab
from pneumo_desktop.ui.review_panel import ReviewEdit


class NotSaved(RuntimeError):
    """The worklist did not store a review (it says why in its own message line)."""


class BatchTabWorklist:
    """A :class:`~.reading_order.Worklist` over ``batch_tab``, storing marks in ``db_path``."""

    def __init__(self, batch_tab: BatchTab, db_path: Path) -> None:
        self._tab = batch_tab
        self._db_path = db_path
        self._marks = AnnotationStore(db_path)

    @property
    def scan_id(self) -> int | None:
        return self._tab.current_scan_id

    def paths(self) -> list[str]:
        return self._tab.worklist_paths()

    def scan_paths(self, scan_id: int | None) -> Callable[[], list[str]]:
        """Every film of the scan (a filter may hide the patient's earlier film), read through
        a connection of the thread that calls it."""
        def paths() -> list[str]:
            if scan_id is None:
                return []
            with ResultStore(self._db_path) as store:
                return [row.path for row in store.results(scan_id)]

        return paths

    def result(self, path: str) -> StoredResult | None:
        return self._tab.result_for_path(str(path))

    def save_review(self, edit: ReviewEdit) -> StoredResult:
        if not self._tab.save_review(edit):
            raise NotSaved("the worklist did not store it (its message line says why)")
        return self.result(edit.path)

    def annotations(self, path: str) -> list[Annotation]:
        return [] if self.scan_id is None else self._marks.get(self.scan_id, path)

    def save_annotations(self, path: str, marks: list[Annotation]) -> None:
        if self.scan_id is None:
            raise NotSaved("no scan is open in the worklist")
        self._marks.set(self.scan_id, path, marks)

    def select(self, path: str) -> None:
        self._tab.select_path(path)

    def on_changed(self, slot: Callable[[], object]) -> None:
        self._tab.worklistOrderChanged.connect(slot)

    def close(self) -> None:
        self._marks.close()
