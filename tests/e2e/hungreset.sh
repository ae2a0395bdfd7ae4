#!/usr/bin/env bash
# A task whose session hangs before its first statement (a target that
# stops answering while the session is reset or named for it) still fails
# at its timeout, having run nothing, and its session is closed; the
# target works again afterwards.  The target is reached through a TCP
# proxy of the test's own, stopped with SIGSTOP.  The file's first
# statement is a SHOW: a plain query's session is named in the string of
# its first statement, and a hang there is a statement's (cancelled at the
# timeout; its connection closed when the cancel goes unanswered, as in
# timeout.sh).
. "$SRCDIR/e2e/lib.sh"

pg_start
tcp_proxy proxy
pgqfs_config() {
	pgqfs_default_config "$@"
	cat <<EOT

[target proxied]
conninfo = host=127.0.0.1 port=$PROXY_PORT dbname=app user=postgres connect_timeout=5
max_workers = 2

[pool proxied]
target = proxied
max_workers = 2
timeout = 1s

[target one]
conninfo = $PGQFS_TARGET connect_timeout=2
max_workers = 1

[pool one]
target = one
max_workers = 1
EOT
}
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
printf 'SHOW work_mem;\nSELECT 1 AS x;\n' >"$W/a.sql"
id=$(new_id)
submit proxied "$W/a.sql" "$id.sql" || t_fail "cp of the first task"
t_is "$(task_wait "$id" 20)" done "a first task runs (its session stays open, idle)"
sleep 0.5
kill -STOP "$PROXY_PID"
id=$(new_id)
t0=$(now_ms)
submit proxied "$W/a.sql" "$id.sql" || t_fail "cp of the second task"
st=$(task_wait "$id" 20)
ms=$(($(now_ms) - t0))
kill -CONT "$PROXY_PID"
t_is "$st" failed "the task on the hung target fails"
t_ok "within seconds of its 1 s timeout, not later ($ms ms)" test "$ms" -lt 8000
t_like "$(cat "$MNT/failed/$id/error")" "timed out: the pool's timeout of 1000 ms" "its error says it timed out"
t_is "$(cat "$MNT/failed/$id/result")" "" "it ran nothing"
id=$(new_id)
submit proxied "$W/a.sql" "$id.sql" || t_fail "cp of the third task"
t_is "$(task_wait "$id" 30)" done "the target works again: a third task runs"

# A reset that waits, in a pool with no timeout: DISCARD ALL drops the
# session's temporary table, which another session holds a lock on.  Past
# the connect timeout (2 s) the connection is closed, and the task queued
# behind (the target allows one connection), which waited for it, runs on
# a new one; it would wait for the lock otherwise.
printf 'CREATE TEMP TABLE hung_reset (a int);\nSELECT pg_sleep(3) AS slept;\n' >"$W/temp.sql"
printf 'SELECT 42 AS answer;\nSELECT 43 AS next;\n' >"$W/after.sql"
tid=$(new_id)
submit one "$W/temp.sql" "$tid.sql" || t_fail "cp of the temp-table task"
temp_ns() {
	psql_ref -d app -tAX -c "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relname = 'hung_reset' AND n.nspname LIKE 'pg_temp%'"
}
has_temp_ns() { [ -n "$(temp_ns)" ]; }
t_ok "the task's temporary table is made" wait_until 10 has_temp_ns
ns=$(temp_ns)
session_open templock app
session_send templock "BEGIN; LOCK TABLE $ns.hung_reset IN ACCESS SHARE MODE; SELECT 'locked';"
templocked() { grep -q locked "$E2E_TMP/templock.out"; }
wait_until 10 templocked || t_bail "the temporary table was not locked: $(cat "$E2E_TMP/templock.out")"
aid=$(new_id)
submit one "$W/after.sql" "$aid.sql" || t_fail "cp of the task behind it"
t_is "$(cat "$MNT/tasks/$aid/state")" queued "a second task waits behind the first"
t_is "$(task_wait "$tid" 20)" done "the task that made the table is done"
t0=$(now_ms)
reset_waits() {
	[ "$(psql_ref -d app -tAX -c "SELECT count(*) FROM pg_stat_activity
		WHERE query = 'DISCARD ALL' AND wait_event_type = 'Lock'")" = 1 ]
}
t_ok "its session's reset waits for the lock" wait_until 10 reset_waits
st=$(task_wait "$aid" 20)
ms=$(($(now_ms) - t0))
t_is "$st" done "the task behind the hung reset runs on a new connection"
t_ok "within seconds of the 2 s connect timeout ($ms ms)" test "$ms" -lt 8000
t_file_is "$MNT/done/$aid/result" $'answer\n42\nnext\n43\n' "its result"
t_like "$(cat "${PGQFS_LOG[main]}")" "target one: a session's reset got no answer within 2000 ms" \
	"the log says why the connection was closed"
t_like "$(cat "${PGQFS_LOG[main]}")" "task $aid: the session it waited for was closed; it takes another" \
	"the task waited for that session and took another"
# (Cancelled, its backend still waits for the lock to drop the table as it
# exits, idle: a backend's temporary tables go with it.)
cancelled() {
	[ "$(psql_ref -d app -tAX -c "SELECT count(*) FROM pg_stat_activity
		WHERE query = 'DISCARD ALL' AND state = 'active'")" = 0 ]
}
t_ok "the waiting reset is cancelled while the lock is still held" wait_until 10 cancelled
session_send templock "COMMIT;"
session_close templock
t_done
