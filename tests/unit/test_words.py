"""The [words] table: parsing and its errors (file, line, key), which file wins, and how
the words are applied to dictated text and <text> captures (agent/dispatch/words.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary, read_file
from agent.dispatch.words import PROMPT_CHARS, Word, Words, replaced
from agent.messages import KeyAction, Mode, Transcript, TypeAction
from agent.paths import data_dir


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def words(*pairs: tuple[str, str]) -> Words:
    return Words(Word(s, w, f"f.toml:{i}") for i, (s, w) in enumerate(pairs, 1))


def test_a_words_table_is_read_with_each_entry_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.toml", '# mine\n[commands]\n"launch rocket" = "key ctrl+r"\n'
                 '\n[words]\n"vox agent" = "voxagent"\n"my email" = "me@example.org"\n')
    entries, problems = read_file(path)
    assert problems == []
    found = [e for e in entries if isinstance(e, Word)]
    assert [(w.spoken, w.written, w.origin) for w in found] == [
        ("vox agent", "voxagent", f"{path}:6"), ("my email", "me@example.org", f"{path}:7")]
    assert any(getattr(e, "name", "") == "launch rocket" for e in entries)


@pytest.mark.parametrize(("entry", "expected"), [
    ('"" = "x"', "word '': empty spoken form"),
    ('"  " = "x"', "word '  ': empty spoken form"),
    ('"vox agent" = ""', "word 'vox agent': empty written form"),
    ('"vox agent" = 3', "word 'vox agent': the written form must be a string, got int 3"),
    ('"vox agent" = ["voxagent"]', "the written form must be a string, got list"),
    ('"vox agent" = { do = "x" }', "the written form must be a string, got dict"),
    ('"vox agent" = "vox\\nagent"', "word 'vox agent': control characters are not allowed"),
    ('"vox\\tagent" = "voxagent"', "control characters are not allowed"),
    ('"vox agent" = "vox\\u202eagent"', "control characters are not allowed"),
    ('"?!" = "interrobang"', "word '?!': the spoken form has no letters or digits to say"),
])
def test_a_bad_entry_is_one_line_naming_file_line_and_key(tmp_path: Path, entry: str,
                                                           expected: str) -> None:
    path = write(tmp_path, "mine.toml", f'[words]\n"fine" = "Fine"\n{entry}\n"ok" = "OK"\n')
    entries, problems = read_file(path)
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{path}:3: ") and expected in problems[0], problems[0]
    assert "\n" not in problems[0]
    assert [w.spoken for w in entries if isinstance(w, Word)] == ["fine", "ok"]


def test_every_problem_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "mine.toml", '[commands]\n"oops" = "key ctrl+nothing"\n'
                 '[words]\n"a" = 1\n"Vox Agent" = "voxagent"\n"vox, agent!" = "VoxAgent"\n')
    _, problems = read_file(path)
    assert [p.split(": ")[0] for p in problems] == [f"{path}:2", f"{path}:4", f"{path}:6"]
    assert problems[2].endswith("word 'vox, agent!': 'Vox Agent' (line 5) is the same "
                                "spoken form")


def test_words_with_a_context_or_of_the_wrong_shape_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a.toml", '[context]\nmode = "dictation"\n\n[words]\n"x y" = "xy"\n')
    _, problems = read_file(path)
    assert problems == [f"{path}:4: [words] apply in every mode and window: put them in a "
                        "file without [context]"]
    path = write(tmp_path, "b.toml", 'words = "vox agent"\n')
    assert read_file(path)[1] == [f"{path}:1: 'words' must be a table [words]"]


def test_a_later_file_wins_and_a_broken_one_keeps_its_last_good_words(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "a.toml", '[words]\n"vox agent" = "voxagent"\n"my email" = "a@x.org"\n')
    b = write(user, "b.toml", '[words]\n"Vox  Agent" = "VoxAgent"\n')
    library = CommandLibrary([data_dir("commands"), user])
    assert library.words.apply("I like vox agent and my email.") == \
        "I like VoxAgent and a@x.org."
    parsed = [read_file(p)[0] for p in sorted(user.glob("*.toml"))]
    [(earlier, later)] = replaced(parsed)
    assert (earlier.written, later.written) == ("voxagent", "VoxAgent")
    b.write_text('[words]\n"Vox  Agent" = 7\n', encoding="utf-8")
    errors = library.reload()
    assert errors and errors[0].startswith(f"{b}:2: ")
    assert library.words.apply("vox agent") == "VoxAgent"  # b's last good version stays
    b.unlink()
    assert library.reload() == []
    assert library.words.apply("vox agent") == "voxagent"


@pytest.mark.parametrize(("heard", "typed"), [
    ("I use Vox Agent every day.", "I use voxagent every day."),
    ("VOX AGENT", "voxagent"),
    ("Vox-agent, vox, agent and VoxAgent.", "voxagent, voxagent and voxagent."),
    ("Send it to my email address please", "Send it to me@example.org please"),
    ("Send it to my email.", "Send it to me@work.example."),
    ("voxagents and devox agent stay", "voxagents and devox agent stay"),
    ("My e-mail", "My e-mail"),
    ("O'Reilly books, oreilly", "O’Reilly books, O’Reilly"),
    ("Café Ölen", "café-ölen"),
    ("", ""),
])
def test_spoken_forms_are_replaced_on_whole_words_longest_first(heard: str,
                                                                typed: str) -> None:
    table = words(("vox agent", "voxagent"), ("my email", "me@work.example"),
                  ("my email address", "me@example.org"), ("o'reilly", "O’Reilly"),
                  ("café ölen", "café-ölen"))
    assert table.apply(heard) == typed


def test_no_words_change_nothing() -> None:
    assert Words().apply("Vox agent.") == "Vox agent."
    assert Words().phrases == ()
    assert Words().captures({"text": "vox agent", "n": 2}) == {"text": "vox agent", "n": 2}


def test_the_prompt_holds_written_then_spoken_forms_newest_kept_bounded() -> None:
    table = words(("vox agent", "voxagent"), ("kay eight s", "k8s"), ("Kubernetes", "Kubernetes"))
    assert table.phrases == ("voxagent", "vox agent", "k8s", "kay eight s", "Kubernetes")
    many = Words(Word(f"word number {i}", f"written{i}", "f:1") for i in range(200))
    assert sum(len(p) + 2 for p in many.phrases) <= PROMPT_CHARS
    assert many.phrases[-2:] == ("written199", "word number 199")


def dispatcher(tmp_path: Path, table: str) -> Dispatcher:
    write(tmp_path / "user", "words.toml", table)
    library = CommandLibrary([data_dir("commands"), tmp_path / "user"])
    return Dispatcher(library.commands, words=library.words)


def test_dictation_and_text_captures_type_the_written_form(tmp_path: Path) -> None:
    d = dispatcher(tmp_path, '[words]\n"vox agent" = "voxagent"\n')
    typed = d.dispatch(Transcript("Type vox agent rocks.")).actions
    assert typed == (TypeAction("voxagent rocks"),)
    assert d.dispatch(Transcript("Snake case vox agent rocks")).actions == \
        (TypeAction("voxagent_rocks"),)
    d.dispatch(Transcript("Start dictation."))
    assert d.mode is Mode.DICTATION
    assert d.dispatch(Transcript("I built Vox Agent.")).actions == \
        (TypeAction("I built voxagent."),)


def test_words_never_change_which_command_is_heard(tmp_path: Path) -> None:
    d = dispatcher(tmp_path, '[words]\n"new tab" = "NEWTAB"\n"paste" = "glue"\n')
    decision = d.dispatch(Transcript("New tab."))
    assert decision.command == "new tab" and decision.actions == (KeyAction("ctrl+t"),)
    assert d.dispatch(Transcript("Type paste here")).actions == (TypeAction("glue here"),)


def test_a_reload_swaps_the_words_in(tmp_path: Path) -> None:
    d = dispatcher(tmp_path, '[words]\n"vox agent" = "voxagent"\n')
    d.set_commands(d.commands)  # commands only: the words stay
    assert d.dispatch(Transcript("Type vox agent")).actions == (TypeAction("voxagent"),)
    d.set_commands(d.commands, words(("vox agent", "VA")))
    assert d.dispatch(Transcript("Type vox agent")).actions == (TypeAction("VA"),)


def test_words_run_together_match_only_where_a_form_splits() -> None:
    both = words(("voxagent", "B"), ("vox agent", "A"))
    assert both.apply("VoxAgent, vox agent, vox-agent.") == "A, A, A."
    assert words(("voxagent", "B")).apply("vox agent and voxagent") == "vox agent and B"
    assert words(("vox agent", "A")).apply("voxa gent, vo xagent") == "voxa gent, vo xagent"
    many = Words(Word(f"word{i} thing{i}", f"W{i}", "f:1") for i in range(2000))
    assert many.apply("say word1999 thing1999 and word7 thing8") == "say W1999 and word7 thing8"
