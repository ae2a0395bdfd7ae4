#!/usr/bin/env bash
# Pools that share a target share its connections: a claim that asks for
# several pools at once asks for no more tasks than the target has free
# connections (its max_workers), so no claimed task fails for want of one.
# Two pools of 2 on a target of 2.  A session of ours holds pool a's claim
# lock, so the claim of a's first file waits, and with it the control
# connection; meanwhile a second file into a and two into b are released.
# When the lock goes, one claim asks for both pools with one connection
# free: all four tasks run, none fails.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	config_pgqfs 0
	config_target main 2
	config_pool a main 2
	config_pool b main 2
}
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
printf 'SELECT pg_sleep(1) AS slept;\n' >"$W/s.sql"
session_open lk pgqfs_ctl
session_send lk "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgqfs' || '.pool'), hashtext('a')); SELECT 'locked';"
locked() { grep -q locked "$E2E_TMP/lk.out"; }
wait_until 10 locked || t_bail "the lock was not taken: $(cat "$E2E_TMP/lk.out")"
ids=()
for p in a a b b; do
	id=$(new_id)
	submit "$p" "$W/s.sql" "$id.sql" || t_fail "cp into pool $p"
	ids+=("$id")
	sleep 0.2	# the first file's claim is sent, and waits
done
session_send lk "COMMIT;"
session_close lk
for id in "${ids[@]}"; do
	t_is "$(task_wait "$id" 30)" done "task $id is done$(head -c 160 "$MNT/failed/$id/error" 2>/dev/null | sed 's/^/: /')"
done
t_is "$(psql_ref -d pgqfs_ctl -tAXc "SELECT count(*) FROM pgqfs.task
	WHERE error IS NOT NULL AND convert_from(error, 'UTF8') LIKE '%no free connection slot%'")" 0 \
	"no task failed for want of a connection"

# Two tasks of pool a end at once (both wait for a lock of ours) while
# pool b's files wait queued behind them, the target full.  The step that
# records both ends asks for pool a first, whose queue is empty, with the
# two connections they free, and for pool b nothing; b must claim right
# after that step (before, it waited for a NOTIFY that never came, and its
# files stayed queued).
session_open gate app
session_send gate "SELECT pg_advisory_lock(77); SELECT 'held';"
held() { grep -q held "$E2E_TMP/gate.out"; }
wait_until 10 held || t_bail "the gate lock was not taken: $(cat "$E2E_TMP/gate.out")"
printf 'SELECT 1 AS gated FROM (SELECT pg_advisory_xact_lock_shared(77)) g;\n' >"$W/gated.sql"
# submit_two POOL FILE: two copies of FILE into POOL; their ids in $two.
submit_two() {
	local k id
	two=()
	for k in 1 2; do
		id=$(new_id)
		submit "$1" "$2" "$id.sql" || t_fail "cp of $(basename "$2") into pool $1"
		two+=("$id")
	done
}
submit_two a "$W/gated.sql"
ga=("${two[@]}")
t_ok "pool a's two tasks run, at the gate" wait_until 10 all_in running "${ga[@]}"
submit_two b "$W/s.sql"
gb=("${two[@]}")
t_ok "pool b's files wait: the target is full" wait_until 10 all_in queued "${gb[@]}"
sleep 0.3
session_send gate "SELECT pg_advisory_unlock(77);"
session_close gate
for id in "${ga[@]}" "${gb[@]}"; do
	t_is "$(task_wait "$id" 15)" done "task $id is done"
done

# A pool with a long queue does not keep another that shares its target
# from starting: the connections that free are dealt to the pools with
# work in turn.  Six half-second tasks into pool a (two run at once),
# then one into pool b while the target is full: b's task starts when
# a's first two end, beside a's third, so before a's fourth.  Before,
# pool a took every connection that freed, and b's task waited until a's
# queue was empty (it started after a's sixth).
printf 'SELECT pg_sleep(0.5) AS slept;\n' >"$W/half.sql"
fa=()
for k in 1 2 3 4 5 6; do
	id=$(new_id)
	submit a "$W/half.sql" "$id.sql" || t_fail "cp of task $k into pool a"
	fa+=("$id")
done
t_ok "pool a's first two tasks run" wait_until 10 all_in running "${fa[0]}" "${fa[1]}"
fb=$(new_id)
submit b "$W/half.sql" "$fb.sql" || t_fail "cp into pool b"
for id in "${fa[@]}" "$fb"; do
	t_is "$(task_wait "$id" 30)" done "task $id is done"
done
sb=$(iso_ms "$(info_of "$fb" started_at)") || sb=
s4=$(iso_ms "$(info_of "${fa[3]}" started_at)") || s4=
t_ok "pool b's task started before pool a's fourth (at $sb and $s4 ms)" ms_before "$sb" "$s4"
t_done
