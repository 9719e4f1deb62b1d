"""Links and non-files where the CLI expects a file, for real: `init` over a config.toml that
is a folder or a dangling link, `autostart off` over a folder, `autostart on` through a
dangling link (which must not write the link's target), `commands --check` on a link loop.
Each is one line naming the path, and nothing is written or removed."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.integration.test_install import voxagent


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    (line,) = result.stderr.splitlines()
    return line


def test_init_over_a_config_that_is_not_a_file_is_an_error(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.mkdir(parents=True)
    result = voxagent(tmp_path, "init")
    assert result.returncode == 2, result.stderr
    assert one_line(result) == (f"voxagent: error: {config}: exists and is a folder: left as "
                                "it is")
    assert config.is_dir() and not list(config.iterdir())
    config.rmdir()
    config.symlink_to(tmp_path / "gone.toml")
    result = voxagent(tmp_path, "init")
    assert result.returncode == 2, result.stderr
    assert one_line(result).startswith(f"voxagent: error: {config}: exists and is a symbolic "
                                       f"link to {tmp_path / 'gone.toml'}, which cannot be read")
    assert not (tmp_path / "gone.toml").exists()


def test_autostart_off_over_a_folder_is_an_error(tmp_path: Path) -> None:
    entry = tmp_path / "xdg" / "autostart" / "voxagent.desktop"
    (entry / "inside").mkdir(parents=True)
    result = voxagent(tmp_path, "autostart", "off")
    assert result.returncode == 2, result.stderr
    assert one_line(result) == (f"voxagent: error: {entry}: is a folder, not an autostart "
                                "entry: left as it is")
    assert (entry / "inside").is_dir()


def test_autostart_on_never_writes_through_a_link(tmp_path: Path) -> None:
    entry = tmp_path / "xdg" / "autostart" / "voxagent.desktop"
    entry.parent.mkdir(parents=True)
    target = tmp_path / "elsewhere" / ".bashrc"
    target.parent.mkdir()
    entry.symlink_to(target)
    result = voxagent(tmp_path, "autostart", "on")
    assert result.returncode == 2, result.stderr
    assert one_line(result).startswith(f"voxagent: error: {entry}: exists and is a symbolic "
                                       f"link to {target}, which cannot be read")
    assert not target.exists() and entry.is_symlink()
    off = voxagent(tmp_path, "autostart", "off")  # the link itself goes, not what it names
    assert off.returncode == 0 and f"{entry}: removed" in off.stdout
    assert not entry.is_symlink()
    on = voxagent(tmp_path, "autostart", "on")
    assert on.returncode == 0 and entry.is_file() and not entry.is_symlink()


def test_commands_check_on_a_link_loop_is_one_line(tmp_path: Path) -> None:
    one, two = tmp_path / "one.toml", tmp_path / "two.toml"
    one.symlink_to(two)
    two.symlink_to(one)
    result = voxagent(tmp_path, "commands", "--check", str(one))
    assert result.returncode == 1
    line = one_line(result)
    assert line.startswith(f"{one}:") and "symbolic links" in line, line
    assert result.stdout == ""
