#!/bin/sh
# Builds gemm.cu, attention.cu and the self-test as plain C++ on the CPU emulator (ga_emu.h) with
# AddressSanitizer/UBSan, then runs the self-test. No GPU needed. Arguments go to the self-test
# (e.g. --gemm-only, --attention-only). Usage, from the repository root:
#   sh cuda-kernels/test/emulator/run_emulated.sh [--gemm-only|--attention-only]
set -e
ROOT=$(cd "$(dirname "$0")/../../.." && pwd)
OUT=${GA_EMU_BUILD:-/tmp/ga-emu-build}
CUDA=${CUDA_HOME:-/usr/local/cuda}
mkdir -p "$OUT"
FLAGS="-std=c++20 -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -pthread -Wall -Wextra -Wno-unused-parameter -Wno-unknown-pragmas
  -include $ROOT/cuda-kernels/test/emulator/ga_emu.h -I$CUDA/include -I$ROOT/cuda-kernels/include"
for f in cuda-kernels/src/gemm.cu cuda-kernels/src/attention.cu cuda-kernels/test/gemm_attention_selftest.cu \
         cuda-kernels/test/emulator/ga_emu_runtime.cpp; do
  o="$OUT/$(basename "$f").o"
  if [ ! -e "$o" ] || [ "$ROOT/$f" -nt "$o" ] || [ "$ROOT/cuda-kernels/test/emulator/ga_emu.h" -nt "$o" ] ||
     [ "$ROOT/cuda-kernels/src/gemm_attention_common.cuh" -nt "$o" ]; then
    g++ $FLAGS -x c++ -c "$ROOT/$f" -o "$o"
  fi
done
g++ -fsanitize=address,undefined -pthread "$OUT"/*.o -o "$OUT/ga_selftest_emu"
exec "$OUT/ga_selftest_emu" "$@"
