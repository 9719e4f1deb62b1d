"""The input routes' pure parts: the one key-name table, picking a route from the session,
wtype's argv, and the uinput device (which cannot be made here: no /dev/uinput, so its
capabilities, key codes and event order are checked without one)."""

from __future__ import annotations

from pathlib import Path

import pytest
from evdev import ecodes

from agent.actions.base import ActionError
from agent.actions.keyboard import DesktopExecutor
from agent.actions.keynames import KEYS
from agent.actions.route import choose_route
from agent.actions.uinput import (
    UINPUT,
    UInputKeyboard,
    capabilities,
    chord_events,
    evdev_code,
    text_events,
    uinput_access,
)
from agent.actions.wayland import chord_argv, text_argv
from agent.actions.xtest import x_keysym
from agent.config import ConfigError, load_config
from agent.dispatch.vocabulary import KEY_NAMES, MODIFIER_ORDER


def test_every_contract_key_and_modifier_is_in_the_one_table() -> None:
    assert set(KEYS) == set(KEY_NAMES) | set(MODIFIER_ORDER)


@pytest.mark.parametrize("name", sorted(KEYS))
def test_every_key_maps_on_every_route(name: str) -> None:
    assert x_keysym(name) > 0
    assert evdev_code(name) > 0
    assert chord_argv([name])  # a wtype argv, no error


def test_evdev_codes_are_distinct_and_right() -> None:
    codes = [evdev_code(n) for n in KEYS]
    assert len(set(codes)) == len(codes)
    assert evdev_code("enter") == ecodes.KEY_ENTER
    assert evdev_code("super") == ecodes.KEY_LEFTMETA
    assert evdev_code("f24") == ecodes.KEY_F24
    assert evdev_code("media_next") == ecodes.KEY_NEXTSONG


@pytest.mark.parametrize(("backend", "env", "route"), [
    ("auto", {"DISPLAY": ":0"}, "x11"),
    ("auto", {"WAYLAND_DISPLAY": "wayland-1", "XDG_CURRENT_DESKTOP": "sway"}, "wlroots"),
    ("auto", {"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":0",
              "XDG_CURRENT_DESKTOP": "Hyprland"}, "wlroots"),  # XWayland: Wayland first
    ("auto", {"XDG_SESSION_TYPE": "wayland", "XDG_CURRENT_DESKTOP": "river"}, "wlroots"),
    ("auto", {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "ubuntu:GNOME"}, "uinput"),
    ("auto", {"WAYLAND_DISPLAY": "wayland-0", "XDG_CURRENT_DESKTOP": "KDE"}, "uinput"),
    ("auto", {"DISPLAY": ":0", "XDG_SESSION_TYPE": "x11", "XDG_CURRENT_DESKTOP": "GNOME"},
     "x11"),
    ("x11", {"WAYLAND_DISPLAY": "wayland-1", "DISPLAY": ":0"}, "x11"),
    ("uinput", {"WAYLAND_DISPLAY": "wayland-1"}, "uinput"),
    ("wlroots", {}, "wlroots"),
])
def test_the_route_follows_the_session(backend: str, env: dict[str, str], route: str) -> None:
    assert choose_route(backend, env, platform="linux") == route


def test_no_session_at_all_is_one_line() -> None:
    with pytest.raises(ActionError, match=r"^no desktop session to send input to \(neither "
                                          r"WAYLAND_DISPLAY nor DISPLAY is set\)$"):
        choose_route("auto", {}, platform="linux")
    assert choose_route("auto", {}, platform="darwin") == "pynput"


def test_wtype_chords_hold_modifiers_around_the_key() -> None:
    assert chord_argv(["ctrl", "t"]) == ["-M", "ctrl", "-k", "t", "-m", "ctrl"]
    assert chord_argv(["ctrl", "alt", "shift", "super", "page_down"]) == [
        "-M", "ctrl", "-M", "alt", "-M", "shift", "-M", "logo", "-k", "Next",
        "-m", "logo", "-m", "shift", "-m", "alt", "-m", "ctrl"]
    assert chord_argv(["volume_up"]) == ["-k", "XF86AudioRaiseVolume"]


