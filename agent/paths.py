"""Where voxagent keeps things: the user's config and state dirs, and the shipped data;
and how the state folder and its files are kept private (never through a link, never a
folder or file someone else owns)."""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

from platformdirs import user_config_path, user_state_path

APP = "voxagent"
_PACKAGE = Path(__file__).resolve().parent

log = logging.getLogger(__name__)


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


def command_folders(builtin: bool, user_dir: str = "") -> list[Path]:
    """The folders command files load from, in order: the built-in sets (unless turned
    off), then the user's own."""
    folders = [data_dir("commands")] if builtin else []
    folders.append(user_commands_dir(user_dir))
    return folders


def state_dir() -> Path:
    """Where history and logs go ($VOXAGENT_STATE_DIR overrides)."""
    override = os.environ.get("VOXAGENT_STATE_DIR")
    return Path(override) if override else user_state_path(APP)


def data_dir(name: str) -> Path:
    """A shipped data folder ("commands" or "assets"): inside the wheel, or the source tree."""
    installed = _PACKAGE / "_data" / name
    return installed if installed.is_dir() else _PACKAGE.parent / name


# --- private state: the folder and the files in it -----------------------------------------

FILE_MODE = 0o600
FOLDER_MODE = 0o700
_FOREIGN_WRITE = 0o022
"""Group or others may create, remove and rename names in a folder with these bits."""
_OPEN_EXTRA = (getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
               | getattr(os, "O_NONBLOCK", 0))
"""Never through a symbolic link; not inherited; a FIFO fails instead of blocking."""

_checked: dict[Path, str] = {}
"""Each state folder checked in this process: "" when usable, else why it is refused."""
_said: set[str] = set()


class PrivateError(OSError):
    """A state folder or file that is not safely this user's: refused (one line)."""


def warn_once(message: str) -> None:
    """A problem line, said the first time only (a folder or file is used many times)."""
    if message not in _said:
        _said.add(message)
        log.warning("%s", message)


def private_state(folder: Path | None = None) -> Path:
    """The state folder, checked once per process as ssh checks ~/.ssh: made (0700) if
    missing, made 0700 if ours and looser; PrivateError (one line) when it is not a folder,
    someone else owns it, or others can still write in it (they could plant links there)."""
    folder = folder or state_dir()
    private_folder(folder)  # (again) if it was removed meanwhile
    key = folder.absolute()
    if key not in _checked:
        _checked[key] = _folder_problem(folder)
    if _checked[key]:
        raise PrivateError(_checked[key])
    return folder


def usable_state(folder: Path | None = None) -> Path | None:
    """The state folder, or None (said once: history and log are off) when it is refused
    or cannot be made."""
    try:
        return private_state(folder)
    except PrivateError as exc:
        why = str(exc)
    except OSError as exc:
        why = f"cannot make the state folder {folder or state_dir()}: {exc.strerror or exc}"
    warn_once(f"{why}: no history and no log file are written")
    return None


def refusal(path: Path, folder: bool = False) -> str:
    """Why the agent would refuse this state folder or file as it is now ("" if it would
    not, or it is absent): looks only, for `voxagent doctor`."""
    if os.name != "posix":
        return ""
    try:
        st = os.stat(path) if folder else os.lstat(path)
    except FileNotFoundError:
        return ""
    if folder:
        return _foreign_folder(st, path)
    if stat.S_ISLNK(st.st_mode):
        return f"{path} is a symbolic link"
    return _foreign_file(st, path)


def _foreign_folder(st: os.stat_result, folder: Path) -> str:
    if not stat.S_ISDIR(st.st_mode):
        return f"the state folder {folder} is not a folder"
    if st.st_uid != os.geteuid():
        return f"the state folder {folder} belongs to {_owner(st.st_uid)}, not to you"
    return ""


def _foreign_file(st: os.stat_result, path: Path) -> str:
    if not stat.S_ISREG(st.st_mode):
        return f"{path} is not a regular file"
    if st.st_uid != os.geteuid():
        return f"{path} belongs to {_owner(st.st_uid)}, not to you"
    if st.st_nlink > 1:
        return f"{path} has {st.st_nlink} names (hard links)"
    return ""


def _folder_problem(folder: Path) -> str:
    if os.name != "posix":
        return ""
    st = os.stat(folder)
    if why := _foreign_folder(st, folder):
        return why
    if stat.S_IMODE(st.st_mode) & ~FOLDER_MODE:
        tighten(folder, FOLDER_MODE)
        if stat.S_IMODE(os.stat(folder).st_mode) & _FOREIGN_WRITE:
            return (f"the state folder {folder} is writable by others (mode "
                    f"{stat.S_IMODE(st.st_mode):04o}) and cannot be made private")
    return ""


def _owner(uid: int) -> str:
    try:
        import pwd

        return f"{pwd.getpwuid(uid).pw_name} (uid {uid})"
    except (ImportError, KeyError):
        return f"uid {uid}"


def open_private(path: Path, flags: int) -> int:
    """Open a state file (created 0600) never through a symbolic link and not inherited; it
    must be a regular file of this user's with no other name (a hard link), and is made
    0600 if it was looser. PrivateError (one line) for anything else: refused."""
    if os.name != "posix":
        return os.open(path, flags | getattr(os, "O_BINARY", 0), FILE_MODE)
    try:
        fd = os.open(path, flags | _OPEN_EXTRA, FILE_MODE)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EMLINK) and os.path.islink(path):
            raise PrivateError(f"{path} is a symbolic link: refused") from None
        if exc.errno == errno.ENXIO:  # a FIFO with no reader, opened to write
            raise PrivateError(f"{path} is not a regular file: refused") from None
        raise
    try:
        _check_opened(fd, path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _check_opened(fd: int, path: Path) -> None:
    st = os.fstat(fd)
    if why := _foreign_file(st, path):
        raise PrivateError(f"{why}: refused")
    current = stat.S_IMODE(st.st_mode)
    if current & ~FILE_MODE:
        try:
            os.fchmod(fd, current & FILE_MODE)
        except OSError as exc:
            warn_once(f"cannot make {path} private (mode {current:04o}): "
                      f"{exc.strerror or exc}")
            return
        log.info("made %s private: mode %04o -> %04o", path, current, current & FILE_MODE)


def private_folder(folder: Path) -> None:
    """Create `folder` (mode 0700) if it does not exist; its parents get the usual mode."""
    if not folder.is_dir():
        folder.parent.mkdir(parents=True, exist_ok=True)
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)


def tighten(path: Path, mode: int) -> None:
    """Take away the permission bits `mode` does not have from an existing file or folder
    (0644 -> 0600 for mode 0600); one INFO line when it changes, a warning (once) if it
    cannot. POSIX only: Windows keeps a user's files private with ACLs, not these bits."""
    if os.name != "posix":
        return
    try:
        current = stat.S_IMODE(os.lstat(path).st_mode)
    except FileNotFoundError:
        return
    except OSError as exc:
        warn_once(f"cannot check the mode of {path}: {exc.strerror or exc}")
        return
    if os.path.islink(path) or not current & ~mode:
        return
    try:
        os.chmod(path, current & mode)
    except OSError as exc:
        warn_once(f"cannot make {path} private (mode {current:04o}): {exc.strerror or exc}")
        return
    log.info("made %s private: mode %04o -> %04o", path, current, current & mode)
