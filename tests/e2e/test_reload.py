"""Command files edited while the live agent runs: the change is taken by itself (no
restart, no menu), and a broken edit keeps the last good version with one warning that
names the file and line."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.e2e.rig import LiveAgent

ROCKETS = '[commands]\n"launch rocket" = "key ctrl+alt+r"\n'
EDITED = '[commands]\n"launch rocket" = "key ctrl+alt+x"\n"land rocket" = "key ctrl+alt+l"\n'
BROKEN = '[commands]\n"launch rocket" = "key ctrl+alt+y"\n"land rocket" = "key ctrl+zz"\n'


def _keys(line: dict[str, object]) -> list[object]:
    return [a.get("keys") for a in line["actions"]]  # type: ignore[union-attr]


def test_an_edited_command_file_is_taken_while_running(
        tmp_path: Path, start_agent: Callable[..., LiveAgent]) -> None:
    user = tmp_path / "agent0" / "config" / "commands"
    user.mkdir(parents=True)
    rockets = user / "rockets.toml"
    rockets.write_text(ROCKETS)
    agent = start_agent("--dry-run")
    assert agent.state.parent == tmp_path / "agent0"
    agent.say("launch rocket")
    before = agent.next_json()

    rockets.write_text(EDITED)
    agent.log_wait("commands reloaded (a command file changed)")
    agent.say("land rocket")
    new = agent.next_json()
    agent.say("launch rocket")
    changed = agent.next_json()

    rockets.write_text(BROKEN)
    agent.log_wait("commands reloaded (a command file changed): 1 problems", count=1)
    agent.say("land rocket")
    kept = agent.next_json()
    err = agent.stop()

    assert (before["command"], _keys(before)) == ("launch rocket", ["ctrl+alt+r"]), before
    assert (new["command"], _keys(new)) == ("land rocket", ["ctrl+alt+l"]), new
    assert _keys(changed) == ["ctrl+alt+x"], changed
    assert _keys(kept) == ["ctrl+alt+l"], kept  # the last good version, not ctrl+zz
    warnings = [line for line in err.splitlines() if f"{rockets}:3:" in line]
    assert len(warnings) == 1 and "warning:" in warnings[0], err
    assert "keeping its last good version" in warnings[0], warnings
    assert err.count("commands reloaded") == 2, err  # once per edit, not per poll


def test_a_fifo_made_while_running_is_refused_and_commands_go_on(
        tmp_path: Path, start_agent: Callable[..., LiveAgent]) -> None:
    """Issue 18 item 10: a FIFO among the command files once blocked the reload on the
    worker for good ("new tab", "copy" ignored even after it was removed). Now it is one
    warning naming it, the other commands keep working, and removing it reloads again."""
    user = tmp_path / "agent0" / "config" / "commands"
    user.mkdir(parents=True)
    (user / "rockets.toml").write_text(ROCKETS)
    agent = start_agent("--dry-run")
    fifo = user / "fifo.toml"
    os.mkfifo(fifo)
    agent.log_wait("commands reloaded (a command file changed): 1 problems")
    agent.say("launch rocket")
    heard = agent.next_json()
    fifo.unlink()
    agent.log_wait("commands reloaded (a command file changed)", count=2)
    agent.say("new tab")
    after = agent.next_json()
    err = agent.stop()

    assert (heard["command"], _keys(heard)) == ("launch rocket", ["ctrl+alt+r"]), heard
    assert (after["command"], _keys(after)) == ("new tab", ["ctrl+t"]), after
    warnings = [line for line in err.splitlines() if str(fifo) in line]
    assert len(warnings) == 1, err
    assert "cannot read: it is a FIFO (named pipe), not a regular file" in warnings[0], err


def test_words_added_while_running_are_typed_after_the_reload(
        tmp_path: Path, start_agent: Callable[..., LiveAgent]) -> None:
    """A [words] file written while the agent runs is taken like any command file: what
    `type <text>` types then holds the written form."""
    user = tmp_path / "agent0" / "config" / "commands"
    user.mkdir(parents=True)
    agent = start_agent("--dry-run")
    agent.say("type the quick brown fox jumps over the lazy dog")
    before = agent.next_json()
    (user / "words.toml").write_text('[words]\n"lazy dog" = "LazyDog"\n')
    agent.log_wait("commands reloaded (a command file changed)")
    agent.say("type the quick brown fox jumps over the lazy dog")
    after = agent.next_json()
    agent.stop()
    assert "lazy dog" in before["actions"][0]["text"].lower(), before
    assert "lazy dog" in str(after["text"]).lower(), after  # heard as before,
    assert "LazyDog" in after["actions"][0]["text"], after  # typed as the user writes it
