"""The main window: Viewer, Batch scan and About tabs, menus, status bar, preferences; the
Site calibration and Audit trail tabs, the Site menu and the receiver come from
:mod:`.site_features`.

The window is built before the model is loaded. The window's :class:`InferenceService` loads
the classifier on the inference thread, which then runs every model call of every tab; the
tabs hear of the classifier from the service, the About tab gets its verified card, and the
window announces it (or why it was refused) with :attr:`MainWindow.modelReady` and
:attr:`MainWindow.modelFailed`.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QRect, QUrl, Signal
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
)
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
)

from .. import runtime
from ..core.imaging import SUPPORTED_SUFFIXES
from ..core.model import ModelError
from . import shortcuts
from .about_tab import AboutTab
from .batch_tab import BatchTab
from .case_report_details import CaseReportDetails
from .inference_service import InferenceService
from .preferences import Preferences
from .shortcuts import ShortcutsDialog
from .site_features import install_site_features
from .site_profile_service import use_profile_at_load
from .style import FOCUS_STYLE
from .viewer_tab import ViewerTab
from .workers import await_workers
from .worklist_link import BatchTabWorklist

log = logging.getLogger(__name__)


#: The first window fits a 1366x768 laptop screen (taskbar and title bar included).
FIRST_START_SIZE = (1280, 680)


def first_start_geometry(available: QRect) -> QRect:
    """The window's first geometry: :data:`FIRST_START_SIZE`, or less on a smaller screen,
    centred on the screen's available area."""
    width = min(FIRST_START_SIZE[0], available.width() - 16)
    height = min(FIRST_START_SIZE[1], available.height() - 48)  # room for the title bar
    rect = QRect(0, 0, width, height)
    rect.moveCenter(available.center())
    return rect


def load_classifier(models_dir: Path):
    """Runs on the inference thread (``core.inference``), which makes every later model call
    too: verifies the card, the graph and the heads, and starts onnxruntime (well under a
    second; the first run, which reads the head's weights, warms it up)."""
    from ..core.model import Classifier

    classifier = Classifier(models_dir)
    runtime.log_model_loaded(classifier)
    use_profile_at_load(classifier)  # the site's threshold, before any verdict is made
    return classifier


