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
t_done
