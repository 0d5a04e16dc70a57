#!/usr/bin/env bash
# ci/deps.sh: installs what clattn needs on Debian 12 when it is missing (apt-get only then, as
# root). Sourced by ci/test.sh and ci/demo.sh; safe to run again.
set -euo pipefail
# oclgrind: the simulated GPU the oclgrind-labelled tests run the GPU-flavour kernels on.
# python3-venv and python3-dev: the Python package (ci/python.sh, `pip install ./python`).
# libopenmpi-dev and openmpi-bin: the optional MPI component (ring attention, clattn_mpi) and its
# tests (ctest -L mpi, under mpirun with up to 4 ranks on this machine).
CLATTN_PACKAGES=(pocl-opencl-icd ocl-icd-opencl-dev opencl-headers libclblast-dev cmake clinfo
                 gcc make python3-numpy python3-matplotlib clang oclgrind python3-venv
                 python3-dev libopenmpi-dev openmpi-bin)
missing=()
for p in "${CLATTN_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "ci/deps.sh: installing ${missing[*]}"
  if [ "$(id -u)" != 0 ]; then
    echo "ci/deps.sh: missing packages and not root: install them with apt-get" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
