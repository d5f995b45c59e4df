#!/usr/bin/env bash
# Set up the workbook on a fresh machine: Python packages, and the test models' inputs.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3}
# torch first and pinned: an unpinned torch on Linux pulls a 5 GB CUDA build
if ! "$PY" -c "import torch" 2>/dev/null; then
  "$PY" -m pip install --quiet "torch==2.13.0"
fi
"$PY" -m pip install --quiet -e ".[test]"
"$PY" -c "import s2st_helpers; print('s2st_helpers', s2st_helpers.__version__, 'installed')"
