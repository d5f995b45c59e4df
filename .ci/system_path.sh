#!/usr/bin/env bash
# Print a PATH on which the tests see the base system (Debian's Essential packages),
# the Python environment, and the system programs setup.sh installs - nothing else.
# A test that passes only because a program was installed by hand fails under it.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(mktemp -d "${TMPDIR:-/tmp}/s2st-ci-path.XXXXXX")
link() { [ -e "$bin/$(basename "$1")" ] || ln -s "$1" "$bin/$(basename "$1")"; }
# the base system: every program of an Essential package (sh, grep, sed, ...)
for package in $(dpkg-query -W -f='${Package} ${Essential}\n' | awk '$2 == "yes" {print $1}'); do
  for file in $(dpkg -L "$package" 2>/dev/null | grep -E '^(/usr)?/s?bin/[^/]+$'); do
    [ -x "$file" ] && [ ! -d "$file" ] && link "$file"
  done
done
# the system programs setup.sh declares (package:program where the names differ),
# with their package's other programs (ffprobe, npm ...)
declaration=$(grep -E '^SYSTEM_PROGRAMS=\(' setup.sh) || { echo "setup.sh declares no SYSTEM_PROGRAMS" >&2; exit 1; }
eval "$declaration"
for entry in "${SYSTEM_PROGRAMS[@]}"; do
  program=${entry#*:}
  found=$(command -v "$program") || { echo "setup.sh did not install $program" >&2; exit 1; }
  package=$(dpkg -S "$(readlink -f "$found")" 2>/dev/null | cut -d: -f1 | head -n 1) || true
  for file in $( { [ -n "$package" ] && dpkg -L "$package"; } | grep -E '^(/usr)?/s?bin/[^/]+$'); do
    link "$file"
  done
  link "$found"
done
# the Python environment (pip's console scripts: jupyter, pytest ...)
python_bin=$(dirname "$(python3 -c 'import sys; print(sys.executable)')")
scripts=$(python3 -c "import sysconfig; print(sysconfig.get_path('scripts'))")
echo "$bin:$scripts:$python_bin" | tr -s ':'
