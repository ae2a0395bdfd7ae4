#!/usr/bin/env bash
# A reload that removes a pool and its target while a task of that pool
# has ended but its end is not yet on record (the control connection is
# busy with a claim that waits on a lock of ours): the pool is retired
# with its task, and so is the target it points at, though that target
# has no connection left (the task's was closed at its timeout).  A
# second reload in that window must find both; then the end is recorded,
# the daemon goes on, and nothing is reported by the sanitizers.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	[ -e "$E2E_TMP/no-p2" ] && return
	printf '\n[target t2]\nconninfo = %s\nmax_workers = 1\n\n[pool p2]\ntarget = t2\nmax_workers = 1\ntimeout = 1s\n' \
		"$PGQFS_TARGET"
}
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
CONF=$E2E_TMP/main.conf
PID=${PGQFS_PID[main]}
printf 'SELECT pg_sleep(30);\n' >"$W/s.sql"
printf 'SELECT 1 AS x;\n' >"$W/a.sql"
id=$(new_id)
submit p2 "$W/s.sql" "$id.sql" || t_fail "cp into p2"
running() { [ "$(cat "$MNT/tasks/$id/state" 2>/dev/null)" = running ]; }
t_ok "p2's task runs" wait_until 10 running
# Hold pool default's claim lock: the next claim (for a file into
# default) waits on it, and with it everything else on the control
# connection, the record of p2's task's end included.
session_open lk pgqfs_ctl
session_send lk "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgqfs' || '.pool'), hashtext('default'));"
sleep 0.5
id2=$(new_id)
submit default "$W/a.sql" "$id2.sql" || t_fail "cp into default"
sleep 1.5	# p2's task times out meanwhile; its connection is closed
touch "$E2E_TMP/no-p2"
pgqfs_config main >"$CONF"
kill -HUP "$PID"
sleep 0.5
kill -HUP "$PID"
sleep 0.5
t_ok "the daemon lives through two reloads" kill -0 "$PID"
session_send lk "COMMIT;"
session_close lk
t_is "$(task_wait "$id" 20)" failed "p2's task ends failed"
t_like "$(cat "$MNT/tasks/$id/error")" "timed out" "at its timeout"
t_is "$(task_wait "$id2" 20)" done "the file into default runs"
t_done
