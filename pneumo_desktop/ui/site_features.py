"""What the main window gains for running at a clinic, installed by one call
(:func:`install_site_features`) so the window's own module stays small:

* tabs: Site calibration (:class:`CalibrationTab`) and Audit trail (:class:`AuditView`);
* a Site menu: "Watch the scanned folder for new films", "Write DICOM result for this film",
  Settings… (receiver, DICOM results, watched folders);
* status-bar labels: the threshold in use (site or factory, and why), the monitoring alert
  when this week's share flagged left the calibration band, the receiver, the watch;
* the DICOM receiver, started with the app when enabled, its films scanned into the worklist
  as they arrive when so set, and stopped on quit.

Everything reaches the worklist and the viewer through their public methods and signals.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QObject
from PySide6.QtWidgets import QLabel, QMainWindow

from pneumo_desktop.core.site_overview import ProfileState, SiteOverview
from pneumo_desktop.core.store import ResultStore, model_sha256
from pneumo_desktop.ui.audit_view import AuditView
from pneumo_desktop.ui.calibration_tab import CalibrationTab
from pneumo_desktop.ui.dicom_results_writer import DicomResultWriter
from pneumo_desktop.ui.receiver_service import ReceiverService
from pneumo_desktop.ui.settings_dialog import SettingsDialog
from pneumo_desktop.ui.site_profile_service import SiteProfileService

log = logging.getLogger(__name__)

WARNING_STYLE = "color: #a04000; font-weight: bold;"
ALERT_STYLE = "color: #b00020; font-weight: bold;"


class SiteFeatures(QObject):
    """Owned by the window; see the module docstring."""

    def __init__(self, window: QMainWindow, db_path: Path) -> None:
        super().__init__(window)
        self.window, self.db_path = window, Path(db_path)
        self.preferences = window.preferences
        self.profiles = SiteProfileService(window.inference, db_path, parent=self)
        self.calibration_tab = CalibrationTab(window.inference, self.profiles, db_path)
        self.audit_view = AuditView(db_path)
        self.receiver = ReceiverService(self)
        self.dicom_writer = DicomResultWriter(window.inference, db_path, self)
        self._receiver_scan_wanted = False
        self._add_tabs()
        self._add_status_labels()
        self._add_menu()
        self._connect()
        self.scan_controller.set_watch(False, self.preferences.watch)
        self.apply_receiver_settings()

    @property
    def scan_controller(self):
        return self.window.batch_tab.scan_controller

    # Building ----------------------------------------------------------------------------
    def _add_tabs(self) -> None:
        tabs = self.window.tabs
        tabs.addTab(self.calibration_tab, "Site calibration")
        tabs.addTab(self.audit_view, "Audit trail")
        for widget, name, key in ((self.calibration_tab, "Site &calibration", "tab_calibration"),
                                  (self.audit_view, "Au&dit trail", "tab_audit")):
            # With the other tabs, before Full screen.
            self.window.add_menu_action(self.window.view_menu, name, key,
                                        lambda _=False, w=widget: tabs.setCurrentWidget(w),
                                        before=self.window.full_screen_action)

    def _add_status_labels(self) -> None:
        bar = self.window.statusBar()
        self.threshold_label = QLabel("", objectName="threshold_label")
        self.alert_label = QLabel("", objectName="monitoring_alert_label")
        self.alert_label.setStyleSheet(ALERT_STYLE)
        self.receiver_label = QLabel(self.receiver.text, objectName="receiver_label")
        self.watch_label = QLabel("", objectName="watch_label")
        for label in (self.alert_label, self.watch_label, self.receiver_label,
                      self.threshold_label):
            bar.addPermanentWidget(label)
        self.alert_label.hide()
        self.watch_label.hide()

    def _add_menu(self) -> None:
        menu = self.window.add_menu("&Site")
        add = self.window.add_menu_action
        self.watch_action = add(menu, "&Watch the scanned folder for new films", "",
                                self.set_watch)
        self.watch_action.setCheckable(True)
        self.dicom_action = add(menu, "Write &DICOM result for this film", "dicom_result",
                                self.write_dicom_result)
        menu.addSeparator()
        self.settings_action = add(menu, "&Settings…", "", self.edit_settings)

    def _connect(self) -> None:
        self.profiles.changed.connect(self._show_threshold)
        self.calibration_tab.overviewUpdated.connect(self._show_alert)
        self.window.modelReady.connect(self._on_model_ready)
        self.window.batch_tab.scanFinished.connect(self._on_scan_finished)
        self.receiver.stateChanged.connect(self.receiver_label.setText)
        self.scan_controller.watchingChanged.connect(self._show_watch)
        self.dicom_writer.written.connect(lambda text: self._say(text, 15000))
        self.dicom_writer.failed.connect(lambda text: self._say(text, 15000))

    # Threshold, monitoring ---------------------------------------------------------------
    def _show_threshold(self, state: ProfileState) -> None:
        point = self.profiles.operating_point
        if point is None:
            return
        text = f"Threshold: {point.source} {point.threshold:.4f}"
        warn = state.error is not None or state.for_another_model
        if state.for_another_model:
            text += " (site profile is for another model: ignored)"
        elif state.error is not None:
            text += " (site profile damaged: ignored)"
        self.threshold_label.setText(text)
        self.threshold_label.setToolTip(state.notice)
        self.threshold_label.setStyleSheet(WARNING_STYLE if warn else "")

    def _show_alert(self, overview: SiteOverview) -> None:
        alert = overview.current_alert
        self.alert_label.setVisible(alert is not None)
        self.alert_label.setText("⚠ Share flagged outside the calibration band" if alert else "")
        self.alert_label.setToolTip(alert or "")

    def _on_model_ready(self, classifier) -> None:
        state = self.profiles.state
        if state is not None and (state.error or state.for_another_model):
            self._say(state.notice, 20000)
        self.calibration_tab.refresh()
        self._start_receiver_scan()

    def _on_scan_finished(self, *_args) -> None:
        self.calibration_tab.refresh()  # monitoring counts the new films
        self._start_receiver_scan()

    # Watching ----------------------------------------------------------------------------
    def set_watch(self, enabled: bool) -> None:
        """The Site menu's switch: watch the worklist's folder (the scan on screen, resumed,
        or a new one) and scan each new film into it as it arrives."""
        batch = self.window.batch_tab
        self.scan_controller.set_watch(enabled, self.preferences.watch)
        self.watch_action.setChecked(enabled)
        if enabled and not batch.is_scanning and self.window.classifier is not None:
            if batch.current_scan_id is not None:
                batch.resume_scan(batch.current_scan_id)
            else:
                self.window.choose_scan_folder()
        self._show_watch(self.scan_controller.is_watching)

    def _show_watch(self, watching: bool) -> None:
        folder = self.scan_controller.watched_folder
        if watching and folder is not None:
            self.watch_label.setText(f"Watching {folder.name or folder} for new films")
            self.watch_label.setToolTip(str(folder))
        elif self.scan_controller.watch_enabled:
            self.watch_label.setText("Watch on: starts when a scan's folder is done")
        self.watch_label.setVisible(self.scan_controller.watch_enabled)

    # Receiver ----------------------------------------------------------------------------
    def apply_receiver_settings(self) -> None:
        settings = self.preferences.receiver
        running = self.receiver.apply(settings)
        self._receiver_scan_wanted = running and settings.scan_arrivals
        self._start_receiver_scan()

    def _start_receiver_scan(self) -> None:
        """Scan the receive folder into the worklist and keep watching it, once the model is
        ready and no other scan runs: the newest scan of that folder by this model, resumed
        (what arrived while the app was closed), or a new one."""
        batch, classifier = self.window.batch_tab, self.window.classifier
        if not self._receiver_scan_wanted or classifier is None or batch.is_scanning:
            return
        self._receiver_scan_wanted = False
        folder = self.receiver.folder.resolve()
        with ResultStore(self.db_path) as store:
            earlier = [info.id for info in store.scans() if Path(info.folder) == folder
                       and store.scan_model_sha256(info.id) == model_sha256(classifier.card)]
        self.scan_controller.set_watch(True, self.preferences.watch)
        self.watch_action.setChecked(True)
        started = batch.resume_scan(earlier[0]) if earlier else batch.start_scan(folder)
        log.info("received films are scanned as they arrive (%s scan of %s): %s",
                 "resumed" if earlier else "new", folder, started)

    # DICOM results and settings ----------------------------------------------------------
    def write_dicom_result(self) -> bool:
        """For the film of the tab on screen: the worklist's selected row, else the viewer's
        film."""
        window, path, prediction = self.window, None, None
        if window.tabs.currentWidget() is window.batch_tab:
            result = window.batch_tab.current_result()
            if result is not None and result.verdict is not None:
                from pneumo_desktop.core.dicom_export import prediction_of
                from pneumo_desktop.core.dicom_results import DicomResultError

                try:
                    path, prediction = result.path, prediction_of(result)
                except DicomResultError as error:
                    self._say(str(error), 15000)
                    return False
        else:
            classification = window.viewer_tab.classification
            path = window.viewer_tab.current_path
            prediction = classification.prediction if classification else None
        return self.dicom_writer.write(path, prediction, self.preferences.dicom_results)

    def edit_settings(self) -> bool:
        prefs = self.preferences
        dialog = SettingsDialog(prefs.receiver, prefs.dicom_results, prefs.watch, self.window)
        if not dialog.exec():
            return False
        self.save_settings(dialog)
        return True

    def save_settings(self, dialog: SettingsDialog) -> None:
        prefs = self.preferences
        receiver_changed = dialog.receiver_settings() != prefs.receiver
        prefs.receiver = dialog.receiver_settings()
        prefs.dicom_results = dialog.result_settings()
        prefs.watch = dialog.watch_settings()
        prefs.sync()
        self.scan_controller.set_watch(self.scan_controller.watch_enabled, prefs.watch)
        if receiver_changed:
            self.apply_receiver_settings()

    def shutdown(self) -> None:
        """The window is closing: stop the receiver, and wait for our workers."""
        self.receiver.stop()
        self.calibration_tab.shutdown()
        self.dicom_writer.shutdown()

    def _say(self, text: str, timeout_ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, timeout_ms)


def install_site_features(window: QMainWindow, db_path: Path) -> SiteFeatures:
    """Add the site features to ``window`` (a MainWindow: ``inference``, ``preferences``,
    ``tabs``, ``view_menu``, ``full_screen_action``, ``add_menu``, ``add_menu_action``,
    ``batch_tab``, ``viewer_tab``, ``modelReady``)."""
    return SiteFeatures(window, db_path)
