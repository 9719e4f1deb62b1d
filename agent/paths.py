"""Where voxagent keeps things: the user's config and state dirs, and the shipped data."""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import user_config_path, user_state_path

APP = "voxagent"
_PACKAGE = Path(__file__).resolve().parent


def config_dir() -> Path:
    """The user's config folder ($VOXAGENT_CONFIG_DIR overrides, for tests and portable use)."""
    override = os.environ.get("VOXAGENT_CONFIG_DIR")
    return Path(override) if override else user_config_path(APP)


def config_file() -> Path:
    """The one TOML configuration file."""
    return config_dir() / "config.toml"


def user_commands_dir(configured: str = "") -> Path:
    """The folder of the user's own command files."""
    return Path(configured).expanduser() if configured else config_dir() / "commands"


def state_dir() -> Path:
    """Where history and logs go ($VOXAGENT_STATE_DIR overrides)."""
    override = os.environ.get("VOXAGENT_STATE_DIR")
    return Path(override) if override else user_state_path(APP)


def data_dir(name: str) -> Path:
    """A shipped data folder ("commands" or "assets"): inside the wheel, or the source tree."""
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name
