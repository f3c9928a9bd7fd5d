#!/usr/bin/env bash
# Installs the Debian packages kite needs, only those that are missing.
# Used by apps/quickstart.sh and tests/run.sh; safe to run again.
set -euo pipefail

packages=(cmake ninja-build g++ pkg-config libpng-dev zlib1g-dev libgtest-dev libopenmpi-dev openmpi-bin
          nlohmann-json3-dev libcli11-dev libjpeg62-turbo-dev dataset-fashion-mnist)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

echo "install_deps: installing ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install_deps: need root or sudo to install ${missing[*]}" >&2; exit 1; }
  sudo=sudo
fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