def test_wtype_text_is_one_argument_after_the_options() -> None:
    assert text_argv("-k Return; $(rm -rf ~)") == ["--", "-k Return; $(rm -rf ~)"]
    assert text_argv("a\r\nb") == ["--", "a\n\nb"]
    with pytest.raises(ActionError, match="control character 0x1b"):
        text_argv("a\x1b")


def test_unknown_key_is_one_line() -> None:
    with pytest.raises(ActionError, match=r"^unknown key 'hyper'$"):
        chord_argv(["hyper"])


def test_uinput_capabilities_declare_every_key_and_both_wheels() -> None:
    caps = capabilities()
    assert {evdev_code(n) for n in KEYS} <= set(caps[ecodes.EV_KEY])
    assert {ecodes.KEY_COMMA, ecodes.KEY_SLASH, ecodes.KEY_GRAVE} <= set(caps[ecodes.EV_KEY])
    assert caps[ecodes.EV_REL] == sorted([ecodes.REL_WHEEL, ecodes.REL_HWHEEL])
    assert set(caps) == {ecodes.EV_KEY, ecodes.EV_REL}


def test_uinput_chords_press_in_order_and_release_in_reverse() -> None:
    k = ecodes
    assert chord_events(["ctrl", "shift", "t"]) == [
        (k.EV_KEY, k.KEY_LEFTCTRL, 1), (k.EV_KEY, k.KEY_LEFTSHIFT, 1), (k.EV_KEY, k.KEY_T, 1),
        (k.EV_KEY, k.KEY_T, 0), (k.EV_KEY, k.KEY_LEFTSHIFT, 0), (k.EV_KEY, k.KEY_LEFTCTRL, 0)]


def test_uinput_text_on_a_us_layout() -> None:
    k = ecodes
    events = text_events("a?\n")
    assert events == [
        [(k.EV_KEY, k.KEY_A, 1), (k.EV_KEY, k.KEY_A, 0)],
        [(k.EV_KEY, k.KEY_LEFTSHIFT, 1), (k.EV_KEY, k.KEY_SLASH, 1),
         (k.EV_KEY, k.KEY_SLASH, 0), (k.EV_KEY, k.KEY_LEFTSHIFT, 0)],
        [(k.EV_KEY, k.KEY_ENTER, 1), (k.EV_KEY, k.KEY_ENTER, 0)]]
    assert text_events("B")[0][:2] == [(k.EV_KEY, k.KEY_LEFTSHIFT, 1), (k.EV_KEY, k.KEY_B, 1)]
    every = "".join(chr(c) for c in range(0x20, 0x7F)) + "\t\n"
    assert len(text_events(every)) == len(every)


def test_uinput_refuses_what_the_layout_decides_before_sending_anything() -> None:
    with pytest.raises(ActionError, match=r"^cannot type 'é' through uinput"):
        text_events("café")


def test_missing_uinput_is_one_line(tmp_path: Path) -> None:
    reason = uinput_access(tmp_path / "uinput")
    assert reason.startswith(f"{tmp_path / 'uinput'} does not exist: load the module")
    assert "\n" not in reason
    with pytest.raises(ActionError, match="does not exist"):
        UInputKeyboard.open(0.0, tmp_path / "uinput")


@pytest.mark.skipif(UINPUT.exists(), reason="this machine has /dev/uinput")
def test_the_uinput_backend_says_why_it_cannot_start_here() -> None:
    with pytest.raises(ActionError) as err:
        DesktopExecutor({}, backend="uinput")
    assert str(err.value) == uinput_access()
    assert str(err.value).startswith("/dev/uinput does not exist")


def test_keyboard_backend_option(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[keyboard]\nbackend = "wlroots"\n')
    assert load_config(path).keyboard.backend == "wlroots"
    assert load_config(None).keyboard.backend == "auto"
    path.write_text('[keyboard]\nbackend = "ydotool"\n')
    with pytest.raises(ConfigError, match=r"'keyboard\.backend': 'ydotool'; expected one of "
                                          r"'auto', 'x11', 'wlroots', 'uinput'"):
        load_config(path)


def test_forcing_x11_without_a_display_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-1")
    with pytest.raises(ActionError, match=r"^no X display to send input to \(DISPLAY is not "
                                          r"set\)$"):
        DesktopExecutor({}, backend="x11")
