#!/usr/bin/env bash
# The one-command GPU check. Run on the GPU machine from the repository root, with the bundle made by
# scripts/gpu-bundle.sh beside it (gpu-bundle/llava-gpu-bundle.tar.xz):
#
#   scripts/gpu-check.sh [--out DIR] [--quick-bench] [--allow-no-gpu]
#
# Phases, each under its own timeout so that one hang does not eat the budget (whole run < 8 min):
#   1. the gpu-tagged JUnit tests (CUDA vs CPU for every op, attention, training step, memory, errors)
#   2. compute-sanitizer memcheck over a kernel test subset (when compute-sanitizer exists)
#   3. the kernel benchmark smoke (TFLOP/s and GB/s next to cuBLAS and a device-to-device copy)
# Logs, JUnit XML, bench.json and summary.json go to the out folder (default gpu-check-out/); the
# summary table is printed last. Exit code 0 only when every phase that ran passed.
# --allow-no-gpu runs the phases without requiring a GPU (a dry run of the script itself: GPU tests
# and the benchmark are then skipped, not failed, when there is none).
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/gpu-check-out"
GPU_REQUIRED=true
BENCH_ARGS=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT="$2"; shift 2 ;;
    --quick-bench) BENCH_ARGS+=(--quick); shift ;;
    --allow-no-gpu) GPU_REQUIRED=false; shift ;;
    *) echo "usage: $0 [--out DIR] [--quick-bench] [--allow-no-gpu]" >&2; exit 64 ;;
  esac
done
T_TESTS=${T_TESTS:-270}
T_SANITIZER=${T_SANITIZER:-100}
T_BENCH=${T_BENCH:-120}

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
START=$(date +%s)
log() { echo "[gpu-check] $*" | tee -a "$OUT/gpu-check.log"; }

BUNDLE="$ROOT/gpu-bundle/llava-gpu-bundle.tar.xz"
if [ ! -f "$BUNDLE" ]; then
  log "no bundle at $BUNDLE: run scripts/gpu-bundle.sh on the build machine and bring gpu-bundle/ along"
  exit 2
fi
WORK=$(mktemp -d /tmp/llava-gpu.XXXXXX)
tar -xJf "$BUNDLE" -C "$WORK" || { log "could not unpack $BUNDLE"; exit 2; }
log "bundle: $(tr '\n' ';' < "$WORK/VERSION")"

