#!/usr/bin/env bash
# Builds pgqfs with warnings as errors and ASan+UBSan, runs every test
# (unit tests, and end-to-end tests against a scratch PostgreSQL cluster and
# real FUSE mounts), then builds the libFuzzer harnesses with clang in their
# own build directory and runs each for FUZZ_SECONDS (default 20; 0 = not at
# all), and ends with the line "N passed, N failed".
#
#   contrib/test.sh                 # all tests
#   contrib/test.sh corpus submit   # only these tests
#   contrib/test.sh fuzz_split      # only this fuzzer (tests/fuzz/run.sh)
set -uo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh
pgqfs_deps "${PGQFS_FUZZ_DEPS[@]}" || { echo "cannot install the build dependencies" >&2; exit 1; }

build=${BUILD_DIR:-build-test}
if [ ! -f "$build/build.ninja" ]; then
	meson setup "$build" --werror -Db_sanitize=address,undefined -Db_lundef=false \
		>"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
fi
meson compile -C "$build" >"$build.compile.log" 2>&1 || { cat "$build.compile.log"; exit 1; }
# The valgrind test needs a build without sanitizers.
plain=${PLAIN_BUILD_DIR:-build-plain}
if [ ! -f "$plain/build.ninja" ]; then
	meson setup "$plain" --werror >"$plain.setup.log" 2>&1 || { cat "$plain.setup.log"; exit 1; }
fi
meson compile -C "$plain" pgqfs >"$plain.compile.log" 2>&1 || { cat "$plain.compile.log"; exit 1; }
export PGQFS_PLAIN=$PWD/$plain/pgqfs

# A sanitizer report fails the test that triggered it.
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0
# Fuzzers run from their own build (tests/fuzz/run.sh); other names here.
tests=() fuzzers=()
for t in "$@"; do
	case $t in
	fuzz_*) fuzzers+=("$t") ;;
	*) tests+=("$t") ;;
	esac
done
status=0 ok=0 skipped=0 total=0
count() {	# adds up the results of a meson testlog.json
	local log=$1/meson-logs/testlog.json n
	n=$(grep -cE '"result": "(OK|EXPECTEDFAIL)"' "$log" 2>/dev/null)
	ok=$(( ok + ${n:-0} ))
	n=$(grep -c '"result": "SKIP"' "$log" 2>/dev/null)
	skipped=$(( skipped + ${n:-0} ))
	n=$(grep -c '"result": ' "$log" 2>/dev/null)
	total=$(( total + ${n:-0} ))
}
if [ $# -eq 0 ] || [ ${#tests[@]} -gt 0 ]; then
	meson test -C "$build" --print-errorlogs --num-processes 2 "${tests[@]}" ||
		status=1
	count "$build"
fi
fuzz_seconds=${FUZZ_SECONDS:-20}
if [ "$fuzz_seconds" -gt 0 ] && { [ $# -eq 0 ] || [ ${#fuzzers[@]} -gt 0 ]; }; then
	fuzz_build=${FUZZ_BUILD_DIR:-build-fuzz}
	rm -f "$fuzz_build/meson-logs/testlog.json"
	FUZZ_BUILD_DIR=$fuzz_build tests/fuzz/run.sh "$fuzz_seconds" \
		"${fuzzers[@]}" || status=1
	# A harness that does not build counts as one failure.
	[ -f "$fuzz_build/meson-logs/testlog.json" ] || total=$(( total + 1 ))
	count "$fuzz_build"
fi

bad=$(( total - ok - skipped ))
[ "$total" -gt 0 ] || bad=1
[ "$bad" -eq 0 ] || status=1
# The last line is always exactly "N passed, N failed" (CI reads it).
[ "$skipped" -gt 0 ] && echo "$skipped skipped"
echo "$ok passed, $bad failed"
exit $status
