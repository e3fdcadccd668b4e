#!/usr/bin/env bash
# The GPU benchmark set of issue 12, in one command, JSON under a folder:
#
#   bash experiments/bench_gpu.sh /path/to/out [extra bench flags]
#
# Runs experiments/bench.py for the five bench models (CIFAR models at batch
# 256: train, search, eval; ResNet-50 at ImageNet shape, batch 128: train,
# search), in bfloat16 (--dtype=float32 among the extra flags overrides it),
# one JSON file per model, each with the device named. Meant to take
# well under 8 minutes on one modern GPU; every bench call is also bounded by
# `timeout` so one stuck model cannot eat the rest. Extra flags (e.g.
# --steps=10 or --reference=torch) are passed to every call.
set -euo pipefail
out="${1:?usage: bash experiments/bench_gpu.sh OUT_DIR [bench flags]}"
shift
mkdir -p "$out"
cd "$(dirname "$0")/.."
python -c 'import jax; print("devices:", jax.devices())'
run() {  # model batch modes
  timeout 150 python -m experiments.bench --models="$1" --batch_sizes="$2" \
    --modes="$3" --steps=20 --warmup=3 --dtype=bfloat16 \
    --output="$out/bench_$1.json" "${@:4}" \
    || echo "bench $1 failed or timed out (rc $?)" >&2
}
start=$SECONDS
run resnet32_jackpot 256 train,search,eval "$@"
run resnet56 256 train,search,eval "$@"
run vgg16_l1 256 train,search,eval "$@"
run vgg19_jackpot 256 train,search,eval "$@"
run resnet50 128 train,search "$@"
echo "bench_gpu.sh: $((SECONDS - start)) s; JSON in $out"
