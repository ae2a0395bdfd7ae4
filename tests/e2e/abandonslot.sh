#!/usr/bin/env bash
# The connection of a task abandoned after its cancel went unanswered
# gives its slot to the next task at once.  A target of one connection, a
# pool with a 1 s timeout: the first task's backend is stopped (SIGSTOP),
# so the cancel at its timeout goes unanswered and, after the cancel's
# grace, the task fails and its connection is closed.  The step that
# records that end claims the second task, queued meanwhile, in the same
# round: it must get a new connection.  Before, the closed connection
# still held its backend until the end of the round, and the second task
# failed with "no free connection slot".
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	config_pgqfs 0
	config_target one 1
	config_pool one one 1
	printf 'timeout = 1s\n'
}
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
printf 'SELECT pg_sleep(60) AS slept;\n' >"$W/long.sql"
printf 'SELECT 1 AS after;\n' >"$W/next.sql"
id1=$(new_id)
submit one "$W/long.sql" "$id1.sql" || t_fail "cp of the first task"
has_pid() { [ -n "$(info_of "$id1" backend_pid)" ]; }
t_ok "the first task runs" wait_until 10 has_pid
pid=$(info_of "$id1" backend_pid)
# The harness's cleanup resumes what pg-frozen lists, should the test end early.
echo "$pid" >>"$E2E_TMP/pg-frozen"
kill -STOP "$pid" || t_bail "cannot stop backend $pid"
id2=$(new_id)
submit one "$W/next.sql" "$id2.sql" || t_fail "cp of the second task"
t_is "$(task_wait "$id1" 30)" failed "the first task fails at its timeout, its cancel unanswered"
st=$(task_wait "$id2" 30)
t_is "$st" done "the second task runs on a new connection$(head -c 200 "$MNT/failed/$id2/error" 2>/dev/null | sed 's/^/: /')"
t_is "$(cat "$MNT/tasks/$id2/result")" $'after\n1' "its result"
pg_thaw
t_done
