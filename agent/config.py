"""One configuration object: frozen dataclasses loaded from a TOML file.

This module loads the file and composes `Config`; a section lives beside the code it
configures: [audio] and [vad] in agent/audio/config.py, [commands] in
agent/dispatch/config.py, [keyboard] in agent/actions/config.py, [desktop] in
agent/desktop/config.py, the recognisers' in agent/asr/config.py.  Every field documents
its default and what is allowed.  Unknown keys and bad values are refused with one line
naming the file, the key and what is allowed.
"""

from __future__ import annotations

import logging
import math
import re
import tomllib
import types
from collections.abc import Callable
from dataclasses import MISSING, dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from agent.actions.config import KeyboardConfig
from agent.asr.config import RecognitionConfig, VoxtralConfig, WhisperConfig
from agent.audio.config import AudioConfig, VadConfig
from agent.desktop.config import DesktopConfig
from agent.dispatch.config import CommandsConfig
from agent.options import option as _opt
from agent.textfile import TextFileError, read_text

log = logging.getLogger(__name__)


class ConfigError(ValueError):
    """A one-line message naming the file, key and what is allowed; one such line per
    problem when a file has several (all are reported at once, as command files do)."""


@dataclass(frozen=True)
class Config:
    audio: AudioConfig = field(default_factory=AudioConfig)
    vad: VadConfig = field(default_factory=VadConfig)
    whisper: WhisperConfig = field(default_factory=WhisperConfig)
    commands: CommandsConfig = field(default_factory=CommandsConfig)
    keyboard: KeyboardConfig = field(default_factory=KeyboardConfig)
    desktop: DesktopConfig = field(default_factory=DesktopConfig)
    recognition: RecognitionConfig = field(default_factory=RecognitionConfig)
    voxtral: VoxtralConfig = field(default_factory=VoxtralConfig)
    apps: dict[str, tuple[str, ...]] = _opt({}, "Logical apps for launch actions: name = [argv].")
    source: str = field(default="", metadata={"doc": "File the config was loaded from."})


REMOVED: dict[str, str] = {
    # "section.key": what takes its place (one line each, so old config files keep loading)
    "keyboard.key_delay_ms": "8 ms between key events",
    "desktop.click_guard_ms": "the hotkey's click is cut, 120 ms",
    "desktop.release_tail_ms": "150 ms are taken after the hotkey comes up",
    "desktop.device_retry_s": "a failed device is tried again every 2 s",
    "recognition.failures_to_open": "Voxtral is left alone after 2 failures in a row",
    "recognition.probe_interval_s": "a failing server is probed every 5 s",
    "recognition.stall_backoff_s": "a stalled server is left alone 30 s, doubled per try",
    "voxtral.max_retries": "a failed feature request is tried once more",
    "voxtral.stop_grace_s": "SIGKILL follows SIGTERM after 10 s",
    "voxtral.restart_backoff_s": "a crashed server restarts after 2 s, doubled per crash",
    "voxtral.max_restarts": "a server is left down after 5 crashes in a row",
    "voxtral.log_file": "the server's output is vllm-PORT.log in the state folder",
    "voxtral.realtime_final_timeout_s": "voxtral.request_timeout_s",
    "voxtral.realtime_backoff_s": "a lost session reconnects after 0.5 s, doubled per try",
    "audio.queue_blocks": "the frame queue holds about 30 s",
    "vad.tail_ms": "150 ms of silence are kept after the last voiced frame",
    "vad.end_hysteresis": "speech ends when Silero falls below vad.end_threshold",
    "vad.settle_ms": "a command more words could extend ends after a 300 ms pause",
    "vad.peek_ms": "a pause of 60 ms offers a peek at the speech so far",
    "commands.widen": "decoding again on the full window first did not pay on both bench "
    "sets",
    "commands.alternative_margin": "an n-best alternative within 0.6 of the best is taken "
    "as the command",
}
"""Settings that existed once: found in a file, each gives one warning naming the file and
the key, and is ignored (an unknown key, by contrast, stops the start)."""


