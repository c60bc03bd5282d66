"""PDF reports: a scan's worklist (:mod:`.scan_report`) and one film's case page
(:mod:`.case_report`); what both draw with is in :mod:`.pdf_pages`."""

from __future__ import annotations

from .case_report import write_case_report
from .pdf_pages import INTENDED_USE_LINE
from .scan_report import write_scan_report

__all__ = ["INTENDED_USE_LINE", "write_case_report", "write_scan_report"]
