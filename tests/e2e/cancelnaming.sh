#!/usr/bin/env bash
# A cancel, or a timeout, that meets a task's session while it is being
# named ends the task as cancelled, or as timed out, and not as "cannot
# prepare the session".  The naming is a round trip of its own for a new
# connection and a first statement that is not a plain query (a SHOW).  It
# is held on the server: the test's session locks pg_proc on app, which a
# new backend reads to look set_config() up.  Each case has a pool and a
# target of its own, so that its task gets a new connection.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_config() {
	pgqfs_default_config "$@"
	cat <<EOT

[target tc]
conninfo = $PGQFS_TARGET
max_workers = 1

[pool tc]
target = tc
max_workers = 1

[target tt]
conninfo = $PGQFS_TARGET
max_workers = 1

[pool tt]
target = tt
max_workers = 1
EOT
}
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
# The catalog is locked on app: the test's own queries go to postgres.
activity() {
	psql_ref -d postgres -tAX -c "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND $1"
}
printf 'SELECT pg_sleep(60) AS long_one;\n' >"$W/long.sql"
printf 'SHOW work_mem;\nSELECT 1 AS x;\n' >"$W/a.sql"
printf -- '-- pgqfs: timeout=3s\nSHOW work_mem;\nSELECT 1 AS x;\n' >"$W/t.sql"

# Each pool's one (warm) session runs a long task, and the case's task
# queues behind it.  Once the lock is held, the long task's backend is
# ended: the slot frees, and the queued task gets a new connection.
sleeping() { [ "$(activity "query LIKE '%pg_sleep(60)%' AND state = 'active'")" = "$1" ]; }
declare -A long next
for p in tc tt; do
	long[$p]=$(new_id)
	submit "$p" "$W/long.sql" "${long[$p]}.sql" || t_fail "cp of pool $p's long task"
done
t_ok "both long tasks run" wait_until 10 sleeping 2
next[tc]=$(new_id)
submit tc "$W/a.sql" "${next[tc]}.sql" || t_fail "cp of the task to cancel"
next[tt]=$(new_id)
submit tt "$W/t.sql" "${next[tt]}.sql" || t_fail "cp of the task that times out"
t_is "$(cat "$MNT/tasks/${next[tc]}/state") $(cat "$MNT/tasks/${next[tt]}/state")" \
	"queued queued" "both wait behind the long tasks"

session_open catlock app
session_send catlock "BEGIN; LOCK TABLE pg_catalog.pg_proc IN ACCESS EXCLUSIVE MODE; SELECT 'locked';"
catlocked() { grep -q locked "$E2E_TMP/catlock.out"; }
wait_until 10 catlocked || t_bail "pg_proc was not locked: $(cat "$E2E_TMP/catlock.out")"
# naming_waits N: N backends of app wait for the lock in their naming.
naming_waits() {
	[ "$(activity "query LIKE '%set_config(%application_name%' AND wait_event_type = 'Lock'")" = "$1" ]
}
# end_long POOL: ends the backend of POOL's long task.
end_long() {
	psql_ref -d postgres -tAX -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name LIKE '%task ${long[$1]}' AND query LIKE '%pg_sleep(60)%'" >/dev/null
	t_is "$(task_wait "${long[$1]}" 20)" failed "pool $1's long task fails: its backend was ended"
}

end_long tc
cid=${next[tc]}
t_ok "the next task's new session waits for the lock in its naming" wait_until 10 naming_waits 1
t_is "$(cat "$MNT/tasks/$cid/state")" running "the task is running, in its session's set-up"
echo 1 >"$MNT/tasks/$cid/cancel" || t_fail "the cancel write"
t_is "$(task_wait "$cid" 20)" cancelled "the task is cancelled"
t_like "$(cat "$MNT/failed/$cid/error")" \
	"cancelled by uid 0 before its first statement, while its session on target tc was being prepared" \
	"its error says who cancelled it, and when"
t_ok "its error does not say the session could not be prepared" \
	bash -c "! grep -q 'cannot prepare' '$MNT/failed/$cid/error'"
t_is "$(cat "$MNT/failed/$cid/result")" "" "it ran nothing"
t_ok "its naming no longer waits" wait_until 10 naming_waits 0

tid=${next[tt]}
t0=$(now_ms)
end_long tt
t_ok "the next task's new session waits for the lock in its naming" wait_until 10 naming_waits 1
st=$(task_wait "$tid" 20)
ms=$(($(now_ms) - t0))
t_is "$st" failed "the task whose timeout meets its naming fails"
t_ok "at its 3 s timeout, not later ($ms ms)" test "$ms" -lt 10000
t_like "$(cat "$MNT/failed/$tid/error")" \
	"timed out: its timeout of 3000 ms passed before its session on target tt was ready; nothing ran"$'\n'"SQLSTATE: 57014" \
	"its error says it timed out before anything ran"
t_ok "its error does not say the session could not be prepared" \
	bash -c "! grep -q 'cannot prepare' '$MNT/failed/$tid/error'"
t_is "$(cat "$MNT/failed/$tid/result")" "" "it ran nothing"
t_ok "its naming no longer waits" wait_until 10 naming_waits 0

session_send catlock "COMMIT;"
session_close catlock
# The pools work afterwards.
for p in tc tt; do
	id=$(new_id)
	submit "$p" "$W/a.sql" "$id.sql" || t_fail "cp to pool $p after the lock"
	t_is "$(task_wait "$id" 20)" done "pool $p runs a task once the lock is gone"
	t_is "$(cat "$MNT/done/$id/result")" "$(psql_ref -d app -q --csv -v ON_ERROR_STOP=1 -f "$W/a.sql")" \
		"its result is psql's"
done
t_done
