#!/usr/bin/env bash
# Builds kite with CUDA and runs everything GPU-specific on a GPU machine, in one command
# (see ../shared/GPU-BUILD.md in the project notes):
#   1. unpacks .debs/*.deb (the Debian packages tests/gpu_debs.sh downloads) into a prefix,
#   2. configures and builds what the steps below run (Release, CUDA on, this GPU's
#      architecture only),
#   3. runs the GPU tests (each GPU test binary; ctest -L gpu with KITE_GPU_CTEST=1),
#   4. runs the GPU benchmarks (bench_ops, bench_gemm, bench_op_overhead, bench_conv with
#      PyTorch beside it when the machine's python3 has a CUDA torch, bench_models),
#   5. runs NCCL (bench_allreduce: one rank without mpirun, then under mpirun with one rank per
#      GPU) and stage 1 of the model on the GPU (train_ae, one epoch of Fashion-MNIST when the
#      dataset package was brought, else synthetic shapes),
#   6. runs compute-sanitizer --tool memcheck on every GPU test binary, and --tool racecheck
#      on the parity table, in the time left.
# The whole run keeps to a time budget (KITE_GPU_BUDGET_S, default 540 s, for a lease of
# 10-minute commands): every step gets at most its own cap and what is left of the budget, so
# the script ends, with its logs, before the lease's limit kills it. The steps are in order of
# what is worth most if time runs out.
#
# Logs go to the folder given as $1, else $OUT, else gpu-logs/ (one NAME.log per step, flat, so
# that a lease's two-folder limit on returned files is kept); summary.txt lists each step's exit
# status and the figures. Exits non-zero when any step failed.
#
# Environment: KITE_BUILD_DIR (default build-gpu), KITE_DEPS_PREFIX (default deps/ in the build
# folder; never /), KITE_JOBS (default nproc), KITE_GPU_BUDGET_S (default 540),
# KITE_CUDA_ARCHITECTURES (default: the GPU's own, from nvidia-smi), KITE_GPU_MPI (auto: use
# MPI when the system or the packages have it; off: build without MPI), KITE_GPU_CTEST (1: run
# the GPU tests through ctest -L gpu rather than each binary once).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2
root=$(pwd)
started=$(date +%s)
budget=${KITE_GPU_BUDGET_S:-540}
deadline=$((started + budget))

log_dir=${1:-${OUT:-gpu-logs}}
mkdir -p "$log_dir"
log_dir=$(cd "$log_dir" && pwd)
summary="$log_dir/summary.txt"
: >"$summary"
status=0

note() { echo "$*" | tee -a "$summary"; }

# step NAME CAP COMMAND...: runs the command with its output in NAME.log, stopped after CAP
# seconds or at the budget's end, whichever is first; records the exit status (124: timed out).
step() {
  local name=$1 cap=$2
  shift 2
  local left=$((deadline - $(date +%s)))
  if [ "$left" -lt 10 ]; then
    note "$name: not run (time budget spent)"
    status=1
    return 1
  fi
  [ "$cap" -le "$left" ] || cap=$left
  echo "== $name (at most ${cap} s): $*"
  local t0
  t0=$(date +%s)
  timeout --kill-after=10 "$cap" "$@" >"$log_dir/$name.log" 2>&1
  local rc=$?
  note "$name: exit $rc ($(($(date +%s) - t0)) s)"
  [ $rc -eq 0 ] || status=1
  return $rc
}

# ---- the machine ----
{
  nvidia-smi || echo "nvidia-smi not found"
  nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv
  command -v nvcc || echo "nvcc not on PATH"
  /usr/local/cuda/bin/nvcc --version
  cmake --version
  command -v ninja g++ python3 compute-sanitizer mpirun
  grep PRETTY_NAME /etc/os-release
  nproc
} >"$log_dir/machine.log" 2>&1
export PATH="$PATH:/usr/local/cuda/bin"
gpu_name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
ngpu=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | wc -l)
note "gpu: ${gpu_name:-none found} (${ngpu} visible)"

