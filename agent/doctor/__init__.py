"""`voxagent doctor`: one line per part of the agent, OK / WARN / MISSING, with how to
fix what fails.  Exits 1 when something `run` needs is missing.

Each part is one entry in CHECKS; what `run` needs and what only warns is listed in
docs/desktop.md ("First run"). The input route checked is the one
agent/actions/route.py picks (agent/doctor/desktop.py ROUTE_CHECKS).
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.config import Config, ConfigError, load_config
from agent.doctor.base import Context, Finding, State
from agent.doctor.desktop import (
    check_hotkey,
    check_input_route,
    check_launchers,
    check_permissions,
    check_sound_output,
    check_tray,
)
from agent.doctor.parts import (
    LISTEN_S,
    check_audio_input,
    check_commands,
    check_config,
    check_model,
    check_voxtral,
)
from agent.paths import config_file


@dataclass(frozen=True)
class Check:
    part: str
    run: Callable[[Context], Finding]
    needed: bool
    """`run` cannot work when this is MISSING."""


CHECKS: tuple[Check, ...] = (
    Check("config", check_config, needed=True),
    Check("command files", check_commands, needed=False),
    Check("audio input", check_audio_input, needed=True),
    Check("speech model", check_model, needed=True),
    Check("input route", check_input_route, needed=True),
    Check("permissions", check_permissions, needed=False),
    Check("tray host", check_tray, needed=False),
    Check("hotkey", check_hotkey, needed=False),
    Check("sound output", check_sound_output, needed=False),
    Check("launch programs", check_launchers, needed=False),
    Check("voxtral", check_voxtral, needed=True),
)
"""Every part, in the order shown.  A check that is not `needed` says WARN, not MISSING."""


def diagnose(ctx: Context, say: Callable[[str], None] = print) -> int:
    """Run every check, say one line each; 1 when a needed part is missing, else 0."""
    failed = False
    for check in CHECKS:
        try:
            found = check.run(ctx)
        except Exception as exc:  # noqa: BLE001 - one broken check must not hide the rest
            found = Finding(State.WARN, f"the check failed: {exc}")
        state = found.state if check.needed or found.state is not State.MISSING else State.WARN
        failed |= check.needed and state is State.MISSING
        line = f"{state.value:7} {check.part:15} {found.detail}"
        say(line + (f" -> {found.fix}" if found.fix and state is not State.OK else ""))
        for more in found.more:
            say(f"{'':23} {more}")
    say("voxagent run is missing a part it needs" if failed else "voxagent run has what it needs")
    return 1 if failed else 0


def add_parser(sub: Any) -> None:
    p = sub.add_parser("doctor", help="check every part (microphone, model, display, ...) and "
                       "say how to fix what fails")
    p.add_argument("--listen", action="store_true",
                   help=f"also record {LISTEN_S:.0f} s and report the microphone's level")


def cmd_doctor(args: argparse.Namespace) -> int:
    """Doctor loads the config itself, so that a broken one is a line, not the end."""
    path: Path | None = args.config
    try:
        cfg, problem = load_config(path or config_file()), ""
        if path is not None and not path.exists():
            problem = f"{path}: no such config file"
    except ConfigError as exc:
        cfg, problem = Config(), str(exc)
    logging.disable(logging.INFO)  # the parts' own status lines ("hotkey grabbed") would
    try:                           # interleave with the report
        return diagnose(Context(cfg, problem, args.listen))
    finally:
        logging.disable(logging.NOTSET)
