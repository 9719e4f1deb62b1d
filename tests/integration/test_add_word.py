""""add word <spoken> as <written>" by voice: the dispatcher holds it for a yes, the live
session's executor appends it to spoken-words.toml in the user's command folder (real
files: 0600 when made, written whole and renamed, never through a link), and a reload
makes it act (agent/dispatch/words_file.py)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from agent.actions.base import ActionError
from agent.actions.dryrun import DryRunExecutor
from agent.desktop.session import SessionExecutor
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.dispatch.words import said_word
from agent.dispatch.words_file import HEADER, WORDS_FILE, add_word
from agent.messages import Transcript, TypeAction, WordAction
from agent.paths import data_dir


@pytest.mark.parametrize(("heard", "pair"), [
    ("vox agent as voxagent.", ("vox agent", "voxagent")),
    ("My email as me@example.org", ("My email", "me@example.org")),
    ("as soon as possible AS ASAP!", ("as soon as possible", "ASAP")),
    ("Kubernetes.", ("Kubernetes", "Kubernetes")),
])
def test_what_follows_add_word_is_split_at_the_last_as(heard: str,
                                                       pair: tuple[str, str]) -> None:
    assert said_word(heard) == pair


def test_add_word_is_held_for_a_yes_then_written_and_acts_after_reload(tmp_path: Path) -> None:
    user = tmp_path / "commands"
    library = CommandLibrary([data_dir("commands"), user])
    d = Dispatcher(library.commands, words=library.words)
    asked = d.dispatch(Transcript("Add word vox agent as voxagent."), end=1.0)
    assert asked.actions == () and asked.pending is not None
    assert asked.note == "say yes to add word 'vox agent' as 'voxagent'"
    done = d.dispatch(Transcript("Yes."), start=2.0)
    assert done.actions == (WordAction("vox agent", "voxagent"),)

    session = SessionExecutor(DryRunExecutor(), controller=None,  # type: ignore[arg-type]
                              words_folder=user)
    session.perform(done.actions[0])
    path = user / WORDS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text(encoding="utf-8") == HEADER + '"vox agent" = "voxagent"\n'
    assert library.reload() == []
    d.set_commands(library.commands, library.words)
    assert d.dispatch(Transcript("Type vox agent.")).actions == (TypeAction("voxagent"),)


def test_a_dry_run_session_writes_nothing(tmp_path: Path) -> None:
    dry = DryRunExecutor()
    SessionExecutor(dry, controller=None).perform(  # type: ignore[arg-type]
        WordAction("vox agent", "voxagent"))
    assert dry.performed == [WordAction("vox agent", "voxagent")]
    assert not any(tmp_path.iterdir())


def test_entries_are_appended_and_the_rest_of_the_file_kept(tmp_path: Path) -> None:
    path = tmp_path / WORDS_FILE
    path.write_text('# mine\n[words]\n"k eight s" = "k8s"  # kept\n', encoding="utf-8")
    path.chmod(0o644)
    add_word(tmp_path, 'say "hi"', "héllo\\")
    assert path.read_text(encoding="utf-8") == ('# mine\n[words]\n"k eight s" = "k8s"  # kept\n'
                                                '"say \\"hi\\"" = "héllo\\\\"\n')
    library = CommandLibrary([tmp_path])
    assert library.errors == []
    assert library.words.apply("Say hi and k eight s") == "héllo\\ and k8s"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == [WORDS_FILE]  # no temporary file left


@pytest.mark.parametrize(("spoken", "written", "why"), [
    ("?!", "x", "no letters or digits"),
    ("tab", "a\tb", "control characters"),
    ("", "x", "empty spoken form"),
    ("K Eight S", "kates", "'K Eight S' is already in"),
])
def test_a_bad_or_repeated_entry_is_refused_and_nothing_changes(
        tmp_path: Path, spoken: str, written: str, why: str) -> None:
    path = tmp_path / WORDS_FILE
    before = HEADER + '"k eight s" = "k8s"\n'
    path.write_text(before, encoding="utf-8")
    with pytest.raises(ActionError, match=why):
        add_word(tmp_path, spoken, written)
    assert path.read_text(encoding="utf-8") == before


def test_a_file_not_ending_in_its_words_table_is_not_changed(tmp_path: Path) -> None:
    path = tmp_path / WORDS_FILE
    before = '[words]\n"a b" = "ab"\n[commands]\n"launch rocket" = "key ctrl+r"\n'
    path.write_text(before, encoding="utf-8")
    with pytest.raises(ActionError, match="does not end in its \\[words\\] table"):
        add_word(tmp_path, "vox agent", "voxagent")
    path.write_text("[words\n", encoding="utf-8")
    with pytest.raises(ActionError, match="is not valid TOML"):
        add_word(tmp_path, "vox agent", "voxagent")
    assert path.read_text(encoding="utf-8") == "[words\n"


def test_a_link_is_refused_and_its_target_untouched(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.toml"
    target.write_text(HEADER, encoding="utf-8")
    folder = tmp_path / "commands"
    folder.mkdir()
    (folder / WORDS_FILE).symlink_to(target)
    with pytest.raises(ActionError, match="symbolic link: refused"):
        add_word(folder, "vox agent", "voxagent")
    assert target.read_text(encoding="utf-8") == HEADER
    assert (folder / WORDS_FILE).is_symlink()


def test_a_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / WORDS_FILE)
    with pytest.raises(ActionError, match="not a regular file"):
        add_word(tmp_path, "vox agent", "voxagent")
