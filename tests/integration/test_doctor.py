"""`voxagent doctor` run for real, as a subprocess, on this machine: it has no sound card
and (unless a test gives it Xvfb) no display, so those lines say MISSING and the exit status
is 1; with an Xvfb display the input-route line is OK; a broken config or command file is a
line naming the file, never the end of the check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from tests.integration import pulse, x11
from tests.integration.vllm_support import Double, free_port

x_server = x11.x_server
virtual_mic = pulse.virtual_mic
TIMEOUT = 180
NO_SESSION = ("DISPLAY", "WAYLAND_DISPLAY", "PULSE_SERVER", "DBUS_SESSION_BUS_ADDRESS",
              "XDG_SESSION_TYPE", "XDG_CURRENT_DESKTOP")


def doctor(tmp: Path, *args: str, audio: dict[str, str] | None = None,
           **env: str) -> tuple[int, dict[str, str], str]:
    """Exit status, {part: its line}, and all it printed.  With no `audio` environment the
    process finds no sound device (pulse.no_audio_env: hardware cards hidden too)."""
    prefix = [] if audio else pulse.NO_AUDIO_PREFIX
    base = audio or pulse.no_audio_env(tmp)
    base = {k: v for k, v in base.items() if k not in NO_SESSION or k == "PULSE_SERVER"}
    base |= {"VOXAGENT_CONFIG_DIR": str(tmp / "config"), "VOXAGENT_STATE_DIR": str(tmp / "state")}
    result = subprocess.run([*prefix, sys.executable, "-m", "agent", *args], env=base | env,
                            cwd=tmp, capture_output=True, text=True, timeout=TIMEOUT,
                            check=False)
    assert "Traceback" not in result.stderr, result.stderr
    lines = {}
    for line in result.stdout.splitlines():
        state, _, rest = line.partition(" ")
        if state in ("OK", "WARN", "MISSING"):
            lines[rest.strip()[:15].strip()] = line
    return result.returncode, lines, result.stdout + result.stderr


def test_missing_parts_are_named_and_fail_the_check(tmp_path: Path) -> None:
    status, lines, out = doctor(tmp_path, "doctor")
    assert status == 1, out
    assert lines["audio input"].startswith("MISSING"), out
    assert "microphone" in lines["audio input"]  # how to fix it
    assert lines["input route"].startswith("MISSING"), out
    assert "DISPLAY" in lines["input route"] and "WAYLAND_DISPLAY" in lines["input route"]
    assert lines["speech model"].startswith("OK"), out  # the embedded model loads offline
    assert lines["voxtral"].startswith("OK") and "no server" in lines["voxtral"]
    assert lines["sound output"].startswith("WARN"), out  # not needed: a warning only
    assert out.splitlines()[-1] == "voxagent run is missing a part it needs"
    assert len(lines) == 11, out


def test_x_display_with_xtest_is_ok(tmp_path: Path, x_server: x11.XServer) -> None:
    status, lines, out = doctor(tmp_path, "doctor", DISPLAY=x_server.display)
    assert lines["input route"].startswith("OK"), out
    assert f"X11 display {x_server.display} with XTEST" in lines["input route"]
    assert lines["tray host"].startswith("WARN"), out  # Xvfb alone has no tray
    assert status == 1  # still no microphone


def tools_only(tmp: Path, *names: str) -> str:
    """A PATH holding only `names` (and what NO_AUDIO_PREFIX runs)."""
    folder = tmp / "tools"
    folder.mkdir(exist_ok=True)
    for name in {*names, "sh", "unshare", "mount"}:
        found = shutil.which(name)
        if found:
            (folder / name).symlink_to(found)
    return str(folder)


def test_wayland_without_a_route_says_how_to_get_one(tmp_path: Path) -> None:
    if os.access("/dev/uinput", os.W_OK):
        pytest.skip("this user can write /dev/uinput: the uinput route is there")
    status, lines, out = doctor(tmp_path, "doctor", WAYLAND_DISPLAY="wayland-9",
                                PATH=tools_only(tmp_path))
    assert status == 1
    assert lines["input route"].startswith("MISSING"), out
    assert "wtype is not installed" in lines["input route"]
    assert "/dev/uinput" in lines["input route"]  # the fix names the GNOME/KDE way too


def test_gnome_wayland_needs_uinput(tmp_path: Path) -> None:
    if os.access("/dev/uinput", os.W_OK):
        pytest.skip("this user can write /dev/uinput: the uinput route is there")
    status, lines, out = doctor(tmp_path, "doctor", WAYLAND_DISPLAY="wayland-9",
                                XDG_CURRENT_DESKTOP="ubuntu:GNOME")
    assert status == 1
    assert lines["input route"].startswith("MISSING"), out
    assert "(GNOME/KDE): this user cannot write /dev/uinput" in lines["input route"]
    assert 'KERNEL=="uinput"' in lines["input route"]


def test_wayland_with_wtype_is_ok(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "wtype").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "wtype").chmod(0o755)
    _, lines, out = doctor(tmp_path, "doctor", WAYLAND_DISPLAY="wayland-9",
                           PATH=f"{bin_dir}:{os.environ['PATH']}")
    assert lines["input route"].startswith("OK") and "wtype" in lines["input route"], out


def test_a_broken_config_is_a_line_and_the_rest_is_still_checked(tmp_path: Path) -> None:
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir()
    config.write_text("[audio]\nblock_ms = 7\n")
    status, lines, out = doctor(tmp_path, "doctor")
    assert status == 1
    assert lines["config"].startswith("MISSING") and "'audio.block_ms'" in lines["config"]
    assert str(config) in lines["config"]
    assert lines["speech model"].startswith("OK"), out
    config.write_text("[audio]\nblock_ms = 7\n[vad]\nend_ms = 1\n")  # each of them, at once
    status, lines, out = doctor(tmp_path, "doctor")
    assert status == 1 and "'audio.block_ms'" in lines["config"], out
    assert "correct those lines" in lines["config"]
    (more,) = [line for line in out.splitlines() if "'vad.end_ms'" in line]
    assert more.strip().startswith(f"{config}: bad value"), out


def test_command_file_problems_name_file_and_line(tmp_path: Path) -> None:
    commands = tmp_path / "config" / "commands"
    commands.mkdir(parents=True)
    bad = commands / "mine.toml"
    bad.write_text('[commands]\n"fine" = "key ctrl+c"\n"broken" = "key ctrl+nothing"\n')
    _, lines, out = doctor(tmp_path, "doctor")
    assert lines["command files"].startswith("WARN"), out
    assert f"{bad}:3: " in out


def test_loose_history_mode_is_a_warning(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    (state / "history.jsonl").write_text("")
    (state / "history.jsonl").chmod(0o644)
    _, lines, out = doctor(tmp_path, "doctor")
    assert lines["permissions"].startswith("WARN") and "0644" in lines["permissions"], out


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_option_before_or_after_the_subcommand(tmp_path: Path, where: str) -> None:
    other = tmp_path / "other.toml"
    other.write_text('[recognition]\nbackend = "voxtral"\n[voxtral]\nport = 9\n')
    argv = (["--config", str(other), "doctor"] if where == "before"
            else ["doctor", "--config", str(other)])
    status, lines, out = doctor(tmp_path, *argv)
    assert status == 1
    assert str(other) in lines["config"], out
    assert lines["voxtral"].startswith("MISSING") and ":9/v1" in lines["voxtral"], out


def test_listen_reports_the_microphone_level(tmp_path: Path,
                                            virtual_mic: pulse.VirtualMic) -> None:
    _, lines, out = doctor(tmp_path, "doctor", "--listen", audio=virtual_mic.env)
    assert lines["audio input"].startswith("WARN") and "(silent)" in lines["audio input"], out
    t = np.arange(16000 * 20) / 16000  # 20 s of a 440 Hz tone at half scale
    virtual_mic.say((0.5 * 32767 * np.sin(2 * np.pi * 440 * t)).astype("<i2").tobytes())
    try:
        _, lines, out = doctor(tmp_path, "doctor", "--listen", audio=virtual_mic.env)
    finally:
        virtual_mic.clear()
    line = lines["audio input"]
    assert line.startswith("OK") and "level over 2 s" in line, out
    peak = float(line.split("peak ")[1].split(" dBFS")[0])
    assert -12 < peak <= 0, line


def test_listen_on_a_source_that_delivers_nothing_says_so_and_ends(
        tmp_path: Path, virtual_mic: pulse.VirtualMic) -> None:
    """A suspended PulseAudio source opens but never delivers a sample: `--listen` used to
    wait for ever (sd.rec blocking); now it is one MISSING line naming the device, and the
    rest of the check still runs."""
    pactl = ["pactl", "suspend-source", virtual_mic.source]
    subprocess.run([*pactl, "1"], env=virtual_mic.env, check=True, timeout=10)
    try:
        status, lines, out = doctor(tmp_path, "doctor", "--listen", audio=virtual_mic.env)
    finally:
        subprocess.run([*pactl, "0"], env=virtual_mic.env, check=True, timeout=10)
    assert status == 1, out
    line = lines["audio input"]
    assert line.startswith("MISSING") and "no samples from default in " in line, out
    assert "suspended" in line  # how to fix it
    assert lines["speech model"].startswith("OK"), out  # the parts after it were checked
    assert out.splitlines()[-1] == "voxagent run is missing a part it needs"


def test_tray_host_and_x11_hotkey_are_ok_with_trayer(tmp_path: Path) -> None:
    server = x11.start_xvfb(tmp_path / "xvfb.log")  # its own: a tray would change others' tests
    trayer = subprocess.Popen(["trayer"], env=server.env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        d = server.connect()
        tray = d.intern_atom("_NET_SYSTEM_TRAY_S0")
        deadline = time.monotonic() + TIMEOUT
        while not d.get_selection_owner(tray) and time.monotonic() < deadline:
            assert trayer.poll() is None, "trayer exited"
            time.sleep(0.05)
        d.close()
        _, lines, out = doctor(tmp_path, "doctor", DISPLAY=server.display)
    finally:
        x11.stop_process(trayer)
        x11.stop_process(server.process)
    assert lines["tray host"].startswith("OK") and "X11 system tray" in lines["tray host"], out
    assert lines["hotkey"] == "OK      hotkey          f9 through x11", out
    assert "grabbed" not in out  # the parts' own status lines stay out of the report


def test_voxtral_server_and_its_key(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "config" / "config.toml"
    config.parent.mkdir()
    with Double(port, tmp_path / "double.log", flags=["--api-key", "s3cret"]):
        config.write_text(f'[recognition]\nbackend = "voxtral"\n[voxtral]\nport = {port}\n')
        status, lines, out = doctor(tmp_path, "doctor")
        assert status == 1 and lines["voxtral"].startswith("MISSING"), out
        assert "refuses the key (HTTP 401" in lines["voxtral"]
        config.write_text(f'[recognition]\nbackend = "auto"\n[voxtral]\nport = {port}\n')
        _, lines, out = doctor(tmp_path, "doctor")
        assert lines["voxtral"].startswith("WARN"), out  # auto: whisper takes over
        config.write_text(f'[recognition]\nbackend = "voxtral"\n[voxtral]\nport = {port}\n'
                          'api_key = "s3cret"\n')
        config.chmod(0o600)
        _, lines, out = doctor(tmp_path, "doctor")
        assert lines["voxtral"] == (f"OK      voxtral         ready at http://127.0.0.1:{port}/v1,"
                                    " key accepted"), out
