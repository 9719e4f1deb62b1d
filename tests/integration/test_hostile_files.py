"""Config and command files that are not files (issue 18, items 10 and 11), run for real
as subprocesses: a FIFO in the commands folder, a symlink to /dev/zero, `--config` on
/dev/zero, /dev/urandom or a FIFO. Each ends with one line naming the file, and the
address space is capped (RLIMIT_AS) so a runaway read fails the test instead of the
machine; the timeout is only the guard against a hang, never what is measured."""

from __future__ import annotations

import os
import resource
import subprocess
from pathlib import Path

import pytest

from tests.integration.test_cli import Home, home, one_line_error, voxagent

__all__ = ["home"]  # fixture, shared with test_cli.py

ADDRESS_SPACE = 4 * 1024**3
"""Enough for the CLI with the model's libraries mapped; far less than /dev/zero fills."""


def _capped() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE, ADDRESS_SPACE))


def capped(home: Home, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return voxagent(home, *args, preexec_fn=_capped)


def hostile_commands(home: Home) -> tuple[Path, Path]:
    """A FIFO and a symlink to /dev/zero among the user's command files, and a good one."""
    home.command_file("rockets.toml", '[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    fifo = home.commands_dir / "fifo.toml"
    os.mkfifo(fifo)
    zero = home.commands_dir / "zero.toml"
    zero.symlink_to("/dev/zero")
    return fifo, zero


def test_commands_lists_the_good_files_and_refuses_a_fifo_and_dev_zero(home: Home) -> None:
    fifo, zero = hostile_commands(home)
    result = capped(home, "commands")
    assert result.returncode == 0, result.stderr
    assert "launch rocket" in result.stdout and "new tab" in result.stdout
    lines = result.stderr.splitlines()
    assert len(lines) == 2 and "Traceback" not in result.stderr, result.stderr
    assert f"{fifo}:1: cannot read: it is a FIFO" in lines[0], lines
    assert f"{zero}:1: cannot read: it is a character device" in lines[1], lines


def test_commands_check_of_a_fifo_and_of_dev_zero_is_one_line(home: Home) -> None:
    fifo, zero = hostile_commands(home)
    for path, kind in ((fifo, "a FIFO (named pipe)"), (zero, "a character device")):
        result = capped(home, "commands", "--check", str(path))
        assert result.returncode != 0 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.splitlines() == [
            f"{path}:1: cannot read: it is {kind}, not a regular file"], result.stderr


def test_doctor_reports_a_fifo_among_the_command_files(home: Home) -> None:
    fifo, _ = hostile_commands(home)
    result = capped(home, "doctor")
    assert "Traceback" not in result.stderr, result.stderr
    assert f"{fifo}:1: cannot read: it is a FIFO" in result.stdout + result.stderr


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_config_on_a_device_is_one_line(home: Home, device: str) -> None:
    line = one_line_error(capped(home, "--config", device, "commands"))
    assert f"{device}: cannot read: it is a character device, not a regular file" in line


def test_config_on_a_fifo_is_one_line(home: Home) -> None:
    fifo = home.root / "config.toml"
    os.mkfifo(fifo)
    line = one_line_error(capped(home, "--config", str(fifo), "commands"))
    assert f"{fifo}: cannot read: it is a FIFO" in line


def test_a_config_larger_than_the_cap_is_one_line(home: Home) -> None:
    big = home.root / "config.toml"
    with big.open("w") as f:
        f.write("# " + "x" * (5 * 1024 * 1024) + "\n")
    line = one_line_error(capped(home, "--config", str(big), "commands"))
    assert f"{big}: cannot read: larger than 4 MB" in line


def test_a_nul_byte_in_an_apps_argument_stops_run_at_start_in_one_line(home: Home) -> None:
    """It was accepted, then the launch failed with ValueError: embedded null byte and an
    empty report."""
    home.config('[apps]\nterminal = ["xterm", "-e", "a\\u0000b"]\n')
    line = one_line_error(capped(home, "run", "--input", "/dev/null", "--dry-run", "--json"))
    assert "bad value for 'apps.terminal': an argument holds a NUL byte" in line
