"""Dictation into real text widgets, with the real model: `voxagent run --input FILE --fast
--json` (not --dry-run) hears espeak-ng speech and its keys reach
- a Tk Text on Xvfb as real XTEST events (tests/integration/keylog_window.py), whose
  contents are read back;
- wev on headless sway through wtype (tests/integration/wayland.py): no Wayland text
  widget is installed here, so the text is rebuilt from wev's key log (characters,
  Return, BackSpace, shift+Left selecting), as a plain text field would hold it.

The widget's final contents are asserted character for character against what the
joining and editing rules (agent/dispatch/joining.py, dictating.py; unit-tested on given
texts in tests/unit/test_joining.py and test_dictating.py) must make of what was heard:
the model's words are read from the JSON lines, never pinned.
"""

from __future__ import annotations

import json
import re
from collections.abc import Collection
from pathlib import Path
from typing import Any

import pytest

from agent.dispatch.dictating import ending
from agent.dispatch.joining import cased, joined
from agent.dispatch.words import Word, Words
from tests.integration import wayland, x11
from tests.integration.test_voice_x11 import _run, _speak
from tests.integration.wayland import Sway, WevWindow
from tests.integration.x11 import KeylogWindow, XServer

x_server, keylog_window, keylog = x11.x_server, x11.keylog_window, x11.keylog  # fixtures
sway, wev_window, wl_keylog = wayland.sway, wayland.wev_window, wayland.wl_keylog

pytestmark = pytest.mark.timeout(600)

FIRST, SECOND = "hello there", "we should go for a walk"
"""Two sentences tiny.en hears as two sentences under espeak-ng (words may vary)."""
THIRD = "see you later"
"""A third one, typed in place of a selection."""
REPLACE = "replace there with here"
"""A word of FIRST replaced, in words tiny.en hears from flite, not from espeak-ng."""


def dictated(phrases: list[str], folder: Path, env: dict[str, str],
             flite: Collection[str] = ()) -> list[dict[str, Any]]:
    """The JSON lines of dictating `phrases` (after "start dictation", a second apart);
    those in `flite` said by flite, not espeak-ng (test_voice_x11.py _speak)."""
    speech = _speak(["start dictation", *phrases], folder, flite)
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


def test_a_words_replacement(keylog: KeylogWindow, x_server: XServer,
                             tmp_path: Path) -> None:
    """A [words] table in the user's command folder: the dictated text holds the written
    form where the spoken one was heard (agent/dispatch/words.py, unit-tested)."""
    commands = tmp_path / "config" / "commands"
    commands.mkdir(parents=True)
    (commands / "words.toml").write_text('[words]\n"go for a walk" = "go for a stroll"\n')
    (one,) = dictated([SECOND], tmp_path, x_server.env())
    said = heard(one)
    table = Words([Word("go for a walk", "go for a stroll", "words.toml:2")])
    assert table.apply(said) != said, one  # the spoken form was heard
    want = joined(table.apply(said), "")
    assert "stroll" in want and keylog.sync().text == want


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


def test_select_that_then_words_typed_in_its_place(keylog: KeylogWindow, x_server: XServer,
                                                   tmp_path: Path) -> None:
    """The selection is exactly the last utterance's words (not the joining space nor the
    utterance before), and the next utterance, typed, takes their place in the widget."""
    one, two, select, three = dictated([FIRST, SECOND, "select that", THIRD], tmp_path,
                                       x_server.env(), flite={"select that"})
    first = joined(heard(one), "")
    words = joined(heard(two), first).lstrip(" ")
    heard(select, "select that")
    assert select["actions"] == [{"action": "key", "keys": "shift+left", "count": len(words)}]
    got = keylog.sync()
    lefts = [i for i, k in enumerate(got.keys) if k["keysym"] == "Left"]
    assert len(lefts) == len(words)
    assert all(got.keys[i]["state"] & 1 for i in lefts)  # with Shift held
    after = got.keys[lefts[-1] + 1]  # the next utterance's first key arrives on ...
    assert after["selected"] == words  # ... exactly the last utterance's words
    assert got.text == first + " " + joined(heard(three), first + " ")


def test_replace_a_word_in_the_last_utterance(keylog: KeylogWindow, x_server: XServer,
                                              tmp_path: Path) -> None:
    """"replace there with here": the word is replaced in the last utterance, the text
    after it retyped, and nothing before it touched (the same word there included)."""
    one, two, replace = dictated([FIRST, FIRST, REPLACE], tmp_path, x_server.env(),
                                 flite={FIRST, REPLACE})  # espeak-ng's is "Hello now."
    first = joined(heard(one), "")
    second = joined(heard(two), first)
    said = re.fullmatch(r"\W*replace\W+(\w+)\W+with\W+(\w+)\W*", heard(replace),
                        re.IGNORECASE)
    assert said, replace  # heard as one word replaced with another
    old, new = said.groups()
    assert re.search(rf"\b{old}\b", first, re.IGNORECASE), (first, old)
    at = re.search(rf"\b{old}\b", second, re.IGNORECASE)
    assert at, (second, old)
    assert replace["actions"][0].get("keys") == "backspace", replace  # an edit, not text
    kept = first + second[:at.start()]  # with the same word in `first`, left as typed
    assert keylog.sync().text == kept + cased(new, kept) + second[at.end():]


def field(keys: list[dict[str, Any]]) -> str:
    """What a plain text field holds after these key presses, as text fields behave
    (GTK, Qt, Tk): shift+Left selects one more character to the left of the cursor,
    BackSpace deletes the selection or the character before the cursor, a character or
    Return typed takes the selection's place.  Any other key fails the test."""
    text, cursor, anchor = "", 0, None
    for k in keys:
        start, end = sorted((cursor, cursor if anchor is None else anchor))
        if k["keysym"] == "Left" and k["mods"] == {"Shift"}:
            anchor, cursor = end if anchor is None else anchor, max(cursor - 1, 0)
            continue
        if k["keysym"] == "BackSpace" and start == end:
            start = max(start - 1, 0)
        typed = "" if k["keysym"] == "BackSpace" else "\n" if k["keysym"] == "Return" \
            else k["char"]
        assert typed or k["keysym"] == "BackSpace", k
        text, cursor, anchor = text[:start] + typed + text[end:], start + len(typed), None
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


def test_select_and_replace_reach_a_wayland_window(wl_keylog: WevWindow, sway: Sway,
                                                   tmp_path: Path) -> None:
    """"select that" then words typed in its place, then "replace there with here" in
    those words only: the keys wtype sends, as a text field takes them (field())."""
    one, two, select, three, replace = dictated(
        [FIRST, SECOND, "select that", FIRST, REPLACE], tmp_path, sway.env(),
        flite={FIRST, "select that", REPLACE})
    first = joined(heard(one), "")
    words = joined(heard(two), first).lstrip(" ")
    heard(select, "select that")
    assert select["actions"] == [{"action": "key", "keys": "shift+left", "count": len(words)}]
    third = joined(heard(three), first + " ")
    said = re.fullmatch(r"\W*replace\W+(\w+)\W+with\W+(\w+)\W*", heard(replace),
                        re.IGNORECASE)
    assert said, replace
    at = re.search(rf"\b{said[1]}\b", third, re.IGNORECASE)
    assert at and re.search(rf"\b{said[1]}\b", first, re.IGNORECASE), (first, third)
    kept = first + " " + third[:at.start()]
    got = wl_keylog.sync()
    assert [k["mods"] for k in got.keys if k["keysym"] == "Left"] == [{"Shift"}] * len(words)
    assert field(got.keys) == kept + cased(said[2], kept) + third[at.end():]
