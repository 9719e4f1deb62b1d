"""Recogniser backends, keyboard routes and hotkey backends are each named in one registry
(agent/asr/base.py BACKENDS, agent/actions/route.py ROUTES, agent/desktop/hotkey_base.py
HOTKEY_BACKENDS); config choices, CLI choices and doctor checks are read from it, so a
new one is accepted everywhere at once."""

from __future__ import annotations

from dataclasses import fields
from typing import Any

import pytest

from agent.actions.base import ActionError
from agent.actions.config import KeyboardConfig
from agent.actions.keyboard import open_route
from agent.actions.route import ROUTES, choose_route
from agent.asr.base import BACKENDS
from agent.asr.config import RecognitionConfig
from agent.cli import build_parser
from agent.desktop.config import DesktopConfig
from agent.desktop.hotkey import make_hotkey
from agent.desktop.hotkey_base import HOTKEY_BACKENDS, HotkeyError
from agent.doctor.desktop import ROUTE_CHECKS


def _choices(config: type, name: str) -> tuple[Any, ...]:
    return next(f.metadata["choices"] for f in fields(config) if f.name == name)


def test_config_offers_exactly_the_registered_backends() -> None:
    assert set(_choices(RecognitionConfig, "backend")) == set(BACKENDS)


@pytest.mark.parametrize("command", ["run", "transcribe"])
def test_the_cli_takes_every_registered_backend_and_no_other(
        command: str, capsys: pytest.CaptureFixture[str]) -> None:
    extra = ["x.wav"] if command == "transcribe" else []
    for name in BACKENDS:
        assert build_parser().parse_args([command, *extra, "--backend", name]).backend == name
    with pytest.raises(SystemExit):
        build_parser().parse_args([command, *extra, "--backend", "deepspeech"])
    assert "invalid choice: 'deepspeech'" in capsys.readouterr().err


def test_config_offers_auto_and_every_route() -> None:
    assert _choices(KeyboardConfig, "backend") == ("auto", *ROUTES)


def test_doctor_checks_every_route_and_each_can_be_forced() -> None:
    assert set(ROUTE_CHECKS) == set(ROUTES)
    for route in ROUTES:
        assert choose_route(route, {}) == route


def test_a_route_without_an_opener_is_one_clear_error() -> None:
    with pytest.raises(ActionError, match=r"unknown input route 'carrier_pigeon'; known: "
                                          + ", ".join((*ROUTES, "pynput"))):
        open_route("carrier_pigeon", 0.0)


def test_hotkey_backends_come_from_one_list() -> None:
    assert _choices(DesktopConfig, "hotkey_backend") == ("auto", *HOTKEY_BACKENDS, "none")
    with pytest.raises(HotkeyError, match="no hotkey backend 'carrier_pigeon'"):
        make_hotkey("carrier_pigeon", "f9", lambda t: None, lambda t: None)
