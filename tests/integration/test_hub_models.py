"""Hub models for real users: `--model base.en` downloads once from the Hugging Face hub, with a
progress bar, into the cache (or `download_root`), and is then used offline; every failure is
one line.  The hub is `hub_double.HubDouble`, a protocol double on loopback that serves the
embedded tiny.en files as "Systran/faster-whisper-tiny.en" and, under the same bytes,
"Systran/faster-whisper-base.en"; everything runs as subprocesses with HF_ENDPOINT pointing at
it and HF_HOME, the config and the state in temporary folders (huggingface_hub reads its
environment when imported).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import shutil
import socket
import struct
import subprocess
import sys
import termios
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from tqdm import tqdm

from agent.asr.models import embedded_model
from tests.integration.hub_double import HubDouble

TIMEOUT = 180
TINY, BASE = "Systran/faster-whisper-tiny.en", "Systran/faster-whisper-base.en"
MODEL_FILES = {"config.json", "model.bin", "tokenizer.json", "vocabulary.txt"}
NEW_TAB = {"command": "new tab", "actions": [{"action": "key", "keys": "ctrl+t", "count": 1}]}
# huggingface_hub's own "Fetching N files" bar: what it draws on stderr even when that is a pipe.
FETCH_BAR = re.compile(r"Fetching \d+ files: +\d+%\|[^|]*\| *\d+/\d+ \[[^\]]*\]")
RESOLVE_SCRIPT = """\
import sys
from agent.asr.base import ModelError
from agent.asr.models import resolve_model
try:
    print(resolve_model(sys.argv[1], sys.argv[2]))
except ModelError as exc:
    print(f"ModelError: {exc}", file=sys.stderr)
    sys.exit(3)
