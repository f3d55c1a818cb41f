#!/bin/sh
# Builds Backstop and runs the whole test suite; the last line is
# "N passed, N failed, N skipped" from meson's testlog.json.
set -u
cd "$(dirname "$0")/.."
./scripts/install-deps.sh || exit 1
if [ -f build/build.ninja ]; then meson setup --reconfigure build >/dev/null || exit 1
else meson setup build >/dev/null || exit 1; fi
ninja -C build || exit 1
meson test -C build --print-errorlogs --num-processes 2 --timeout-multiplier "${BS_TIMEOUT_MULT:-3}"
rc=$?
/usr/bin/python3 scripts/testlog_summary.py build/meson-logs/testlog.json || rc=1
exit $rc
