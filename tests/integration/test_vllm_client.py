"""The Voxtral client and features against the vLLM double, with the real `openai` client:
transcription (json, and text the way vLLM answers it), vLLM's error JSON, Q&A and
summaries with the audio itself in the chat request, tools and tool calls, and faults
(a slow answer trips the timeout, a 500, a dropped connection)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from agent.actions.launch import app_names
from agent.asr.base import Capabilities, Hint, ToolCall, Unsupported
from agent.asr.voxtral import VoxtralRecogniser
from agent.asr.voxtral_client import VoxtralClient, VoxtralError, health, shared_client
from agent.asr.voxtral_features import FeatureRequest, audio_budget_s, get
from agent.config import Config
from agent.dispatch.dispatcher import Dispatcher
from agent.dispatch.loader import CommandLibrary
from agent.dispatch.words import Word, Words
from agent.messages import KeyAction, Transcript
from agent.paths import data_dir
from tests.integration.vllm_support import (
    Control,
    Double,
    config,
    free_port,
    pcm_of,
    speak,
)

TRANSCRIPTIONS = "/v1/audio/transcriptions"


@pytest.fixture(scope="module")
def speech(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    folder = tmp_path_factory.mktemp("speech")
    return {"scroll down": pcm_of(speak(folder, "scroll-down", "scroll down")),
            "fox": pcm_of(speak(folder, "fox", "the quick brown fox jumps over the lazy dog")),
            "close": pcm_of(speak(folder, "close", "please shut this window"))}


@pytest.fixture(scope="module")
def tools_double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Hears with faster-whisper; started with the tool-calling flags."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", flags=["--tool-call-parser", "mistral",
                                                       "--enable-auto-tool-choice"]) as d:
        yield d


@pytest.fixture(scope="module")
def small_double(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Double]:
    """Echoes durations instead of hearing; 1024-token context; an API key; no tool flags."""
    tmp = tmp_path_factory.mktemp("double")
    with Double(free_port(), tmp / "vllm.log", env={"VLLM_DOUBLE_ASR": "echo"},
                flags=["--max-model-len", "1024", "--api-key", "k3y"]) as d:
        yield d


def client_for(double: Double, tmp: Path, **changes: object) -> VoxtralClient:
    Control(double.url).clear()
    return VoxtralClient(config(double.port, tmp, **changes))


def test_transcription_json_and_text(tools_double: Double, tmp_path: Path,
                                     speech: dict[str, bytes]) -> None:
    client = client_for(tools_double, tmp_path)
    from agent.asr import voxtral_audio as audio

    wav = audio.to_wav(audio.condition(audio.pcm_to_float(speech["scroll down"])))
    assert client.transcribe(wav, 10.0) == "Scroll down."
    # vLLM answers response_format=text with its JSON object; the text comes out all the same
    assert client.transcribe(wav, 10.0, response_format="text") == "Scroll down."
    first, second = Control(tools_double.url).requests()
    assert first["form"] == {"model": "mistralai/Voxtral-Mini-3B-2507", "language": "en",
                             "temperature": "0.0", "response_format": "json"}
    assert second["form"]["response_format"] == "text"
    sent = first["audio"]
    assert (sent["rate"], sent["channels"]) == (16000, 1)  # 16 kHz mono WAV
    assert sent["peak"] == pytest.approx(0.89, abs=0.01)  # peak-normalised
    assert abs(sent["mean"]) < 1e-3  # no DC offset
    assert first["filename"] == "audio.wav"


def test_long_audio_is_sent_in_chunks_cut_at_quiet_points(tools_double: Double,
                                                          tmp_path: Path,
                                                          speech: dict[str, bytes]) -> None:
    client = client_for(tools_double, tmp_path, chunk_s=5.0)
    gap = bytes(2 * 16000)  # 1 s of silence between sayings
    pcm = (speech["fox"] + gap) * 3
    text = get("transcription", client.cfg).execute(client, FeatureRequest(pcm)).text
    # each sentence whole in one chunk: its first and its last word, three times (the
    # double's tiny model mishears the middle of espeak's fox sentence in some releases)
    assert text.lower().count("quick") == 3 and text.lower().count("dog") == 3, text
    seconds = [r["audio"]["seconds"] for r in Control(tools_double.url).requests()]
    assert len(seconds) >= 3 and max(seconds) <= 5.0
    assert sum(seconds) == pytest.approx(len(pcm) / 32000, abs=0.01)  # nothing lost


def test_vllm_errors_arrive_as_one_line(tools_double: Double, small_double: Double,
                                        tmp_path: Path, speech: dict[str, bytes]) -> None:
    from agent.asr import voxtral_audio as audio

    wav = audio.to_wav(audio.pcm_to_float(speech["scroll down"]))
    cases = [
        (client_for(tools_double, tmp_path, model="x/y"), {},
         "HTTP 404: The model `x/y` does not exist."),
        (client_for(tools_double, tmp_path, language="zz"), {},
         "HTTP 400: Unsupported language: 'zz'"),
        (client_for(tools_double, tmp_path), {"response_format": "srt"},
         "HTTP 400: Currently only support response_format: `text`, `json` or `verbose_json`"),
        (client_for(tools_double, tmp_path), {"response_format": "verbose_json"},
         "HTTP 400: Currently do not support verbose_json"),
        (client_for(small_double, tmp_path), {}, "HTTP 401: Unauthorized"),
    ]
    for client, extra, expected in cases:
        with pytest.raises(VoxtralError) as info:
            client.transcribe(wav, 10.0, **extra)  # type: ignore[arg-type]
        assert expected in str(info.value) and "\n" not in str(info.value)
    with pytest.raises(VoxtralError, match="Invalid or unsupported audio file"):
        client_for(tools_double, tmp_path).transcribe(b"RIFF not really a wav", 10.0)
    keyed = client_for(small_double, tmp_path, api_key="k3y")
    seconds = len(speech["scroll down"]) / 32000
    assert keyed.transcribe(wav, 10.0) == f"{seconds:.2f} seconds of audio"


def test_qa_sends_the_audio_itself(tools_double: Double, tmp_path: Path,
                                   speech: dict[str, bytes]) -> None:
    client = client_for(tools_double, tmp_path)
    answer = get("qa", client.cfg).execute(client, FeatureRequest(speech["fox"],
                                                                  "Which animal jumps?"))
    # what the double heard in the audio, and the question (the double's tiny model may
    # mishear "brown fox"; the end of the sentence is what it always gets)
    assert "lazy dog" in answer.text.lower() and "which animal jumps?" in answer.text.lower()
    (chat,) = Control(tools_double.url).requests()  # no transcription first: the audio itself
    assert chat["path"] == "/v1/chat/completions"
    content = chat["request"]["messages"][0]["content"]
    assert [p["type"] for p in content] == ["input_audio", "text"]
    assert content[0]["input_audio"]["format"] == "wav"
    assert content[1]["text"] == "Which animal jumps?"
    assert chat["audio_seconds"] == pytest.approx(len(speech["fox"]) / 32000, abs=0.01)


def test_summary_and_the_context_limit(small_double: Double, tmp_path: Path) -> None:
    client = client_for(small_double, tmp_path, api_key="k3y", max_model_len=1024)
    budget = audio_budget_s(client.cfg)
    assert 15 < budget < 25
    noise = (np.random.default_rng(1).standard_normal(16000 * 80) * 3000).astype("<i2")
    short, long = noise[:16000 * 10].tobytes(), noise.tobytes()
    summary = get("summarization", client.cfg).execute(client, FeatureRequest(short))
    assert "heard: 10.00 seconds of audio" in summary.text
    Control(small_double.url).clear()
    summary = get("summarization", client.cfg).execute(client, FeatureRequest(long))
    paths = [r["path"] for r in Control(small_double.url).requests()]
    assert paths == ["/v1/audio/transcriptions"] * 3 + ["/v1/chat/completions"]  # transcript
    assert "seconds of audio" in summary.text
    with pytest.raises(VoxtralError, match=r"do not fit voxtral\.max_model_len = 1024"):
        get("qa", client.cfg).execute(client, FeatureRequest(long, "what is it?"))
    big = replace(client.cfg, max_model_len=32768)  # we think it fits; the server says no
    with pytest.raises(VoxtralError, match="maximum context length is 1024 tokens"):
        get("qa", big).execute(VoxtralClient(big), FeatureRequest(long, "what is it?"))
    with pytest.raises(VoxtralError, match="max_audio_s allows 5"):
        strict = replace(big, max_audio_s=5.0)
        get("transcription", strict).execute(VoxtralClient(strict), FeatureRequest(short))


def _dispatcher() -> Dispatcher:
    return Dispatcher(CommandLibrary([data_dir("commands")], app_names({})).commands)


def _voxtral(double: Double, tmp: Path, **changes: object) -> VoxtralRecogniser:
    Control(double.url).clear()
    return VoxtralRecogniser(replace(Config(), voxtral=config(double.port, tmp, **changes)))


def test_words_reach_voxtral_as_no_prompt(tools_double: Double, tmp_path: Path,
                                          speech: dict[str, bytes]) -> None:
    """The [words] come to Voxtral's hearing as the Hint's phrases, as to Whisper's; vLLM
    takes a transcription `prompt` and drops it for Voxtral (the double does the same:
    vllm_double.py), so none is sent and the free-text decode asks nothing more."""
    recogniser = _voxtral(tools_double, tmp_path)
    recogniser.load()
    hearing = recogniser.hear(speech["fox"])
    words = Words([Word("vox agent", "voxagent", "words.toml:2")]).phrases
    first = hearing.decode(Hint(("stop dictation", *words), 1))
    assert hearing.decode(Hint(words, 1, thorough=True)) is first
    (sent,) = Control(tools_double.url).requests()
    assert sorted(sent["form"]) == ["language", "model", "response_format", "temperature"]
    # a prompt sent anyway changes nothing, as with vLLM
    from agent.asr import voxtral_audio as audio

    wav = audio.to_wav(audio.condition(audio.pcm_to_float(speech["fox"])))
    prompted = shared_client(tools_double.url, "EMPTY").audio.transcriptions.create(
        model=recogniser.cfg.model, file=("audio.wav", wav, "audio/wav"), language="en",
        temperature=0.0, prompt="Vox agent, voxagent, Kubernetes.")
    assert prompted.text == first.text
    assert Control(tools_double.url).requests()[-1]["form"]["prompt"].startswith("Vox agent")


def test_command_intent_through_tool_calls(tools_double: Double, tmp_path: Path,
                                           speech: dict[str, bytes],
                                           caplog: pytest.LogCaptureFixture) -> None:
    backend = _voxtral(tools_double, tmp_path, command_intent=True)
    assert backend.capabilities == Capabilities(intent=True)
    control = Control(tools_double.url)
    control.tool_call("tab", ("new_tab", "{}"))
    control.tool_call("window", ("close_window", "{}"))
    d = _dispatcher()
    calls = backend.hear(speech["scroll down"]).intent("I'd like a fresh tab", d.tools())
    assert calls == (ToolCall("new_tab", "{}"),)
    decision = d.intended("I'd like a fresh tab", calls)
    assert decision is not None and decision.actions == (KeyAction("ctrl+t"),)
    (chat,) = control.requests()
    sent = chat["request"]
    assert sent["tool_choice"] == "auto" and sent["temperature"] == 0.0
    names = {t["function"]["name"] for t in sent["tools"]}
    assert {"new_tab", "close_window", "press_chord_n_times"} <= names
    assert sent["messages"][0]["content"][0]["type"] == "input_audio"
    calls = backend.hear(speech["close"]).intent("please shut this window", d.tools())
    risky = d.intended("please shut this window", calls)
    assert risky is not None and risky.actions == () and "say yes" in risky.note
    assert d.dispatch(Transcript("yes")).actions == (KeyAction("alt+f4"),)
    control.tool_call("fox", ("rm_everything", "{}"))
    calls = backend.hear(speech["fox"]).intent("the quick brown fox", d.tools())
    with caplog.at_level(logging.WARNING):
        assert d.intended("the quick brown fox", calls) is None
    assert "not an active command" in caplog.text
    off = _voxtral(tools_double, tmp_path)
    with pytest.raises(Unsupported, match="command_intent = false"):
        off.hear(speech["fox"]).intent("x", d.tools())


def test_tools_need_the_servers_tool_flags(small_double: Double, tmp_path: Path,
                                           speech: dict[str, bytes],
                                           caplog: pytest.LogCaptureFixture) -> None:
    backend = _voxtral(small_double, tmp_path, api_key="k3y", command_intent=True)
    tools = _dispatcher().tools()
    with caplog.at_level(logging.WARNING):
        assert backend.hear(speech["scroll down"]).intent("new tap", tools) == ()
    assert '"auto" tool choice requires --enable-auto-tool-choice' in caplog.text
    # said once; not asked again this session
    assert backend.hear(speech["scroll down"]).intent("new tap", tools) == ()
    assert len(Control(small_double.url).requests()) == 0


def test_faults_slow_500_and_dropped(tools_double: Double, tmp_path: Path,
                                     speech: dict[str, bytes]) -> None:
    from agent.asr import voxtral_audio as audio

    wav = audio.to_wav(audio.pcm_to_float(speech["scroll down"]))
    client = client_for(tools_double, tmp_path)
    control = Control(tools_double.url)
    control.fail(TRANSCRIPTIONS, "delay", seconds=3.0)
    started = time.monotonic()
    with pytest.raises(VoxtralError, match=r"no answer within 0.5 s"):
        client.transcribe(wav, 0.5)
    assert time.monotonic() - started < 1.5  # no retry of an utterance
    control.fail(TRANSCRIPTIONS, "500")
    with pytest.raises(VoxtralError, match="HTTP 500: EngineCore encountered an issue"):
        client.transcribe(wav, 5.0)
    control.fail(TRANSCRIPTIONS, "drop")
    with pytest.raises(VoxtralError, match="cannot reach"):
        client.transcribe(wav, 5.0)
    control.fail(TRANSCRIPTIONS, "500")  # a feature retries once (RETRIES)
    result = get("transcription", client.cfg).execute(client, FeatureRequest(speech["scroll down"]))
    assert result.text == "Scroll down."
    assert [h["mode"] for h in control.hits()] == ["delay", "500", "drop", "500"]


def test_a_stalled_server_costs_a_feature_one_timeout(tools_double: Double, tmp_path: Path,
                                                     speech: dict[str, bytes]) -> None:
    """/health answers, the engine does not: no retry after a timeout (RETRIES = 1 is
    for refused connections and 5xx), and the message says the one wait it was."""
    client = client_for(tools_double, tmp_path, feature_timeout_s=1.0)
    control = Control(tools_double.url)
    control.fail(TRANSCRIPTIONS, "hang", times=5, seconds=30.0)
    with pytest.raises(VoxtralError) as info:
        get("transcription", client.cfg).execute(client, FeatureRequest(speech["scroll down"]))
    assert str(info.value) == "voxtral transcription: no answer within 1 s (not tried again)"
    assert control.hits() == [{"path": TRANSCRIPTIONS, "mode": "hang"}]
    assert tools_double.proc is not None and health(tools_double.url, 5.0) == 200
    control.clear()


def test_malformed_answers_are_one_line_failures(small_double: Double, tmp_path: Path,
                                                 speech: dict[str, bytes]) -> None:
    """What vLLM would never send fails the request in one line, for a chat as for a
    transcription (issue 18: a non-UTF-8 body escaped as UnicodeDecodeError); an answer
    past 256 KiB is not read further."""
    from agent.asr import voxtral_audio as audio

    client = client_for(small_double, tmp_path, api_key="k3y")
    control = Control(small_double.url)
    chat = [{"role": "user", "content": "hello"}]
    for body, why in [(b'{"choices": "\xff\xfe"}', "a malformed answer (UnicodeDecodeError"),
                      (b'{"choices": "none"}', "a malformed answer"),
                      (b"[1, 2", "a malformed answer")]:
        control.answer("/v1/chat/completions", body)
        with pytest.raises(VoxtralError, match=re.escape(f"voxtral chat: {why}")) as info:
            client.chat(chat, 10.0, max_tokens=100)
        assert "\n" not in str(info.value)
    assert client.chat(chat, 10.0, max_tokens=100).text == "heard: ; asked: hello"
    wav = audio.to_wav(audio.pcm_to_float(speech["scroll down"]))
    control.answer(TRANSCRIPTIONS, b'{"text": "' + b"spam " * 200_000 + b'"}')
    with pytest.raises(VoxtralError, match="the answer is longer than 256 KiB"):
        client.transcribe(wav, 10.0)
    seconds = len(speech["scroll down"]) / 32000
    assert client.transcribe(wav, 10.0) == f"{seconds:.2f} seconds of audio"
    assert [h["mode"] for h in control.hits()] == ["answer"] * 4