class MainWindow(QMainWindow):
    """The tabs are built at once; the classifier (and with it the verified model card the
    About tab shows) arrives from the inference thread: :attr:`modelReady` with the
    classifier, or :attr:`modelFailed` with the reason the model was refused."""

    modelReady = Signal(object)  # noqa: N815 - Qt naming
    modelFailed = Signal(str)  # noqa: N815 - Qt naming

    def __init__(self, models_dir: Path, db_path: Path, preferences: Preferences, parent=None):
        super().__init__(parent)
        self.models_dir = Path(models_dir)
        self.preferences = preferences
        self.inference = InferenceService(parent=self)
        self._pending_scan: Path | None = None
        self.setWindowTitle("pneumo_desktop — chest X-ray pneumonia screening")
        self.setAcceptDrops(True)

        self.viewer_tab = ViewerTab(self.inference, preferences)
        self.batch_tab = BatchTab(self.inference, db_path)
        self.worklist = BatchTabWorklist(self.batch_tab, db_path)
        self.viewer_tab.set_worklist(self.worklist)
        self.about_tab = AboutTab(None, self.models_dir)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.viewer_tab, "Viewer")
        self.tabs.addTab(self.batch_tab, "Batch scan / worklist")
        self.tabs.addTab(self.about_tab, "About / Validation")
        self.setCentralWidget(self.tabs)
        self.batch_tab.openRequested.connect(
            lambda path: self.open_in_viewer(path, from_worklist=True))
        self.batch_tab.reviewSaved.connect(self.viewer_tab.review_bar.refresh)
        self.viewer_tab.escapePressed.connect(lambda: self.set_full_screen(False))
        self.tabs.currentChanged.connect(self._full_screen_only_in_the_viewer)
        self.setStyleSheet(FOCUS_STYLE)
        #: The case PDF's review, impression, reader and anonymise choice for a film.
        self.case_report_details = CaseReportDetails(preferences, self.batch_tab, self)
        self.viewer_tab.case_pdf.details = self.case_report_details

        self.device_label = QLabel("Loading model…")
        self.model_label = QLabel("No model yet")
        self.statusBar().addPermanentWidget(self.model_label)
        self.statusBar().addPermanentWidget(self.device_label)
        self._build_menus()
        self.site = install_site_features(self, db_path)  # calibration, audit, receiver, …
        self._restore_preferences()
        self.inference.classifierReady.connect(self._classifier_ready)
        self.inference.classifierFailed.connect(self._classifier_failed)

    @property
    def classifier(self):
        """The loaded classifier (None until :attr:`modelReady`)."""
        return self.inference.classifier

    # Start-up ----------------------------------------------------------------------------
    def start_loading_model(self) -> None:
        """Called once the window is visible."""
        self.inference.load(load_classifier, self.models_dir)

    def _classifier_ready(self, classifier) -> None:
        self.about_tab.set_card(classifier.card)  # verified: the classifier checked it
        self.model_label.setText(f"Model {classifier.card.name} {classifier.card.version}")
        self.device_label.setText(f"Device: {classifier.device}")
        notice = classifier.provider_notice
        self.device_label.setToolTip(f"onnxruntime {classifier.provider}"
                                     + (f": {notice}" if notice else ""))
        self.statusBar().showMessage("Model ready" + (f" ({notice})" if notice else ""), 8000)
        if self._pending_scan is not None:
            folder, self._pending_scan = self._pending_scan, None
            self.scan_folder(folder)
        else:
            self.batch_tab.offer_resume()
        self.modelReady.emit(classifier)

    def _classifier_failed(self, error: Exception) -> None:
        self.device_label.setText("Model not loaded")
        self.model_label.setText("Model refused")
        message = str(error)
        if not isinstance(error, ModelError):
            message = f"{type(error).__name__}: {error}"
        self.about_tab.show_refused(message)
        self.statusBar().showMessage(f"Model could not be loaded: {message}")
        self.modelFailed.emit(message)
        QMessageBox.critical(self, "Model could not be loaded", message)

    # Actions -----------------------------------------------------------------------------
    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self._add_action(file_menu, "&Open image…", "open", self.choose_image)
        self._add_action(file_menu, "&Scan folder…", "scan_folder", self.choose_scan_folder)
        self._add_action(file_menu, "Open &DICOMDIR…", "", self.choose_dicomdir)
        file_menu.addSeparator()
        file_menu.addAction(self.batch_tab.exports.anonymise_action)
        file_menu.addSeparator()
        self._add_action(file_menu, "&Quit", "quit", self.close)
        view_menu = self.view_menu = self.menuBar().addMenu("&View")
        for index, (name, key) in enumerate((("&Viewer", "tab_viewer"),
                                             ("&Worklist", "tab_worklist"),
                                             ("&About / Validation", "tab_about"))):
            self._add_action(view_menu, name, key,
                             lambda checked=False, i=index: self.tabs.setCurrentIndex(i))
        self.full_screen_action = self._add_action(
            view_menu, "&Full screen (panels hidden)", "full_screen",
            lambda: self.set_full_screen(not self.isFullScreen()))
        help_menu = self.help_menu = self.menuBar().addMenu("&Help")
        self._add_action(help_menu, "&Keyboard shortcuts", "shortcuts", self.show_shortcuts)
        self.open_log_action = self._add_action(help_menu, "Open &log folder", "",
                                                self.open_log_folder)

    def add_menu(self, title: str) -> QMenu:
        """A menu of its own for the parts that add one, placed before Help (Help stays last)."""
        menu = QMenu(title, self)
        self.menuBar().insertMenu(self.help_menu.menuAction(), menu)
        return menu

    def add_menu_action(self, menu, text, shortcut_name, slot, *,
                        before: QAction | None = None) -> QAction:
        """An entry of ``menu`` calling ``slot`` (for the parts that add their own), at the
        end or ``before`` an entry."""
        return self._add_action(menu, text, shortcut_name, slot, before=before)

    def _add_action(self, menu, text, shortcut_name, slot, *,
                    before: QAction | None = None) -> QAction:
        """A menu entry whose keys are the shortcut table's action ``shortcut_name`` ("" for
        none; a name not in the table is a KeyError, so Help cannot miss a key). The window
        holds the action too, so its keys work with the menus hidden."""
        action = QAction(text, self)
        if shortcut_name:
            action.setShortcuts(shortcuts.key_sequences(shortcut_name))
        action.triggered.connect(slot)
        if before is None:
            menu.addAction(action)
        else:
            menu.insertAction(before, action)
        self.addAction(action)
        return action

    def show_shortcuts(self) -> None:
        ShortcutsDialog(self).exec()

    def set_full_screen(self, full: bool) -> None:
        """Full screen for reading: menus, tabs, status bar and the explanation panel hidden;
        film, verdict, tools and review bar stay. F11 or Esc leaves."""
        if full == self.isFullScreen():
            return
        if full:
            self.tabs.setCurrentWidget(self.viewer_tab)
            self.showFullScreen()
        else:
            self.showNormal()
        for widget in (self.menuBar(), self.statusBar(), self.tabs.tabBar()):
            widget.setVisible(not full)
        self.viewer_tab.set_panels_visible(not full)

    def _full_screen_only_in_the_viewer(self, _index: int) -> None:
        """Full screen is the viewer's reading mode: another tab (Ctrl+2…) brings the tab bar,
        menus and panels back, or it would show with no sign of where one is."""
        if self.tabs.currentWidget() is not self.viewer_tab:
            self.set_full_screen(False)

    def open_log_folder(self) -> bool:
        """Show the log folder in the desktop's file manager (to send the log to support)."""
        folder = runtime.log_dir()
        folder.mkdir(parents=True, exist_ok=True)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder)))

    def choose_image(self) -> None:
        start = str(self.preferences.last_image_folder or Path.home())
        patterns = " ".join(f"*{suffix}" for suffix in sorted(SUPPORTED_SUFFIXES))
        path, _ = QFileDialog.getOpenFileName(  # all files first: DICOM often has no suffix
            self, "Open X-ray", start, f"All files (*);;X-ray images ({patterns})"
        )
        if path:
            self.open_in_viewer(path)

    def choose_scan_folder(self) -> None:
        start = str(self.preferences.last_scan_folder or Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Folder to scan", start)
        if folder:
            self.scan_folder(Path(folder))

    def choose_dicomdir(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Disc or stick with a DICOMDIR",
                                                  str(Path.home()))
        if folder:
            self.open_dicomdir(folder)

    def open_dicomdir(self, path) -> bool:
        """List the patients and studies of the DICOMDIR ``path`` names (the file, or a disc's
        folder), then view or scan the study chosen. False if there is none or none chosen."""
        from pneumo_desktop.core.dicomdir import DicomDirError, read_dicomdir
        from pneumo_desktop.ui.dicomdir_dialog import DicomDirAction, dicomdir_of

        index = dicomdir_of(path)
        try:
            if index is None:
                raise DicomDirError(f"No DICOMDIR in {path}.")
            choice = self.choose_study(read_dicomdir(index))
        except DicomDirError as error:
            QMessageBox.warning(self, "DICOMDIR", str(error))
            return False
        if choice is None:
            return False
        if choice.action is DicomDirAction.VIEW:
            self.open_in_viewer(choice.films[0])
        else:
            self.scan_folder(choice.folder)
        return True

    def choose_study(self, listing):
        """The study picked from ``listing`` (a modal list; tests replace this)."""
        from pneumo_desktop.ui.dicomdir_dialog import ask_for_study

        return ask_for_study(listing, self)

    def open_in_viewer(self, path, *, from_worklist: bool = False) -> None:
        """Show ``path`` in the viewer; ``from_worklist``: stepping follows the worklist."""
        path = Path(path)
        self.preferences.last_image_folder = path.parent
        self.tabs.setCurrentWidget(self.viewer_tab)
        self.viewer_tab.open_path(path, from_worklist=from_worklist)

    def scan_folder(self, folder: Path) -> None:
        self.preferences.last_scan_folder = Path(folder)
        self.tabs.setCurrentWidget(self.batch_tab)
        if self.classifier is None:
            self._pending_scan = folder  # starts as soon as the model is ready
            self.statusBar().showMessage(f"The scan of {folder} starts when the model is ready")
            return
        self.batch_tab.start_scan(folder)

    def open_argument(self, argument: str) -> None:
        """The command line's FILE_OR_FOLDER (a disc's DICOMDIR, or a folder with one at its
        top, opens as its patient/study list)."""
        from pneumo_desktop.ui.dicomdir_dialog import dicomdir_of

        path = Path(argument)
        if dicomdir_of(path) is not None:
            self.open_dicomdir(path)
        elif path.is_dir():
            self.scan_folder(path)
        else:
            self.open_in_viewer(path)

    # Drag and drop -----------------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's name
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt's name
        urls = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if urls:
            self.open_argument(urls[0])
            event.acceptProposedAction()

    # Preferences and shutdown ------------------------------------------------------------
    def _restore_preferences(self) -> None:
        geometry = self.preferences.window_geometry
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.setGeometry(first_start_geometry(self.screen().availableGeometry()))
        self.viewer_tab.explain_panel.apply_lime_settings(self.preferences.lime)

    def _save_preferences(self) -> None:
        self.set_full_screen(False)  # the geometry kept is the normal window's
        self.preferences.window_geometry = self.saveGeometry()
        self.preferences.lime = self.viewer_tab.explain_panel.lime_settings()
        if self.batch_tab.last_folder:
            self.preferences.last_scan_folder = self.batch_tab.last_folder
        self.preferences.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Save the preferences, stop the scan (it stays resumable), cancel the model work,
        wait for every worker, then for the inference thread (a model still loading cannot be
        interrupted: it is waited for)."""
        self._save_preferences()
        self.site.shutdown()
        self.batch_tab.shutdown()
        self.viewer_tab.shutdown()
        if not await_workers(timeout=60):
            log.warning("closing with workers still running")
        if not self.inference.shutdown(timeout=60):
            log.warning("closing while the inference thread is still busy")
        self.worklist.close()
        super().closeEvent(event)
