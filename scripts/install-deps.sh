#!/usr/bin/env bash
# install-deps.sh — installs the Debian 12 packages strata needs, only those missing.
# Idempotent and quick when everything is present. Needs root (or sudo) to install.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config
  openmpi-bin libopenmpi-dev
  libblis-openmp-dev
  libhdf5-openmpi-dev
  libcjson-dev
  zlib1g-dev                                 # gzip'ed IDX files
  libcmocka-dev
  python3-torch python3-h5py python3-numpy   # fixture generation and interop tests only
  dataset-fashion-mnist                      # the default dataset
  slurm-wlm slurm-client munge               # slurm/cluster.sh: a local Slurm cluster for tests
  libsndfile1-dev libsamplerate0-dev libfftw3-dev  # audio conversion (issue 15)
  python3-scipy                              # the audio feature fixture only
  espeak-ng sox                              # scripts/make_spoken_digits.sh (issue 15's demo speech)
  libprotobuf-c-dev protobuf-c-compiler libonnx-dev  # strata export --format onnx (issue 16)
  python3-onnx python3-opencv                # tests/test_export.sh: onnx.checker and OpenCV dnn
  chromium                                   # tests/test_report_browser.sh: the HTML report in a headless browser
)

missing=()
for p in "${PACKAGES[@]}"; do
  [ "$p" = "#" ] && continue
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} Debian packages are present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
