#!/usr/bin/env bash
# Builds pgqfs with warnings as errors and ASan+UBSan, runs every test
# (unit tests, and end-to-end tests against a scratch PostgreSQL cluster and
# real FUSE mounts), and ends with the line "N passed, N failed".
#
#   contrib/test.sh                 # all tests
#   contrib/test.sh corpus submit   # only these tests
set -uo pipefail
cd "$(dirname "$0")/.."
. contrib/deps.sh
pgqfs_deps || { echo "cannot install the build dependencies" >&2; exit 1; }

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
meson test -C "$build" --print-errorlogs --num-processes 2 "$@"
status=$?

log="$build/meson-logs/testlog.json"
ok=$(grep -cE '"result": "(OK|EXPECTEDFAIL)"' "$log" 2>/dev/null)
skipped=$(grep -c '"result": "SKIP"' "$log" 2>/dev/null)
total=$(grep -c '"result": ' "$log" 2>/dev/null)
bad=$(( ${total:-0} - ${ok:-0} - ${skipped:-0} ))
[ "${total:-0}" -gt 0 ] || bad=1
# The last line is always exactly "N passed, N failed" (CI reads it).
[ "${skipped:-0}" -gt 0 ] && echo "$skipped skipped"
echo "${ok:-0} passed, $bad failed"
exit $status
