"""Errors every command of the CLI can raise, and the exit statuses they carry.

A leaf module: the runner, doctor, installer and Voxtral commands raise `CliError` without
importing the CLI itself.
"""

from __future__ import annotations


class CliError(Exception):
    """A one-line error for the user; exit status 2 unless given."""

    def __init__(self, message: str, status: int = 2) -> None:
        super().__init__(message)
        self.status = status


CONFIG_ERROR = 2
"""Exit status of a config error, a bad argument or a part `run` cannot do without: the
systemd unit does not restart on it (packaging/voxagent.service RestartPreventExitStatus)."""
LOCK_HELD = 3
"""Exit status when another agent already acts (not restarted either)."""
