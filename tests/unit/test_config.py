"""agent.config: defaults, overrides, one-line refusals of bad input, and describe()."""

from __future__ import annotations

import dataclasses
import re
import tomllib
import typing
from collections.abc import Iterator
from dataclasses import fields, replace
from pathlib import Path

import pytest

from agent.config import Config, ConfigError, describe, load_config


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def refusal(path: Path) -> str:
    """The message load_config raises for `path`; it must be one line naming the file."""
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert "\n" not in message, message
    assert str(path) in message, message
    return message


# --- defaults and overrides -------------------------------------------------------------------

def test_absent_file_gives_defaults(tmp_path: Path) -> None:
    assert load_config(tmp_path / "missing.toml") == Config()
    assert load_config(None) == Config()


def test_empty_file_gives_defaults_and_records_source(tmp_path: Path) -> None:
    path = write(tmp_path, "# nothing set\n")
    assert load_config(path) == replace(Config(), source=str(path))


def test_defaults_are_the_documented_ones() -> None:
    cfg = Config()
    assert cfg.audio.block_ms == 30
    assert cfg.vad.aggressiveness == 2
    assert cfg.whisper.model == "embedded"
    assert cfg.commands.builtin is True
    assert cfg.apps == {}


def test_default_apps_tables_are_not_shared() -> None:
    a, b = Config(), Config()
    a.apps["x"] = ("y",)
    assert b.apps == {}
    assert Config().apps == {}


def test_valid_file_overrides_only_what_it_sets(tmp_path: Path) -> None:
    path = write(tmp_path, """
[audio]
device = "USB Mic"
block_ms = 20

[vad]
aggressiveness = 3
hangover_ms = 600
max_utterance_s = 10        # an integer is fine where a number is wanted

[whisper]
model = "base.en"
bias_vocabulary = false

[commands]
fuzzy_threshold = 0.9
user_dir = "~/my-commands"
""")
    cfg = load_config(path)
    assert cfg.source == str(path)
    assert cfg.audio.device == "USB Mic"
    assert cfg.audio.block_ms == 20
    assert cfg.vad.aggressiveness == 3
    assert cfg.vad.hangover_ms == 600
    assert cfg.vad.max_utterance_s == 10.0
    assert isinstance(cfg.vad.max_utterance_s, float)
    assert cfg.vad.pre_roll_ms == Config().vad.pre_roll_ms
    assert cfg.whisper.model == "base.en"
    assert cfg.whisper.bias_vocabulary is False
    assert cfg.whisper.beam_size == Config().whisper.beam_size
    assert cfg.commands.fuzzy_threshold == 0.9
    assert cfg.commands.user_dir == "~/my-commands"
    assert cfg.keyboard == Config().keyboard


def test_a_source_key_in_the_file_cannot_fake_the_source(tmp_path: Path) -> None:
    path = write(tmp_path, 'source = "/elsewhere.toml"\n')
    assert load_config(path).source == str(path)


def test_rehear_takes_a_list_in_order_and_an_empty_list_turns_it_off(tmp_path: Path) -> None:
    assert Config().commands.rehear == ("lower", "deeper")
    cfg = load_config(write(tmp_path, '[commands]\nrehear = ["deeper", "lower"]\n'))
    assert cfg.commands.rehear == ("deeper", "lower")
    assert load_config(write(tmp_path, "[commands]\nrehear = []\n")).commands.rehear == ()


def test_relative_folders_are_read_from_the_config_files_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write(tmp_path, """
[commands]
user_dir = "my-commands"
[whisper]
download_root = "../models"
[voxtral]
download_root = "~/weights"
""")
    monkeypatch.chdir("/")
    cfg = load_config(path)
    assert cfg.commands.user_dir == str(tmp_path.resolve() / "my-commands")
    assert cfg.whisper.download_root == str(tmp_path.resolve() / "../models")
    assert cfg.voxtral.download_root == "~/weights"  # the user's home is not relative
    assert load_config(write(tmp_path, "")).commands.user_dir == ""  # default: config dir


# --- unknown keys ----------------------------------------------------------------------------

def test_unknown_top_level_key_is_refused_with_allowed_keys(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "colour = 'blue'\n"))
    assert "'colour'" in message
    for allowed in ("apps", "audio", "commands", "keyboard", "vad", "whisper"):
        assert allowed in message
    assert "source" not in message.split("allowed", 1)[1]


