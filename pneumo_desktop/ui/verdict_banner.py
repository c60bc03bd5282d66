"""The verdict banner over the film: the band in a radiologist's words and colours, P(pneumonia)
against the threshold that made the verdict and where that threshold came from, and an
"outside intended use" notice when the film's DICOM age is above the paediatric range."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QVBoxLayout, QWidget

from pneumo_desktop.core.results import Band, Prediction, ThresholdSource

PENDING, ERROR, NOT_XRAY = "pending", "error", "not_xray"
# White bold text on saturated backgrounds: readable on light and dark themes alike.
_COLOURS = {
    Band.LIKELY: ("white", "#b3261e"),
    Band.POSSIBLE: ("white", "#b45309"),
    Band.UNLIKELY: ("white", "#1e7d32"),
    PENDING: ("#202020", "#d0d0d0"),
    ERROR: ("#3d2a00", "#ffd978"),
    NOT_XRAY: ("#3d2a00", "#ffd978"),
}
SOURCE_WORDS = {
    ThresholdSource.FACTORY: "factory threshold (model card)",
    ThresholdSource.SITE: "site threshold (calibrated at this clinic)",
}
_NOTICE_STYLE = ("color: white; background: #6a1b9a; font-weight: bold; padding: 3px 6px;"
                 " border-radius: 3px;")




class VerdictBanner(QFrame):
    """Headline (band wording, or what is going on), details, and the intended-use notice."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("verdict_banner")
        self.headline = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.headline.setToolTip("Decision support only: the radiologist makes the call.")
        self.details = QLabel(alignment=Qt.AlignmentFlag.AlignCenter, wordWrap=True)
        self.details.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.notice = QLabel(wordWrap=True, visible=False)
        self.notice.setStyleSheet(_NOTICE_STYLE)
        column = QVBoxLayout(self)
        column.setContentsMargins(6, 4, 6, 4)
        column.setSpacing(0)
        for label in (self.headline, self.details, self.notice):
            column.addWidget(label)
        self._state: str = PENDING
        self.show_pending("")

    @property
    def state(self) -> str:
        """The band shown (a :class:`Band`), or pending / error / not_xray."""
        return self._state

    def show_pending(self, text: str) -> None:
        self._show(text, PENDING, "")

    def show_error(self, text: str) -> None:
        self._show(text, ERROR, "")

    def show_not_xray(self, prediction: Prediction, limit: float | None) -> None:
        """No verdict: the model was not made for this picture (see core.heads.Heads)."""
        distance = prediction.ood_distance
        detail = "" if distance is None else (
            f"Feature distance {distance:.0f} from the training films"
            + (f" (limit {limit:.0f})" if limit is not None else ""))
        self._show("Not a chest X-ray — not classified", NOT_XRAY, detail)

    def show_prediction(self, prediction: Prediction, notice: str | None = None) -> None:
        """The band's words, P against its threshold and the threshold's source; ``notice``
        (outside intended use) under it."""
        detail = (f"{prediction.probability_text} · "
                  f"{SOURCE_WORDS[prediction.threshold_source]}")
        if prediction.subtype is not None:
            detail += (f"\nLikely {prediction.subtype} (P(viral) = "
                       f"{prediction.subtype_probability:.2f}); secondary estimate")
        self._show(prediction.band.wording, prediction.band, detail, notice)

    def _show(self, text: str, state: str, detail: str, notice: str | None = None) -> None:
        self._state = state
        foreground, background = _COLOURS[state]
        size = "11pt" if state == ERROR else "18pt"
        self.setStyleSheet(f"#verdict_banner {{ background: {background}; border-radius: 4px; }}"
                           f" QLabel {{ color: {foreground}; }}")
        self.headline.setStyleSheet(f"font-size: {size}; font-weight: bold;")
        self.headline.setText(text)
        self.details.setText(detail)
        self.details.setVisible(bool(detail))
        self.notice.setText(notice or "")
        self.notice.setVisible(bool(notice))
