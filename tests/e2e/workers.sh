#!/usr/bin/env bash
# The daemon's `workers` cap, when it is the limit that binds: pools a and
# b (8 each) on a target of 8, under workers = 2.  Five half-second tasks
# into pool a, then one into pool b while two of a's run: never more than
# two tasks run at once, a's third waits for a slot, and the slots that
# free are dealt to the pools in turn, so b's task starts beside a's
# third, before a's fourth.  (A claim whose deal was cut by the cap once
# asked for nothing at all, and nothing ran; before that, pool a took
# every slot that freed, and b's task waited until a's queue was empty.)
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	config_pgqfs 2
	config_target main 8
	config_pool a main 8
	config_pool b main 8
}
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
printf 'SELECT pg_sleep(0.5) AS slept;\n' >"$W/half.sql"

fa=()
for k in 1 2 3 4 5; do
	id=$(new_id)
	submit a "$W/half.sql" "$id.sql" || t_fail "cp of task $k into pool a"
	fa+=("$id")
done
t_ok "pool a's first two tasks run" wait_until 10 all_in running "${fa[0]}" "${fa[1]}"
t_is "$(cat "$MNT/tasks/${fa[2]}/state")" queued "pool a's third waits: the daemon runs two at most"
fb=$(new_id)
submit b "$W/half.sql" "$fb.sql" || t_fail "cp into pool b"
all=("${fa[@]}" "$fb")
for id in "${all[@]}"; do
	t_is "$(task_wait "$id" 30)" done "task $id is done"
done

# The start and end of each task, in ms; at each start, how many ran.
starts=() ends=()
for id in "${all[@]}"; do
	starts+=("$(iso_ms "$(info_of "$id" started_at)" || echo 0)")
	ends+=("$(iso_ms "$(info_of "$id" finished_at)" || echo 0)")
done
most=0
for s in "${starts[@]}"; do
	n=0
	for k in "${!starts[@]}"; do
		[ "${starts[k]}" -le "$s" ] && [ "${ends[k]}" -gt "$s" ] && n=$((n + 1))
	done
	[ "$n" -gt "$most" ] && most=$n
done
t_is "$most" 2 "at most two tasks ran at once (starts ${starts[*]}, ends ${ends[*]})"
t_ok "pool b's task started before pool a's fourth (at ${starts[5]} and ${starts[3]} ms)" \
	ms_before "${starts[5]}" "${starts[3]}"
t_done
