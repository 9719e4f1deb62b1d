"""agent.dispatch.loader: command files -> commands, errors at the right `path:line:`,
user overrides, and reloading that keeps the last good version of a broken file."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from agent.actions.launch import app_names
from agent.dispatch.collisions import Collision
from agent.dispatch.loader import (
    Command,
    CommandFileError,
    CommandLibrary,
    Disable,
    command_files,
    merge,
    parse_file,
    read_file,
)
from agent.messages import Action, KeyAction, LaunchAction, Mode, ModeAction, ScrollAction
from agent.paths import data_dir

APPS = app_names({})
BUILTIN = data_dir("commands")


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path


def find(commands: tuple[Command, ...] | list[Command | Disable], name: str,
         mode: Mode = Mode.COMMAND, app: str = "") -> Command | None:
    hits = [c for c in commands
            if isinstance(c, Command) and c.name == name and c.mode == mode and c.app == app]
    assert len(hits) <= 1, hits
    return hits[0] if hits else None


def performed(command: Command | None) -> list[Action]:
    """The actions of a command without captures, as the executor would get them."""
    assert command is not None
    return [a.build({}) for a in command.actions]


def origin(command: Command | None) -> str:
    assert command is not None
    return command.origin


def error_of(path: Path, apps: frozenset[str] | None = APPS) -> tuple[int, str]:
    """parse_file's refusal of `path`: (line, message); asserts the `path:line: ` shape."""
    with pytest.raises(CommandFileError) as info:
        parse_file(path, apps)
    message = str(info.value)
    assert "\n" not in message, message
    m = re.match(re.escape(str(path)) + r":(\d+): (.+)$", message)
    assert m, message
    return int(m.group(1)), m.group(2)


# --- the built-in files ---------------------------------------------------------------------

def test_builtin_folder_is_the_source_tree_or_the_wheel_data() -> None:
    assert BUILTIN.is_dir()
    assert len(command_files(BUILTIN)) >= 5


@pytest.mark.parametrize("path", command_files(BUILTIN), ids=lambda p: p.name)
def test_every_builtin_file_parses_with_origins_on_the_right_lines(path: Path) -> None:
    entries = parse_file(path, APPS)
    assert entries, f"{path} defines nothing"
    lines = path.read_text(encoding="utf-8").splitlines()
    for entry in entries:
        assert isinstance(entry, Command), entry
        where, _, line = entry.origin.rpartition(":")
        assert where == str(path)
        written = lines[int(line) - 1].strip()
        assert written.startswith(f'"{entry.spoken}"'), (entry.origin, written)


KEYS = {
    "copy": "ctrl+c", "paste": "ctrl+v", "cut": "ctrl+x", "undo": "ctrl+z",
    "redo": "ctrl+shift+z", "select all": "ctrl+a", "save file": "ctrl+s", "find": "ctrl+f",
    "new tab": "ctrl+t", "close tab": "ctrl+w", "next tab": "ctrl+tab",
    "previous tab": "ctrl+shift+tab", "reopen tab": "ctrl+shift+t",
    "go back": "alt+left", "go forward": "alt+right", "reload page": "ctrl+r",
    "switch window": "alt+tab", "close window": "alt+f4", "maximize window": "super+up",
    "minimize window": "super+down", "page up": "page_up", "page down": "page_down",
    "volume up": "volume_up", "volume down": "volume_down", "mute": "volume_mute",
    "play pause": "media_play_pause", "next track": "media_next",
    "previous track": "media_previous",
}


def test_builtin_set_has_the_contract_commands() -> None:
    lib = CommandLibrary([BUILTIN], APPS)
    assert lib.errors == []
    for name, keys in KEYS.items():
        assert performed(find(lib.commands, name)) == [KeyAction(keys, 1)], name
    for direction in ("up", "down", "left", "right"):
        assert performed(find(lib.commands, f"scroll {direction}")) == [ScrollAction(direction)]
    for name, app in (("open terminal", "terminal"), ("open browser", "browser"),
                      ("open file manager", "file_manager")):
        assert performed(find(lib.commands, name)) == [LaunchAction(app)]
    assert performed(find(lib.commands, "go to sleep")) == [ModeAction(Mode.SLEEP)]
    assert performed(find(lib.commands, "start dictation")) == [ModeAction(Mode.DICTATION)]
    assert performed(find(lib.commands, "wake up", Mode.SLEEP)) == [ModeAction(Mode.COMMAND)]
    stop = find(lib.commands, "stop dictation", Mode.DICTATION)
    assert performed(stop) == [ModeAction(Mode.COMMAND)]
    # asleep, nothing but "wake up" acts: it is the only sleep-mode command
    assert [c.name for c in lib.commands if c.mode == Mode.SLEEP] == ["wake up"]


