#!/bin/sh
# Regenerates the figures of docs/scenarios.md: runs every scenario test
# with --write-doc (a failed threshold is written into its section too).
#   tests/scenarios/update_doc.sh BUILD_DIR
set -eu
build=${1:?usage: update_doc.sh BUILD_DIR}
src=$(cd "$(dirname "$0")/../.." && pwd)
bin="$build/dataplane/backstop"
corpus="$src/../shared/corpus"
work="$build/tests/scenarios/doc"
doc="$src/docs/scenarios.md"
rc=0
for env in normal swapped; do
	/usr/bin/python3 "$src/tests/scenarios/recognition.py" "$bin" "$corpus" "$work" \
		--envelope "$env" --write-doc "$doc" >"$work.recognition-$env.log" 2>&1 || rc=1
done
for sc in matched unmatched active relay-legit relay-forged; do
	/usr/bin/python3 "$src/tests/scenarios/backscatter.py" "$bin" "$corpus" "$work" \
		--scenario "$sc" --write-doc "$doc" >"$work.backscatter-$sc.log" 2>&1 || rc=1
done
/usr/bin/python3 "$src/tests/scenarios/backscatter.py" "$bin" "$corpus" "$work" --scenario matched \
	--eal "--lcores 0@0,1@0,2@1" --min-workers 2 --write-doc "$doc" >"$work.backscatter-matched-2w.log" 2>&1 || rc=1
[ $rc = 0 ] || echo "some scenario failed: see $work.*.log" >&2
exit $rc
