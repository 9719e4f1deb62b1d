"""Tiny real filesystems (a full one, a read-only one) for the tests, mounted by whoever
may: root directly; any other user inside a new user and mount namespace (`unshare -rm`),
where it is root of its own mounts.  A test marked `mounts` runs again in such a
namespace when this process may not mount (tests/conftest.py), so it runs on CI
whether or not CI runs as root."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

NAMESPACE_ENV = "VOXAGENT_TEST_NAMESPACE"
"""Set in the child pytest run inside the namespace (it must not start another one)."""


@cache
def cannot_mount() -> str:
    """Why this process may not mount a tmpfs, or "" when it may."""
    if os.geteuid() != 0:
        return "not root"
    with tempfile.TemporaryDirectory() as where:
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", where],
                              capture_output=True, text=True, check=False, timeout=30)
        if done.returncode:
            return done.stderr.strip() or f"mount exited with {done.returncode}"
        subprocess.run(["umount", where], check=True, timeout=30)
    return ""


def mount_tmpfs(where: Path, size: str = "64k", mode: str = "0755") -> Path:
    """A real tmpfs of `size` mounted at `where` (made if missing)."""
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode={mode}", "tmpfs",
                    str(where)], check=True, timeout=30)
    return where


def make_read_only(where: Path) -> None:
    """Remount the mount at `where` read-only (a bind remount: allowed in a namespace too)."""
    subprocess.run(["mount", "-o", "remount,bind,ro", str(where)], check=True, timeout=30)


def unmount(where: Path) -> None:
    subprocess.run(["umount", "-l", str(where)], check=False, timeout=30)


def run_in_namespace(item: pytest.Item) -> None:
    """Run the test `item` again in a child pytest inside `unshare -rm`, and fail with the
    child's output when it does not pass; skip only when this kernel gives no namespace."""
    why = cannot_mount()
    if os.environ.get(NAMESPACE_ENV):
        raise AssertionError(f"cannot mount a tmpfs even in a user namespace: {why}")
    unshare = shutil.which("unshare")
    probe = subprocess.run([unshare or "unshare", "-rm", "true"], capture_output=True,
                           text=True, check=False, timeout=30) if unshare else None
    if probe is None or probe.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({why}) nor in a user namespace "
                    f"({probe.stderr.strip() if probe else 'no unshare'})")
    with tempfile.TemporaryDirectory(prefix="voxagent-ns-") as base:
        done = subprocess.run(
            [unshare, "-rm", sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--basetemp={base}/t", item.nodeid], capture_output=True, text=True,
            check=False, cwd=item.config.rootpath, env={**os.environ, NAMESPACE_ENV: "1"})
    if done.returncode != 0 or " passed" not in done.stdout:
        pytest.fail(f"in a user and mount namespace ({why} here):\n{done.stdout}{done.stderr}",
                    pytrace=False)