"""

HUB_TINY = "Systran/faster-whisper-tiny.en"
"""tiny.en from the hub: the short name "tiny.en" means the embedded model, never fetched."""


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            h.update(block)
    return h.hexdigest()


@pytest.fixture(scope="module")
def embedded() -> Path:
    return embedded_model()


@pytest.fixture(scope="module")
def hub_server(embedded: Path) -> Iterator[HubDouble]:
    with HubDouble({TINY: embedded, BASE: embedded}) as hub:
        yield hub


@pytest.fixture
def hub(hub_server: HubDouble) -> HubDouble:
    """The double with an empty request log and no pending failures."""
    hub_server.clear()
    return hub_server


@dataclass(frozen=True)
class Speech:
    new_tab: Path
    """espeak-ng saying "new tab", resampled by sox to 16 kHz mono."""
    sentence: Path
    """The same for SENTENCE: what `voxagent transcribe` is given."""


SENTENCE = "the quick brown fox jumps over the lazy dog"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> Speech:
    for tool in ("espeak-ng", "sox"):
        assert shutil.which(tool), f"{tool} is needed to make test speech"
    d = tmp_path_factory.mktemp("hub-speech")

    def speak(name: str, words: str) -> Path:
        raw, wav = d / f"{name}-espeak.wav", d / f"{name}.wav"
        subprocess.run(["espeak-ng", "-w", str(raw), words], check=True, timeout=60)
        subprocess.run(["sox", "-D", str(raw), "-r", "16000", "-c", "1", "-b", "16", str(wav),
                        "pad", "0.3", "0.5"], check=True, timeout=60)
        return wav

    return Speech(new_tab=speak("new-tab", "new tab"), sentence=speak("sentence", SENTENCE))


@dataclass
class User:
    """One user's machine: HF_HOME, config and state in `root`; the hub at `endpoint`."""

    root: Path
    endpoint: str
    extra: dict[str, str]

    @property
    def hf_home(self) -> Path:
        return self.root / "hf-home"

    @property
    def hub_cache(self) -> Path:
        return self.hf_home / "hub"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("HF_", "HUGGING_FACE_", "TRANSFORMERS_"))}
        no_proxy = ",".join(filter(None, [env.get("NO_PROXY", ""), "127.0.0.1", "localhost"]))
        return {**env, "HF_HOME": str(self.hf_home), "HF_ENDPOINT": self.endpoint,
                "NO_PROXY": no_proxy, "no_proxy": no_proxy,
                "VOXAGENT_CONFIG_DIR": str(self.root / "config"),
                "VOXAGENT_STATE_DIR": str(self.root / "state"), **self.extra, **extra}

    def config(self, text: str) -> None:
        (self.root / "config").mkdir(parents=True, exist_ok=True)
        (self.root / "config" / "config.toml").write_text(text, encoding="utf-8")

    def run(self, argv: list[str], **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(argv, env=self.env(**extra), cwd=self.root, capture_output=True,
                              text=True, timeout=TIMEOUT, check=False)

    def voxagent(self, *args: str | Path, **extra: str) -> subprocess.CompletedProcess[str]:
        return self.run([sys.executable, "-m", "agent", *map(str, args)], **extra)

    def resolve(self, spec: str, download_root: str = "",
                **extra: str) -> subprocess.CompletedProcess[str]:
        """`resolve_model(spec, download_root)` in a fresh interpreter."""
        return self.run([sys.executable, "-c", RESOLVE_SCRIPT, spec, download_root], **extra)


@pytest.fixture
def user(tmp_path: Path, hub: HubDouble) -> User:
    return User(tmp_path, hub.endpoint, {})


def run_on_a_terminal(argv: list[str], env: dict[str, str],
                      cwd: Path) -> tuple[int, str, str]:
    """Run with stderr on a pseudo-terminal (120 columns), as in a user's shell; the exit
    status, stdout and what the terminal showed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    shown: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: every copy of the slave side is closed
                return
            if not data:
                return
            shown.append(data)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=slave)
    finally:
        os.close(slave)
    try:
        out, _ = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    finally:
        reader.join(30)
        os.close(master)
    return proc.returncode, out.decode(), b"".join(shown).decode(errors="replace")


# --- reading the request log ----------------------------------------------------------------

def model_requests(log: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The requests for models: without huggingface_hub's agent-harness registry fetch
    (`GET /api/agent-harnesses`, a best-effort user-agent lookup it makes once a day)."""
    return [r for r in log if r["path"] != "/api/agent-harnesses"]


def downloaded(log: list[dict[str, Any]]) -> list[str]:
    """The file names whose bytes were sent (GET with a body, from the hub or the CDN)."""
    names = []
    for r in log:
        if r["method"] != "GET" or r["status"] not in (200, 206):
            continue
        if r["port"] == "cdn":
            disposition = re.search(r"filename%3D%22([^%]+)%22", r["query"])
            assert disposition, r
            names.append(disposition.group(1))
        elif "/resolve/" in r["path"]:
            names.append(r["path"].rsplit("/", 1)[1])
    return sorted(names)


def snapshot_of(cache: Path, repo_id: str) -> Path:
    (snapshot,) = (cache / f"models--{repo_id.replace('/', '--')}" / "snapshots").iterdir()
    return snapshot


def assert_is_the_model(folder: Path, embedded: Path) -> None:
    assert sorted(p.name for p in folder.iterdir()) == sorted(MODEL_FILES), folder
    for name in MODEL_FILES:
        assert sha256(folder / name) == sha256(embedded / name), name


def _error_lines(stderr: str, mid_download: bool) -> list[str]:
    """stderr's lines; without huggingface_hub's "Fetching N files" bar if `mid_download`
    (the download had started: the bar was drawn before the failure, and stays)."""
    if not mid_download:
        return stderr.splitlines()
    return [line for line in stderr.splitlines() if line and not FETCH_BAR.fullmatch(line)]


def one_line_error(result: subprocess.CompletedProcess[str], mid_download: bool = False) -> str:
    """The run failed with one error line and no traceback; the line."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = _error_lines(result.stderr, mid_download)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("voxagent: error: "), lines[0]
    return lines[0]


def model_error(result: subprocess.CompletedProcess[str]) -> str:
    """`resolve_model` raised ModelError with a one-line message, and printed nothing else;
    the message."""
    assert result.returncode == 3, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = _error_lines(result.stderr, mid_download=False)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ModelError: "), lines[0]
    return lines[0]


def assert_transcribed(result: subprocess.CompletedProcess[str]) -> None:
    """`voxagent transcribe` heard SENTENCE (as `run` would: with the command vocabulary
    as a hint, tiny.en often writes "round" for "brown")."""
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    assert "fox" in result.stdout.lower() and "lazy dog" in result.stdout.lower(), \
        result.stdout


# --- download once, then offline --------------------------------------------------------------

def test_first_use_downloads_with_a_progress_bar(user: User, hub: HubDouble,
                                                 embedded: Path) -> None:
    status, out, terminal = run_on_a_terminal(
        [sys.executable, "-c", RESOLVE_SCRIPT, HUB_TINY, ""], user.env(), user.root)

    assert status == 0, terminal
    folder = Path(out.strip())
    assert folder == snapshot_of(user.hub_cache, TINY)
    assert_is_the_model(folder, embedded)
    # What the user saw: huggingface_hub's tqdm bars, for the files and for the bytes
    # (78.1MB in all), reaching 100 %.
    total = tqdm.format_sizeof(sum((embedded / name).stat().st_size for name in MODEL_FILES))
    assert re.search(r"Fetching 4 files: +100%\|[^|]*\| 4/4 \[[^\]]*it/s\]", terminal), terminal
    assert re.search(rf"Reconstruction complete: 100%\|[^|]*\| *{total}B / {total}B", terminal), \
        terminal
    assert re.search(rf"Download complete: [^|]*\| *{total}B", terminal), terminal
    assert "Traceback" not in terminal and "Error" not in terminal, terminal

    log = hub.requests()
    # Only the model's files, each once; model.bin (LFS) through the 302 to the CDN.
    assert downloaded(log) == sorted(MODEL_FILES), log
    assert not [r for r in log if r["path"].endswith(("README.md", ".gitattributes"))], log
    cdn = [r for r in log if r["port"] == "cdn"]
    assert [(r["method"], r["status"], r["bytes"]) for r in cdn] == [
        ("GET", 200, (embedded / "model.bin").stat().st_size)], log
    resolved = {r["path"].rsplit("/", 1)[1]: r["status"] for r in log
                if r["method"] == "HEAD" and "/resolve/" in r["path"]}
    assert resolved == {"config.json": 200, "tokenizer.json": 200, "vocabulary.txt": 200,
                        "model.bin": 302}, log
    assert f"/api/models/{TINY}/revision/main" in [r["path"] for r in log], log
    assert not [r for r in log if "xet" in r["path"]], log
    # The text files came gzipped and chunked, as the hub sends them, and were unpacked.
    assert {r["path"].rsplit("/", 1)[1]: r["encoding"] for r in log
            if r["method"] == "GET" and "/resolve/" in r["path"]} == {
        "config.json": "gzip", "tokenizer.json": "gzip", "vocabulary.txt": "gzip"}, log


def test_second_use_is_offline_without_any_request(user: User, hub: HubDouble,
                                                   embedded: Path) -> None:
    first = user.resolve(HUB_TINY)
    assert first.returncode == 0, first.stderr
    folder = Path(first.stdout.strip())
    hub.clear()

    offline = user.resolve(HUB_TINY, HF_HUB_OFFLINE="1")
    assert offline.returncode == 0, offline.stderr
    assert Path(offline.stdout.strip()) == folder
    assert offline.stderr == ""  # no progress bar: nothing is fetched
    online = user.resolve(HUB_TINY)  # online, a cached model is not looked up again either
    assert online.returncode == 0, online.stderr
    assert Path(online.stdout.strip()) == folder
    assert hub.requests() == []
    assert_is_the_model(folder, embedded)


def test_download_root_from_the_config_holds_the_cache(user: User, hub: HubDouble,
                                                       embedded: Path, speech: Speech) -> None:
    models = user.root / "my models"
    user.config(f"[whisper]\ndownload_root = {json.dumps(str(models))}\n")

    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY))
    assert_is_the_model(snapshot_of(models, TINY), embedded)
    assert not (user.hub_cache / f"models--{TINY.replace('/', '--')}").exists()
    assert downloaded(hub.requests()) == sorted(MODEL_FILES)

    hub.clear()
    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY,
                                     HF_HUB_OFFLINE="1"))
    assert hub.requests() == []
    # resolve_model(spec, download_root) directly, offline: the same folder.
    direct = user.resolve(HUB_TINY, str(models), HF_HUB_OFFLINE="1")
    assert Path(direct.stdout.strip()) == snapshot_of(models, TINY), direct.stderr


def test_short_and_full_hub_names_share_the_cache(user: User, hub: HubDouble) -> None:
    short = user.resolve("base.en", HF_HUB_OFFLINE="false")  # "false" is online, as for the hub
    assert short.returncode == 0, short.stderr
    assert Path(short.stdout.strip()) == snapshot_of(user.hub_cache, BASE)
    assert f"/api/models/{BASE}/revision/main" in [r["path"] for r in hub.requests()]
    hub.clear()
    full = user.resolve(BASE, HF_HUB_OFFLINE="1")
    assert full.returncode == 0, full.stderr
    assert full.stdout == short.stdout
    assert hub.requests() == []


# --- failures are one line --------------------------------------------------------------------

def test_absent_model_offline_is_one_line(user: User, hub: HubDouble, speech: Speech) -> None:
    # Offline as huggingface_hub understands it.
    for offline in ({"HF_HUB_OFFLINE": "1"}, {"HF_HUB_OFFLINE": "true"},
                    {"TRANSFORMERS_OFFLINE": "1"}):
        message = model_error(user.resolve("small.en", **offline))
        assert "Systran/faster-whisper-small.en" in message and "HF_HUB_OFFLINE" in message

    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", "small.en",
                                        HF_HUB_OFFLINE="1"))
    assert "Systran/faster-whisper-small.en" in line and "HF_HUB_OFFLINE" in line
    assert hub.requests() == []


@pytest.mark.parametrize("token", ["", "hf_not_a_real_token"])
def test_unknown_repository_is_one_line(user: User, hub: HubDouble, speech: Speech,
                                        token: str) -> None:
    # Without a token the hub answers 401 for a repository it does not show; with one, 404.
    env = {"HF_TOKEN": token} if token else {}
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model",
                                        "nobody/no-such-model", **env))
    status = 404 if token else 401
    assert f"model nobody/no-such-model is not on {hub.endpoint} (HTTP {status} " in line, line
    info = model_requests(hub.requests())
    assert [(r["path"], r["status"], r["authorization"]) for r in info] == [
        ("/api/models/nobody/no-such-model/revision/main", status, bool(token))]


def test_unreachable_hub_is_one_line(user: User, hub: HubDouble, speech: Speech) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{s.getsockname()[1]}"
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY,
                                        HF_ENDPOINT=closed))
    assert f"cannot download model {TINY} from {closed}: ConnectError" in line, line


def test_hub_api_outage_is_one_line_and_a_retry_succeeds(user: User, hub: HubDouble,
                                                         speech: Speech) -> None:
    hub.fail(f"/api/models/{TINY}/*", "503", times=1, port="hub")
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY))
    assert line.endswith(f"cannot download model {TINY} from {hub.endpoint}: "
                         "HTTP 503 Service Unavailable"), line
    assert downloaded(hub.requests()) == []

    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY))


def test_server_error_mid_download_is_one_line_and_a_retry_resumes(
        user: User, hub: HubDouble, speech: Speech, embedded: Path) -> None:
    hub.fail("/repos/*", "500", times=1, port="cdn")  # the CDN fails model.bin
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY),
                          mid_download=True)
    assert line.endswith(f"cannot download model {TINY} from {hub.endpoint}: "
                         "HTTP 500 Internal Server Error"), line
    first = hub.requests()
    assert "model.bin" not in downloaded(first)
    # The partial snapshot is not taken for a model, offline or not.
    model_error(user.resolve(HUB_TINY, HF_HUB_OFFLINE="1"))

    hub.clear()  # the hub has recovered
    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY))
    # The retry fetched what was missing, not what was already in the cache.
    assert downloaded(hub.requests()) == sorted(set(MODEL_FILES) - set(downloaded(first)))
    assert_is_the_model(snapshot_of(user.hub_cache, TINY), embedded)


def test_connection_dropped_mid_body_resumes_with_a_range_request(
        user: User, hub: HubDouble, embedded: Path) -> None:
    hub.fail("/repos/*", "truncate", times=1, port="cdn")  # half of model.bin, then EOF
    result = user.resolve(HUB_TINY)
    assert result.returncode == 0, result.stderr
    assert_is_the_model(Path(result.stdout.strip()), embedded)
    size = (embedded / "model.bin").stat().st_size
    cdn = [(r["range"], r["status"], r["bytes"]) for r in hub.requests() if r["port"] == "cdn"]
    assert len(cdn) == 2 and cdn[0] == (None, 200, size // 2), cdn
    # The client resumes from what it wrote (whole 10 MB chunks), not from what was sent.
    resumed = re.fullmatch(r"bytes=(\d+)-", cdn[1][0] or "")
    assert resumed and 0 < int(resumed.group(1)) <= size // 2, cdn
    assert cdn[1][1:] == (206, size - int(resumed.group(1))), cdn


def test_connection_lost_for_good_is_one_line_and_a_retry_succeeds(
        user: User, hub: HubDouble, speech: Speech) -> None:
    hub.fail("/repos/*", "reset", times=1000, port="cdn")  # model.bin never arrives
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY),
                          mid_download=True)
    assert f"cannot download model {TINY} from {hub.endpoint}: ReadError: " in line, line

    hub.clear()
    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", HUB_TINY))


def test_a_model_partly_in_the_cache_is_completed(user: User, hub: HubDouble,
                                                  embedded: Path) -> None:
    # One file fetched by another tool: in the cache, with no record of the rest.
    fetch_one = user.run([sys.executable, "-c", "from huggingface_hub import hf_hub_download; "
                          f"hf_hub_download({TINY!r}, 'config.json')"])
    assert fetch_one.returncode == 0, fetch_one.stderr
    hub.clear()
    model_error(user.resolve(HUB_TINY, HF_HUB_OFFLINE="1"))
    result = user.resolve(HUB_TINY)
    assert result.returncode == 0, result.stderr
    assert_is_the_model(Path(result.stdout.strip()), embedded)
    assert downloaded(hub.requests()) == sorted(MODEL_FILES - {"config.json"})


# --- end to end, and local folders ------------------------------------------------------------

def test_run_with_a_hub_model_acts_then_works_offline(user: User, hub: HubDouble,
                                                      speech: Speech) -> None:
    args = ("run", "--input", speech.new_tab, "--dry-run", "--json", "--fast", "--model", "base.en")
    for offline in ("", "1"):
        result = user.voxagent(*args, HF_HUB_OFFLINE=offline)
        assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
        (line,) = [json.loads(text) for text in result.stdout.splitlines()]
        assert {k: line[k] for k in NEW_TAB} == NEW_TAB, line
        if not offline:
            assert downloaded(hub.requests()) == sorted(MODEL_FILES)
            assert {r["path"] for r in hub.requests()} >= {
                f"/api/models/{BASE}/revision/main"}
            assert FETCH_BAR.search(result.stderr), result.stderr
            hub.clear()
    assert hub.requests() == []
    assert snapshot_of(user.hub_cache, BASE).is_dir()
    assert not (user.hub_cache / f"models--{TINY.replace('/', '--')}").exists()


def test_a_model_folder_as_model(user: User, hub: HubDouble, embedded: Path,
                                 speech: Speech) -> None:
    folder = user.root / "my model"
    shutil.copytree(embedded, folder)
    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", folder))
    assert hub.requests() == []


def test_a_folder_without_model_bin_is_one_line(user: User, hub: HubDouble, embedded: Path,
                                                speech: Speech) -> None:
    folder = user.root / "not a model"
    folder.mkdir()
    shutil.copy(embedded / "config.json", folder)
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", folder))
    assert str(folder) in line and "model.bin" in line, line
    assert hub.requests() == []


def test_an_english_folder_without_tokenizer_uses_the_embedded_one_offline(
        user: User, hub: HubDouble, embedded: Path, speech: Speech) -> None:
    folder = user.root / "converted base.en"
    shutil.copytree(embedded, folder)
    (folder / "tokenizer.json").unlink()  # ct2-transformers-converter leaves it out unless asked
    scratch = user.root / "tmp"
    scratch.mkdir()
    assert_transcribed(user.voxagent("transcribe", speech.sentence, "--model", folder,
                                     TMPDIR=str(scratch)))
    assert hub.requests() == []  # faster-whisper would have fetched openai/whisper-tiny.en
    # the folder of links is gone once the model is loaded (onnxruntime, which runs the
    # segmenter's Silero, leaves its own .ses session file in TMPDIR when imported)
    assert [p for p in scratch.iterdir() if p.name != ".ses"] == []
    assert sorted(p.name for p in folder.iterdir()) == sorted(MODEL_FILES - {"tokenizer.json"})


def test_a_multilingual_folder_without_tokenizer_is_one_line(
        user: User, hub: HubDouble, embedded: Path, speech: Speech) -> None:
    folder = user.root / "converted small"
    folder.mkdir()
    for name in ("config.json", "model.bin"):
        (folder / name).symlink_to(embedded / name)
    (folder / "vocabulary.txt").write_text("".join(f"t{i}\n" for i in range(51865)))
    line = one_line_error(user.voxagent("transcribe", speech.sentence, "--model", folder))
    assert str(folder) in line and "tokenizer.json" in line, line
    assert hub.requests() == []
