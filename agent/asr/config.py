"""The recognition sections of the configuration: `[whisper]`, `[recognition]`, `[voxtral]`.

`[whisper]` says which faster-whisper model to load and how it decodes; `[recognition]`
picks the backend (auto = Voxtral first, faster-whisper as the fallback); `[voxtral]` says
where the vLLM server is, how to start it, and which features are on.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from agent.asr.base import BACKENDS
from agent.options import option as _opt

DEFAULT_MODEL = "mistralai/Voxtral-Mini-3B-2507"
REALTIME_MODEL = "mistralai/Voxtral-Mini-4B-Realtime-2602"


@dataclass(frozen=True)
class WhisperConfig:
    model: str = _opt(
        "embedded",
        '"embedded" (tiny.en shipped with the package), a local CTranslate2 model directory, '
        'or a hub name such as "base.en", "small.en" or "Systran/faster-whisper-small.en".',
    )
    device: str = _opt("cpu", "CTranslate2 device: cuda decodes faster on an NVIDIA GPU and "
                       "takes its memory; cpu works everywhere; auto = cuda when found.",
                       choices=("cpu", "cuda", "auto"))
    compute_type: str = _opt("int8", "CTranslate2 numerics: int8 is the fastest and smallest "
                             "on a CPU; float types cost time and memory for a decode that "
                             "is at best slightly closer.",
                             choices=("int8", "int8_float32", "int8_float16", "float16",
                                      "float32", "default"))
    cpu_threads: int = _opt(0, "Threads for the CPU decoder: more decode sooner but take "
                            "cores from the other programs; 0 = one per core.", lo=0, hi=256)
    beam_size: int = _opt(5, "Beam width: wider finds likelier readings, at the cost of "
                          "decoding time.", lo=1, hi=16)
    alternatives: int = _opt(5, "N-best hypotheses offered to the command matcher: more give "
                             "a misheard command more chances to match, and babble too.",
                             lo=1, hi=16)
    language: str = _opt("en", "Spoken language (English-only models ignore it).")
    download_root: str = _opt("", 'Where hub models are stored; "" = the Hugging Face cache. '
                              "A relative path is taken from the config file's folder.")
    bias_vocabulary: bool = _opt(True, "Prompt the model with the active command vocabulary: "
                                 "commands are heard better, and babble is pulled toward "
                                 "command words (the matcher's checks must then refuse it).")
    fit_window: bool = _opt(
        True, "Encode each utterance on a window fitted to it (8 to 30 s) rather than 30 s "
        "of padding, which takes the encoder much less time; false = always 30 s "
        "(bench/accuracy.py and bench/latency.py measure both).")


@dataclass(frozen=True)
class RecognitionConfig:
    backend: str = _opt(
        "auto", 'Recogniser: "auto" (Voxtral when its server answers, else faster-whisper, '
        'per utterance), "voxtral" (Voxtral only) or "whisper" (faster-whisper only).',
        choices=tuple(sorted(BACKENDS)))


@dataclass(frozen=True)
class VoxtralConfig:
    model: str = _opt(DEFAULT_MODEL, "Hugging Face model id, or a local folder in Mistral "
                      "format (params.json, consolidated.safetensors, tekken.json).")
    download_root: str = _opt("", 'Where the weights are downloaded; "" = the Hugging Face '
                              "cache. The server is started on that same folder. A relative path "
                              "is taken from the config file's folder.")
    host: str = _opt("127.0.0.1", "Address the local vLLM server listens on (and we reach it "
                     "at); keep the loopback unless other machines must reach it.")
    port: int = _opt(8000, "Port of the local vLLM server.", lo=1, hi=65535)
    allow_remote: bool = _opt(False, "Let a server we start listen on a non-loopback host "
                              "with no API key (open to the network); `voxagent server start "
                              "--allow-remote` does the same once. A warning is logged.")
    base_url: str = _opt("", 'OpenAI-compatible URL of a remote vLLM server, e.g. '
                         '"http://gpu-box:8000/v1"; "" = the local one at host:port. '
                         "A remote server is never started or stopped by us.")
    api_key: str = _opt("", 'API key sent as a Bearer token (vLLM --api-key); "" = '
                        "$VOXAGENT_VOXTRAL_API_KEY if set, else none.", secret=True)
    manage_server: bool = _opt(True, "Start a local vLLM server when none answers on the "
                               "port (and stop it when we exit); false = only attach.")
    server_command: str = _opt("vllm", "The vLLM program (split like a shell would, never "
                               'run through one), e.g. "/opt/vllm/bin/vllm"; "serve MODEL '
                               '..." is appended.')
    extra_args: str = _opt("", 'More flags for vllm serve, split like a shell would, e.g. '
                           '"--enforce-eager".')
    max_model_len: int = _opt(4864, "vLLM --max-model-len: context length in tokens; longer "
                              "takes longer audio in one ask, and more GPU memory.",
                              lo=512, hi=131072)
    use_gpu: bool = _opt(True, "Serve on the GPU, the only supported way: false refuses to "
                         "start a local server (vLLM on CPU is not supported for Voxtral).")
    tensor_parallel_size: int = _opt(1, "vLLM --tensor-parallel-size: GPUs to split the "
                                     "model over (more memory in all, every request spans "
                                     "them all).", lo=1, hi=64)
    gpu_memory_utilization: float = _opt(0.9, "vLLM --gpu-memory-utilization: share of GPU "
                                         "memory vLLM may take; more leaves room for longer "
                                         "contexts, less leaves it to other programs.",
                                         lo=0.05, hi=1.0)
    language: str = _opt("en", 'Spoken language sent with transcriptions; "" = detect.')
    max_audio_s: float = _opt(900.0, "Longest audio accepted by transcribe/ask/summarize: "
                              "longer recordings hold the server longer, s.",
                              lo=1.0, hi=7200.0)
    chunk_s: float = _opt(30.0, "Longer audio is split at quiet points into chunks of at "
                          "most this many seconds: longer ones keep more context, shorter "
                          "ones answer sooner.", lo=5.0, hi=600.0)
    request_timeout_s: float = _opt(
        4.0, "Longest wait for an utterance's text (a file request, or realtime's final text "
        "after the end of speech); past it the utterance goes to the next recogniser: shorter "
        "gives up on a slow server sooner, longer lets a busy one answer, s.",
        lo=0.1, hi=120.0)
    feature_timeout_s: float = _opt(120.0, "Timeout of summaries, answers and long "
                                    "transcriptions: shorter gives up on a busy server "
                                    "sooner, longer lets long recordings finish, s.",
                                    lo=1.0, hi=3600.0)
    startup_timeout_s: float = _opt(900.0, "How long a starting server may take to answer "
                                    "/health before it is killed: shorter notices a stuck "
                                    "start sooner, a first start (download, compile) needs "
                                    "minutes, s.", lo=1.0, hi=7200.0)
    summarization: bool = _opt(True, "Offer `voxagent summarize` (audio in, summary out).")
    qa: bool = _opt(True, "Offer `voxagent ask` (the audio itself is sent with the question).")
    command_intent: bool = _opt(
        False, "When no command matches, send the request and the active commands (as "
        "tools) to Voxtral and perform the command it calls; starts vLLM with "
        "--tool-call-parser mistral --enable-auto-tool-choice.")
    intent_confirm: str = _opt(
        "risky", 'Which commands found by intent need a spoken "yes" first: "risky" '
        "(confirm-marked, launches, closing or deleting keys) or \"always\".",
        choices=("risky", "always"))
    mode: str = _opt(
        "file", 'How utterances reach Voxtral: "file" (each finished utterance is sent to '
        'the transcription endpoint) or "realtime" (streamed over vLLM\'s /v1/realtime '
        "WebSocket while it is spoken, to voxtral.realtime_model; backend name "
        "voxtral-realtime).", choices=("file", "realtime"))
    realtime_model: str = _opt(
        REALTIME_MODEL, 'The streaming model served when mode = "realtime" (hub id or a '
        "Mistral-format folder); the server then serves it instead of voxtral.model.")


def served(cfg: VoxtralConfig) -> VoxtralConfig:
    """The [voxtral] section for the model the server serves: with mode = "realtime", the
    realtime model takes voxtral.model's place (weights, --served-model-name, the model
    check on attach, the transcription endpoint's model)."""
    return replace(cfg, model=cfg.realtime_model) if cfg.mode == "realtime" else cfg
