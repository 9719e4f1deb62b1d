"""First run and install: `voxagent init` (a commented config and an example command
file) and `voxagent autostart on|off` (the XDG autostart entry, or the systemd user unit).

Nothing existing is overwritten: a file that is there is left alone and said so.  What is
written is private (0600 in a 0700 folder) where it may come to hold a key.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any

from agent.config import Config, _toml_key, _toml_value
from agent.paths import FILE_MODE, config_file, data_dir, private_folder, user_commands_dir

EXAMPLE_COMMANDS = "example.toml"
DESKTOP_ENTRY = "voxagent.desktop"
SYSTEMD_UNIT = "voxagent.service"


def add_parsers(sub: Any) -> None:
    sub.add_parser("init", help="write a commented config and an example command file "
                   "(never overwriting)")
    auto = sub.add_parser("autostart", help="start voxagent with the desktop session, or not")
    auto.add_argument("state", choices=("on", "off"))
    auto.add_argument("--systemd", action="store_true",
                      help="a systemd user unit instead of the XDG autostart entry")


def commented_config(cfg: Any = None, prefix: str = "") -> list[str]:
    """Every option with its documentation and what it allows, commented out at its
    default: "# doc" lines, and "#key = value" lines to uncomment."""
    cfg = Config() if cfg is None else cfg
    lines: list[str] = []
    for f in fields(cfg):
        if f.name == "source":
            continue
        value = getattr(cfg, f.name)
        if is_dataclass(value):
            lines += ["", f"[{prefix}{f.name}]", *commented_config(value, f"{prefix}{f.name}.")]
        elif isinstance(value, dict):
            lines += ["", f"# {f.metadata.get('doc', '')}", f"#[{prefix}{f.name}]",
                      '#terminal = ["xterm", "-e", "bash"]']
        else:
            lines += [f"# {_doc(f.metadata)}", f"#{_toml_key(f.name)} = {_toml_value(value)}"]
    return lines


def _doc(meta: Any) -> str:
    doc, choices, lo, hi = (meta.get(k) for k in ("doc", "choices", "lo", "hi"))
    if choices:
        return f"{doc} Allowed: {', '.join(_toml_value(c) for c in choices)}."
    if lo is not None or hi is not None:
        return f"{doc} From {lo if lo is not None else '-'} to {hi if hi is not None else '-'}."
    return str(doc)


def _refuse(message: str) -> Exception:
    """A one-line error, exit status 2."""
    from agent.errors import CliError

    return CliError(message)


def _not_regular(path: Path) -> str:
    """What `path` is when it is there but is not a regular file (through its links), else ""."""
    try:
        if stat.S_ISREG(os.stat(path).st_mode):
            return ""
    except OSError as exc:
        if os.path.islink(path):
            return f"a symbolic link to {os.readlink(path)}, which cannot be read " \
                   f"({exc.strerror or exc})"
        return f"not readable ({exc.strerror or exc})"
    return "a folder" if path.is_dir() else "not a regular file"


def _write_new(path: Path, text: str, say: Any, mode: int = FILE_MODE) -> bool:
    """Write `path` unless it exists (never through a link); say which. Something there
    that is not a regular file is an error."""
    private_folder(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, mode)
    except FileExistsError:
        if what := _not_regular(path):
            raise _refuse(f"{path}: exists and is {what}: left as it is") from None
        say(f"{path}: exists, left as it is")
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
    say(f"{path}: written")
    return True


def cmd_init(args: argparse.Namespace, say: Any = print) -> int:
    path: Path = args.config or config_file()
    head = ["# voxagent configuration: every option, commented out at its default.",
            "# Remove the # before a key = value line to change it; `voxagent config` prints",
            "# the effective values, `voxagent doctor` checks every part."]
    _write_new(path, "\n".join([*head, *commented_config()]) + "\n", say)
    example = (data_dir("packaging") / "example-commands.toml").read_text(encoding="utf-8")
    _write_new(user_commands_dir() / EXAMPLE_COMMANDS, example, say)
    return 0


def _voxagent_argv() -> list[str]:
    """How to start this voxagent: its console script if it is on PATH, else this Python."""
    script = shutil.which("voxagent")
    return [script, "run"] if script else [sys.executable, "-m", "agent", "run"]


def _autostart_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "autostart"


def _systemd_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def _exec_line(argv: list[str]) -> str:
    """A desktop-entry / systemd Exec value: each argument quoted where it needs it."""
    def quote(a: str) -> str:
        if a and all(c.isalnum() or c in "/._-+:=" for c in a):
            return a
        return '"' + a.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return " ".join(quote(a) for a in argv)


def rendered(name: str) -> str:
    """A shipped packaging file with Exec/ExecStart pointing at this voxagent."""
    text = (data_dir("packaging") / name).read_text(encoding="utf-8")
    key = "ExecStart=" if name == SYSTEMD_UNIT else "Exec="
    out = [key + _exec_line(_voxagent_argv()) if line.startswith(key) else line
           for line in text.splitlines()]
    return "\n".join(out) + "\n"


def cmd_autostart(args: argparse.Namespace, say: Any = print) -> int:
    name = SYSTEMD_UNIT if args.systemd else DESKTOP_ENTRY
    path = (_systemd_dir() if args.systemd else _autostart_dir()) / name
    if args.state == "on":
        path.parent.mkdir(parents=True, exist_ok=True)
        if _write_new(path, rendered(name), lambda _: None, 0o644):
            say(f"{path}: written")
        else:
            say(f"{path}: exists, left as it is (autostart off, then on, to renew it)")
        if args.systemd:
            _systemctl(["enable", name], say)
        return 0
    if args.systemd:
        _systemctl(["disable", name], say)
    _remove(path, say)
    return 0


def _remove(path: Path, say: Any) -> None:
    """Remove the entry (a link itself, not what it points to); anything but a file or a
    link is left, in one line."""
    try:
        kind = os.lstat(path).st_mode
    except FileNotFoundError:
        say(f"{path}: not there; nothing to remove")
        return
    if stat.S_ISDIR(kind) or not (stat.S_ISREG(kind) or stat.S_ISLNK(kind)):
        raise _refuse(f"{path}: is {'a folder' if stat.S_ISDIR(kind) else 'not a regular file'}"
                      ", not an autostart entry: left as it is")
    try:
        path.unlink()
    except OSError as exc:
        raise _refuse(f"{path}: cannot remove it: {exc.strerror or exc}") from None
    say(f"{path}: removed")


def _systemctl(action: list[str], say: Any) -> None:
    """systemctl --user ACTION, when a user manager answers; else say what to run."""
    program = shutil.which("systemctl")
    argv = ["systemctl", "--user", "daemon-reload"]
    if program:
        reload = subprocess.run([program, "--user", "daemon-reload"], capture_output=True,
                                text=True, timeout=30, check=False)
        if reload.returncode == 0:
            done = subprocess.run([program, "--user", *action], capture_output=True, text=True,
                                  timeout=30, check=False)
            if done.returncode == 0:
                say(f"systemctl --user {' '.join(action)}: done")
                return
    say(f"no systemd user manager answers here; in your session run: {' '.join(argv)} && "
        f"systemctl --user {' '.join(action)}")


COMMANDS = {"init": cmd_init, "autostart": cmd_autostart}
