"""The app's style sheet: a focus indicator that can be seen when tabbing through controls.

Qt's default focus rectangle is a dotted line that most desktop themes draw faintly or not at
all. The rule below draws a 2-px blue frame on the focused control; the film view keeps a
transparent frame of the same width when unfocused, so gaining focus never re-fits the film.
"""

from __future__ import annotations

FOCUS_COLOUR = "#1a73e8"

FOCUS_STYLE = f"""
QPushButton:focus, QToolButton:focus {{
    border: 2px solid {FOCUS_COLOUR}; border-radius: 3px; padding: 2px 6px;
}}
QComboBox:focus, QLineEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus {{
    border: 2px solid {FOCUS_COLOUR}; border-radius: 3px;
}}
QCheckBox:focus, QRadioButton:focus {{ border: 2px solid {FOCUS_COLOUR}; border-radius: 3px; }}
QTableView:focus, QTreeView:focus, QListView:focus {{ border: 2px solid {FOCUS_COLOUR}; }}
QSlider:focus {{ border: 2px solid {FOCUS_COLOUR}; border-radius: 3px; }}
QGraphicsView#film_view {{ border: 2px solid transparent; }}
QGraphicsView#film_view:focus {{ border: 2px solid {FOCUS_COLOUR}; }}
"""
