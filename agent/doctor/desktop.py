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
from agent.paths import config_file, refusal, state_dir

UINPUT = "/dev/uinput"
UINPUT_FIX = ('install wtype (sway, Hyprland, river); on GNOME or KDE let your user write '
              '/dev/uinput: a udev rule KERNEL=="uinput", GROUP="input", MODE="0660", '
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


def _x11_route(ctx: Context) -> Finding:
    name = os.environ.get("DISPLAY", "")
    if not name:
        return Finding(State.MISSING, "no X display (DISPLAY is not set)",
                       "run inside your desktop session (run --dry-run only reports actions)")
    try:
        with _x_display() as d:
            if not d.query_extension("XTEST").present:
                return Finding(State.MISSING, f"X display {name} has no XTEST extension",
                               "enable XTEST in the X server (Xvfb: +extension XTEST)")
    except Exception as exc:  # noqa: BLE001 - Xlib raises its own and OSError kinds
        return Finding(State.MISSING, f"cannot open X display {name}: {exc}",
                       "check $DISPLAY and xauth (xhost), or run inside the session")
    return Finding(State.OK, f"X11 display {name} with XTEST")


def _wtype_route(ctx: Context) -> Finding:
    where = f"Wayland {os.environ.get('WAYLAND_DISPLAY', '')} (wlroots)"
    path = shutil.which("wtype")
    if not path:
        return Finding(State.MISSING, f"{where}: wtype is not installed", UINPUT_FIX)
    return Finding(State.OK, f"{where}: wtype ({path}, the virtual-keyboard protocol)")


def _uinput_route(ctx: Context) -> Finding:
    where = f"Wayland {os.environ.get('WAYLAND_DISPLAY', '')} (GNOME/KDE)"
    if not os.access(UINPUT, os.W_OK):
        return Finding(State.MISSING, f"{where}: this user cannot write {UINPUT}", UINPUT_FIX)
    return Finding(State.OK, f"{where}: {UINPUT} (uinput)")


ROUTE_CHECKS: dict[str, Callable[[Context], Finding]] = {
    "x11": _x11_route,
    "wlroots": _wtype_route,
    "uinput": _uinput_route,
}
"""A check per input route of agent/actions/route.py: what the route needs, looked at
directly (the program, the device, the X extension), without pressing anything."""


def check_input_route(ctx: Context) -> Finding:
    """The route `run` would take in this session ([keyboard] backend, the session's
    variables), and whether it has what it needs."""
    from agent.actions.base import ActionError
    from agent.actions.route import choose_route

    try:
        route = choose_route(ctx.cfg.keyboard.backend, os.environ)
    except ActionError as exc:
        return Finding(State.MISSING, f"{exc}".replace("no desktop session", "no display"),
                       "run inside your desktop session (run --dry-run only reports actions)")
    check = ROUTE_CHECKS.get(route)
    if check is None:
        return Finding(State.OK, f"{route} (not checked here)")
    return check(ctx)


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
    from agent.desktop.hotkey import make_hotkey, pick_backend
    from agent.desktop.hotkey_base import HotkeyError, check_key

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
    names = ("history.jsonl", "history.1.jsonl", "voxagent.log", "voxagent.lock")
    refused = [why for why in (refusal(state, folder=True), *(refusal(state / n) for n in names))
               if why]
    if refused:
        return Finding(State.WARN, "; ".join(refused) + ": the agent does not use them",
                       "use a state folder of your own (VOXAGENT_STATE_DIR), or remove the "
                       "links and files that are not yours")
    loose = [(state, loose_mode(state, 0o700))]
    loose += [(state / n, loose_mode(state / n, 0o600)) for n in names[:3]]
    if ctx.cfg.voxtral.api_key:  # a secret in the config file
        path = Path(ctx.cfg.source) if ctx.cfg.source else config_file()
        loose.append((path, loose_mode(path, 0o600)))
    bad = [f"{path} is {mode}" for path, mode in loose if mode]
    if bad:
        return Finding(State.WARN, "; ".join(bad), "chmod 700 the folder and 600 the files "
                       "(the agent also does at start)")
    return Finding(State.OK, f"{state} private")
