"""Wiring of the viewer's reading tools: the tool row's buttons and the shortcut table's keys
to the film view, its marks, the magnifier and the window/level controls. One place, so a
button and its key always do the same thing."""

from __future__ import annotations

from PySide6.QtWidgets import QWidget

from pneumo_desktop.ui import shortcuts
from pneumo_desktop.ui.film_marks import FilmMarks, Tool
from pneumo_desktop.ui.image_view import ImageView
from pneumo_desktop.ui.magnifier import Magnifier
from pneumo_desktop.ui.viewer_toolbar import ViewerToolbar
from pneumo_desktop.ui.window_level_controls import WindowLevelControls


def connect_reading_tools(scope: QWidget, toolbar: ViewerToolbar, view: ImageView,
                          marks: FilmMarks, magnifier: Magnifier,
                          controls: WindowLevelControls) -> None:
    """Buttons and keys (active while the focus is in ``scope``) for zoom, orientation,
    window, magnifier and marks."""
    actions = {
        "fit": view.fit_to_window, "actual_size": view.actual_size,
        "rotate_left": lambda: view.rotate_by(-90), "rotate_right": lambda: view.rotate_by(90),
        "flip": view.flip, "undo_mark": marks.undo_last, "magnifier": magnifier.toggle,
        "window_preset": controls.next_preset, "window_reset": controls.reset,
        "invert": controls.toggle_invert,
        "ruler": lambda: marks.set_tool(Tool.RULER), "arrow": lambda: marks.set_tool(Tool.ARROW),
        "text": lambda: marks.set_tool(Tool.TEXT),
    }
    for button, name in ((toolbar.fit_button, "fit"), (toolbar.actual_button, "actual_size"),
                         (toolbar.rotate_left_button, "rotate_left"),
                         (toolbar.rotate_right_button, "rotate_right"),
                         (toolbar.flip_button, "flip"), (toolbar.undo_button, "undo_mark")):
        button.clicked.connect(actions[name])
    # The film view binds its own zoom keys (when it has the focus): not again here, or the
    # two shortcuts would be ambiguous and neither would work.
    for name in ("rotate_left", "rotate_right", "flip", "undo_mark", "magnifier",
                 "window_preset", "window_reset", "invert", "ruler", "arrow", "text"):
        shortcuts.bind(scope, name, actions[name])
    toolbar.magnifier_button.toggled.connect(magnifier.set_active)
    magnifier.toggled.connect(toolbar.magnifier_button.setChecked)
    for tool, button in toolbar.tool_buttons.items():
        button.toggled.connect(lambda on, t=tool: marks.set_tool(t if on else Tool.PAN))
    marks.toolChanged.connect(toolbar.show_tool)
    view.zoomChanged.connect(toolbar.show_zoom)
