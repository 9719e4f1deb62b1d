"""Formatters turn a free-text capture into identifiers and styles."""

from __future__ import annotations

import pytest

from agent.dispatch.formatters import FORMATTERS, all_caps, camel, snake, title


@pytest.mark.parametrize(("fn", "heard", "typed"), [
    (snake, "user name", "user_name"),
    (snake, "User Name.", "user_name"),
    (snake, "don't stop", "dont_stop"),
    (camel, "get value", "getValue"),
    (camel, "Get the HTTP value!", "getTheHttpValue"),
    (title, "user name", "User Name"),
    (title, "the QUICK fox", "The Quick Fox"),
    (all_caps, "stop here", "STOP HERE"),
    (all_caps, "stop, here.", "STOP HERE"),
])
def test_formatters(fn, heard, typed) -> None:
    assert fn(heard) == typed


def test_empty_text_formats_to_empty() -> None:
    assert all(f("") == "" for f in FORMATTERS.values())


def test_raw_keeps_text_as_heard() -> None:
    assert FORMATTERS["raw"]("Hello, World?") == "Hello, World?"


def test_names_heard_as_one_word_are_split_for_identifiers() -> None:
    assert snake("username") == "user_name"
    assert camel("get filename") == "getFileName"
    assert title("Username") == "User Name"
    assert FORMATTERS["raw"]("username") == "username"
