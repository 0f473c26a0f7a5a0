#!/bin/sh
# Builds and runs the GEMM/attention self-test on a GPU machine (about 1 minute of build on 16
# cores, then well under a minute of tests). From the repository root:
#   sh cuda-kernels/test/run_selftest.sh            # correctness of every path vs a host F64 reference
#   sh cuda-kernels/test/run_selftest.sh --bench    # plus GEMM/attention timings
# ARCH defaults to the first GPU's compute capability (e.g. 90 on an H100).
set -e
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
CUDA=${CUDA_HOME:-/usr/local/cuda}
NVCC=${NVCC:-$CUDA/bin/nvcc}
OUT=${GA_SELFTEST_BUILD:-/tmp/ga-selftest-build}
if [ -z "$ARCH" ]; then
  ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '.')
  [ -n "$ARCH" ] || ARCH=90
fi
mkdir -p "$OUT"
FLAGS="-std=c++17 -O3 -gencode arch=compute_$ARCH,code=sm_$ARCH -Xcompiler=-Wall,-Wextra -I$ROOT/cuda-kernels/include"
pids=""
for f in src/gemm.cu src/attention.cu test/gemm_attention_selftest.cu; do
  "$NVCC" $FLAGS -c "$ROOT/cuda-kernels/$f" -o "$OUT/$(basename "$f").o" &
  pids="$pids $!"
done
for p in $pids; do wait "$p"; done
"$NVCC" -gencode arch=compute_$ARCH,code=sm_$ARCH "$OUT"/*.o -o "$OUT/ga_selftest"
exec "$OUT/ga_selftest" "$@"
