"""Where the viewer steps next: through the worklist, in the order it shows, when the film was
opened from it; through the film's folder, by name, otherwise.

:class:`Worklist` is what the viewer needs of a worklist (the paths in the order shown after
its sort and filter, the stored results, saving a review and the marks, selecting a row); the
main window gives it one over the Batch tab (:mod:`.worklist_link`). Nothing here is Qt.
"""

from __future__ import annotations

import bisect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from pneumo_desktop.core.annotations import Annotation
from pneumo_desktop.core.imaging import is_image_file
from pneumo_desktop.core.results import StoredResult
from pneumo_desktop.ui.review_panel import ReviewEdit


class Worklist(Protocol):
    """The current scan's worklist, as the viewer's review bar and navigation use it."""

    @property
    def scan_id(self) -> int | None: ...

    def paths(self) -> list[str]:
        """The films in the order the worklist shows them (after its sort and filter)."""

    def scan_paths(self, scan_id: int | None) -> Callable[[], list[str]]:
        """A function, safe to call on any thread, listing every film of scan ``scan_id``
        whatever the worklist's filter."""

    def result(self, path: str) -> StoredResult | None:
        """The stored result of ``path`` in the current scan (None: not in it)."""

    def save_review(self, edit: ReviewEdit) -> StoredResult:
        """Store the review; the updated row. Raises on failure (with a message for people)."""

    def annotations(self, path: str) -> list[Annotation]: ...

    def save_annotations(self, path: str, marks: list[Annotation]) -> None: ...

    def select(self, path: str) -> None:
        """Make ``path`` the worklist's current row (so going back to it finds the place)."""

    def on_changed(self, slot: Callable[[], object]) -> None:
        """Call ``slot`` whenever the worklist's rows change (another scan shown, a result
        streamed in, a sort or filter)."""


def folder_images(folder: Path) -> list[Path]:
    """Supported images of ``folder``, sorted case-insensitively by name."""
    try:
        entries = [p for p in folder.iterdir() if is_image_file(p) and p.is_file()]
    except OSError:
        return []
    return sorted(entries, key=lambda p: (p.name.casefold(), p.name))


class FolderOrder:
    """The film's folder, by name; re-read at every step (files come and go)."""

    name = "folder"

    def neighbour(self, path: str, direction: int) -> str | None:
        current = Path(path)
        files = folder_images(current.parent)
        keys = [(p.name.casefold(), p.name) for p in files]
        key = (current.name.casefold(), current.name)
        # Works even if the current file was deleted or is unreadable: find its sort position.
        index = bisect.bisect_left(keys, key)
        exact = index < len(keys) and keys[index] == key
        target = index + 1 if (direction > 0 and exact) else index + min(direction, 0)
        return os.fspath(files[target]) if 0 <= target < len(files) else None


class WorklistOrder:
    """The worklist's order as it is *now* (the reader may re-sort or filter it meanwhile).
    A film that has left the list (a filter on "Unreviewed", after its review) is stepped
    from the place it had."""

    name = "worklist"

    def __init__(self, worklist: Worklist) -> None:
        self.worklist = worklist
        self._last_index = 0

    def position(self, path: str) -> tuple[int, int] | None:
        """(1-based place, count) of ``path`` in the list; None when it is not in it."""
        paths = self.worklist.paths()
        if path in paths:
            self._last_index = paths.index(path)
            return self._last_index + 1, len(paths)
        return None

    def neighbour(self, path: str, direction: int) -> str | None:
        paths = self.worklist.paths()
        if path in paths:
            self._last_index = paths.index(path)
            target = self._last_index + direction
        else:  # gone from the list: the film now in its place is the next one
            target = self._last_index + (direction if direction < 0 else 0)
        return paths[target] if 0 <= target < len(paths) else None