# ---- CUDA 13 libraries: system toolkit and driver paths, then the pip nvidia-* packages (PyTorch) ----
LIBDIRS=()
add_dir() { [ -d "$1" ] && LIBDIRS+=("$1"); }
for d in /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib; do add_dir "$d"; done
NV_ROOTS=()
if command -v python3 >/dev/null 2>&1; then
  while IFS= read -r p; do [ -n "$p" ] && NV_ROOTS+=("$p"); done < <(python3 - <<'EOF' 2>/dev/null
import importlib.util, os
spec = importlib.util.find_spec("nvidia")
for p in (spec.submodule_search_locations or []) if spec else []:
    print(p)
EOF
)
fi
if [ ${#NV_ROOTS[@]} -eq 0 ]; then # no python (or no nvidia package there): look where pip puts them
  while IFS= read -r p; do NV_ROOTS+=("$p"); done < <(find /opt /usr/local/lib /usr/lib /root/.local -maxdepth 6 -type d \
    -path '*-packages/nvidia' 2>/dev/null | sort -u)
fi
for nv in "${NV_ROOTS[@]}"; do
  while IFS= read -r d; do add_dir "$d"; done < <(find "$nv" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u)
done
LD_LIBRARY_PATH="$(IFS=:; echo "${LIBDIRS[*]}")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
log "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
for lib in libcuda.so.1 libcudart.so.13 libcublas.so.13 libcublasLt.so.13; do
  found=$( (ldconfig -p 2>/dev/null | grep -o "/[^ ]*/$lib" | head -1) || true)
  if [ -z "$found" ]; then
    for d in "${LIBDIRS[@]}"; do [ -e "$d/$lib" ] && { found="$d/$lib"; break; }; done
  fi
  log "  $lib: ${found:-NOT FOUND}"
done

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi 2>&1 | tee "$OUT/nvidia-smi.txt"
else
  log "nvidia-smi not found"
fi

JAVA=("$WORK/jre/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -Xss8m
  -Dorg.bytedeco.javacpp.cachedir="$WORK/javacpp-cache" -Dgpu.required=$GPU_REQUIRED)
CP="$WORK/lib/*:$WORK/test/*"
LAUNCHER=(org.junit.platform.console.ConsoleLauncher execute --disable-banner --disable-ansi-colors --details=tree --fail-if-no-tests)

declare -A STATUS SECONDS_TAKEN DETAIL
run_phase() { # name timeout log -- command...
  local name=$1 limit=$2 logf=$3
  shift 4
  local t0 rc
  t0=$(date +%s)
  log "phase $name (timeout ${limit}s) -> $logf"
  timeout --kill-after=10 "$limit" "$@" > "$OUT/$logf" 2>&1
  rc=$?
  SECONDS_TAKEN[$name]=$(( $(date +%s) - t0 ))
  if [ $rc -eq 0 ]; then STATUS[$name]=PASS
  elif [ $rc -eq 124 ] || [ $rc -eq 137 ]; then STATUS[$name]=TIMEOUT
  else STATUS[$name]="FAIL(rc=$rc)"; fi
  tail -n 25 "$OUT/$logf"
}

# 1. gpu-tagged tests
run_phase tests "$T_TESTS" tests.log -- "${JAVA[@]}" -cp "$CP" "${LAUNCHER[@]}" \
  --select-package llava.cuda --include-tag gpu --reports-dir "$OUT/junit"
DETAIL[tests]=$(grep -E '^\[ *[0-9]+ tests (successful|failed|skipped|aborted) *\]' "$OUT/tests.log" | tr -s ' ' | tr '\n' ' ')

# 2. compute-sanitizer memcheck over a subset of the kernel tests
if command -v compute-sanitizer >/dev/null 2>&1; then
  run_phase sanitizer "$T_SANITIZER" sanitizer.log -- compute-sanitizer --tool memcheck --error-exitcode 9 \
    --target-processes all --print-limit 20 "${JAVA[@]}" -cp "$CP" "${LAUNCHER[@]}" \
    --select-class llava.cuda.SanitizerSubsetTest
  DETAIL[sanitizer]=$(grep -E 'ERROR SUMMARY|tests successful|tests failed' "$OUT/sanitizer.log" | tr -s ' ' | tr '\n' ' ')
else
  STATUS[sanitizer]=SKIPPED
  SECONDS_TAKEN[sanitizer]=0
  DETAIL[sanitizer]="compute-sanitizer not on PATH"
fi

# 3. kernel benchmark smoke
run_phase bench "$T_BENCH" bench.log -- "${JAVA[@]}" -cp "$CP" llava.cuda.KernelBench "${BENCH_ARGS[@]}" --out "$OUT/bench.json"
DETAIL[bench]="results in bench.json"
if [ "$GPU_REQUIRED" = false ] && [ "${STATUS[bench]}" = "FAIL(rc=2)" ]; then # KernelBench: 2 = no usable GPU
  STATUS[bench]=SKIPPED
  DETAIL[bench]="no usable GPU (reason in bench.json)"
fi

TOTAL=$(( $(date +%s) - START ))
{
  echo "{"
  echo "  \"total_seconds\": $TOTAL,"
  echo "  \"bundle\": \"$(tr '\n' ';' < "$WORK/VERSION" | sed 's/"/\\"/g')\","
  echo "  \"phases\": {"
  sep=""
  for p in tests sanitizer bench; do
    printf '%s    "%s": {"status": "%s", "seconds": %s, "detail": "%s"}' "$sep" "$p" "${STATUS[$p]}" "${SECONDS_TAKEN[$p]}" \
      "$(echo "${DETAIL[$p]:-}" | sed 's/\\/\\\\/g; s/"/\\"/g')"
    sep=$',\n'
  done
  echo ""
  echo "  }"
  echo "}"
} > "$OUT/summary.json.tmp" && mv "$OUT/summary.json.tmp" "$OUT/summary.json"

# the benchmark table, then the one summary table, last
sed -n '/^kernel /,$p' "$OUT/bench.log" 2>/dev/null
echo
printf '%-10s %-14s %8s  %s\n' phase status seconds detail | tee -a "$OUT/gpu-check.log"
for p in tests sanitizer bench; do
  printf '%-10s %-14s %8s  %s\n' "$p" "${STATUS[$p]}" "${SECONDS_TAKEN[$p]}" "${DETAIL[$p]:-}" | tee -a "$OUT/gpu-check.log"
done
printf '%-10s %-14s %8s  %s\n' total "" "$TOTAL" "logs in $OUT" | tee -a "$OUT/gpu-check.log"
rm -rf "$WORK"
for p in tests sanitizer bench; do
  case "${STATUS[$p]}" in PASS|SKIPPED) ;; *) exit 1 ;; esac
done
exit 0
