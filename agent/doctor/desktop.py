"""The desktop around the agent: the route for keys into windows, the tray host, the
hotkey, sound output, the programs launch commands start, and private file modes."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.doctor.base import Context, Finding, State, loose_mode
from agent.paths import config_file, state_dir

UINPUT = "/dev/uinput"
UINPUT_FIX = ('install wtype (sway, Hyprland, river), or let your user write /dev/uinput '
              '(GNOME, KDE): a udev rule KERNEL=="uinput", GROUP="input", MODE="0660", '
              'OPTIONS+="static_node=uinput", then add yourself to the input group and log in '
              "again")


@contextmanager
def _x_display() -> Iterator[Any]:
    """The X display named by $DISPLAY (Xlib's errors raised, never printed)."""
    from Xlib import display as xdisplay

    d = xdisplay.Display()
    try:
        yield d
    finally:
        d.close()


def _x11_route(ctx: Context) -> Finding | None:
    name = os.environ.get("DISPLAY", "")
    if not name:
        return None
    try:
        with _x_display() as d:
            if not d.query_extension("XTEST").present:
                return Finding(State.MISSING, f"X display {name} has no XTEST extension",
                               "enable XTEST in the X server (Xvfb: +extension XTEST)")
    except Exception as exc:  # noqa: BLE001 - Xlib raises its own and OSError kinds
        return Finding(State.MISSING, f"cannot open X display {name}: {exc}",
                       "check $DISPLAY and xauth (xhost), or run inside the session")
    return Finding(State.OK, f"X11 display {name} with XTEST")


def _wtype_route(ctx: Context) -> Finding | None:
    path = shutil.which("wtype")
    if not (os.environ.get("WAYLAND_DISPLAY") and path):
        return None
    return Finding(State.OK, f"Wayland {os.environ['WAYLAND_DISPLAY']}: wtype ({path}; "
                   "wlroots virtual keyboard)")


def _uinput_route(ctx: Context) -> Finding | None:
    if not (os.environ.get("WAYLAND_DISPLAY") and os.access(UINPUT, os.W_OK)):
        return None
    return Finding(State.OK, f"Wayland {os.environ['WAYLAND_DISPLAY']}: {UINPUT} (uinput)")


INPUT_ROUTES: tuple[tuple[str, Callable[[Context], Finding | None]], ...] = (
    ("wtype", _wtype_route),
    ("uinput", _uinput_route),
    ("x11", _x11_route),
)
"""The ways keys reach windows, best first: each says OK or what is wrong with it, or None
when it does not apply to this session.  On Wayland the X route reaches XWayland only."""


def check_input_route(ctx: Context) -> Finding:
    wayland = os.environ.get("WAYLAND_DISPLAY", "")
    found = [(name, f) for name, probe in INPUT_ROUTES if (f := probe(ctx)) is not None]
    ok = [f for name, f in found if f.state is State.OK and (name != "x11" or not wayland)]
    if ok:
        return ok[0]
    if wayland:
        xwayland = " (X11 reaches XWayland windows only)" if found else ""
        return Finding(State.MISSING, f"Wayland {wayland}: neither wtype nor write access to "
                       f"{UINPUT}{xwayland}", UINPUT_FIX)
    if found:
        return found[0][1]
    return Finding(State.MISSING, "no display: neither DISPLAY nor WAYLAND_DISPLAY is set",
                   "run inside your desktop session (run --dry-run only reports actions)")


def check_tray(ctx: Context) -> Finding:
    if not ctx.cfg.desktop.tray:
        return Finding(State.OK, "off in the config")
    owner = _x_tray_owner()
    if owner:
        return Finding(State.OK, owner)
    if _dbus_has("org.kde.StatusNotifierWatcher"):
        return Finding(State.OK, "StatusNotifierWatcher on the session bus")
    return Finding(State.WARN, "no tray host (no _NET_SYSTEM_TRAY owner, no "
                   "StatusNotifierWatcher)", "start a tray (trayer, stalonetray, a panel) or "
                   "GNOME's AppIndicator extension; or run --no-tray")


def _x_tray_owner() -> str:
    if not os.environ.get("DISPLAY"):
        return ""
    try:
        with _x_display() as d:
            atom = d.intern_atom(f"_NET_SYSTEM_TRAY_S{d.get_default_screen()}")
            owner = d.get_selection_owner(atom)
    except Exception:  # noqa: BLE001 - no display is said by the input route line
        return ""
    return f"X11 system tray (window 0x{owner.id:x})" if owner else ""


def _dbus_has(name: str) -> bool:
    """Whether `name` has an owner on the session bus (through dbus-send, if installed)."""
    program = shutil.which("dbus-send")
    if not program or not os.environ.get("DBUS_SESSION_BUS_ADDRESS"):
        return False
    argv = [program, "--session", "--print-reply", "--dest=org.freedesktop.DBus",
            "/org/freedesktop/DBus", "org.freedesktop.DBus.NameHasOwner", f"string:{name}"]
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "boolean true" in out.stdout


def check_hotkey(ctx: Context) -> Finding:
    from agent.desktop.hotkey import HotkeyError, check_key, make_hotkey, pick_backend

    d = ctx.cfg.desktop
    if d.hotkey_backend == "none":
        return Finding(State.OK, "off ([desktop] hotkey_backend = \"none\")")
    backend = pick_backend(d.hotkey_backend)
    try:
        hotkey = make_hotkey(backend, check_key(d.hotkey), lambda: None, lambda: None)
    except HotkeyError as exc:
        fix = "" if backend == "evdev" else "another program may hold the key: set [desktop] hotkey"
        return Finding(State.WARN, f"{backend}: {exc}", fix)
    hotkey.stop()
    return Finding(State.OK, f"{d.hotkey} through {backend}")


def check_sound_output(ctx: Context) -> Finding:
    if not ctx.cfg.desktop.sounds:
        return Finding(State.OK, "cues off in the config")
    import sounddevice as sd

    try:
        device = sd.query_devices(kind="output")
    except (sd.PortAudioError, ValueError):
        return Finding(State.WARN, "no sound output device: no sound cues",
                       "connect speakers or headphones, or run --no-sounds")
    return Finding(State.OK, str(device["name"]))


def check_launchers(ctx: Context) -> Finding:
    from agent.actions.launch import DEFAULT_APPS, resolve_app

    names = sorted(set(DEFAULT_APPS) | set(ctx.cfg.apps))
    found = {n: resolve_app(n, ctx.cfg.apps) for n in names}
    missing = [n for n, argv in found.items() if argv is None]
    if not shutil.which("xdg-open"):
        missing.append("xdg-open")
    shown = ", ".join(f"{n} = {argv[0]}" for n, argv in found.items() if argv)
    if missing:
        return Finding(State.WARN, f"not found: {', '.join(missing)}" +
                       (f" (found {shown})" if shown else ""),
                       "install them (xdg-utils gives xdg-open), or name yours in [apps]")
    return Finding(State.OK, shown)


def check_permissions(ctx: Context) -> Finding:
    state = state_dir()
    loose = [(state, loose_mode(state, 0o700))]
    loose += [(state / n, loose_mode(state / n, 0o600))
              for n in ("history.jsonl", "history.1.jsonl", "voxagent.log")]
    if ctx.cfg.voxtral.api_key:  # a secret in the config file
        path = Path(ctx.cfg.source) if ctx.cfg.source else config_file()
        loose.append((path, loose_mode(path, 0o600)))
    bad = [f"{path} is {mode}" for path, mode in loose if mode]
    if bad:
        return Finding(State.WARN, "; ".join(bad), "chmod 700 the folder and 600 the files "
                       "(the agent also does at start)")
    return Finding(State.OK, f"{state} private")
