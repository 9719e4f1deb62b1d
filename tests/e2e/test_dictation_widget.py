"""Dictation into real text widgets, with the real model: `voxagent run --input FILE --fast
--json` (not --dry-run) hears espeak-ng speech and its keys reach
- a Tk Text on Xvfb as real XTEST events (tests/integration/keylog_window.py), whose
  contents are read back;
- wev on headless sway through wtype (tests/integration/wayland.py): no Wayland text
  widget is installed here, so the text is rebuilt from wev's key log (characters,
  Return, BackSpace), as a plain text field would hold it.

The widget's final contents are asserted character for character against what the
joining and editing rules (agent/dispatch/joining.py, dictating.py; unit-tested on given
texts in tests/unit/test_joining.py and test_dictating.py) must make of what was heard:
the model's words are read from the JSON lines, never pinned.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent.dispatch.dictating import ending
from agent.dispatch.joining import joined
from tests.integration import wayland, x11
from tests.integration.test_voice_x11 import _run, _speak
from tests.integration.wayland import Sway, WevWindow
from tests.integration.x11 import KeylogWindow, XServer

x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog  # fixtures
sway, wev_window, wl_keylog = wayland.sway, wayland.wev_window, wayland.wl_keylog

pytestmark = pytest.mark.timeout(600)

FIRST, SECOND = "hello there", "we should go for a walk"
"""Two sentences tiny.en hears as two sentences under espeak-ng (words may vary)."""


def dictated(phrases: list[str], folder: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    """The JSON lines of dictating `phrases` (after "start dictation", a second apart)."""
    speech = _speak(["start dictation", *phrases], folder)
    done = _run(["run", "--input", str(speech), "--fast", "--json"], folder, env, timeout=300)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == len(phrases) + 1, done.stdout
    assert lines[0]["command"] == "start dictation", done.stdout
    return lines[1:]


def heard(line: dict[str, Any], command: str | None = None) -> str:
    """What was heard; `command`: the editing command it must have been heard as."""
    assert line["command"] == command, line
    return line["text"]


def test_two_sentences_with_a_pause(keylog: KeylogWindow, x_server: XServer,
                                    tmp_path: Path) -> None:
    one, two = dictated([FIRST, SECOND], tmp_path, x_server.env())
    first = joined(heard(one), "")
    want = first + joined(heard(two), first)
    assert want.count(" ") == len(want.split()) - 1  # one space between all the words
    assert keylog.sync().text == want


def test_new_paragraph(keylog: KeylogWindow, x_server: XServer, tmp_path: Path) -> None:
    one, para, two = dictated([FIRST, "new paragraph", SECOND], tmp_path, x_server.env())
    heard(para, "new paragraph")
    assert para["actions"] == [{"action": "key", "keys": "enter", "count": 2}]
    want = joined(heard(one), "") + "\n\n" + joined(heard(two), "\n\n")
    got = keylog.sync()
    assert got.text == want
    assert [k["keysym"] for k in got.keys].count("Return") == 2  # said, so pressed


def test_scratch_that_after_one_utterance(keylog: KeylogWindow, x_server: XServer,
                                          tmp_path: Path) -> None:
    one, scratch = dictated([SECOND, "scratch that"], tmp_path, x_server.env())
    typed = joined(heard(one), "")
    heard(scratch, "scratch that")
    assert scratch["actions"] == [{"action": "key", "keys": "backspace", "count": len(typed)}]
    got = keylog.sync()
    assert got.text == ""
    # every character typed was this utterance's: as first heard, then any tail corrected
    # (agent/worker.py _show, _settle)
    assert "".join(k["char"] for k in got.keys if k["keysym"] != "BackSpace") == \
        "".join(a["text"] for a in one.get("performed", one["actions"]) if a["action"] == "type")


def test_scratch_that_after_two_utterances_then_once_more(
        keylog: KeylogWindow, x_server: XServer, tmp_path: Path) -> None:
    one, two, scratch, again = dictated([FIRST, SECOND, "scratch that", "scratch that"],
                                        tmp_path, x_server.env())
    first = joined(heard(one), "")
    second = joined(heard(two), first)
    heard(scratch, "scratch that"), heard(again, "scratch that")
    counts = [a["count"] for line in (scratch, again) for a in line["actions"]]
    assert counts == [len(second), len(first)]  # the last utterance, then the one before
    assert keylog.sync().text == ""


def test_scratch_that_leaves_the_utterance_before(keylog: KeylogWindow, x_server: XServer,
                                                  tmp_path: Path) -> None:
    one, two, scratch = dictated([FIRST, SECOND, "scratch that"], tmp_path, x_server.env())
    heard(two), heard(scratch, "scratch that")
    assert keylog.sync().text == joined(heard(one), "")


def test_stop_dictation_at_the_end_of_a_sentence(keylog: KeylogWindow, x_server: XServer,
                                                 tmp_path: Path) -> None:
    said, after = dictated(["that is all stop dictation", "this is not typed"], tmp_path,
                           x_server.env())
    body, tail, stop = ending(heard(said))
    assert stop and not tail, said
    assert said["mode"] == "command" and said["actions"][-1] == {"action": "mode",
                                                                   "mode": "command"}
    assert after["actions"] == [] and after["mode"] == "command"  # no longer dictating
    assert keylog.sync().text == joined(body, "") != ""


def field(keys: list[dict[str, Any]]) -> str:
    """What a plain text field holds after these key presses."""
    text = ""
    for k in keys:
        if k["keysym"] == "BackSpace":
            text = text[:-1]
        elif k["keysym"] == "Return":
            text += "\n"
        else:
            text += k["char"]
    return text


def test_dictation_edits_reach_a_wayland_window(wl_keylog: WevWindow, sway: Sway,
                                                tmp_path: Path) -> None:
    one, two, scratch, para, three = dictated(
        [FIRST, SECOND, "scratch that", "new paragraph", SECOND], tmp_path, sway.env())
    first = joined(heard(one), "")
    heard(two), heard(scratch, "scratch that"), heard(para, "new paragraph")
    want = first + "\n\n" + joined(heard(three), "\n\n")
    got = wl_keylog.sync()
    assert not [k for k in got.keys if k["mods"] - {"Shift"}]  # no chord but shift
    assert field(got.keys) == want
