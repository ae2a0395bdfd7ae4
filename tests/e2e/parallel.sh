#!/usr/bin/env bash
# Many writers at once: every submission becomes exactly one task, and the
# daemon (under the sanitizers in CI) survives the races of create, flush,
# release and forget.
. "$SRCDIR/e2e/lib.sh"

WRITERS=8
PER=${PARALLEL_PER_WRITER:-150}
N=$((WRITERS * PER))
pg_start
pgqfs_start || t_bail "daemon did not start"

# One process per writer, each creating many files (open, write, close)
# without a fork per file; and a cp per file beside them.
writer() {	# PREFIX
	write_files "$MNT/queue/fast" "$1" "$PER"
}
# Meanwhile stats is sampled: it must never show more tasks of the pool
# running than its max_workers (8), even while tasks end and start.
sampler() {
	local mx=0 r
	while [ ! -e "$E2E_TMP/stop-sampler" ]; do
		r=$(awk '$1 == "pool.fast.running" { print $2 }' "$MNT/stats" 2>/dev/null)
		[ -n "$r" ] && [ "$r" -gt "$mx" ] && mx=$r
		sleep 0.005
	done
	echo "$mx" >"$E2E_TMP/max-running"
}
sampler &
sampler_pid=$!
start=$(date +%s%N)
pids=()
for w in $(seq "$WRITERS"); do
	writer "w$w" 2>"$E2E_TMP/writer$w.err" &
	pids+=($!)
done
wait "${pids[@]}"	# not a bare wait: lib.sh has its own watchdog running
for w in $(seq "$WRITERS"); do
	[ -s "$E2E_TMP/writer$w.err" ] && t_diag_file "$E2E_TMP/writer$w.err" 5
done
t_ok "$N files written by $WRITERS writers without an error" bash -c "! cat $E2E_TMP/writer*.err | grep -q ."
all_done() { [ "$(awk '$1 == "done" { print $2 }' "$MNT/stats")" = "$N" ]; }
t_ok "all $N tasks are done" wait_until 60 all_done
elapsed=$((($(date +%s%N) - start) / 1000000))
touch "$E2E_TMP/stop-sampler"
wait "$sampler_pid"
t_ok "stats never showed more than 8 running in the pool ($(cat "$E2E_TMP/max-running"))" \
	test "$(cat "$E2E_TMP/max-running")" -le 8
t_diag "$N tasks in $elapsed ms"
t_is "$(ls "$MNT/done" | wc -l)" "$N" "done/ lists $N tasks"
t_is "$(cat "$MNT"/done/*/info | grep -c '^name=w')" "$N" "one task per file"
t_is "$(ls "$MNT/queue/fast" | wc -l)" 0 "nothing is left in the queue"
t_file_is "$MNT/done/$(ls "$MNT/done" | sort -n | tail -n 1)/state" $'done\n' "the last task is done"
t_done