# --- what a valid file may say --------------------------------------------------------------

def test_file_forms_and_origins(tmp_path: Path) -> None:
    path = write(tmp_path, "forms.toml", """
# every way to write a command
[context]
mode = "command"

[commands]
"select line" = ["key home", "key shift+end"]
"close it" = { do = "key alt+f4", confirm = true }
bare-key = "key ctrl+b"
'literal key' = "key ctrl+l"
"scroll far down" = "scroll down * 5"
"paste" = false

[commands."quit app"]
do = "key ctrl+q"
confirm = true
""")
    entries = parse_file(path, APPS)
    assert Disable(("paste", "command", "")) in entries
    select = find(entries, "select line")
    assert performed(select) == [KeyAction("home"), KeyAction("shift+end")]
    assert select is not None and select.origin == f"{path}:6"
    close = find(entries, "close it")
    assert close is not None and close.confirm and close.origin == f"{path}:7"
    assert origin(find(entries, "bare-key")) == f"{path}:8"
    assert origin(find(entries, "literal key")) == f"{path}:9"
    assert performed(find(entries, "scroll far down")) == [ScrollAction("down", 5)]
    quit_app = find(entries, "quit app")
    assert quit_app is not None and quit_app.confirm and quit_app.origin == f"{path}:13"


def test_per_app_context_is_recorded(tmp_path: Path) -> None:
    path = write(tmp_path, "firefox.toml", """
[context]
app = "firefox|chromium"

[commands]
"new private window" = "key ctrl+shift+p"
""")
    (cmd,) = parse_file(path, APPS)
    assert isinstance(cmd, Command)
    assert (cmd.app, cmd.mode) == ("firefox|chromium", Mode.COMMAND)
    assert cmd.key == ("new private window", "command", "firefox|chromium")


# --- errors at the right line ---------------------------------------------------------------

PREAMBLE = """
# A user's command file.
# "oops" = "key ctrl+nothing"   (a comment is not a definition)
[commands]
"copy all" = ["key ctrl+a", "key ctrl+c"]
"""


@pytest.mark.parametrize(("line", "expected"), [
    ('"oops" = "key ctrl+nothing"', "ctrl+nothing"),
    ('"oops" = "key ctrl+c * 101"', "out of range"),
    ('"oops" = "jump ctrl+c"', "unknown action 'jump'"),
    ('"oops" = "scroll sideways"', "scroll direction 'sideways'"),
    ('"oops" = "launch rocket"', "unknown app 'rocket'"),
    ('"oops" = "mode party"', "mode 'party'"),
    ('"oops" = "type <text:shouty>"', "unknown formatter 'shouty'"),
    ('"oops <foo>" = "key ctrl+c"', "unknown capture <foo>"),
    ('"oops (a|b" = "key ctrl+c"', "unbalanced"),
    ('"[oops]" = "key ctrl+c"', "not optional"),
    ('"oops it" = "key <chord>"', "<chord>"),
    ('"oops" = "type <text>"', "<text>"),
    ('"oops" = 3', "must map to an action string"),
    ('"oops" = true', "must map to an action string"),
    ('"oops" = []', "must map to an action string"),
    ('"oops" = ["key ctrl+c", 3]', "must map to an action string"),
    ('"oops" = { do = "key ctrl+c", confirm = "yes" }', "'confirm' must be true or false"),
    ('"oops" = { action = "key ctrl+c" }', "takes 'do'"),
    ("oops = 'key ctrl+nothing'", "ctrl+nothing"),
    ('"say \\"oops\\"" = "key ctrl+nothing"', "ctrl+nothing"),
])
def test_bad_command_is_reported_at_its_line(tmp_path: Path, line: str, expected: str) -> None:
    # the bad command is on line 5, after a comment mentioning it and a good command
    path = write(tmp_path, "user.toml", PREAMBLE + line + '\n"cut all" = "key ctrl+x"\n')
    number, message = error_of(path)
    assert number == 5, message
    assert expected in message


