"""Run statistics (stats.py), the report collected while a run executes (collect.py), and the
report and dataset card written at the end of every run (`write_report`)."""

from textmill.report.build import ReportError, RunReport, write_report

__all__ = ["ReportError", "RunReport", "write_report"]
