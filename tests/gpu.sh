#!/usr/bin/env bash
# Builds kite with CUDA and runs everything GPU-specific on a GPU machine, in one command
# (see ../shared/GPU-BUILD.md in the project notes):
#   1. unpacks .debs/*.deb (Debian development packages brought with the tree) into a prefix,
#   2. configures and builds (Release, CUDA on, for this machine's GPU architecture),
#   3. runs the GPU tests (ctest -L gpu),
#   4. runs compute-sanitizer --tool memcheck on every GPU test binary,
#   5. runs the GPU benchmarks that exist (bench_ops, bench_gemm, bench_conv, bench_models,
#      bench_fid with --device cuda),
#   6. runs NCCL with one rank per GPU (bench_allreduce, a short train_ae).
# Logs go to the folder given as $1, else $OUT, else gpu-logs/; summary.txt lists each
# step's exit status. Exits non-zero when any step failed.
#
# Environment: KITE_BUILD_DIR (default build-gpu), KITE_DEPS_PREFIX (default .deps under the
# tree; never /), KITE_JOBS (default nproc), KITE_SANITIZER_TIMEOUT seconds per binary
# (default 1800), KITE_CUDA_ARCHITECTURES (default: the GPU's own, from nvidia-smi).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)

log_dir=${1:-${OUT:-gpu-logs}}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)
summary="$log_dir/summary.txt"
: >"$summary"
status=0

# step NAME COMMAND...: runs the command with its output in NAME.log, records the status.
step() {
  local name=$1
  shift
  echo "== $name: $*"
  "$@" >"$log_dir/$name.log" 2>&1
  local rc=$?
  echo "$name: exit $rc" | tee -a "$summary"
  [ $rc -eq 0 ] || status=1
  return $rc
}

# ---- 1. dependencies from .debs/ ----
if compgen -G ".debs/*.deb" >/dev/null; then
  prefix=${KITE_DEPS_PREFIX:-$root/.deps}
  [ "$prefix" != "/" ] || { echo "refusing to unpack into /" >&2; exit 2; }
  mkdir -p "$prefix"
  count=0
  for deb in .debs/*.deb; do
    dpkg -x "$deb" "$prefix"
    count=$((count + 1))
  done
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export CMAKE_INCLUDE_PATH="$prefix/usr/include${CMAKE_INCLUDE_PATH:+:$CMAKE_INCLUDE_PATH}"
  export LD_LIBRARY_PATH="$prefix/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  echo "deps: unpacked $count packages into $prefix" | tee -a "$summary"
fi
export PATH="$PATH:/usr/local/cuda/bin"

# ---- the machine ----
{
  nvidia-smi || echo "nvidia-smi not found"
  nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv
  nvcc --version
  cmake --version
} >"$log_dir/machine.log" 2>&1
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
echo "gpu: ${gpu_name:-none found}" | tee -a "$summary"

# ---- 2. configure and build ----
build=${KITE_BUILD_DIR:-build-gpu}
jobs=${KITE_JOBS:-$(nproc)}
arch=${KITE_CUDA_ARCHITECTURES:-}
if [ -z "$arch" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
  [ -n "$cap" ] && arch="$cap"
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
configure_args=(-S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKITE_CUDA=ON)
[ -n "$arch" ] && configure_args+=("-DKITE_CUDA_ARCHITECTURES=$arch")
step configure cmake "${configure_args[@]}" || { cat "$summary"; exit 1; }
start=$(date +%s)
step build cmake --build "$build" --parallel "$jobs" || { cat "$summary"; exit 1; }
echo "build: $(( $(date +%s) - start )) s with $jobs jobs" | tee -a "$summary"

# ---- 3. GPU tests ----
step ctest_gpu ctest --test-dir "$build" -L gpu --output-on-failure --parallel "$jobs"
grep -E "tests passed|tests failed" "$log_dir/ctest_gpu.log" | tee -a "$summary"

# ---- 4. compute-sanitizer memcheck on each GPU test binary ----
sanitizer=$(command -v compute-sanitizer || true)
if [ -n "$sanitizer" ]; then
  for src in tests/gpu/*.cpp; do
    name=test_$(basename "$src" .cpp)
    binary=$(find "$build" -type f -name "$name" -perm -u+x | head -1)
    [ -n "$binary" ] || { echo "memcheck_$name: binary not found" | tee -a "$summary"; status=1; continue; }
    # No leak check: the caching allocator and the cuBLAS handles are freed by process exit,
    # on purpose (see cuda/caching_allocator.h). API errors are not reported: some tests
    # provoke them on purpose (an out-of-memory allocation, a bad device index).
    step "memcheck_$name" timeout "${KITE_SANITIZER_TIMEOUT:-1800}" "$sanitizer" --tool memcheck \
      --report-api-errors no --error-exitcode 1 "$binary"
  done
else
  echo "memcheck: compute-sanitizer not found" | tee -a "$summary"
  status=1
fi

# ---- 5. GPU benchmarks (those that exist, with --device cuda where they have the flag) ----
for bench in bench_ops bench_gemm bench_conv bench_models bench_fid; do
  binary=$(find "$build" -type f -name "$bench" -perm -u+x | head -1)
  if [ -z "$binary" ]; then
    echo "$bench: not built (no apps/$bench.cpp yet)" | tee -a "$summary"
    continue
  fi
  # Run only when the help text lists cuda among the --device choices.
  if "$binary" --help 2>&1 | grep -- "--device" | grep -q cuda; then
    step "$bench" "$binary" --device cuda
  else
    echo "$bench: no --device cuda yet; not run" | tee -a "$summary"
  fi
done

# ---- 6. NCCL on one rank (NCCL refuses two ranks on one GPU; more GPUs: raise -np) ----
mpiexec=$(command -v mpirun || true)
ngpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
if [ -n "$mpiexec" ] && [ -x "$build/apps/bench_allreduce" ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
  step nccl_allreduce "$mpiexec" --oversubscribe -np "${ngpu:-1}" "$build/apps/bench_allreduce" --device cuda
  step nccl_train_ae "$mpiexec" --oversubscribe -np "${ngpu:-1}" "$build/apps/train_ae" --device cuda \
    --dist nccl --steps 20 --train-limit 2048 --test-limit 512 --out "$log_dir/nccl_train_ae" --overwrite
else
  echo "nccl: mpirun or bench_allreduce missing; not run" | tee -a "$summary"
fi

echo "logs in $log_dir"
cat "$summary"
exit $status
