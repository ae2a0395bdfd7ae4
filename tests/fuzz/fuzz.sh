#!/usr/bin/env bash
# Runs one libFuzzer harness for FUZZ_SECONDS (default 20) seconds:
#   fuzz.sh HARNESS SEED_DIR FOUND_DIR [MORE_SEED_DIRS...]
# New inputs go to FOUND_DIR (in the build directory), never to the seeds in
# the repository; a crash, a sanitizer report or a broken property leaves
# its input as FOUND_DIR/crash-* (or leak-*, timeout-*) and fails the test.
set -euo pipefail
harness=$1 seeds=$2 found=$3
shift 3
seconds=${FUZZ_SECONDS:-20}
mkdir -p "$found"
dict=$seeds.dict
dict_arg=()
[ -f "$dict" ] && dict_arg=(-dict="$dict")
# UBSan reports must stop the run, as ASan's do.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# libFuzzer's own exit code for a finding, 77, means "skipped" to meson.
exec "$harness" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
	-error_exitcode=1 \
	-print_final_stats=1 -artifact_prefix="$found/" "${dict_arg[@]}" \
	"$found" "$seeds" "$@"
