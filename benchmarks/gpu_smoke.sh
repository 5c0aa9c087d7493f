#!/usr/bin/env bash
# GPU smoke test of every family: MirroredStrategy, float32 and mixed_float16, export and parity, img/s.
#   bash benchmarks/gpu_smoke.sh            on a machine with GPUs (at most 5 minutes)
#   bash benchmarks/gpu_smoke.sh --cpu      the same code path on 2 logical CPU devices, a few steps per family
# One JSON line per family on stdout, a table on stderr; exit 1 if an export disagrees with Keras.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ZOO_DATA_DIR="${ZOO_DATA_DIR:-$here/../../shared/data}"
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
python="${PYTHON:-python}"
[ -x "$here/../.venv/bin/python" ] && [ -z "${PYTHON:-}" ] && python="$here/../.venv/bin/python"
exec "$python" "$here/gpu_smoke.py" "$@"
