#!/usr/bin/env bash
# Builds gpu-bundle/llava-gpu-bundle.tar.xz: everything scripts/gpu-check.sh needs on a GPU machine
# that has no Maven and no network: a jlink'd JRE, our jars (with libllavakernels.so and the JNI glue
# inside jni-bridge's jar), the test jars, the runtime dependencies and the JUnit console launcher.
# Run on the build machine (nvcc needed: without it the jar carries no CUDA natives).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUTDIR="$ROOT/gpu-bundle"
STAGE="$OUTDIR/stage"
BUNDLE="$OUTDIR/llava-gpu-bundle.tar.xz"
MAX_BYTES=$((30 * 1024 * 1024))
CONSOLE="org.junit.platform:junit-platform-console-standalone:1.14.1" # the platform of junit-bom 5.14.1

log() { echo "[gpu-bundle] $*"; }

if [ ! -x /usr/local/cuda/bin/nvcc ] && { [ -z "${CUDA_HOME:-}" ] || [ ! -x "$CUDA_HOME/bin/nvcc" ]; }; then
  echo "[gpu-bundle] no nvcc (/usr/local/cuda/bin or \$CUDA_HOME/bin): the bundle would have no CUDA backend" >&2
  exit 1
fi

# The JRE: Temurin 25 when present (its image needs only glibc 2.17), else the JDK running Maven.
JDK="${BUNDLE_JDK:-}"
if [ -z "$JDK" ]; then
  for j in /usr/lib/jvm/temurin-25-jdk-amd64 "${JAVA_HOME:-}" /usr/lib/jvm/java-17-openjdk-amd64; do
    if [ -n "$j" ] && [ -x "$j/bin/jlink" ]; then JDK=$j; break; fi
  done
fi
[ -n "$JDK" ] || { echo "[gpu-bundle] no JDK with jlink found (set BUNDLE_JDK)" >&2; exit 1; }

MODULES="core-java,jni-bridge"
[ -d models ] && MODULES="$MODULES,models"
rm -rf "$STAGE"
mkdir -p "$STAGE/lib" "$STAGE/test"
log "building $MODULES and copying their runtime dependencies (OpenBLAS left out: no code path of the GPU check uses it)"
mvn -B -q package -DskipTests -pl "$MODULES" -am dependency:copy-dependencies -DincludeScope=runtime \
  -DexcludeGroupIds=llava -DexcludeArtifactIds=openblas -DoutputDirectory="$STAGE/lib"
for m in ${MODULES//,/ }; do
  cp "$m"/target/"$m"-*-SNAPSHOT.jar "$STAGE/lib/" 2>/dev/null || true
  rm -f "$STAGE/lib/$m"-*-tests.jar
  [ -f "$m/target/$m-0.1.0-SNAPSHOT-tests.jar" ] && cp "$m/target/$m-0.1.0-SNAPSHOT-tests.jar" "$STAGE/test/"
done
LISTING=$(unzip -l "$STAGE/lib/jni-bridge-0.1.0-SNAPSHOT.jar")
if ! grep -q 'libjniLlavaKernels.so' <<<"$LISTING"; then
  echo "[gpu-bundle] jni-bridge jar has no libjniLlavaKernels.so: the native build did not run" >&2
  exit 1
fi

mvn -B -q dependency:copy -Dartifact="$CONSOLE" -DoutputDirectory="$STAGE/test"

log "jlink from $JDK"
JLINK_STRIP="--strip-debug"
"$JDK/bin/java" -version 2>&1 | grep -q '"1[0-9]\.' || JLINK_STRIP="--strip-java-debug-attributes"
"$JDK/bin/jlink" --add-modules java.base,java.logging,java.management,java.naming,java.xml,jdk.unsupported,jdk.zipfs,jdk.incubator.vector \
  $JLINK_STRIP --no-header-files --no-man-pages --output "$STAGE/jre"

{
  echo "commit $(git rev-parse HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with $("$JDK/bin/java" -version 2>&1 | head -1)"
  echo "nvcc $( (/usr/local/cuda/bin/nvcc --version 2>/dev/null || "$CUDA_HOME/bin/nvcc" --version) | tail -1)"
} > "$STAGE/VERSION"

# Jars are zip files: stored uncompressed, xz compresses them (and the kernels' fat binaries in
# jni-bridge's jar) far better than their own deflate does.
log "repacking jars uncompressed"
for j in "$STAGE"/lib/*.jar "$STAGE"/test/*.jar; do
  d=$(mktemp -d)
  (cd "$d" && "$JDK/bin/jar" -x -f "$j")
  rm "$j"
  "$JDK/bin/jar" -c -0 -M -f "$j" -C "$d" .
  rm -rf "$d"
done

log "compressing"
TMP="$BUNDLE.tmp"
tar -C "$STAGE" -cf - . | xz -9 -T0 > "$TMP"
mv "$TMP" "$BUNDLE"
rm -rf "$STAGE"
SIZE=$(stat -c %s "$BUNDLE")
log "$BUNDLE: $SIZE bytes ($((SIZE / 1024 / 1024)) MiB)"
if [ "$SIZE" -gt "$MAX_BYTES" ]; then
  echo "[gpu-bundle] bundle is larger than 30 MiB" >&2
  exit 1
fi
