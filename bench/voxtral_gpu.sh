#!/usr/bin/env bash
# Voxtral on a GPU machine: file Voxtral, Voxtral Realtime and faster-whisper on the spoken
# benchmark set, each through the real pipeline (`voxagent run --input FILE --dry-run --json`).
#
#   bench/voxtral_gpu.sh                      # held-out set, all session files
#   bench/voxtral_gpu.sh --set dev --limit 2  # quicker
#   bench/voxtral_gpu.sh --skip-install       # vLLM already in bench/out/vllm-venv
#
# What it does:
#   1. refuses, in one line, when no GPU answers (nvidia-smi) or when the weights of
#      mistralai/Voxtral-Mini-3B-2507 or mistralai/Voxtral-Mini-4B-Realtime-2602 are not
#      already in the local Hugging Face cache (nothing is downloaded: fetch them first with
#      `huggingface-cli download MODEL`);
#   2. installs vLLM (`vllm[audio]`) into its own venv, bench/out/vllm-venv (its torch and
#      CUDA pins stay out of the project's .venv), and the project into .venv;
#   3. for each Voxtral model in turn: `voxagent server start` (`--realtime` for the
#      streaming model) on the cached weights, offline, then bench/accuracy.py (command
#      accuracy) and bench/latency.py (end of speech to action, paced like a microphone)
#      with that backend alone (`backend = "voxtral"`, so a failure is seen, not hidden by
#      the fallback), then `voxagent server stop`; then the same for faster-whisper;
#   4. prints one table: command accuracy, false triggers, and end of speech to action
#      (median, p95), per backend.  Full reports are kept in bench/out/gpu-*.json.
#
# Exit status: 0 done, 2 no GPU, 3 weights missing, 4 a step failed (it says which).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
OUT="$REPO/bench/out"
SET=heldout
LIMIT=0
INSTALL=1
FILE_MODEL=mistralai/Voxtral-Mini-3B-2507
REALTIME_MODEL=mistralai/Voxtral-Mini-4B-Realtime-2602
PORT=${VOXTRAL_GPU_PORT:-8765}
NVIDIA_SMI=${NVIDIA_SMI:-nvidia-smi}

while (($#)); do
  case "$1" in
    --set) SET=$2; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --skip-install) INSTALL=0; shift ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "voxtral_gpu.sh: unknown argument '$1' (see --help)" >&2; exit 4 ;;
  esac
done

fail() { echo "voxtral_gpu.sh: $2" >&2; exit "$1"; }

# --- 1. a GPU, and the weights already here -----------------------------------------------------
gpus=$("$NVIDIA_SMI" -L 2>/dev/null | grep -c '^GPU ' || true)
((gpus > 0)) || fail 2 "no GPU: '$NVIDIA_SMI -L' lists none (Voxtral through vLLM needs a CUDA GPU; this script is for a GPU machine)"

PY=${PYTHON:-python3}
[ -x "$REPO/.venv/bin/python" ] && PY="$REPO/.venv/bin/python"
CHECK='
import sys
from agent.asr.config import VoxtralConfig
from agent.voxtral.models import status
found = status(VoxtralConfig(model=sys.argv[1]))
print(found.path if found.present else "")'
for model in "$FILE_MODEL" "$REALTIME_MODEL"; do
  where=$(HF_HUB_OFFLINE=1 PYTHONPATH="$REPO" "$PY" -c "$CHECK" "$model" 2>&1) \
    || fail 3 "cannot check the weights of $model: ${where##*$'\n'}"
  [ -n "$where" ] || fail 3 "the weights of $model are not in the Hugging Face cache (${HF_HOME:-~/.cache/huggingface}); nothing is downloaded here: run 'huggingface-cli download $model' first"
  echo "voxtral_gpu.sh: $model found at $where" >&2
done

# --- 2. install ---------------------------------------------------------------------------------
VLLM_VENV="$OUT/vllm-venv"
if ((INSTALL)); then
  mkdir -p "$OUT"
  [ -x "$REPO/.venv/bin/python" ] || python3 -m venv "$REPO/.venv"
  "$REPO/.venv/bin/pip" install -q -e "$REPO[voxtral,test]" || fail 4 "installing the project failed"
  [ -x "$VLLM_VENV/bin/python" ] || python3 -m venv "$VLLM_VENV"
  "$VLLM_VENV/bin/pip" install -q -U "vllm[audio]" || fail 4 "installing vllm[audio] failed"
fi
[ -x "$VLLM_VENV/bin/vllm" ] || fail 4 "no vLLM in $VLLM_VENV (run without --skip-install)"
PY="$REPO/.venv/bin/python"

# --- 3. each backend ----------------------------------------------------------------------------
run_backend() {  # name, [recognition] backend, extra [voxtral] lines, server start flags
  local name=$1 backend=$2 extra=$3 start=$4 home="$OUT/gpu-$1"
  mkdir -p "$home/config"
  cat >"$home/config/config.toml" <<EOF
[recognition]
backend = "$backend"

[voxtral]
port = $PORT
server_command = "$VLLM_VENV/bin/vllm"
manage_server = false
startup_timeout_s = 1800.0
$extra
EOF
  export VOXAGENT_CONFIG_DIR="$home/config" VOXAGENT_STATE_DIR="$home/state" HF_HUB_OFFLINE=1
  if [ "$start" != none ]; then
    # shellcheck disable=SC2086
    "$PY" -m agent server start $start || fail 4 "$name: the vLLM server did not start (voxagent server logs)"
  fi
  local ok=1
  "$PY" bench/accuracy.py --set "$SET" --limit "$LIMIT" --json >"$OUT/gpu-$name-accuracy.json" || ok=0
  "$PY" bench/latency.py --set "$SET" --limit "$LIMIT" --no-peer --json >"$OUT/gpu-$name-latency.json" || ok=0
  if [ "$start" != none ]; then
    "$PY" -m agent server stop || true
  fi
  unset VOXAGENT_CONFIG_DIR VOXAGENT_STATE_DIR HF_HUB_OFFLINE
  ((ok)) || fail 4 "$name: the benchmark failed (see above)"
}

run_backend file voxtral 'mode = "file"' ""
run_backend realtime voxtral 'mode = "realtime"' "--realtime"
run_backend whisper whisper '' none

# --- 4. the table -------------------------------------------------------------------------------
"$PY" - "$OUT" <<'EOF'
import json, sys
from pathlib import Path
out = Path(sys.argv[1])
print(f"{'backend':10} {'commands':>16} {'false triggers':>16} {'end of speech -> action':>30}")
for name in ("file", "realtime", "whisper"):
    acc = json.loads((out / f"gpu-{name}-accuracy.json").read_text())["overall"]
    lat = json.loads((out / f"gpu-{name}-latency.json").read_text())["performed"]
    c, f = acc["command"], acc["false_triggers"]
    print(f"{name:10} {c['n']:>6}/{c['of']:<4} {100 * c['n'] / max(1, c['of']):5.1f}% "
          f"{f['n']:>6}/{f['of']:<4} {100 * f['n'] / max(1, f['of']):5.1f}% "
          f"  median {lat['median']:.3f} s, p95 {lat['p95']:.3f} s")
EOF
