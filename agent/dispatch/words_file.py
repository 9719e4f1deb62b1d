""""add word <spoken> as <written>" by voice: one entry appended to the user's words file.

The file is `spoken-words.toml` in the user's command folder, the agent's own (a file
the user wrote is never touched).  It is written whole to a new private file (0600)
beside it and renamed over it, so a reader sees the old or the new file, never half;
neither it nor the new file is opened through a symbolic link.  The entry takes effect
when the command files are reloaded (the live agent notices the change by itself).
"""

from __future__ import annotations

import json
import logging
import os
import tomllib
from pathlib import Path

from agent.actions.base import ActionError
from agent.dispatch.words import spoken_key, wrong_entry
from agent.paths import FOLDER_MODE, PrivateError, open_private

log = logging.getLogger(__name__)

WORDS_FILE = "spoken-words.toml"
HEADER = ('# Words added by voice ("add word vox agent as voxagent"); see docs/commands.md.\n'
          "[words]\n")
_MAX_BYTES = 1 << 20


def add_word(folder: Path, spoken: str, written: str) -> Path:
    """Append `spoken` = `written` to the words file in `folder` (made if missing);
    ActionError (one line) when the entry is bad, already there, or the file cannot be
    read or written safely. Returns the file."""
    why = wrong_entry(spoken, written)
    if why:
        raise ActionError(f"add word {spoken!r}: {why}")
    path = folder / WORDS_FILE
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        old = _read(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise ActionError(f"add word: cannot read {path}: {_why(exc)}") from None
    text = (old or HEADER)
    text += ("" if text.endswith("\n") else "\n") + f"{_toml(spoken)} = {_toml(written)}\n"
    _check(path, old, text, spoken, written)
    try:
        _replace(path, text.encode("utf-8"))
    except OSError as exc:
        raise ActionError(f"add word: cannot write {path}: {_why(exc)}") from None
    log.info("added word %r = %r to %s", spoken, written, path)
    return path


def _read(path: Path) -> str:
    """The file's text, "" when it does not exist; never through a link."""
    try:
        fd = open_private(path, os.O_RDONLY)
    except FileNotFoundError:
        return ""
    with os.fdopen(fd, "rb") as f:
        data = f.read(_MAX_BYTES + 1)
    if len(data) > _MAX_BYTES:
        raise OSError(f"longer than {_MAX_BYTES >> 20} MB")
    return data.decode("utf-8")


def _check(path: Path, old: str, new: str, spoken: str, written: str) -> None:
    """The new text must be the old file plus exactly this entry in its [words]."""
    try:
        before = tomllib.loads(old) if old else {"words": {}}
        after = tomllib.loads(new)
    except tomllib.TOMLDecodeError as exc:
        raise ActionError(f"add word: {path} is not valid TOML ({exc}); not changed") \
            from None
    words = before.get("words")
    if isinstance(words, dict):
        same = next((k for k in words if spoken_key(k) == spoken_key(spoken)), None)
        if same is not None:
            raise ActionError(f"add word: {spoken!r} is already in {path} (as {same!r} = "
                              f"{words[same]!r}); edit the file to change it")
        if after == {**before, "words": {**words, spoken: written}}:
            return
    raise ActionError(f"add word: {path} does not end in its [words] table; not changed")


def _replace(path: Path, data: bytes) -> None:
    """Write `data` to a new private file beside `path`, then rename it over `path`."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # a leftover of ours (a link is removed, not followed)
    fd = open_private(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _toml(text: str) -> str:
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def _why(exc: Exception) -> str:
    if isinstance(exc, PrivateError):
        return str(exc)
    return getattr(exc, "strerror", None) or str(exc)
