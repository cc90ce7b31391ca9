"""Suite-wide reporting: how many tests ran on the real Asterisk, and none skipped for want of it."""

from __future__ import annotations

import os

import pytest
from _pytest.terminal import TerminalReporter

_ASTERISK_OUTCOMES: dict[str, int] = {}


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if "asterisk" not in report.keywords:
        return
    if report.when == "call" or report.outcome == "skipped" or (report.when == "setup" and report.failed):
        _ASTERISK_OUTCOMES[report.outcome] = _ASTERISK_OUTCOMES.get(report.outcome, 0) + 1


def pytest_terminal_summary(terminalreporter: TerminalReporter) -> None:
    if not _ASTERISK_OUTCOMES:
        return
    where = os.environ.get("CC_TEST_AMI", "no PBX (CC_TEST_AMI not set)")
    counts = ", ".join(f"{n} {outcome}" for outcome, n in sorted(_ASTERISK_OUTCOMES.items()))
    terminalreporter.write_sep("-", f"asterisk tests on the real PBX at {where}: {counts}")