def test_unknown_key_in_a_section_is_refused_with_dotted_name(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "[vad]\naggressiveness = 2\nagressiveness = 3\n"))
    assert "'vad.agressiveness'" in message
    for allowed in ("aggressiveness", "hangover_ms", "max_utterance_s", "pre_roll_ms"):
        assert allowed in message
    assert "block_ms" not in message  # only the keys allowed in [vad]


def test_unknown_sub_table_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "[whisper.options]\nfoo = 1\n"))
    assert "'whisper.options'" in message
    assert "beam_size" in message


def test_a_removed_setting_is_ignored_with_one_warning(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An old config file keeps loading: the removed key is named with its file, once."""
    from agent import config

    monkeypatch.setitem(config.REMOVED, "whisper.gone_knob", "a constant now")
    path = write(tmp_path, "[whisper]\ngone_knob = 3\nbeam_size = 4\n")
    with caplog.at_level("WARNING", logger="agent.config"):
        cfg = load_config(path)
    assert cfg.whisper.beam_size == 4  # the rest of the section is read
    said = [r.getMessage() for r in caplog.records]
    assert len(said) == 1 and "\n" not in said[0], said
    assert str(path) in said[0] and "'whisper.gone_knob'" in said[0] and "ignored" in said[0]
    assert "gone_knob" in refusal(write(tmp_path, "[vad]\ngone_knob = 3\n"))  # only there


def test_every_removed_setting_still_loads(tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """A config file written before the cut loads as the defaults, one warning a key; no
    removed name is a setting again."""
    from agent.config import REMOVED

    sections: dict[str, list[str]] = {}
    for dotted in REMOVED:
        section, key = dotted.split(".")
        sections.setdefault(section, []).append(key)
    text = "".join(f"[{s}]\n" + "".join(f"{k} = 1\n" for k in keys)
                   for s, keys in sections.items())
    with caplog.at_level("WARNING", logger="agent.config"):
        cfg = load_config(write(tmp_path, text))
    assert cfg == replace(Config(), source=cfg.source)
    assert sorted(r.getMessage().split("'")[1] for r in caplog.records) == sorted(REMOVED)
    assert set(REMOVED).isdisjoint(dict(_option_docs(Config)))


def test_section_that_is_not_a_table_is_refused(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "vad = 3\n"))
    assert "'vad'" in message
    assert "table" in message


# --- wrong types, ranges and choices --------------------------------------------------------

@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("audio", "block_ms", '"30"', "an integer"),
    ("audio", "block_ms", "true", "an integer"),
    ("audio", "block_ms", "30.0", "an integer"),
    ("vad", "end_ms", "[300]", "an integer"),
    ("whisper", "bias_vocabulary", "1", "true or false"),
    ("whisper", "bias_vocabulary", '"yes"', "true or false"),
    ("whisper", "model", "3", "a string"),
    ("audio", "device", "2", "a string"),
    ("commands", "fuzzy_threshold", '"high"', "a number"),
    ("commands", "fuzzy_threshold", "true", "a number"),
    ("vad", "max_utterance_s", "{ s = 1 }", "a number"),
    ("commands", "rehear", '"lower"', "a list of strings"),
    ("commands", "rehear", "[1, 2]", "a list of strings"),
])
def test_wrong_type_is_refused(tmp_path: Path, section: str, key: str, value: str,
                               expected: str) -> None:
    message = refusal(write(tmp_path, f"[{section}]\n{key} = {value}\n"))
    assert f"'{section}.{key}'" in message
    assert expected in message


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("vad", "hangover_ms", "50", "from 90 to 5000"),
    ("vad", "hangover_ms", "5001", "from 90 to 5000"),
    ("vad", "pre_roll_ms", "-1", "from 0 to 2000"),
    ("commands", "fuzzy_threshold", "1.5", "from 0.5 to 1.0"),
    ("commands", "fuzzy_threshold", "0.1", "from 0.5 to 1.0"),
    ("commands", "fuzzy_threshold", "inf", "from 0.5 to 1.0"),
    ("commands", "fuzzy_threshold", "nan", "a number"),
    ("vad", "max_utterance_s", "-inf", "from 1.0 to 120.0"),
    ("vad", "end_ms", "5", "from 30 to 5000"),
    ("whisper", "beam_size", "0", "from 1 to 16"),
    ("voxtral", "request_timeout_s", "0.05", "from 0.1 to 120.0"),
])
def test_out_of_range_is_refused(tmp_path: Path, section: str, key: str, value: str,
                                 expected: str) -> None:
    message = refusal(write(tmp_path, f"[{section}]\n{key} = {value}\n"))
    assert f"'{section}.{key}'" in message
    assert expected in message


@pytest.mark.parametrize(("section", "key", "value", "expected"), [
    ("audio", "block_ms", "25", "one of 10, 20, 30"),
    ("vad", "aggressiveness", "4", "one of 0, 1, 2, 3"),
    ("whisper", "device", '"tpu"', "one of 'cpu', 'cuda', 'auto'"),
    ("whisper", "compute_type", '"int4"', "'int8'"),
    ("commands", "rehear", '["lower", "faster"]', "a list of 'lower', 'slower', 'deeper'"),
    ("desktop", "history", '"everything"', "one of 'all', 'commands', 'off'"),
    ("desktop", "history", "true", "one of 'all', 'commands', 'off'"),  # the old boolean
])
def test_value_not_among_the_choices_is_refused(tmp_path: Path, section: str, key: str,
                                                value: str, expected: str) -> None:
    message = refusal(write(tmp_path, f"[{section}]\n{key} = {value}\n"))
    assert f"'{section}.{key}'" in message
    assert expected in message


@pytest.mark.parametrize("typo", ["f99", "F0", "fn9", "scrolllock", "ctrl", "", "é"])
def test_a_hotkey_typo_is_refused_at_load_naming_the_key_and_what_is_allowed(
        tmp_path: Path, typo: str) -> None:
    message = refusal(write(tmp_path, f'[desktop]\nlisten = "push_to_talk"\nhotkey = "{typo}"\n'))
    assert f"bad value for 'desktop.hotkey': {typo!r}; expected f1..f24, a letter or digit, " \
           "or one of pause, scroll_lock" in message, message


@pytest.mark.parametrize(("written", "key"), [
    ("F9", "f9"), ("f24", "f24"), ("Scroll Lock", "scroll_lock"), ("page-up", "page_up"),
    ("q", "q"), ("7", "7")])
def test_hotkey_names_are_read_in_canonical_form(tmp_path: Path, written: str,
                                                  key: str) -> None:
    cfg = load_config(write(tmp_path, f'[desktop]\nhotkey = "{written}"\n'))
    assert cfg.desktop.hotkey == key


def test_boundary_values_are_accepted(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, """
[vad]
hangover_ms = 90
pre_roll_ms = 0
max_utterance_s = 120
[commands]
fuzzy_threshold = 1
[audio]
block_ms = 10
"""))
    assert (cfg.vad.hangover_ms, cfg.vad.pre_roll_ms, cfg.vad.max_utterance_s) == (90, 0, 120.0)
    assert cfg.commands.fuzzy_threshold == 1.0
    assert cfg.audio.block_ms == 10


# --- unreadable input -----------------------------------------------------------------------

def test_invalid_toml_is_refused_with_file_and_line(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "[vad]\naggressiveness = 2\nhangover_ms = = 3\n"))
    assert "not valid TOML" in message
    assert "line 3" in message


def test_duplicate_key_is_invalid_toml(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, "[vad]\naggressiveness = 2\naggressiveness = 3\n"))
    assert "not valid TOML" in message


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_bytes(b'[audio]\ndevice = "\xff\xfe"\n')
    message = refusal(path)
    assert "UTF-8" in message


def test_a_file_that_cannot_be_read_is_refused_in_one_line(tmp_path: Path) -> None:
    loop = tmp_path / "config.toml"
    loop.symlink_to(loop)  # (permissions: tests/integration/test_cli_files.py, not as root)
    assert "cannot read: Too many levels of symbolic links" in refusal(loop)


def test_directory_instead_of_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.mkdir()
    assert "cannot read" in refusal(path)


# --- [apps] ---------------------------------------------------------------------------------

def test_a_nul_byte_in_an_apps_argument_is_refused_naming_the_app(tmp_path: Path) -> None:
    message = refusal(write(tmp_path, '[apps]\nbrowser = ["firefox"]\n'
                                      'terminal = ["xterm", "-e", "ab\\u0000cd"]\n'))
    assert "bad value for 'apps.terminal': an argument holds a NUL byte" in message


def test_apps_table_of_argv_lists_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, """
[apps]
terminal = ["kitty", "--single-instance"]
editor = ["code"]
"music player" = ["rhythmbox"]
"""))
    assert cfg.apps == {
        "terminal": ("kitty", "--single-instance"),
        "editor": ("code",),
        "music player": ("rhythmbox",),
    }


@pytest.mark.parametrize("body", [
    '[apps]\nterminal = "kitty"\n',
    "[apps]\nterminal = []\n",
    '[apps]\nterminal = ["kitty", 3]\n',
    '[apps]\nterminal = [["kitty"]]\n',
    '[apps.terminal]\nargv = ["kitty"]\n',
    'apps = ["kitty"]\n',
    'apps = "kitty"\n',
])
def test_bad_apps_shapes_are_refused(tmp_path: Path, body: str) -> None:
    message = refusal(write(tmp_path, body))
    assert "'apps'" in message
    assert "name = [argv strings]" in message


# --- describe() -----------------------------------------------------------------------------

def round_trip(tmp_path: Path, cfg: Config) -> Config:
    text = "\n".join(describe(cfg)) + "\n"
    tomllib.loads(text)  # valid TOML on its own, or this raises
    return load_config(write(tmp_path, text, "described.toml"))


def test_describe_of_defaults_round_trips(tmp_path: Path) -> None:
    back = round_trip(tmp_path, Config())
    assert back == replace(Config(), source=back.source)


def test_describe_of_a_customised_config_round_trips(tmp_path: Path) -> None:
    original = load_config(write(tmp_path, r'''
[audio]
device = 'Mic "Pro" \ USB'
block_ms = 10
[vad]
aggressiveness = 0
max_utterance_s = 7.25
[whisper]
model = "/models/my model/ctranslate2"
compute_type = "float32"
language = "en"
bias_vocabulary = false
[commands]
fuzzy_threshold = 0.875
user_dir = "C:\\Users\\me\\commands"
builtin = false
[keyboard]
backend = "x11"
[apps]
terminal = ["kitty", "-e", "htop"]
"web browser" = ["firefox", "--new-window", "about:blank"]
"ünïcödé" = ["tab\there", "new\nline", "quote\"", "del\u007f"]
'''))
    back = round_trip(tmp_path, original)
    assert back == replace(original, source=back.source)
    assert back.apps["ünïcödé"] == ("tab\there", "new\nline", 'quote"', "del\x7f")


def test_describe_documents_every_setting() -> None:
    lines = describe(Config())
    keys = [i for i, line in enumerate(lines) if " = " in line and not line.startswith("#")]
    settings = sum(len(fields(getattr(Config(), f.name))) for f in fields(Config())
                   if f.name not in ("apps", "source"))
    assert len(keys) == settings
    for i in keys:
        assert lines[i - 1].startswith("# "), lines[i]
        assert len(lines[i - 1]) > 4, lines[i]  # a real sentence, not an empty comment
    assert "[apps]" in lines
    assert not any(line.startswith("source") for line in lines)


def test_describe_never_prints_an_api_key(tmp_path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[voxtral]\napi_key = "sk-very-secret"\n')
    text = "\n".join(describe(load_config(path)))
    assert "sk-very-secret" not in text
    assert "api_key is set (not shown)" in text
    assert 'api_key = ""' in "\n".join(describe(Config()))


MEASURED = re.compile(r"\b\d+ of \d+\b|\b\d+/\d+\b|\b(?:dev|held-?out)\b[^.\n]{0,20}\d"
                      r"|~\d+ ?ms|about a (?:half|third|quarter|fifth|sixth)")
"""A measured figure: "506 of 552", "94/126", "dev 501", "~25 ms", "about a sixth"."""


def _option_docs(cls: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    for f in dataclasses.fields(cls):
        hint = typing.get_type_hints(cls)[f.name]
        if dataclasses.is_dataclass(hint):
            yield from _option_docs(hint, f"{prefix}{f.name}.")
        else:
            yield f"{prefix}{f.name}", f.metadata.get("doc", "")


def test_option_docs_and_the_readme_hold_no_measured_figures() -> None:
    """Figures go stale as the model and the rules change: they live in bench output and
    closing notes (whisper.fit_window's doc quoted dev and held-out counts)."""
    docs = dict(_option_docs(Config))
    assert "whisper.fit_window" in docs and len(docs) > 50
    assert MEASURED.search("which heard 506 of 552 dev commands")  # the pattern bites
    assert {k: d for k, d in docs.items() if MEASURED.search(d)} == {}
    repo = Path(__file__).resolve().parents[2]
    pages = [repo / "README.md", *sorted((repo / "docs").glob("*.md"))]
    assert len(pages) > 1  # docs/ is read too
    assert [f"{page.name}: {line}" for page in pages
            for line in page.read_text(encoding="utf-8").splitlines()
            if MEASURED.search(line)] == []
