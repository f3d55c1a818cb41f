#!/bin/sh
# Runs the libFuzzer builds of the fuzz targets (needs clang; Debian's clang
# ships the libFuzzer runtime). Not part of the meson test run: the plain
# drivers cover that. Usage, from the repository root:
#   tests/fuzz/run-libfuzzer.sh [SECONDS_PER_TARGET] [BUILD_DIR]
# Findings are written as crash-* files in BUILD_DIR/fuzz-findings; replay
# one with BUILD_DIR/tests/fuzz/<target> <file> (or the _driver binary of a
# normal build).
set -eu
secs=${1:-60}
bdir=${2:-build-fuzz}
case $secs in *[!0-9]*|'') echo "$0: seconds must be a number, got '$secs'" >&2; exit 2;; esac
if [ ! -f "$bdir/build.ninja" ]; then
  CC=clang meson setup "$bdir" >/dev/null
fi
ninja -C "$bdir" tests/fuzz/fuzz_pkt_parse tests/fuzz/fuzz_reasm
mkdir -p "$bdir/fuzz-findings"
rc=0
for t in fuzz_pkt_parse fuzz_reasm; do
  mkdir -p "$bdir/fuzz-corpus/$t"
  echo "== $t for ${secs}s"
  "$bdir/tests/fuzz/$t" -max_total_time="$secs" -max_len=8192 -print_final_stats=1 \
    -artifact_prefix="$bdir/fuzz-findings/$t-" "$bdir/fuzz-corpus/$t" || rc=1
done
exit $rc
