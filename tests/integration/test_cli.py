"""The `voxagent` command run for real, as a subprocess: bad input gives one clear line and a
non-zero status (never a traceback); user command files and config act as documented; the
pipeline acts on speech made with espeak-ng, from WAV (any rate, stereo) and FLAC.

Every run points VOXAGENT_CONFIG_DIR and VOXAGENT_STATE_DIR at temporary folders, so the
user's real configuration is never read.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from agent import __version__
from agent.dispatch.normalize import normalize

TIMEOUT = 180


@dataclass
class Home:
    """The temporary config and state folders a run sees."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "config"

    @property
    def commands_dir(self) -> Path:
        return self.config_dir / "commands"

    def config(self, text: str) -> Path:
        self.config_dir.mkdir(parents=True, exist_ok=True)
        path = self.config_dir / "config.toml"
        path.write_text(text, encoding="utf-8")
        return path

    def command_file(self, name: str, text: str) -> Path:
        self.commands_dir.mkdir(parents=True, exist_ok=True)
        path = self.commands_dir / name
        path.write_text(text, encoding="utf-8")
        return path

    def env(self) -> dict[str, str]:
        return {**os.environ, "VOXAGENT_CONFIG_DIR": str(self.config_dir),
                "VOXAGENT_STATE_DIR": str(self.root / "state")}


@pytest.fixture
def home(tmp_path: Path) -> Home:
    (tmp_path / "cwd").mkdir()
    return Home(tmp_path)


