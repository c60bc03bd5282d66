"""The Qt binding the app runs on must not corrupt the interpreter's reference counts.

PySide6 6.12.0 on Python 3.11 drops one reference to ``True`` at every ``Signal.emit()``; after
some tens of thousands of emits (a long scan's progress, a morning of reading) the process
aborts in ``bool_dealloc``. pyproject.toml excludes that release; this test catches it (or a
later release with the same fault) in whatever environment the suite runs in.
"""

from __future__ import annotations

import sys

import pytest
from PySide6.QtCore import QObject, Signal


class _Emitter(QObject):
    plain = Signal()
    number = Signal(float)
    anything = Signal(object)


@pytest.mark.skipif(sys.version_info >= (3, 12),
                    reason="True and None are immortal from Python 3.12: no count to corrupt")
def test_emitting_signals_leaves_reference_counts_of_true_and_none_alone(qapp):
    emitter = _Emitter()
    received = []  # ints, not bools: the list must not hold references to True or None
    emitter.anything.connect(lambda value: received.append(0 if value is None else 1))
    before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(10):  # few: the faulty binding aborts once True's count runs out
        emitter.plain.emit()
        emitter.number.emit(0.5)
        emitter.anything.emit(None)
    after = sys.getrefcount(True), sys.getrefcount(None)
    assert received == [0] * 10
    assert after == before, f"refcounts of (True, None) went from {before} to {after}"