def load_config(path: Path | None) -> Config:
    """Load `path` (None or missing file = all defaults); raise ConfigError on bad input,
    or on a file or folder that cannot be read."""
    if path is None:
        return Config()
    where = str(path)
    try:
        data = tomllib.loads(read_text(path))
    except FileNotFoundError:
        return Config()
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    except TextFileError as exc:
        raise ConfigError(f"{where}: cannot read: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read: {exc.strerror or exc}") from None
    data.pop("source", None)
    problems: list[str] = []
    cfg = _build(Config, data, where, "", problems)
    if problems:
        raise ConfigError("\n".join(problems))
    return _anchored(replace(cfg, source=where), path.parent)


_FOLDERS = (("commands", "user_dir"), ("whisper", "download_root"), ("voxtral", "download_root"))
"""Options naming a folder: relative ones are read from the config file's folder."""


def _anchored(cfg: Config, base: Path) -> Config:
    """The config with its relative folders made absolute against `base`, so that they
    mean the same whatever the working directory the agent starts in."""
    for section, key in _FOLDERS:
        part = getattr(cfg, section)
        value = getattr(part, key)
        folder = Path(value).expanduser()
        if value and not folder.is_absolute():
            cfg = replace(cfg, **{section: replace(part, **{key: str(base.resolve() / folder)})})
    return cfg


def _build(cls: type, data: dict[str, Any], where: str, prefix: str,
           problems: list[str]) -> Any:
    """`cls` from `data`; each bad key is added to `problems` (one line) and left at its
    default, so that one load reports every problem of the file."""
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, raw in data.items():
        dotted = f"{prefix}{key}"
        if dotted in REMOVED:
            log.warning("%s: '%s' is no longer a setting (%s); ignored", where, dotted,
                        REMOVED[dotted])
            continue
        if key not in known:
            allowed = ", ".join(sorted(known))
            problems.append(f"{where}: unknown key '{dotted}'; allowed here: {allowed}")
            continue
        hint = hints[key]
        if is_dataclass(hint):
            if not isinstance(raw, dict):
                problems.append(f"{where}: '{dotted}' must be a table [{dotted}]")
            else:
                values[key] = _build(hint, raw, where, f"{dotted}.", problems)
            continue
        try:
            values[key] = _coerce(raw, hint, known[key].metadata, where, dotted)
        except ConfigError as exc:
            problems.append(str(exc))
    return cls(**values)


def _coerce(raw: Any, hint: Any, meta: Any, where: str, key: str) -> Any:
    def bad(allowed: str) -> ConfigError:
        return ConfigError(f"{where}: bad value for '{key}': {raw!r}; expected {allowed}")

    origin = get_origin(hint)
    if origin is tuple:
        return _coerce_list(raw, meta, bad)
    if origin is dict:
        return _coerce_table(raw, bad, where, key)
    if origin in (Union, types.UnionType):
        hint = next(a for a in get_args(hint) if a is not type(None))
    if hint is bool and not isinstance(raw, bool):
        raise bad("true or false")
    if hint is int and (isinstance(raw, bool) or not isinstance(raw, int)):
        raise bad("an integer")
    if hint is float:
        if isinstance(raw, bool) or not isinstance(raw, (int, float)):
            raise bad("a number")
        raw = float(raw)
        if math.isnan(raw):
            raise bad("a number, not nan")
    if hint is str and not isinstance(raw, str):
        choices = meta.get("choices", ())
        raise bad("one of " + ", ".join(repr(c) for c in choices) if choices else "a string")
    return _allowed(raw, meta, bad)