def voxagent(home: Home, *args: str | Path,
             preexec_fn: Callable[[], None] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m agent ARGS` in a folder outside the repo, with the temporary home."""
    return subprocess.run([sys.executable, "-m", "agent", *map(str, args)], env=home.env(),
                          cwd=home.root / "cwd", capture_output=True, text=True,
                          timeout=TIMEOUT, preexec_fn=preexec_fn, check=False)


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    """The run failed with exactly one line on stderr and no traceback; that line."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voxagent: error: "), lines[0]
    return lines[0]


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def dry_run(home: Home, audio: Path) -> subprocess.CompletedProcess[str]:
    return voxagent(home, "run", "--input", audio, "--dry-run", "--json", "--fast")


# --- audio made for these tests -------------------------------------------------------------

@dataclass(frozen=True)
class Audio:
    new_tab: Path
    """16 kHz mono WAV: "new tab"."""
    new_tab_flac: Path
    new_tab_stereo_44k: Path
    rocket_then_new_tab: Path
    """16 kHz mono WAV: "launch rocket", a pause, "new tab"."""
    sentence: Path
    """16 kHz mono WAV: "the quick brown fox jumps over the lazy dog"."""
    silence: Path


def speak(folder: Path, name: str, words: str, *sox_out: str) -> Path:
    raw = folder / f"{name}-espeak.wav"
    subprocess.run(["espeak-ng", "-w", str(raw), words], check=True, timeout=60)
    out = folder / name
    subprocess.run(["sox", "-D", str(raw), *sox_out, str(out), "pad", "0.3", "0.5"], check=True,
                   timeout=60)
    return out


@pytest.fixture(scope="module")
def audio(tmp_path_factory: pytest.TempPathFactory) -> Audio:
    for tool in ("espeak-ng", "sox"):
        assert shutil.which(tool), f"{tool} is needed to make test speech (.ci/run installs it)"
    d = tmp_path_factory.mktemp("speech")
    mono16 = ("-r", "16000", "-c", "1", "-b", "16")
    silence = d / "silence.wav"
    subprocess.run(["sox", "-D", "-n", *mono16, str(silence), "trim", "0", "1.5"], check=True)
    new_tab = speak(d, "new-tab.wav", "new tab", *mono16)
    rocket = speak(d, "launch-rocket.wav", "launch rocket", *mono16)
    both = d / "rocket-then-new-tab.wav"
    subprocess.run(["sox", "-D", str(rocket), str(silence), str(new_tab), str(both)], check=True)
    return Audio(
        new_tab=new_tab,
        new_tab_flac=speak(d, "new-tab.flac", "new tab", *mono16),
        new_tab_stereo_44k=speak(d, "new-tab-44k-stereo.wav", "new tab",
                                 "-r", "44100", "-c", "2", "-b", "16"),
        rocket_then_new_tab=both,
        sentence=speak(d, "sentence.wav", "the quick brown fox jumps over the lazy dog",
                       *mono16),
        silence=silence,
    )


NEW_TAB = {"command": "new tab", "actions": [{"action": "key", "keys": "ctrl+t", "count": 1}],
           "mode": "command"}


def assert_new_tab(result: subprocess.CompletedProcess[str], seconds: float) -> None:
    (line,) = json_lines(result)
    assert {k: line[k] for k in NEW_TAB} == NEW_TAB, line
    assert "tab" in str(line["text"]).lower()
    start, end = line["start"], line["end"]
    assert isinstance(start, float) and isinstance(end, float)
    assert 0.1 <= start < end <= seconds, line  # file time: 0.3 s of padding before speech


# --- audio input ----------------------------------------------------------------------------

def test_run_on_a_wav_acts_on_a_builtin_command(home: Home, audio: Audio) -> None:
    assert_new_tab(dry_run(home, audio.new_tab), 2.0)


def test_run_on_flac(home: Home, audio: Audio) -> None:
    assert_new_tab(dry_run(home, audio.new_tab_flac), 2.0)


def test_run_on_stereo_44k_wav(home: Home, audio: Audio) -> None:
    assert_new_tab(dry_run(home, audio.new_tab_stereo_44k), 2.0)


def test_run_on_silence_succeeds_with_no_utterances(home: Home, audio: Audio) -> None:
    result = dry_run(home, audio.silence)
    assert json_lines(result) == []


def test_the_model_is_named_as_configured_and_the_warm_up_is_not_judged(
        home: Home, audio: Audio) -> None:
    """-v on silence: the load line names the model as the config does (it said "whisper
    model model loaded", the embedded folder's name), and no "doubted" line appears, as
    nothing was said (the warm-up's own decode of silence used to log one)."""
    result = voxagent(home, "-v", "run", "--input", audio.silence, "--dry-run", "--json",
                      "--fast", "--backend", "whisper")
    assert json_lines(result) == []
    assert "whisper model 'embedded' loaded and warmed up in " in result.stderr, result.stderr
    assert "doubted" not in result.stderr and "model model" not in result.stderr


def test_transcribe_prints_the_words(home: Home, audio: Audio) -> None:
    """Free speech too is heard as `run` hears it: with the command vocabulary as a hint,
    tiny.en may write "round" for "brown", in both."""
    result = voxagent(home, "transcribe", audio.sentence)
    assert result.returncode == 0, result.stderr
    words = result.stdout.lower()
    for word in ("quick", "fox", "lazy", "dog"):
        assert word in words, result.stdout
    (line,) = json_lines(dry_run(home, audio.sentence))
    assert normalize(result.stdout) == normalize(str(line["text"])), (result.stdout, line)


def test_transcribe_hears_what_run_hears(home: Home, audio: Audio) -> None:
    """Both hear with the command vocabulary: without it, tiny.en wrote "New time." here.
    The same words; case and commas may differ, as `run` may take the text from a peek
    at the pause (the early end)."""
    result = voxagent(home, "transcribe", audio.new_tab)
    assert result.returncode == 0, result.stderr
    (line,) = json_lines(dry_run(home, audio.new_tab))
    assert normalize(result.stdout) == normalize(str(line["text"])) == "new tab", (
        result.stdout, line)


def test_what_can_i_say_reports_the_active_commands(home: Home, tmp_path: Path) -> None:
    """The help action in the JSON line: the commands active where it was said."""
    home.command_file("rockets.toml", '[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    said = speak(tmp_path, "what-can-i-say.wav", "what can I say", "-r", "16000", "-c", "1",
                 "-b", "16")
    (line,) = json_lines(dry_run(home, said))
    assert line["command"] == "what can I say", line
    ((help_,),) = [line["actions"]]
    assert help_["action"] == "help", help_
    assert {"new tab", "go to sleep", "launch rocket", "what can I say"} <= set(
        help_["commands"]), help_
    assert "wake up" not in help_["commands"]  # sleep mode's, not active here


def test_a_key_said_is_pressed_or_asked_about_never_another(home: Home, tmp_path: Path) -> None:
    """espeak-ng's default voice saying "press control shift t", which tiny.en writes with
    a D (issue 17): the line presses ctrl+shift+t, or nothing, its "note" asking about it."""
    said = speak(tmp_path, "ctrl-shift-t.wav", "press control shift t", "-r", "16000", "-c",
                 "1", "-b", "16")
    (line,) = json_lines(dry_run(home, said))
    assert line["actions"] in ([{"action": "key", "keys": "ctrl+shift+t", "count": 1}], []), line
    if "note" in line:
        assert line["actions"] == [] and "ctrl+shift+t" in str(line["note"]), line


# --- bad input files ------------------------------------------------------------------------

def run_and_transcribe(home: Home, path: Path) -> list[str]:
    """The one-line errors of `run --input PATH` and `transcribe PATH`."""
    return [one_line_error(dry_run(home, path)),
            one_line_error(voxagent(home, "transcribe", path))]


def test_missing_input_file(home: Home) -> None:
    missing = home.root / "nowhere.wav"
    for line in run_and_transcribe(home, missing):
        assert str(missing) in line and "no such file" in line


def test_directory_as_input(home: Home) -> None:
    for line in run_and_transcribe(home, home.root):
        assert str(home.root) in line and "directory" in line


def test_non_audio_file(home: Home) -> None:
    fake = home.root / "speech.wav"
    fake.write_bytes(b"hello, this is not audio\n" * 20)  # empty files: test_cli_files.py
    for line in run_and_transcribe(home, fake):
        assert str(fake) in line and "not a readable audio file" in line


def test_truncated_wav(home: Home, audio: Audio) -> None:
    cut = home.root / "cut.wav"
    cut.write_bytes(audio.new_tab.read_bytes()[:30])  # the header, broken off
    for line in run_and_transcribe(home, cut):
        assert str(cut) in line


_libc = ctypes.CDLL(None, use_errno=True)
_PR_CAPBSET_DROP = 24
_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH = 1, 2


def _without_root_file_access() -> None:
    """In the child, before exec: as root, give up the capabilities that let root read any
    file, so permission bits apply to it as to any user.  Not root: nothing to give up."""
    if os.geteuid() == 0:
        for cap in (_CAP_DAC_OVERRIDE, _CAP_DAC_READ_SEARCH):
            if _libc.prctl(_PR_CAPBSET_DROP, cap, 0, 0, 0) != 0:
                raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


def test_unreadable_input_file(home: Home, audio: Audio) -> None:
    locked = home.root / "locked.wav"
    shutil.copy(audio.new_tab, locked)
    locked.chmod(0)
    probe = subprocess.run([sys.executable, "-c", f"open({str(locked)!r}, 'rb')"],
                           preexec_fn=_without_root_file_access, capture_output=True, text=True,
                           check=False)
    assert "PermissionError" in probe.stderr, "could not make a file unreadable for the test"
    run = voxagent(home, "run", "--input", locked, "--dry-run", "--json", "--fast",
                   preexec_fn=_without_root_file_access)
    transcribe = voxagent(home, "transcribe", locked, preexec_fn=_without_root_file_access)
    for line in (one_line_error(run), one_line_error(transcribe)):
        assert str(locked) in line and "Permission denied" in line


# --- configuration --------------------------------------------------------------------------

def test_bad_config_value_is_one_line_naming_the_key(home: Home) -> None:
    path = home.config("[vad]\nhangover_ms = 10\n")
    for args in (("commands",), ("config",), ("run", "--input", "x.wav", "--dry-run")):
        line = one_line_error(voxagent(home, *args))
        assert str(path) in line and "'vad.hangover_ms'" in line and "90 to 5000" in line


def test_a_hotkey_typo_stops_the_agent_at_start_with_one_line(home: Home) -> None:
    """It used to start, fail to grab the key and listen hands-free, all day."""
    path = home.config('[desktop]\nlisten = "push_to_talk"\nhotkey = "F99"\n')
    for args in (("config",), ("run", "--dry-run")):
        line = one_line_error(voxagent(home, *args))
        assert line == (f"voxagent: error: {path}: bad value for 'desktop.hotkey': 'F99'; "
                        "expected f1..f24, a letter or digit, or one of pause, scroll_lock, "
                        "insert, menu, print, caps_lock, home, end, page_up, page_down"), line
    home.config('[desktop]\nlisten = "push_to_talk"\nhotkey = "F9"\n')
    assert "hotkey = \"f9\"" in voxagent(home, "config").stdout
    line = one_line_error(voxagent(home, "run", "--dry-run", "--push-to-talk", "--hotkey",
                                   "scrol_lock"))
    assert line.startswith("voxagent: error: --hotkey 'scrol_lock': expected f1..f24"), line


def test_every_problem_of_a_config_file_is_reported_at_once(home: Home) -> None:
    """One line each, naming the file and the key (they used to come one per run)."""
    path = home.config('[vad]\nhangover_ms = 10\nend_model = "webrtc"\n'
                       '[whisper]\nbeam_size = "five"\n[audio]\nsample_rate = 44100\n')
    for args in (("config",), ("run", "--input", "x.wav", "--dry-run")):
        result = voxagent(home, *args)
        assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
        lines = result.stderr.splitlines()
        assert len(lines) == 4, result.stderr
        assert all(line.startswith(f"voxagent: error: {path}: ") for line in lines), lines
        for key in ("'vad.hangover_ms'", "'vad.end_model'", "'whisper.beam_size'",
                    "'audio.sample_rate'"):
            assert sum(key in line for line in lines) == 1, (key, lines)


def test_wrong_type_in_config_is_one_line(home: Home) -> None:
    home.config('[whisper]\nbeam_size = "five"\n')
    line = one_line_error(voxagent(home, "config"))
    assert "'whisper.beam_size'" in line and "an integer" in line


def test_unknown_config_key_is_one_line_naming_it(home: Home) -> None:
    home.config("[audio]\nsample_rate = 44100\n")
    line = one_line_error(voxagent(home, "commands"))
    assert "unknown key 'audio.sample_rate'" in line
    assert "block_ms" in line and "device" in line


def test_a_retired_config_key_is_one_warning_line_and_the_file_still_loads(
        home: Home) -> None:
    path = home.config("[vad]\npeek_ms = 60\nhangover_ms = 700\n")
    result = voxagent(home, "config")
    assert result.returncode == 0, result.stderr
    (line,) = [x for x in result.stderr.splitlines() if "peek_ms" in x]
    assert str(path) in line and "'vad.peek_ms'" in line and "ignored" in line
    effective = tomllib.loads(result.stdout)
    assert effective["vad"]["hangover_ms"] == 700 and "peek_ms" not in effective["vad"]


def test_invalid_config_toml_is_one_line(home: Home) -> None:
    path = home.config("[audio\n")
    line = one_line_error(voxagent(home, "config"))
    assert str(path) in line and "not valid TOML" in line


def test_explicit_config_that_does_not_exist(home: Home) -> None:
    missing = home.root / "other.toml"
    line = one_line_error(voxagent(home, "--config", missing, "config"))
    assert str(missing) in line


def test_config_prints_the_effective_configuration_as_toml(home: Home) -> None:
    path = home.config('[vad]\nhangover_ms = 700\n[apps]\nterminal = ["xterm", "-fa", "Mono"]\n')
    result = voxagent(home, "config")
    assert result.returncode == 0, result.stderr
    assert str(path) in result.stdout
    effective = tomllib.loads(result.stdout)
    assert effective["vad"]["hangover_ms"] == 700
    lines = result.stdout.splitlines()
    at = lines.index("hangover_ms = 700")  # after its doc, its default and its range
    assert lines[at - 1] == "# default: 450; allowed: 90 to 5000", lines[at - 2:at + 1]
    assert lines[at - 2].startswith("# Silence that ends an utterance")
    at = lines.index('end_model = "silero"')
    assert lines[at - 1] == '# default: "silero"; allowed: "silero", "none"'
    assert effective["vad"]["aggressiveness"] == 2  # a default, shown too
    assert effective["apps"]["terminal"] == ["xterm", "-fa", "Mono"]
    assert effective["whisper"]["model"] == "embedded"
    # and it is a config file voxagent itself accepts
    other = home.root / "again.toml"
    other.write_text(result.stdout, encoding="utf-8")
    again = voxagent(home, "--config", other, "config")
    assert again.returncode == 0, again.stderr
    assert tomllib.loads(again.stdout) == effective


def test_version(home: Home) -> None:
    result = voxagent(home, "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"voxagent {__version__}"


# --- command files --------------------------------------------------------------------------

def listed(stdout: str) -> dict[tuple[str, str], str]:
    """(mode, spoken name) -> the line of `voxagent commands` that lists it."""
    out = {}
    for line in stdout.splitlines():
        mode, rest = line.split(None, 1)
        name = rest.split("  ", 1)[0].strip()
        out[mode, name] = line
    return out


def test_commands_lists_the_builtins(home: Home) -> None:
    result = voxagent(home, "commands")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    rows = listed(result.stdout)
    assert "key ctrl+t" in rows["command", "new tab"]
    assert "key ctrl+v" in rows["command", "paste"]
    assert "mode sleep" in rows["command", "go to sleep"]
    assert "mode command" in rows["sleep", "wake up"]
    assert "mode command" in rows["dictation", "stop dictation"]
    assert "launch terminal" in rows["command", "open terminal"]
    assert "browsing.toml:" in rows["command", "new tab"]


def test_commands_check(home: Home) -> None:
    good = home.root / "good.toml"
    good.write_text('[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    result = voxagent(home, "commands", "--check", good)
    assert result.returncode == 0, result.stderr
    assert f"{good}: ok" in result.stdout

    broken = home.root / "broken.toml"
    broken.write_text('# mine\n[commands]\n"copy" = "key ctrl+c"\n"oops" = "key ctrl+nothing"\n')
    result = voxagent(home, "commands", "--check", broken)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith(f"{broken}:4: ")
    assert "ctrl+nothing" in result.stderr

    missing = home.root / "missing.toml"
    result = voxagent(home, "commands", "--check", missing)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    assert str(missing) in result.stderr


BAD_WORDS = """# my words
[words]
"vox agent" = "voxagent"
"" = "nothing"
"my email" = 42
"new\\u000aline" = "x"
"?!" = "interrobang"
"Vox, Agent" = "VoxAgent"
"lazy dog" = "LazyDog"
"""


def test_commands_check_names_file_line_and_key_of_each_bad_word(home: Home) -> None:
    """A [words] table is checked like the rest of a command file: each bad entry one
    line naming file, line and key, the good entries kept; a spoken form another file
    also defines says which file wins."""
    mine = home.root / "words.toml"
    mine.write_text(BAD_WORDS)
    earlier = home.command_file("aa-earlier.toml", '[words]\n"lazy  dog" = "lazydog"\n')
    result = voxagent(home, "commands", "--check", mine)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.splitlines()
    assert [line.split(": ")[0] for line in lines] == [
        f"{mine}:{n}" for n in (4, 5, 6, 7, 8, 9)], result.stderr
    assert lines[0].endswith("word '': empty spoken form")
    assert lines[1].endswith("word 'my email': the written form must be a string, got int 42")
    assert lines[2].endswith("word 'new\\nline': control characters are not allowed "
                             "(typed text never presses Return)")
    assert lines[3].endswith("word '?!': the spoken form has no letters or digits to say")
    assert lines[4].endswith("word 'Vox, Agent': 'vox agent' (line 3) is the same spoken form")
    assert lines[5] == (f"{mine}:9: word 'lazy dog' is also defined at {earlier}:2; "
                        "this one wins, as the later file")  # checked: loaded after the others
    later = home.command_file("zz-later.toml", '[words]\n"Lazy Dog" = "LD"\n')
    result = voxagent(home, "commands", "--check", earlier)
    assert result.returncode == 1 and result.stderr.splitlines() == [
        f"{earlier}:2: word 'lazy  dog' is also defined at {later}:2; that one wins ('LD'), "
        "as the later file"], result.stderr
    listed_words = [line.split() for line in voxagent(home, "commands").stdout.splitlines()
                    if line.startswith("words ")]
    assert listed_words == [["words", "Lazy", "Dog", "type", "'LD'", f"{later}:2"]]
    good = home.root / "good.toml"
    good.write_text('[words]\n"vox agent" = "voxagent"\n')
    result = voxagent(home, "commands", "--check", good)
    assert result.returncode == 0 and f"{good}: ok" in result.stdout, result.stderr


def test_a_words_replacement_lands_in_dictated_text(home: Home, audio: Audio,
                                                    tmp_path: Path) -> None:
    """Real model: "start dictation", then a sentence tiny.en hears reliably; the user's
    [words] entry for two of its words is what is typed, while `text` stays as heard."""
    home.command_file("words.toml", '[words]\n"lazy dog" = "LazyDog"\n')
    start = speak(tmp_path, "start.wav", "start dictation", "-r", "16000", "-c", "1", "-b", "16")
    both = tmp_path / "dictate.wav"
    subprocess.run(["sox", "-D", str(start), str(audio.silence), str(audio.sentence), str(both)],
                   check=True, timeout=60)
    started, dictated = json_lines(dry_run(home, both))
    assert started["mode"] == "dictation", started
    assert "lazy dog" in str(dictated["text"]).lower(), dictated
    [typed] = dictated["actions"]
    assert typed["action"] == "type" and "LazyDog" in typed["text"], dictated
    assert "lazy dog" not in typed["text"].lower(), dictated


CLASHING_FILE = """# mine
[commands]
"copy it" = "key ctrl+c"
"oops" = "key ctrl+nothing"
"Copy  It!" = "key ctrl+x"
"copy [that]" = "key ctrl+shift+c"
"warp" = "jump ctrl+w"
"press escape" = "key ctrl+q"
"launch rocket" = "key ctrl+alt+r"
"""


def test_commands_check_reports_every_problem_and_collision_with_both_places(
        home: Home) -> None:
    builtin = voxagent(home, "commands")
    assert builtin.returncode == 0, builtin.stderr
    copy_at = listed(builtin.stdout)["command", "copy"].split()[-1]  # editing.toml:N
    press_at = listed(builtin.stdout)["command", "press <chord>"].split()[-1]
    mine = home.root / "mine.toml"
    mine.write_text(CLASHING_FILE)
    result = voxagent(home, "commands", "--check", mine)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 5, result.stderr
    assert lines[0].startswith(f"{mine}:4: ") and "ctrl+nothing" in lines[0]
    assert lines[1].startswith(f"{mine}:7: ") and "unknown action 'jump'" in lines[1]
    clashes = lines[2:]
    assert clashes[0] == (f"{mine}:5: 'Copy  It!' collides with 'copy it' at {mine}:3 "
                          '(both take "copy it"); the first is kept')
    assert clashes[1].startswith(f"{mine}:6: 'copy [that]' collides with 'copy' at ")
    assert f"{copy_at} " in clashes[1] and '(both take "copy")' in clashes[1]
    assert clashes[2].startswith(f"{mine}:8: 'press escape' collides with 'press <chord>' at ")
    assert f"{press_at} " in clashes[2]


def test_collisions_at_load_keep_the_first_and_warn(home: Home, audio: Audio) -> None:
    home.command_file("mine.toml", CLASHING_FILE.replace('"oops" = "key ctrl+nothing"\n', "")
                      .replace('"warp" = "jump ctrl+w"\n', ""))
    mine = home.commands_dir / "mine.toml"
    result = voxagent(home, "commands")
    assert result.returncode == 0, result.stderr
    rows = listed(result.stdout)
    assert "key ctrl+c" in rows["command", "copy it"]
    assert "key ctrl+c" in rows["command", "copy"]  # the built-in stays
    assert ("command", "copy that") not in rows and ("command", "press escape") not in rows
    warnings = [line for line in result.stderr.splitlines() if "collides" in line]
    assert len(warnings) == 3, result.stderr
    assert f"{mine}:4: 'Copy  It!' collides with 'copy it' at {mine}:3" in warnings[0]
    assert all(line.startswith("voxagent: warning: ") for line in warnings)
    # said, "copy it" does what its first definition says (it used to cut)
    copy_it = speak(home.root, "copy-it.wav", "copy it")
    (heard,) = json_lines(dry_run(home, copy_it))
    assert (heard["command"], heard["actions"]) == (
        "copy it", [{"action": "key", "keys": "ctrl+c", "count": 1}]), heard


BROKEN_USER_FILE = '# my commands\n[commands]\n"launch rocket" = "key ctrl+alt+r"\n' \
                   '"warp" = "key ctrl+warp"\n'


def test_broken_user_file_does_not_stop_the_builtins(home: Home, audio: Audio) -> None:
    broken = home.command_file("mine.toml", BROKEN_USER_FILE)
    result = voxagent(home, "commands")
    assert result.returncode == 0, result.stderr
    assert "key ctrl+t" in listed(result.stdout)["command", "new tab"]
    assert "launch rocket" not in result.stdout  # the broken file is skipped as a whole
    assert f"{broken}:4:" in result.stderr and "ctrl+warp" in result.stderr
    assert "Traceback" not in result.stderr

    run = dry_run(home, audio.rocket_then_new_tab)
    rocket, new_tab = json_lines(run)
    assert (rocket["command"], rocket["actions"]) == (None, [])  # heard, but not a command
    assert {k: new_tab[k] for k in NEW_TAB} == NEW_TAB
    assert f"{broken}:4:" in run.stderr


def test_user_command_file_adds_a_command_heard_in_speech(home: Home, audio: Audio) -> None:
    mine = home.command_file("rockets.toml", '[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    home.command_file("editing.toml", '[commands]\n"new tab" = "key ctrl+alt+n"\n')
    result = voxagent(home, "commands")
    rows = listed(result.stdout)
    assert f"{mine}:2" in rows["command", "launch rocket"]
    assert "key ctrl+alt+n" in rows["command", "new tab"]  # a user file overrides a built-in

    rocket, new_tab = json_lines(dry_run(home, audio.rocket_then_new_tab))
    assert rocket["command"] == "launch rocket"
    assert rocket["actions"] == [{"action": "key", "keys": "ctrl+alt+r", "count": 1}]
    assert new_tab["command"] == "new tab"
    assert new_tab["actions"] == [{"action": "key", "keys": "ctrl+alt+n", "count": 1}]
    times = [float(str(x[k])) for x in (rocket, new_tab) for k in ("start", "end")]
    assert 0 < times[0] < times[1] < times[2] < times[3]


def test_user_commands_dir_from_config(home: Home) -> None:
    elsewhere = home.root / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "x.toml").write_text('[commands]\n"launch rocket" = "key ctrl+alt+r"\n')
    home.config(f"[commands]\nuser_dir = {json.dumps(str(elsewhere))}\nbuiltin = false\n")
    result = voxagent(home, "commands")
    assert result.returncode == 0, result.stderr
    assert list(listed(result.stdout)) == [("command", "launch rocket")]


@pytest.mark.timeout(900)  # loading 3000 commands took over 300 s on a loaded 2-core machine
def test_output_into_a_closed_pipe_is_quiet(home: Home) -> None:
    """`voxagent commands | head -1`: no BrokenPipeError traceback."""
    many = "".join(f'"rocket number {i}" = "key ctrl+alt+r"\n' for i in range(3000))
    home.command_file("many.toml", "[commands]\n" + many)  # far more than a pipe buffer holds
    proc = subprocess.Popen([sys.executable, "-m", "agent", "commands"], env=home.env(),
                            cwd=home.root / "cwd", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT) == 141  # as a program killed by SIGPIPE
    assert stderr == ""


def test_run_json_into_a_closed_pipe_stops_quietly(home: Home, audio: Audio) -> None:
    """`voxagent run ... --json | head -1`: the agent stops, without a traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "agent", "run", "--input",
                             str(audio.rocket_then_new_tab), "--dry-run", "--json", "--fast"],
                            env=home.env(), cwd=home.root / "cwd", stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stderr is not None
    first = json.loads(proc.stdout.readline())
    proc.stdout.close()  # long before the second utterance is recognised and reported
    stderr = proc.stderr.read()
    assert proc.wait(timeout=TIMEOUT) == 141, stderr
    assert first["text"]
    assert "Traceback" not in stderr and "BrokenPipe" not in stderr


def test_the_readme_function_example_types_the_heard_words_in_place(
        home: Home, tmp_path: Path) -> None:
    """`"function <text>" = ["type def <text:snake>():", ...]`: --check passes it, and a run
    types the heard words, snake-cased, where the capture stands (not the placeholder)."""
    mine = home.command_file("code.toml", '[commands]\n'
                             '"function <text>" = ["type def <text:snake>():", "key left * 3"]\n')
    checked = voxagent(home, "commands", "--check", mine)
    assert checked.returncode == 0 and f"{mine}: ok" in checked.stdout, checked.stderr
    said = speak(tmp_path, "function.wav", "function user name", "-r", "16000", "-c", "1")
    (line,) = json_lines(dry_run(home, said))
    assert line["command"] == "function <text>", line
    typed, left = line["actions"]
    assert left == {"action": "key", "keys": "left", "count": 3}
    assert typed["action"] == "type" and "<" not in typed["text"], typed
    assert re.fullmatch(r"def [a-z0-9]+(_[a-z0-9]+)*\(\):", typed["text"]), typed
