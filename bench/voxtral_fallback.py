"""What the recognition router costs when Voxtral fails, against the vLLM double.

    .venv/bin/python bench/voxtral_fallback.py

Starts tests/integration/vllm_double.py (which "hears" with faster-whisper on the CPU, so
its own times say nothing of Voxtral on a GPU), attaches the "auto" router to it with the
defaults (request_timeout_s 4; the breaker's Timing: 2 failures, a probe every 5 s), and times
one spoken utterance through each case: healthy, a 500, a slow server, the server gone
(connection refused) until the breaker opens, the breaker open, the first utterance
after the server is back, and a stalled server (/health answers 200, transcriptions hang:
after two timeouts the breaker stays open for Timing.stall_backoff_s whatever /health
says).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.asr.base import Hint
from agent.asr.config import VoxtralConfig
from agent.asr.router import RouterRecogniser
from agent.config import Config
from tests.integration.vllm_support import Control, Double, free_port, pcm_of, speak

TRANSCRIPTIONS = "/v1/audio/transcriptions"


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="voxtral-fallback-"))
    pcm = pcm_of(speak(tmp, "scroll", "scroll down"))
    hint = Hint(("scroll down",), 3)
    port = free_port()
    double = Double(port, tmp / "double.log").start()
    router = RouterRecogniser(replace(Config(), voxtral=VoxtralConfig(port=port,
                                                                       manage_server=False)))
    router.load()
    control = Control(double.url)

    def utterance(label: str) -> None:
        started = time.monotonic()
        t = router.hear(pcm).decode(hint)
        print(f"{label:42} {t.backend:8} {time.monotonic() - started:5.2f} s  "
              f"breaker {router.breaker.state.value}")

    router.whisper.hear(pcm).decode(hint)  # warm: its first call is slower
    utterance("healthy")
    utterance("healthy")
    control.fail(TRANSCRIPTIONS, "500")
    utterance("500 from the server")
    utterance("healthy again")
    control.fail(TRANSCRIPTIONS, "delay", seconds=30)
    utterance("slow server (4 s timeout)")
    utterance("healthy again")
    double.stop()
    utterance("server gone: refused (failure 1)")
    utterance("server gone: refused (failure 2: opens)")
    utterance("breaker open")
    double = Double(port, tmp / "double.log").start()
    back = time.monotonic()
    while not router.breaker.allow():
        time.sleep(0.05)
    print(f"{'probe found the server healthy after':42} {time.monotonic() - back:5.2f} s")
    utterance("first utterance after recovery")
    control = Control(double.url)
    control.fail(TRANSCRIPTIONS, "hang", times=99, seconds=60)
    utterance("stalled, /health 200 (failure 1)")
    utterance("stalled, /health 200 (failure 2: opens)")
    for n in (1, 2, 3):
        router._probe_once()  # /health answers 200: the breaker stays open for its backoff
        utterance(f"stalled, probed healthy, breaker open ({n})")
    router.close()
    double.stop()


if __name__ == "__main__":
    main()
