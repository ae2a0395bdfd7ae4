#!/usr/bin/env bash
# A pool whose ready task lost a claim's slot to another pool that had
# nothing to claim asks again at once.  Pools a and b share target main
# (one connection); pool c is alone on target other.  b's task waits for
# c's (after=), so b's claim for it comes back short.  The step that
# records the end of c's task, which readies b's, is held in the server
# (a session of ours holds c's claim lock) while a NOTIFY says, wrongly,
# that a has work (a write of pools/a/max_workers).  When the lock goes,
# the next claim deals main's one free connection to a (its turn) and
# none to b; a comes back with nothing, so b must claim at once.  Before,
# b's work flag was gone (its own last claim had come back short) and
# its ready task waited for an event that never came.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	config_pgqfs 0
	config_target main 1
	config_target other 1
	config_pool a main 1
	config_pool b main 1
	config_pool c other 1
}
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
ctl() { psql_ref -d pgqfs_ctl -tAX "$@"; }
# claim_waits: a claim waits for a pool's claim lock (ours).
claim_waits() {
	[ "$(ctl -c "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")" -ge 1 ]
}

printf 'SELECT pg_sleep(1) AS slept;\n' >"$W/x.sql"
idc=$(new_id)
submit c "$W/x.sql" "$idc.sql" || t_fail "cp into pool c"
t_ok "c's task runs" wait_file_content "$MNT/tasks/$idc/state" running
printf -- '-- pgqfs: after=%s\nSELECT 1 AS b1;\n' "$idc" >"$W/b1.sql"
idb=$(new_id)
submit b "$W/b1.sql" "$idb.sql" || t_fail "cp into pool b"
t_is "$(cat "$MNT/tasks/$idb/state")" queued "b's task waits for c's"
session_open lk pgqfs_ctl
session_send lk "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgqfs' || '.pool'), hashtext('c')); SELECT 'locked';"
locked() { grep -q locked "$E2E_TMP/lk.out"; }
wait_until 10 locked || t_bail "the lock was not taken: $(cat "$E2E_TMP/lk.out")"
t_ok "the step that records the end of c's task waits for the lock" wait_until 10 claim_waits
echo 1 >"$MNT/pools/a/max_workers" || t_fail "write pools/a/max_workers"
sleep 0.3
session_send lk "COMMIT;"
session_close lk
t_is "$(task_wait "$idc" 10)" done "c's task is done"
t_is "$(task_wait "$idb" 3)" done "b's task runs at once"
t_done