def test_capture_error_names_the_capture_and_the_form(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", PREAMBLE + '"press it" = "key <chord> * <n>"\n')
    number, message = error_of(path)
    assert number == 5
    assert "press it" in message
    assert "<chord>" in message or "<n>" in message


def test_unknown_capture_lists_the_allowed_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", PREAMBLE + '"go <foo>" = "key ctrl+c"\n')
    assert error_of(path) == (5, "unknown capture <foo>; allowed: <key>, <chord>, <n>, <text>")


def test_bad_command_in_a_sub_table_is_reported_at_its_header(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", PREAMBLE + """
[commands."quit app"]
do = "key ctrl+q"
confirm = "please"
""")
    number, message = error_of(path)
    assert number == 6
    assert "confirm" in message


@pytest.mark.parametrize("header", ["[bogus]", "[Commands]", "[[commands]]"])
def test_unknown_table_is_reported_at_its_header(tmp_path: Path, header: str) -> None:
    path = write(tmp_path, "user.toml", PREAMBLE + f"\n{header}\nx = 1\n")
    number, message = error_of(path)
    if header == "[[commands]]":  # an array of tables where a table belongs: TOML says no
        assert number == 6 and "not valid TOML" in message
        return
    assert number == 6, message
    assert "unknown table" in message and "[context], [commands]" in message


def test_unknown_top_level_key_is_reported_at_its_line(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", 'mode = "sleep"\n' + PREAMBLE)
    assert error_of(path)[0] == 1
    path = write(tmp_path, "user.toml", '# first\n\nmode = "sleep"\n' + PREAMBLE)
    number, message = error_of(path)
    assert number == 3
    assert "'mode'" in message


@pytest.mark.parametrize(("context", "line", "expected"), [
    ('mode = "awake"', 4, "mode 'awake' not one of command, dictation, sleep"),
    ('mode = ["sleep"]', 4, "not one of command, dictation, sleep"),
    ("mode = 3", 4, "not one of"),
    ('app = "fire(fox"', 4, "app is not a valid regular expression"),
    ('app = "^(a+)+$"', 4, "app pattern '^(a+)+$' repeats something that itself repeats, "
                           "which can take exponential time"),
    ('app = "(term|terminal)*"', 4, "repeats a group with alternatives"),
    ("app = '(x)\\1'", 4, "uses a back reference"),
    ("app = 3", 4, "app must be a string"),
    ('window = "firefox"', 4, "unknown context key 'window'; allowed: mode, app"),
])
def test_bad_context_is_reported_at_its_line(tmp_path: Path, context: str, line: int,
                                             expected: str) -> None:
    # a command called "mode" / "app" comes first, so only a key in [context] may be found
    path = write(tmp_path, "user.toml", f"""
[commands]
"app" = "key ctrl+a"
[context]
{context}
""")
    number, message = error_of(path)
    assert number == line, message
    assert expected in message


def test_bad_context_line_in_a_longer_file(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", """
# browser commands

[context]
mode = "command"
app = "firefox|("

[commands]
"reader view" = "key f9"
""")
    number, message = error_of(path)
    assert number == 5
    assert "app is not a valid regular expression" in message


def test_invalid_toml_reports_tomllib_line(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", PREAMBLE + '"oops" = key ctrl+c\n')
    number, message = error_of(path)
    assert number == 5
    assert "not valid TOML" in message
    path = write(tmp_path, "user.toml", PREAMBLE + '"copy all" = "key ctrl+c"\n')
    number, message = error_of(path)  # a duplicate key is a TOML error too
    assert number == 5 and "not valid TOML" in message


def test_tables_of_the_wrong_shape(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", '# x\ncommands = "key ctrl+c"\n')
    assert error_of(path) == (2, "'commands' must be a table [commands]")
    path = write(tmp_path, "user.toml", '# x\n\ncontext = "sleep"\n')
    assert error_of(path) == (3, "'context' must be a table [context]")


def test_unreadable_files(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[commands]\n"caf\xe9" = "key ctrl+c"\n')
    number, message = error_of(path)
    assert number == 1 and "cannot read" in message
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    assert "cannot read" in error_of(folder)[1]


def test_launch_apps_are_checked_against_the_configured_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", '[commands]\n"open editor" = "launch editor"\n')
    assert "unknown app 'editor'; known: browser, file_manager, terminal" in error_of(path)[1]
    (cmd,) = parse_file(path, app_names({"editor": ("code",)}))
    assert isinstance(cmd, Command)
    assert performed(cmd) == [LaunchAction("editor")]


# --- merging: override, disable, add ------------------------------------------------------

def test_user_file_overrides_disables_and_adds(tmp_path: Path) -> None:
    user = write(tmp_path / "user", "mine.toml", """
[commands]
"new tab" = "key ctrl+alt+t"
"paste" = false
"(reload|refresh) page" = false
"launch rocket" = "key ctrl+alt+r"
""")
    builtin = [parse_file(p, APPS) for p in command_files(BUILTIN)]
    before = merge(builtin)
    after = merge([*builtin, parse_file(user, APPS)])
    assert performed(find(before, "new tab")) == [KeyAction("ctrl+t")]
    new_tab = find(after, "new tab")
    assert performed(new_tab) == [KeyAction("ctrl+alt+t")]
    assert new_tab is not None and new_tab.origin == f"{user}:2"
    assert find(before, "paste") is not None
    assert find(after, "paste") is None
    assert find(after, "reload page") is None
    assert performed(find(after, "launch rocket")) == [KeyAction("ctrl+alt+r")]
    assert performed(find(after, "copy")) == [KeyAction("ctrl+c")]  # the rest untouched
    assert len(after) == len(before) - 2 + 1


def test_overrides_are_per_mode_and_per_app(tmp_path: Path) -> None:
    firefox = write(tmp_path, "firefox.toml", """
[context]
app = "firefox"
[commands]
"new tab" = "key ctrl+alt+t"
"wake up" = false
""")
    awake = write(tmp_path, "wake.toml", '[commands]\n"wake up" = "key ctrl+w"\n')
    builtin = [parse_file(p, APPS) for p in command_files(BUILTIN)]
    merged = merge([*builtin, parse_file(firefox, APPS), parse_file(awake, APPS)])
    assert performed(find(merged, "new tab")) == [KeyAction("ctrl+t")]
    assert performed(find(merged, "new tab", app="firefox")) == [KeyAction("ctrl+alt+t")]
    assert performed(find(merged, "wake up", Mode.SLEEP)) == [ModeAction(Mode.COMMAND)]
    assert performed(find(merged, "wake up")) == [KeyAction("ctrl+w")]


def test_later_files_win_in_name_order(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "20-late.toml", '[commands]\n"launch rocket" = "key ctrl+alt+2"\n')
    write(user, "10-early.toml", '[commands]\n"launch rocket" = "key ctrl+alt+1"\n')
    write(user, "notes.txt", "not a command file")
    assert [p.name for p in command_files(user)] == ["10-early.toml", "20-late.toml"]
    lib = CommandLibrary([BUILTIN, user], APPS)
    assert performed(find(lib.commands, "launch rocket")) == [KeyAction("ctrl+alt+2")]
    assert command_files(tmp_path / "absent") == []


def test_user_can_switch_builtins_off_by_loading_only_their_folder(tmp_path: Path) -> None:
    user = tmp_path / "user"
    write(user, "mine.toml", '[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    lib = CommandLibrary([user], APPS)
    assert [c.name for c in lib.commands] == ["launch rocket"]


# --- reloading ------------------------------------------------------------------------------

GOOD = '''# rockets
[commands]
"launch rocket" = "key ctrl+alt+r"
"land rocket" = "key ctrl+alt+l"
'''


def test_reload_keeps_the_last_good_version_of_a_broken_file(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    user = tmp_path / "user"
    path = write(user, "rockets.toml", GOOD)
    lib = CommandLibrary([BUILTIN, user], APPS)
    assert lib.errors == []
    count = len(lib.commands)

    # broken: a bad action on line 4, and a changed good line that must NOT take effect
    path.write_text(GOOD.replace("ctrl+alt+r", "ctrl+alt+x").replace("ctrl+alt+l", "ctrl+zz"))
    with caplog.at_level(logging.WARNING, logger="agent.dispatch.loader"):
        errors = lib.reload()
    assert len(errors) == 1
    assert errors[0].startswith(f"{path}:4: ")
    assert "ctrl+zz" in errors[0]
    assert lib.errors == errors
    assert any("keeping its last good version" in r.getMessage() for r in caplog.records)
    assert performed(find(lib.commands, "launch rocket")) == [KeyAction("ctrl+alt+r")]
    assert performed(find(lib.commands, "land rocket")) == [KeyAction("ctrl+alt+l")]
    assert performed(find(lib.commands, "new tab")) == [KeyAction("ctrl+t")]
    assert len(lib.commands) == count

    # repaired, with a new meaning: picked up
    path.write_text(GOOD.replace("ctrl+alt+r", "ctrl+alt+x"))
    assert lib.reload() == []
    assert lib.errors == []
    assert performed(find(lib.commands, "launch rocket")) == [KeyAction("ctrl+alt+x")]

    # removed: its commands go
    path.unlink()
    assert lib.reload() == []
    assert find(lib.commands, "launch rocket") is None
    assert len(lib.commands) == count - 2


def test_broken_file_at_first_load_is_skipped_while_the_others_load(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    user = tmp_path / "user"
    write(user, "a-good.toml", '[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    broken = write(user, "b-broken.toml", '[commands]\n"paste" = false\n"beam me up" = "key <n>"\n')
    write(user, "c-good.toml", '[commands]\n"land rocket" = "key ctrl+alt+l"\n')
    with caplog.at_level(logging.WARNING, logger="agent.dispatch.loader"):
        lib = CommandLibrary([BUILTIN, user], APPS)
    assert len(lib.errors) == 1
    assert lib.errors[0].startswith(f"{broken}:3: ")
    assert any("file skipped" in r.getMessage() for r in caplog.records)
    assert find(lib.commands, "launch rocket") is not None
    assert find(lib.commands, "land rocket") is not None
    assert find(lib.commands, "paste") is not None  # the broken file's disable did not apply
    assert find(lib.commands, "beam me up") is None

    broken.write_text('[commands]\n"paste" = false\n"beam me up" = "key ctrl+b"\n')
    assert lib.reload() == []
    assert find(lib.commands, "paste") is None
    assert performed(find(lib.commands, "beam me up")) == [KeyAction("ctrl+b")]


# --- collisions: the first definition stays -------------------------------------------------

def test_every_problem_in_a_file_is_reported_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "user.toml", """
[bogus]
x = 1
[context]
mode = "awake"
[commands]
"copy all" = ["key ctrl+a", "key ctrl+c"]
"oops" = "key ctrl+nothing"
"fine" = "key ctrl+f"
"warp <foo>" = "key ctrl+w"
""")
    entries, problems = read_file(path, APPS)
    assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (1, 4, 7, 9)]
    assert "unknown table 'bogus'" in problems[0] and "mode 'awake'" in problems[1]
    assert "ctrl+nothing" in problems[2] and "unknown capture <foo>" in problems[3]
    assert [e.name for e in entries if isinstance(e, Command)] == ["copy all", "fine"]
    with pytest.raises(CommandFileError) as info:
        parse_file(path, APPS)
    assert str(info.value) == problems[0] and info.value.problems == tuple(problems)


def test_forms_that_normalise_alike_in_one_file_keep_the_first(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path, "user.toml", """
[commands]
"copy it" = "key ctrl+c"
"Copy  It!" = "key ctrl+x"
""")
    with caplog.at_level(logging.WARNING, logger="agent.dispatch.loader"):
        merged = merge([parse_file(path, APPS)])
    assert performed(find(merged, "copy it")) == [KeyAction("ctrl+c")]
    assert len(merged) == 1
    (warning,) = [r.getMessage() for r in caplog.records]
    assert warning == (f"{path}:3: 'Copy  It!' collides with 'copy it' at {path}:2 "
                       '(both take "copy it"); the first is kept')


@pytest.mark.parametrize(("first", "second", "said"), [
    ('"copy [it]"', '"copy it"', "copy it"),            # optional words
    ('"copy it"', '"copy [it]"', "copy it"),            # either way round
    ('"(grab|take) it"', '"take it"', "take it"),       # alternatives
    ('"jump <key>"', '"jump <chord>"', "jump a"),       # two captures that take the same
    ('"jump escape"', '"jump <chord>"', "jump escape"),  # a key said as a literal
])
def test_a_pattern_that_takes_another_form_collides(tmp_path: Path, first: str, second: str,
                                                    said: str) -> None:
    path = write(tmp_path, "user.toml", f"[commands]\n{first} = \"key ctrl+1\"\n"
                                        f"{second} = \"key ctrl+2\"\n")
    found: list[Collision] = []
    merged = merge([parse_file(path, APPS)], found)
    assert [c.spoken for c in merged] == [first.strip('"')]
    (clash,) = found
    assert (clash.kept.origin, clash.dropped.origin, clash.said) == (
        f"{path}:2", f"{path}:3", said)


@pytest.mark.parametrize("second", [
    '"type my address" = "type 1 Main Street"',  # more specific than "type <text>": wins
    '"copy tab" = "key ctrl+1"',                  # no form in common
    '"copy" = { do = "key ctrl+1", confirm = true }',  # another mode (see the context)
])
def test_more_specific_forms_and_other_contexts_do_not_collide(tmp_path: Path,
                                                                second: str) -> None:
    first = write(tmp_path, "a.toml", '[commands]\n"type <text>" = "type <text>"\n'
                                      '"copy" = "key ctrl+c"\n')
    other = write(tmp_path, "b.toml", ("[context]\nmode = \"dictation\"\n"
                                       if "confirm" in second else "") + f"[commands]\n{second}\n")
    found: list[Collision] = []
    merged = merge([parse_file(first, APPS), parse_file(other, APPS)], found)
    assert found == [] and len(merged) == 3


def test_a_user_pattern_that_takes_a_builtin_form_is_dropped_unless_it_is_disabled(
        tmp_path: Path) -> None:
    builtin = [parse_file(p, APPS) for p in command_files(BUILTIN)]
    user = write(tmp_path, "mine.toml", '[commands]\n"copy [that]" = "key ctrl+shift+c"\n')
    found: list[Collision] = []
    merged = merge([*builtin, parse_file(user, APPS)], found)
    assert performed(find(merged, "copy")) == [KeyAction("ctrl+c")]
    assert find(merged, "copy that") is None
    (clash,) = found
    assert clash.message().startswith(f"{user}:2: 'copy [that]' collides with 'copy' at "
                                      f"{BUILTIN / 'editing.toml'}:3")
    assert clash.message().endswith('to replace it, disable it first: "copy" = false')
    # as the message says: disabled first, the user's pattern takes its place
    user.write_text('[commands]\n"copy" = false\n"copy [that]" = "key ctrl+shift+c"\n')
    found.clear()
    merged = merge([*builtin, parse_file(user, APPS)], found)
    assert found == [] and performed(find(merged, "copy that")) == [KeyAction("ctrl+shift+c")]


def test_the_builtin_sets_have_no_collisions() -> None:
    found: list[Collision] = []
    merge([parse_file(p, APPS) for p in command_files(BUILTIN)], found)
    assert found == []


def test_spoken_forms_in_any_script_load_and_match(tmp_path: Path) -> None:
    """Japanese and Hebrew forms were refused as having no word that is not optional,
    which skipped the whole file (issue 18)."""
    from agent.dispatch.dispatcher import Dispatcher
    from agent.messages import Transcript

    path = write(tmp_path, "intl.toml", """
[commands]
"コピー" = "key ctrl+c"
"העתק [הכל]" = "key ctrl+shift+c"
"Café öffnen" = "key ctrl+alt+c"
""")
    entries, problems = read_file(path, APPS)
    assert problems == []
    dispatcher = Dispatcher(merge([entries]))
    assert dispatcher.command_name(Transcript("コピー。")) == "コピー"
    assert dispatcher.command_name(Transcript("העתק הכל.")) == "העתק הכל"
    assert dispatcher.command_name(Transcript("Café öffnen!")) == "Café öffnen"


@pytest.mark.parametrize("app", ["firefox|chromium", "^(firefox|chromium)$", "(?:fire)?fox",
                                 "[a-z]+-term.*", "code|Code - OSS", "(ab){2,5}"])
def test_app_patterns_that_cannot_backtrack_without_end_load(tmp_path: Path, app: str) -> None:
    path = write(tmp_path, "user.toml",
                 f'[context]\napp = "{app}"\n[commands]\n"copy" = "key ctrl+c"\n')
    (cmd,) = parse_file(path, APPS)
    assert isinstance(cmd, Command) and cmd.app == app
