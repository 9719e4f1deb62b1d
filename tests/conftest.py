"""Hooks for the whole suite: a test marked `mounts` runs in a user and mount namespace
when this process may not mount (tests/namespace.py), and on CI (env CI set) a skip for
a reason not in tests/allowed_skips.py fails the run, so that no test is lost unseen."""

from __future__ import annotations

import os

import pytest

from tests import allowed_skips, namespace

_disallowed: list[tuple[str, str]] = []
"""(test id, reason) of every skip whose reason is not allowed on CI, in this session."""


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool | None:
    if pyfuncitem.get_closest_marker("mounts") is None or not namespace.cannot_mount():
        return None
    namespace.run_in_namespace(pyfuncitem)
    return True


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.skipped and not hasattr(report, "wasxfail"):
        longrepr = report.longrepr
        reason = str(longrepr[2] if isinstance(longrepr, tuple) else longrepr)
        if not allowed_skips.allowed(reason):
            _disallowed.append((report.nodeid, reason))


def pytest_sessionfinish(session: pytest.Session) -> None:
    if os.environ.get("CI") and _disallowed and session.exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if os.environ.get("CI") and _disallowed:
        terminalreporter.section("skips CI must not have (tests/allowed_skips.py)", red=True)
        for nodeid, reason in _disallowed:
            terminalreporter.line(f"{nodeid}: {reason}")
