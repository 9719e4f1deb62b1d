"""huggingface_hub's warnings (download retries) print once, in our format, not twice."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import logging, sys
logging.basicConfig(format="voxagent: %(levelname)s: %(name)s: %(message)s")
from agent.asr.models import single_hub_log_handler
if sys.argv[1] == "fixed":
    single_hub_log_handler()
from huggingface_hub.utils import logging as hub_logging
hub_logging.get_logger("huggingface_hub.utils._http").warning("Retrying in 1s [Retry 1/5].")
"""


def warnings_printed(mode: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True,
                            text=True, timeout=60, check=True)
    return [ln for ln in result.stderr.splitlines() if "Retrying" in ln]


def test_a_hub_warning_prints_once_through_our_handler() -> None:
    assert warnings_printed("plain") == [  # huggingface_hub's own handler, then ours
        "Retrying in 1s [Retry 1/5].",
        "voxagent: WARNING: huggingface_hub.utils._http: Retrying in 1s [Retry 1/5]."]
    assert warnings_printed("fixed") == [
        "voxagent: WARNING: huggingface_hub.utils._http: Retrying in 1s [Retry 1/5]."]