def _allowed(raw: Any, meta: Any, bad: Callable[[str], ConfigError]) -> Any:
    """`raw` if the option's choices, range and check allow it (in the check's form)."""
    choices, lo, hi = meta.get("choices", ()), meta.get("lo"), meta.get("hi")
    if choices and raw not in choices:
        raise bad("one of " + ", ".join(repr(c) for c in choices))
    if (lo is not None and raw < lo) or (hi is not None and raw > hi):
        if lo is not None and hi is not None:
            raise bad(f"a value from {lo} to {hi}")
        raise bad(f"at least {lo}" if lo is not None else f"at most {hi}")
    check = meta.get("check")
    if check is not None:
        try:
            return check(raw)
        except ValueError as exc:
            raise bad(str(exc)) from None
    return raw


def _coerce_table(raw: Any, bad: Callable[[str], ConfigError], where: str, key: str
                  ) -> dict[str, tuple[str, ...]]:
    """A table of name = [argv strings] ([apps]); no argument may hold a NUL byte (no
    program can be given one: the launch would fail with nothing said)."""
    if not isinstance(raw, dict) or not all(
        isinstance(v, list) and v and all(isinstance(s, str) for s in v) for v in raw.values()
    ):
        raise bad("a table of name = [argv strings]")
    for name, argv in raw.items():
        if any("\0" in s for s in argv):
            raise ConfigError(f"{where}: bad value for '{key}.{name}': an argument holds a "
                              "NUL byte (\\u0000), which no program can be given")
    return {str(k): tuple(v) for k, v in raw.items()}


def _coerce_list(raw: Any, meta: Any, bad: Callable[[str], ConfigError]) -> tuple[str, ...]:
    """A list of strings, each among the option's choices (if it has any)."""
    choices = meta.get("choices", ())
    if not isinstance(raw, list) or not all(isinstance(v, str) for v in raw):
        raise bad("a list of strings")
    if choices and any(v not in choices for v in raw):
        raise bad("a list of " + ", ".join(repr(c) for c in choices))
    return tuple(raw)


def allowed_values(meta: Any) -> str:
    """What an option allows, in words ("" when any value of its type is)."""
    choices, lo, hi = meta.get("choices", ()), meta.get("lo"), meta.get("hi")
    if choices:
        return ", ".join(_toml_value(c) for c in choices)
    if lo is not None and hi is not None:
        return f"{_toml_value(lo)} to {_toml_value(hi)}"
    if lo is not None or hi is not None:
        return f"at least {lo}" if lo is not None else f"at most {hi}"
    return ""


def _default_of(f: Any) -> Any:
    return f.default_factory() if f.default is MISSING else f.default


def describe(cfg: Any, prefix: str = "") -> list[str]:
    """The effective configuration as TOML lines, each setting after its documentation,
    its default and what it allows (comments, so the output loads as a config file)."""
    lines: list[str] = []
    for f in fields(cfg):
        value = getattr(cfg, f.name)
        if f.name == "source":
            continue
        if is_dataclass(value):
            lines += ["", f"[{prefix}{f.name}]", *describe(value, f"{prefix}{f.name}.")]
        elif isinstance(value, dict):
            lines += ["", f"# {f.metadata.get('doc', '')}", f"[{prefix}{f.name}]"]
            lines += [f"{_toml_key(k)} = {_toml_value(list(v))}" for k, v in value.items()]
        elif f.metadata.get("secret") and value:
            lines.append(f"# {f.metadata.get('doc', '')}")
            lines.append(f"# {f.name} is set (not shown)")
        else:
            allowed = allowed_values(f.metadata)
            lines.append(f"# {f.metadata.get('doc', '')}")
            lines.append(f"# default: {_toml_value(_default_of(f))}"
                         + (f"; allowed: {allowed}" if allowed else ""))
            lines.append(f"{f.name} = {_toml_value(value)}")
    return lines


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n",
            "\f": "\\f", "\r": "\\r"}


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.fullmatch(key) else _toml_value(key)


def _toml_string(text: str) -> str:
    """A TOML basic string: quotes, backslashes and control characters escaped."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)

