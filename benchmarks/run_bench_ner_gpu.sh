#!/usr/bin/env bash
# bench_ner_gpu.py's second step on a GPU machine that has JAX and PyTorch but neither TensorFlow nor Keras.
# Before, where TensorFlow is installed (repo root):
#   python benchmarks/bench_ner_gpu.py prepare --out .bench/ner_arrays.npz
#   python -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .whl keras==3.15.1 namex optree
# then copy the repo (with .bench/ and .whl/) over and run, from its root:
#   bash benchmarks/run_bench_ner_gpu.sh [bench_ner_gpu.py run options]
set -euo pipefail
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH="${PYTHONPATH:+$PYTHONPATH:}$PWD" KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true
python3 benchmarks/bench_ner_gpu.py run --arrays .bench/ner_arrays.npz --json "${OUT:-.}/bench_ner_gpu.json" "$@"
