#!/usr/bin/env bash
# Downloads into .debs/ the Debian packages that tests/gpu.sh unpacks on a GPU machine that
# has CUDA, a compiler, CMake and ninja but none of the development packages kite builds with,
# and no package registry (see ../shared/GPU-BUILD.md in the project notes). Run it here, on
# Debian, once per checkout; then name .debs in the GPU run's carry list.
#
# The list is what `apt-get install --no-install-recommends` of the build's packages adds to a
# bare Debian 12 (debootstrap --variant=minbase) that has g++, cmake and ninja, less what only
# the Fortran bindings, the MPI compiler wrappers' own build tools and ssh need (gfortran,
# autotools, perl, openssh-client). Open MPI's run-time closure is kept whole (hwloc, PMIx,
# libevent, libfabric, UCX, ...): the GPU machine's image may have none of it. With the
# Fashion-MNIST package, about 43 MB (a lease carries 64 MiB with the tree).
set -euo pipefail
cd "$(dirname "$0")/.." || exit 2

packages=(
  # the build's own: GoogleTest, PNG, zlib, JSON, CLI11, JPEG
  googletest libgtest-dev libpng16-16 libpng-dev zlib1g-dev nlohmann-json3-dev libcli11-dev
  libjpeg62-turbo libjpeg62-turbo-dev
  # Fashion-MNIST, so that stage 1 trains on its real data there (30 MB)
  dataset-fashion-mnist
)
# Open MPI (mpirun, mpi.h, libmpi) and what it loads at run time, in .debs/mpi: gpu.sh unpacks
# them only when the machine has no working MPI of its own (a machine's mpirun loading
# Debian's libpmix in its place fails).
mpi_packages=(
  openmpi-bin openmpi-common libopenmpi3 libopenmpi-dev libpmix2 libhwloc15 libhwloc-plugins
  libevent-2.1-7 libevent-core-2.1-7 libevent-extra-2.1-7 libevent-pthreads-2.1-7
  libevent-openssl-2.1-7 libfabric1 libucx0 libibverbs1 ibverbs-providers librdmacm1
  libnl-3-200 libnl-route-3-200 libpsm-infinipath1 libpsm2-2 libnuma1 libmunge2 libltdl7
  libpciaccess0 libxnvctrl0 ocl-icd-libopencl1 libx11-6 libx11-data libxau6 libxcb1 libxdmcp6
  libxext6 libgfortran5 libbsd0 libmd0
)

command -v apt-get >/dev/null || { echo "gpu_debs.sh: needs Debian's apt-get" >&2; exit 2; }
rm -rf .debs
mkdir -p .debs/mpi
# apt-get download works as any user but wants a folder it can write: these.
(cd .debs && apt-get download "${packages[@]}")
(cd .debs/mpi && apt-get download "${mpi_packages[@]}")
count=$(find .debs -name '*.deb' | wc -l)
expected=$((${#packages[@]} + ${#mpi_packages[@]}))
[ "$count" -eq "$expected" ] ||
  { echo "gpu_debs.sh: expected $expected packages, got $count" >&2; exit 1; }
echo "gpu_debs.sh: $count packages, $(du -sh .debs | cut -f1), in $(pwd)/.debs"