# ---- 1. dependencies from .debs/ (unpacked inside the build folder: no new top-level folder) ----
build=${KITE_BUILD_DIR:-build-gpu}
case "$build" in /*) build_path=$build ;; *) build_path=$root/$build ;; esac
prefix=${KITE_DEPS_PREFIX:-$build_path/deps}
configure_extra=()

# unpack_debs DIR: unpacks DIR/*.deb into the prefix; prints how many.
unpack_debs() {
  local count=0 deb member
  for deb in "$1"/*.deb; do
    if command -v dpkg >/dev/null; then
      dpkg -x "$deb" "$prefix"
    else  # a .deb is an ar archive whose data.tar.xz (or .gz, .zst) holds the files
      member=$(ar t "$deb" | grep '^data\.tar')
      case "$member" in
        *.xz) ar p "$deb" "$member" | xz -dc | tar -x -C "$prefix" -f - ;;
        *.gz) ar p "$deb" "$member" | gzip -dc | tar -x -C "$prefix" -f - ;;
        *.zst) ar p "$deb" "$member" | zstd -dc | tar -x -C "$prefix" -f - ;;
        *) echo "$deb: no data.tar member" >&2; exit 2 ;;
      esac
    fi
    count=$((count + 1))
  done
  echo "$count"
}

# MPI: the machine's own when its mpirun runs (asked before the packages' libraries are on the
# library path: Debian's libpmix in front of the machine's breaks the machine's mpirun), else
# Open MPI from .debs/mpi.
mpirun_bin=$(command -v mpirun || true)
if [ -n "$mpirun_bin" ] && ! "$mpirun_bin" --version >"$log_dir/mpirun_version.log" 2>&1; then
  note "mpi: the machine's $mpirun_bin does not run (mpirun_version.log)"
  mpirun_bin=""
fi

if compgen -G ".debs/*.deb" >/dev/null; then
  [ "$prefix" != "/" ] || { echo "refusing to unpack into /" >&2; exit 2; }
  mkdir -p "$prefix"
  count=$(unpack_debs .debs) || exit 2
  if [ -z "$mpirun_bin" ] && [ "${KITE_GPU_MPI:-auto}" != off ] &&
    compgen -G ".debs/mpi/*.deb" >/dev/null; then
    mpi_count=$(unpack_debs .debs/mpi) || exit 2
    count=$((count + mpi_count))
  fi
  lib="$prefix/usr/lib/x86_64-linux-gnu"
  export CMAKE_PREFIX_PATH="$prefix/usr${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
  export CMAKE_INCLUDE_PATH="$prefix/usr/include${CMAKE_INCLUDE_PATH:+:$CMAKE_INCLUDE_PATH}"
  # Debian's multiarch headers (jconfig.h, ...): the system compiler searches
  # /usr/include/x86_64-linux-gnu by itself, not its twin under the prefix.
  export CPATH="$prefix/usr/include/x86_64-linux-gnu${CPATH:+:$CPATH}"
  # Some packages (libnl) still put their libraries under /lib.
  export LD_LIBRARY_PATH="$lib:$prefix/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  note "deps: unpacked $count packages into $prefix"
fi

# Open MPI from the packages: dpkg -x skips the maintainer scripts, so there is no `mpirun`
# link (only mpirun.openmpi), and Open MPI must be told where it now lives (OPAL_PREFIX) to
# find its plugins and help files. One node: shared memory between ranks, and none of the
# network transports whose libraries the maintainer scripts would have linked.
if [ "${KITE_GPU_MPI:-auto}" = off ]; then
  configure_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON)
  mpirun_bin=""
elif [ -z "$mpirun_bin" ] && [ -x "$prefix/usr/bin/mpirun.openmpi" ]; then
  export OPAL_PREFIX="$prefix/usr"
  export PATH="$prefix/usr/bin:$PATH"
  export OMPI_MCA_btl=self,vader OMPI_MCA_pml=ob1 OMPI_MCA_mtl=^ofi,psm,psm2
  export PMIX_MCA_pcompress_base_silence_warning=1
  mpirun_bin="$prefix/usr/bin/mpirun.openmpi"
  if "$mpirun_bin" --version >"$log_dir/mpirun_version.log" 2>&1; then
    configure_extra+=(-DMPI_CXX_COMPILER="$prefix/usr/bin/mpicxx.openmpi"
      -DMPIEXEC_EXECUTABLE="$mpirun_bin")
  else
    # Debian 12's libevent wants glibc 2.36: an older system cannot load this Open MPI, and
    # linking against it would fail every binary. NCCL with one rank needs no MPI.
    note "mpi: the packages' mpirun does not run here (mpirun_version.log); building without MPI"
    configure_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON)
    mpirun_bin=""
  fi
elif [ -z "$mpirun_bin" ]; then
  configure_extra+=(-DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON)
fi
# Root, and no ssh: Open MPI's launcher wants an rsh agent to exist even for local ranks.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_plm_rsh_agent=false
note "mpi: ${mpirun_bin:-none}"

# NCCL: the CUDA toolkit's or the system's, else the one in the machine's Python (the nvidia-nccl wheel).
if [ ! -e /usr/local/cuda/include/nccl.h ] && [ ! -e /usr/include/nccl.h ] &&
  command -v python3 >/dev/null; then
  nccl_root=$(python3 -c 'import nvidia.nccl, os; print(os.path.dirname(nvidia.nccl.__file__))' \
    2>/dev/null || python3 -c 'import nvidia.nccl; print(list(nvidia.nccl.__path__)[0])' 2>/dev/null)
  if [ -n "$nccl_root" ] && [ -e "$nccl_root/include/nccl.h" ]; then
    configure_extra+=(-DKITE_NCCL_ROOT="$nccl_root")
    export LD_LIBRARY_PATH="$nccl_root/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
fi

# Fashion-MNIST, when the dataset's package was brought.
fmnist="$prefix/usr/share/datasets/fashion-mnist"
[ -e /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] &&
  fmnist=/usr/share/datasets/fashion-mnist

# ---- 2. configure and build ----
jobs=${KITE_JOBS:-$(nproc)}
arch=${KITE_CUDA_ARCHITECTURES:-}
if [ -z "$arch" ]; then
  cap=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -1 | tr -d '. ')
  [ -n "$cap" ] && arch="$cap"
fi
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
configure_args=(-S . -B "$build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release -DKITE_CUDA=ON
  "${configure_extra[@]}")
[ -n "$arch" ] && configure_args+=("-DKITE_CUDA_ARCHITECTURES=$arch")
step configure 180 cmake "${configure_args[@]}" || { cat "$summary"; exit 1; }
grep -E "kite: (CUDA|NCCL|MPI)" "$log_dir/configure.log" | tee -a "$summary"

gpu_tests=()
for src in tests/gpu/*.cpp; do gpu_tests+=("test_$(basename "$src" .cpp)"); done
targets=("${gpu_tests[@]}" bench_ops bench_gemm bench_op_overhead bench_conv bench_models
  bench_allreduce train_ae)
step build 420 cmake --build "$build" --parallel "$jobs" --target "${targets[@]}" ||
  { cat "$summary"; exit 1; }
# Which libraries the binaries load, for when one will not start.
ldd "$build/apps/train_ae" >"$log_dir/ldd.log" 2>&1

# ---- 3. GPU tests ----
# Each test binary once, in one process each: ctest runs every parity row in its own process,
# and a CUDA context per row costs a lease more than a minute. KITE_GPU_CTEST=1: ctest -L gpu.
gpu_test_binaries() {
  local name
  for name in "${gpu_tests[@]}"; do
    if [ -x "$build/tests/$name" ]; then
      echo "$build/tests/$name"
    else
      find "$build" -type f -name "$name" -perm -u+x | head -1
    fi
  done
}
mapfile -t gpu_test_paths < <(gpu_test_binaries)
if [ "${KITE_GPU_CTEST:-0}" = 1 ]; then
  step ctest_gpu 240 ctest --test-dir "$build" -L gpu --output-on-failure --parallel "$jobs"
  grep -E "tests passed|tests failed" "$log_dir/ctest_gpu.log" | tee -a "$summary"
else
  step gpu_tests 240 bash -c 'rc=0; for b in "$@"; do echo "## $b"; "$b" || rc=1; done; exit $rc' \
    _ "${gpu_test_paths[@]}"
  grep -E "^## |PASSED|FAILED|SKIPPED \[" "$log_dir/gpu_tests.log" | tee -a "$summary"
fi

# ---- 4. GPU benchmarks ----
step bench_ops 60 "$build/apps/bench_ops" --device cuda &&
  grep "^targets" "$log_dir/bench_ops.log" | tee -a "$summary"
step bench_gemm 120 "$build/apps/bench_gemm" --device cuda &&
  grep "^target" "$log_dir/bench_gemm.log" | tee -a "$summary"
# The ops' host time per call (what bench_gemm's launch-bound 256^3 rows add to cuBLAS's).
step bench_op_overhead 30 "$build/apps/bench_op_overhead" --device cuda &&
  grep -E "^\| (matmul|add|cudaGetDevice alone) \|" "$log_dir/bench_op_overhead.log" |
  tee -a "$summary"
step bench_conv 60 "$build/apps/bench_conv" --device cuda &&
  grep "AE conv stack" "$log_dir/bench_conv.log" | tee -a "$summary"
have_torch_cuda=0
python3 -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null &&
  have_torch_cuda=1
if [ "$have_torch_cuda" = 1 ]; then
  step compare_pytorch_conv 150 python3 apps/bench/compare_pytorch.py --device cuda \
    --bench "$build/apps/bench_conv" &&
    grep -E "AE conv stack|worst" "$log_dir/compare_pytorch_conv.log" | tee -a "$summary"
else
  note "compare_pytorch_conv: no python3 with a CUDA torch; not run"
fi
# bench_models times a training step of each stage; compare_models.py runs it beside the same
# steps in PyTorch.
if [ "$have_torch_cuda" = 1 ]; then
  step compare_models 120 python3 apps/bench/compare_models.py --device cuda \
    --bench "$build/apps/bench_models" --steps 20 &&
    grep -iE "ratio|kite/PyTorch" "$log_dir/compare_models.log" | tee -a "$summary"
else
  step bench_models 90 "$build/apps/bench_models" --device cuda
fi

# ---- 5. NCCL, and stage 1 on the GPU ----
# Without mpirun, --dist nccl is NCCL with one rank (no MPI needed); with several GPUs and an
# mpirun, one rank per GPU (NCCL refuses two ranks on one GPU).
step nccl_allreduce 60 "$build/apps/bench_allreduce" --device cuda --dist nccl
if [ -n "$mpirun_bin" ]; then
  # Under mpirun the NCCL id goes over MPI: -np 1 on one GPU, one rank per GPU on several.
  step "nccl_allreduce_mpirun" 90 "$mpirun_bin" --oversubscribe -np "$ngpu" \
    "$build/apps/bench_allreduce" --device cuda --dist nccl
fi
if [ -e "$fmnist/train-images-idx3-ubyte.gz" ]; then
  data_flags=(--data "$fmnist" --epochs 1)
else
  data_flags=(--dataset shapes --image-size 32 --train-limit 4096 --test-limit 512 --steps 100)
fi
step train_ae 150 "$build/apps/train_ae" --device cuda "${data_flags[@]}" \
  --lr 1e-3 --lr-schedule cosine --learn-gamma --out "$log_dir/train_ae" --overwrite
{ grep "step/s" "$log_dir/train_ae.log" | tail -1; grep "train_ae: done" "$log_dir/train_ae.log"; } |
  tee -a "$summary"
# The same binary data-parallel under mpirun with NCCL (one rank per GPU), a short run.
if [ -n "$mpirun_bin" ]; then
  step train_ae_mpirun_nccl 90 "$mpirun_bin" --oversubscribe -np "$ngpu" \
    "$build/apps/train_ae" --device cuda --dist nccl --dataset shapes --image-size 32 \
    --train-limit 4096 --test-limit 512 --steps 100 --out "$log_dir/train_ae_nccl" --overwrite
  grep "train_ae: done" "$log_dir/train_ae_mpirun_nccl.log" | tee -a "$summary"
fi
# Only the small files come back from a lease: drop the checkpoints.
rm -f "$log_dir"/train_ae/*.safetensors "$log_dir"/train_ae_nccl/*.safetensors

# ---- 6. compute-sanitizer on the GPU test binaries, in the time left ----
sanitizer=$(command -v compute-sanitizer || true)
if [ -n "$sanitizer" ]; then
  remaining=${#gpu_test_paths[@]}
  for binary in "${gpu_test_paths[@]}"; do
    name=$(basename "$binary")
    left=$((deadline - $(date +%s)))
    # No leak check: the caching allocator and the cuBLAS handles are freed by process exit,
    # on purpose (see cuda/caching_allocator.h). API errors are not reported: some tests
    # provoke them on purpose (an out-of-memory allocation, a bad device index).
    # (remaining + 1: a share of the time is kept for racecheck below.)
    step "memcheck_$name" $((left / (remaining + 1))) "$sanitizer" --tool memcheck \
      --report-api-errors no --error-exitcode 1 "$binary"
    remaining=$((remaining - 1))
  done
  # racecheck: shared-memory hazards in the kernels that use it (block reductions, the LU
  # kernel), all of which the parity table runs.
  for binary in "${gpu_test_paths[@]}"; do
    [ "$(basename "$binary")" = test_cuda_parity ] || continue
    step racecheck_test_cuda_parity $((deadline - $(date +%s))) "$sanitizer" --tool racecheck \
      --error-exitcode 1 "$binary"
  done
else
  note "memcheck: compute-sanitizer not found"
  status=1
fi

note "total: $(($(date +%s) - started)) s of a ${budget} s budget"
echo "logs in $log_dir"
cat "$summary"
exit $status
