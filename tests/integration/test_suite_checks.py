"""The suite's own guards (tests/conftest.py): on CI a skip for a reason not in
tests/allowed_skips.py fails the run, and a test marked `mounts` runs in a user and mount
namespace when its process may not mount.  Each runs a real pytest on a planted file."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SKIPS = '''
import pytest

def test_moot():
    pytest.skip("this machine has /dev/uinput")

def test_planted():
    pytest.skip("needs espeak-ng")

def test_runs():
    pass
'''

MOUNTS = '''
import os
import pytest
from tests import namespace

@pytest.mark.mounts
def test_a_full_tmpfs(tmp_path):
    fs = namespace.mount_tmpfs(tmp_path / "fs", "8k")
    with pytest.raises(OSError, match="No space"):
        (fs / "big").write_bytes(bytes(64 * 1024))
    assert os.environ["VOXAGENT_TEST_NAMESPACE"] == "1"  # it ran in the namespace

@pytest.mark.mounts
def test_failing_inside(tmp_path):
    namespace.mount_tmpfs(tmp_path / "fs")
    assert False, "failed in the namespace"
'''


def pytest_run(folder: Path, body: str, *prefix: str, ci: bool = True
               ) -> subprocess.CompletedProcess[str]:
    (folder / "test_planted.py").write_text(body)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "VOXAGENT_TEST_NAMESPACE")}
    env.update(PYTHONPATH=str(REPO), **({"CI": "true"} if ci else {}))
    return subprocess.run([*prefix, sys.executable, "-m", "pytest", "-p", "tests.conftest",
                           "-p", "no:cacheprovider", "-rs", str(folder / "test_planted.py")],
                          capture_output=True, text=True, check=False, cwd=folder, env=env)


def test_a_skip_not_allowed_fails_a_ci_run(tmp_path: Path) -> None:
    done = pytest_run(tmp_path, SKIPS)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout
    section = done.stdout.split("skips CI must not have")[1]
    assert "test_planted.py::test_planted: Skipped: needs espeak-ng" in section
    assert "test_moot" not in section  # an allowed reason
    assert "1 passed, 2 skipped" in done.stdout
    # off CI the same skips are only reported
    off = pytest_run(tmp_path, SKIPS, ci=False)
    assert off.returncode == 0 and "skips CI must not have" not in off.stdout, off.stdout
    # a run whose skips are all allowed passes on CI
    allowed = pytest_run(tmp_path, SKIPS.replace("needs espeak-ng", "this machine has "
                                                 "/dev/uinput"))
    assert allowed.returncode == 0, allowed.stdout


def test_a_mounting_test_runs_in_a_namespace_when_it_may_not_mount(tmp_path: Path) -> None:
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is missing"
    # a user namespace alone maps us to root but gives no right to mount: the marked
    # tests then run again in a user and mount namespace of their own
    done = pytest_run(tmp_path, MOUNTS, unshare, "-r", ci=False)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "1 failed, 1 passed" in done.stdout, done.stdout
    assert "in a user and mount namespace" in done.stdout
    assert "failed in the namespace" in done.stdout
