#!/usr/bin/env bash
# Set up the workbook on a fresh machine: Python packages, and the test models' inputs.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
# torch first, the tested version, unless one is installed already (a CPU build from
# PyTorch's own index, say: PyPI's Linux build brings the CUDA libraries; README)
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install --quiet "torch==2.13.0"
fi
# the tested versions (constraints.txt); pyproject.toml itself only asks for ranges
"$PY" -m pip install --quiet -e ".[test]" -c constraints.txt
# System programs, as Debian packages (package:program where the names differ):
# Chromium for the browser tests (Playwright must not download a browser), FFmpeg
# for Gradio's streaming audio output (the --stream demo), Node.js for the course
# site's build (jupyter-book). .ci/run runs the tests seeing only these and the base
# system, so a program the tests need must be listed here.
SYSTEM_PROGRAMS=(chromium ffmpeg nodejs:node)
missing=()
for entry in "${SYSTEM_PROGRAMS[@]}"; do
  command -v "${entry#*:}" >/dev/null 2>&1 || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}") >/dev/null
  else
    echo "note: install ${missing[*]} (Debian/Ubuntu: sudo apt-get install ${missing[*]}) for the browser tests and the streaming demo" >&2
  fi
fi
"$PY" -c "import s2st_helpers; print('s2st_helpers', s2st_helpers.__version__, 'installed')"
