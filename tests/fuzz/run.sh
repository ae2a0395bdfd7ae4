#!/usr/bin/env bash
# Builds the libFuzzer harnesses (clang, ASan+UBSan, -Dfuzz=true) in their
# own build directory and runs each for SECONDS (default 20) seconds, two at
# a time, through meson's "fuzz" test suite.
#
#   tests/fuzz/run.sh                # 20 s each
#   tests/fuzz/run.sh 600            # 10 minutes each
#   tests/fuzz/run.sh 60 fuzz_split  # only these harnesses
#
# FUZZ_BUILD_DIR (default build-fuzz) is the build directory; what the
# fuzzers find goes to $FUZZ_BUILD_DIR/tests/fuzz-found/NAME, crashes as
# crash-* files there.  Exits 0 when every harness ran clean.
set -uo pipefail
cd "$(dirname "$0")/../.."
seconds=20
if [ $# -gt 0 ] && [[ $1 =~ ^[0-9]+$ ]]; then
	seconds=$1
	shift
fi
build=${FUZZ_BUILD_DIR:-build-fuzz}
if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" --werror -Dfuzz=true -De2e=false \
		-Db_sanitize=address,undefined -Db_lundef=false \
		>"$build.setup.log" 2>&1 || { cat "$build.setup.log"; exit 1; }
else
	# Targets are named below: a harness added since the last setup
	# must be known before the compile (ninja would only regenerate then).
	meson setup --reconfigure "$build" >"$build.setup.log" 2>&1 ||
		{ cat "$build.setup.log"; exit 1; }
fi
meson compile -C "$build" fuzz_split fuzz_format fuzz_format_json fuzz_config fuzz_header \
	fuzz_cron \
	>"$build.compile.log" 2>&1 || { cat "$build.compile.log"; exit 1; }
export FUZZ_SECONDS=$seconds
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
exec meson test -C "$build" --no-rebuild --suite fuzz --print-errorlogs \
	--num-processes 2 "$@"
