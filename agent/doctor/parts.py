"""The parts of the agent itself: config, command files, microphone, model, Voxtral."""

from __future__ import annotations

import os
import threading

from agent.doctor.base import Context, Finding, State
from agent.paths import command_folders, config_file

LISTEN_S = 2.0
"""How long `--listen` records, in seconds."""
LISTEN_WAIT_S = LISTEN_S + 3.0
"""How long `--listen` waits for those samples before it says the source delivers none."""
SILENT_DBFS = -60.0
"""A peak below this over LISTEN_S is called silence, in dBFS."""


def check_config(ctx: Context) -> Finding:
    if ctx.config_problem:
        first, *more = ctx.config_problem.splitlines()
        return Finding(State.MISSING, first, f"correct {'those lines' if more else 'that line'} "
                       "(voxagent config shows every option)", tuple(more))
    where = ctx.cfg.source or f"{config_file()} (absent: defaults)"
    return Finding(State.OK, where)


def check_commands(ctx: Context) -> Finding:
    from agent.actions.launch import app_names
    from agent.dispatch.loader import command_files, read_file

    problems: list[str] = []
    count = 0
    for folder in command_folders(ctx.cfg.commands.builtin, ctx.cfg.commands.user_dir):
        for path in command_files(folder):
            count += 1
            problems += read_file(path, app_names(ctx.cfg.apps))[1]
    if problems:
        return Finding(State.WARN, f"{len(problems)} problem(s) in {count} file(s); those "
                       "files are skipped", "fix the lines below", tuple(problems))
    return Finding(State.OK, f"{count} file(s) parsed")


def check_audio_input(ctx: Context) -> Finding:
    from agent.audio.mic_source import DeviceError, list_input_devices, resolve_device

    try:
        index = resolve_device(ctx.cfg.audio.device)
        devices = list_input_devices()
    except DeviceError as exc:
        return Finding(State.MISSING, str(exc).split(" (")[0],
                       "plug in a microphone, start PulseAudio/PipeWire, or set "
                       "[audio] device (voxagent devices lists them)")
    chosen = next((d for d in devices if d.index == index or (index is None and d.is_default)),
                  devices[0])
    detail = f"{chosen.name} ({chosen.default_rate:.0f} Hz)"
    if not ctx.listen:
        return Finding(State.OK, detail)
    try:
        peak, rms = _level(index)
    except NoSamplesError as exc:
        return Finding(State.MISSING, f"{exc} from {chosen.name} in {LISTEN_WAIT_S:g} s",
                       "check that the source is not suspended or muted (pactl list sources), "
                       "or pick another with [audio] device (voxagent devices)")
    except Exception as exc:  # noqa: BLE001 - PortAudio raises several kinds
        return Finding(State.MISSING, f"{detail}: cannot record: {exc}",
                       "check that no other program holds the device")
    level = f"{detail}; level over {LISTEN_S:.0f} s: peak {peak:.0f} dBFS, rms {rms:.0f} dBFS"
    if peak < SILENT_DBFS:
        return Finding(State.WARN, level + " (silent)", "unmute the microphone or raise its "
                       "gain (pavucontrol, alsamixer)")
    return Finding(State.OK, level)


class NoSamplesError(RuntimeError):
    """The device opened but did not deliver LISTEN_S of samples within LISTEN_WAIT_S."""


def _level(index: int | None) -> tuple[float, float]:
    """Peak and RMS level of LISTEN_S of the device, in dBFS; NoSamplesError when it does not
    deliver them within LISTEN_WAIT_S (a suspended source would otherwise block for ever)."""
    import numpy as np
    import sounddevice as sd

    rate = 16000
    want = int(LISTEN_S * rate)
    blocks: list[np.ndarray] = []
    done = threading.Event()

    def take(indata: np.ndarray, frames: int, t: object, status: object) -> None:
        if not done.is_set():
            blocks.append(indata[:, 0].copy())
            if sum(map(len, blocks)) >= want:
                done.set()

    with sd.InputStream(samplerate=rate, channels=1, dtype="float32", device=index,
                        callback=take) as stream:
        full = done.wait(LISTEN_WAIT_S)
        stream.abort()
    got = sum(map(len, blocks))
    if not full:
        raise NoSamplesError(f"only {got / rate:.1f} s of samples" if got else "no samples")
    x = np.abs(np.concatenate(blocks)[:want].astype(np.float64))

    def db(v: float) -> float:
        return float(20 * np.log10(max(v, 1e-9)))
    return db(float(x.max(initial=0.0))), db(float(np.sqrt(np.mean(x * x)) if x.size else 0.0))


def check_model(ctx: Context) -> Finding:
    if ctx.cfg.recognition.backend == "voxtral":
        return Finding(State.OK, "voxtral only (no whisper model needed)")
    os.environ["HF_HUB_OFFLINE"] = "1"  # a model that is not here is missing, not fetched
    from agent.asr.base import ModelError
    from agent.asr.whisper import WhisperRecogniser

    model = ctx.cfg.whisper.model
    transcriber = WhisperRecogniser(ctx.cfg)
    try:
        transcriber.load()
    except ModelError as exc:
        return Finding(State.MISSING, f"{model}: {exc}", "set [whisper] model = \"embedded\" "
                       "(shipped), or fetch the model once while online")
    except Exception as exc:  # noqa: BLE001 - faster-whisper/CTranslate2/hub errors
        return Finding(State.MISSING, f"{model}: does not load offline: {exc}",
                       'set [whisper] model = "embedded", or run once while online')
    finally:
        transcriber.close()
    return Finding(State.OK, f"{model} loads offline")


def check_voxtral(ctx: Context) -> Finding:
    from agent.asr.voxtral_client import base_url, health

    backend = ctx.cfg.recognition.backend
    if backend == "whisper":
        return Finding(State.OK, "not used ([recognition] backend = \"whisper\")")
    url = base_url(ctx.cfg.voxtral)
    code = health(url, 2.0)
    if code is None:
        if backend == "auto":
            return Finding(State.OK, f"no server at {url}: whisper recognises")
        return Finding(State.MISSING, f"no server answers at {url}",
                       "voxagent server start, or set [voxtral] base_url, or backend = \"auto\"")
    return _served(ctx, url, code)


def _served(ctx: Context, url: str, health_code: int) -> Finding:
    """A server that answers /health: is it ready, and does it take the key?"""
    from agent.asr.voxtral_client import API_KEY_ENV

    if health_code != 200:
        return Finding(State.WARN, f"{url}: HTTP {health_code} on /health",
                       "voxagent server logs")
    models = _models_status(ctx, url)
    if models in (401, 403):  # auto: whisper recognises, so only a warning
        needed = ctx.cfg.recognition.backend == "voxtral"
        return Finding(State.MISSING if needed else State.WARN,
                       f"{url} refuses the key (HTTP {models} on /v1/models)",
                       f"set [voxtral] api_key or ${API_KEY_ENV} to the server's --api-key")
    if models != 200:
        return Finding(State.WARN, f"{url}: HTTP {models} on /v1/models", "voxagent server logs")
    return Finding(State.OK, f"ready at {url}, key accepted")


def _models_status(ctx: Context, url: str) -> int | None:
    """GET /v1/models with the configured key (vLLM's /health needs none): the status."""
    from urllib.parse import urlsplit

    from agent.asr.voxtral_client import api_key, get_status

    path = urlsplit(url).path.rstrip("/") + "/models"
    return get_status(url, path, 5.0, {"Authorization": f"Bearer {api_key(ctx.cfg.voxtral)}"})
