#!/usr/bin/env bash
# Cancel and retry by id (DESIGN.md, Task control; issue 6 item 8).
# Writing 1 to tasks/<id>/cancel cancels a queued task (it never runs) or a
# running one (its backend is gone within about a second on the mount that
# runs it, two through another daemon's mount; a statement that ignores the
# cancel loses its connection within a few seconds); `error` says by which
# uid.  Writing 1 to tasks/<id>/retry runs a failed or cancelled task again
# under the same id: queued when the write returns, attempt + 1, the log
# keeps every attempt.  Both files are 0200 for the submitter; only the
# submitter and root may write them; a write that does not apply, or
# anything but 1, gets EINVAL from write().
# Bounded so that a build without the feature (tasks that run their full
# 20 s) fails in time rather than at the default 240 s.
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
. "$SRCDIR/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || { t_skip "control" "needs root to act as two users"; t_done; }
id nobody >/dev/null 2>&1 || { t_skip "control" "no user nobody"; t_done; }

# One worker in "hold" and "hold2": a running task there keeps the next one
# queued.  Two pools, so that a cancel that fails in one part of the test
# does not hold up the next part.
pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool hold]\ntarget = main\nmax_workers = 1\n'
	printf '\n[pool hold2]\ntarget = main\nmax_workers = 1\n'
}
NUID=$(id -u nobody)
as_nobody() { runuser -u nobody -- "$@"; }
q() { psql_ref -d app -tAqc "$1"; }

pg_start
q "CREATE TABLE side (what text); GRANT ALL ON side TO PUBLIC" ||
	t_bail "cannot create the target table"
# A backend notices a dropped client connection only when it next talks to
# it, or, with this, within 100 ms even while a statement runs: so that a
# connection the daemon drops shows as a backend gone.
psql_ref -qc "ALTER DATABASE app SET client_connection_check_interval = '100ms'" ||
	t_bail "cannot set client_connection_check_interval"
pgqfs_start a -o allow_other || t_bail "daemon a did not start"
A=$(mnt a)
chmod 755 "$E2E_TMP"
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$W"

W_PY=$(write_step_py)
w() { python3 "$W_PY" "$@"; }

# Long enough for the steps before its cancel on a loaded machine: each
# blocker is cancelled (or cancelled at the daemon's stop).
echo "SELECT pg_sleep(120);" >"$W/long.sql"
echo "INSERT INTO side VALUES ('queued');" >"$W/q.sql"
echo "INSERT INTO side VALUES ('nobody');" >"$W/n.sql"
printf 'INSERT INTO later_t VALUES (1);\nSELECT count(*) AS n FROM later_t;\n' >"$W/fail.sql"
# Swallows every cancel request: only a dropped connection or a terminated
# backend ends it before its 20 s.
cat >"$W/stubborn.sql" <<'SQL'
DO $$
BEGIN
  FOR i IN 1..200 LOOP
    BEGIN
      PERFORM pg_sleep(0.1);
    EXCEPTION WHEN query_canceled THEN
      NULL;
    END;
  END LOOP;
END
$$;
SQL
chmod 644 "$W"/*

state() { cat "$1/tasks/$2/state" 2>/dev/null; }
info() { grep "^$3=" "$1/tasks/$2/info" 2>/dev/null | cut -d= -f2-; }
# Rows of pg_stat_activity for task ID's backend, by its application_name;
# app_stmt ID: "PID QUERY_START" of the statement that backend runs.
app_rows() { psql_ref -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgqfs task $1'"; }
app_stmt() {
	psql_ref -tA -F ' ' -c "SELECT pid, query_start FROM pg_stat_activity
		WHERE application_name = 'pgqfs task $1' AND state = 'active'"
}
has_stmt() { [ -n "$(app_stmt "$1")" ]; }
# t_gone DESC TIMEOUT ID STMT: backend_gone ID STMT within TIMEOUT seconds;
# on failure the task's sessions as diagnostics.
t_gone() {
	local p=${4%% *}
	if wait_until "$2" backend_gone "$3" "$4"; then
		t_pass "$1"
	else
		t_fail "$1"
		t_diag "$(psql_ref -tAc "SELECT pid, state, application_name, query_start, left(query, 40)
			FROM pg_stat_activity WHERE application_name = 'pgqfs task $3' OR pid = ${p:-0}")"
	fi
}
# backend_gone ID STMT: no session names task ID, and the statement STMT
# (from app_stmt: the pid may be reused by a pooled connection) no longer
# runs.
backend_gone() {
	local pid=${2%% *} qs=${2#* }
	[ "$(psql_ref -tAc "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs task $1'
		   OR (pid = ${pid:-0} AND query_start = '${qs:-epoch}' AND state = 'active')")" = 0 ]
}
ms() { now_ms; }

# ---- a queued task: modes, permissions, bad values, cancel
bid=$(MNT=$A new_id)
cp "$W/long.sql" "$A/queue/hold/$bid.sql" || t_bail "cannot submit the blocker"
wait_file_content "$A/tasks/$bid/state" running 10 || t_fail "the blocker $bid runs"
qid=$(MNT=$A new_id)
cp "$W/q.sql" "$A/queue/hold/$qid.sql" || t_bail "cannot submit $qid"
t_is "$(state "$A" "$qid")" queued "task $qid waits behind the blocker"
t_is "$(stat -c '%a %u' "$A/tasks/$qid/cancel" 2>&1)" "200 0" "cancel is mode 0200, owned by the submitter (root)"
t_is "$(stat -c '%a %u' "$A/tasks/$qid/retry" 2>&1)" "200 0" "retry is mode 0200, owned by the submitter (root)"
t_like "$(as_nobody python3 "$W_PY" "$A/tasks/$qid/cancel" 1)" '^(open|write):EACCES$' \
	"another user's write to cancel gets EACCES"
t_is "$(state "$A" "$qid")" queued "and the task stays queued"
for v in 0 2 yes 11 '1 1' x1; do
	t_is "$(w "$A/tasks/$qid/cancel" "$v")" write:EINVAL "writing '$v' to cancel gets EINVAL from write()"
done
t_is "$(w "$A/tasks/$qid/retry" 1)" write:EINVAL "retry of a queued task gets EINVAL"
t_is "$(w "$A/tasks/$bid/retry" 1)" write:EINVAL "retry of a running task gets EINVAL"
t_is "$(state "$A" "$qid")" queued "the task is still queued after the refused writes"

timeout 5 cat "$A/tasks/$qid/wait" >"$W/qwait" 2>&1 &
waiter=$!
sleep 0.3
t_is "$(w "$A/tasks/$qid/cancel" 1)" ok "root writes 1 to the queued task's cancel"
t_ok "the queued task is cancelled" wait_file_content "$A/tasks/$qid/state" cancelled 2
wait "$waiter"
t_is "$(cat "$W/qwait")" cancelled "a reader parked on its wait gets 'cancelled'"
t_like "$(cat "$A/tasks/$qid/error" 2>&1)" 'cancelled by uid 0([^0-9]|$)' "its error says cancelled by uid 0"
t_is "$(w "$A/tasks/$qid/cancel" 1)" write:EINVAL "cancel of a cancelled task gets EINVAL"

# ---- a running task on the mount that runs it
t_ok "the blocker's backend is in pg_stat_activity, active" wait_until 5 has_stmt "$bid"
t_is "$(app_rows "$bid")" 1 "one backend names the task"
bstmt=$(app_stmt "$bid")
bpid=${bstmt%% *}
t_is "$(info "$A" "$bid" backend_pid)" "$bpid" "info's backend_pid is that backend"
# Anyone who reaches the control database may NOTIFY: a forged stop is
# checked against the database, which has no cancel on record.
# A forged end is looked up before a parked `wait` reader is answered.
timeout 20 cat "$A/tasks/$bid/wait" >"$W/bwait" &
bw=$!
sleep 0.5
psql_ref -d pgqfs_ctl -qc "NOTIFY pgqfs_stop, '$bid:0'" || t_fail "NOTIFY pgqfs_stop"
psql_ref -d pgqfs_ctl -qc "NOTIFY pgqfs_done, '$bid:done'" || t_fail "NOTIFY pgqfs_done"
sleep 1
t_is "$(state "$A" "$bid")" running "a forged NOTIFY on pgqfs_stop cancels nothing"
t_ok "a forged NOTIFY on pgqfs_done answers no wait reader" kill -0 "$bw"
t0=$(ms)
t_is "$(w "$A/tasks/$bid/cancel" $'1\n')" ok "root writes '1\\n' to the running task's cancel"
if wait_until 2 _e2e_content_is "$A/tasks/$bid/state" cancelled; then
	t_pass "the running task is cancelled within 2 s ($(($(ms) - t0)) ms)"
else
	t_fail "the running task is cancelled within 2 s (state $(state "$A" "$bid"))"
fi
t_gone "its backend ($bpid) is gone from pg_stat_activity within 2 s" 2 "$bid" "$bstmt"
wait "$bw"
t_is "$(cat "$W/bwait")" cancelled "the wait reader gets the task's true end"
t_like "$(cat "$A/tasks/$bid/error" 2>&1)" 'cancelled by uid 0([^0-9]|$)' "its error says cancelled by uid 0"
t_is "$(w "$A/tasks/$bid/cancel" 1)" write:EINVAL "a second cancel gets EINVAL"
# The pool is free now: a task that was not really cancelled would run.
sleep 1
t_is "$(q "SELECT count(*) FROM side")" 0 "the cancelled queued task never ran"
t_is "$(state "$A" "$qid")" cancelled "and is still cancelled"

# ---- another user's tasks: modes follow the submitter, who may cancel
nid1=$(as_nobody cat "$A/new-id")
nid2=$(as_nobody cat "$A/new-id")
as_nobody cp "$W/long.sql" "$A/queue/hold2/$nid1.sql" || t_fail "nobody submits $nid1"
wait_file_content "$A/tasks/$nid1/state" running 10 || t_fail "nobody's blocker $nid1 runs"
as_nobody cp "$W/n.sql" "$A/queue/hold2/$nid2.sql" || t_fail "nobody submits $nid2"
t_is "$(stat -c '%a %u' "$A/tasks/$nid2/cancel" 2>&1)" "200 $NUID" "nobody's task: cancel is 0200, owned by nobody"
t_is "$(stat -c '%a %u' "$A/tasks/$nid2/retry" 2>&1)" "200 $NUID" "nobody's task: retry is 0200, owned by nobody"
t_ok "nobody cancels its queued task with echo 1 >" as_nobody sh -c "echo 1 >'$A/tasks/$nid2/cancel'"
t_ok "it is cancelled" wait_file_content "$A/tasks/$nid2/state" cancelled 2
t_like "$(cat "$A/tasks/$nid2/error" 2>&1)" "cancelled by uid $NUID([^0-9]|\$)" "its error says cancelled by uid $NUID"
t_is "$(w "$A/tasks/$nid1/cancel" 1)" ok "root cancels nobody's running task"
t_ok "it is cancelled within 2 s" wait_until 2 _e2e_content_is "$A/tasks/$nid1/state" cancelled
t_like "$(cat "$A/tasks/$nid1/error" 2>&1)" 'cancelled by uid 0([^0-9]|$)' "its error says cancelled by uid 0"
sleep 0.5
t_is "$(q "SELECT count(*) FROM side WHERE what = 'nobody'")" 0 "nobody's cancelled queued task never ran"

# ---- across daemons: cancel through the mount that does not run it
pgqfs_start b || t_bail "daemon b did not start"
B=$(mnt b)
cid=$(MNT=$A new_id)
cp "$W/long.sql" "$A/queue/default/$cid.sql" || t_fail "cannot submit $cid"
wait_file_content "$A/tasks/$cid/state" running 10 || t_fail "task $cid runs"
runner=$(info "$A" "$cid" daemon)
if [ "${runner##*:}" = "${PGQFS_PID[a]}" ]; then other=b; else other=a; fi
O=$(mnt "$other")
t_diag "task $cid runs on $runner; cancelling through daemon $other"
t_like "$runner" ":(${PGQFS_PID[a]}|${PGQFS_PID[b]})\$" "task $cid runs on one of the two daemons"
t_ok "its backend is in pg_stat_activity, active" wait_until 5 has_stmt "$cid"
cstmt=$(app_stmt "$cid")
cpid=${cstmt%% *}
t0=$(ms)
t_is "$(w "$O/tasks/$cid/cancel" 1)" ok "write 1 to cancel through the other daemon's mount"
if wait_until 3 _e2e_content_is "$O/tasks/$cid/state" cancelled; then
	t_pass "cancelled across daemons within 3 s ($(($(ms) - t0)) ms)"
else
	t_fail "cancelled across daemons within 3 s (state $(state "$O" "$cid"))"
fi
t_gone "its backend ($cpid) is gone within 3 s" 3 "$cid" "$cstmt"
t_is "$(state "$B" "$cid") $(state "$A" "$cid")" "cancelled cancelled" "both mounts show it cancelled"
t_like "$(cat "$O/tasks/$cid/error" 2>&1)" 'cancelled by uid 0([^0-9]|$)' "its error says cancelled by uid 0"
pgqfs_stop b

# ---- a statement that ignores the cancel request loses its connection
sid=$(MNT=$A new_id)
cp "$W/stubborn.sql" "$A/queue/default/$sid.sql" || t_fail "cannot submit $sid"
wait_file_content "$A/tasks/$sid/state" running 10 || t_fail "task $sid runs"
t_ok "its backend is in pg_stat_activity, active" wait_until 5 has_stmt "$sid"
sleep 0.3	# inside the loop, where a cancel request is swallowed
sstmt=$(app_stmt "$sid")
spid=${sstmt%% *}
t_is "$(w "$A/tasks/$sid/cancel" 1)" ok "cancel a statement that swallows cancel requests"
t_ok "it is cancelled within 8 s" wait_until 8 _e2e_content_is "$A/tasks/$sid/state" cancelled
t_gone "its backend ($spid) is gone within 8 s (the connection was dropped)" 8 "$sid" "$sstmt"

# ---- retry of a failed task once its cause is fixed
fid=$(MNT=$A new_id)
cp "$W/fail.sql" "$A/queue/default/$fid.sql" || t_fail "cannot submit $fid"
t_is "$(MNT=$A task_wait "$fid" 20)" failed "task $fid fails (no table later_t)"
t_is "$(info "$A" "$fid" attempt)" 1 "at attempt 1"
t_like "$(as_nobody python3 "$W_PY" "$A/tasks/$fid/retry" 1)" '^(open|write):EACCES$' \
	"another user's write to retry gets EACCES"
t_is "$(w "$A/tasks/$fid/retry" 2)" write:EINVAL "writing 2 to retry gets EINVAL"
t_is "$(w "$A/tasks/$fid/cancel" 1)" write:EINVAL "cancel of a failed task gets EINVAL"
t_is "$(state "$A" "$fid")" failed "the task is still failed"
q "CREATE TABLE later_t (k int)"
t_is "$(w "$A/tasks/$fid/retry" 1)" ok "root writes 1 to retry"
t_like "$(state "$A" "$fid")" '^(queued|running|done)$' "when the write returns the task is queued (or on its way)"
t_is "$(MNT=$A task_wait "$fid" 20)" done "the retried task ends done"
t_is "$(info "$A" "$fid" attempt)" 2 "at attempt 2"
t_file_is "$A/tasks/$fid/result" $'n\n1\n' "its result is the new run's"
t_is "$(cat "$A/tasks/$fid/error" 2>/dev/null)" "" "its error is empty or absent (that of the latest attempt)"
log=$(cat "$A/tasks/$fid/log" 2>&1)
t_is "$(printf '%s\n' "$log" | grep -cE '^[^ ]+ started ')" 2 "its log has both attempts' start lines" ||
	t_diag "$log"
t_like "$(printf '%s\n' "$log" | grep -n -e 'finished: failed' -e 'finished: done' | cut -d: -f2- | tr '\n' '|')" \
	'finished: failed.*\|.*finished: done' "the log has the failed attempt's end, then the retry's"
t_ok "it is listed in done/" test -e "$A/done/$fid"
t_ok "and no longer in failed/" test ! -e "$A/failed/$fid"
t_is "$(q "SELECT count(*) FROM later_t")" 1 "the retry ran the file once more"
t_is "$(w "$A/tasks/$fid/retry" 1)" write:EINVAL "retry of a done task gets EINVAL"
t_is "$(w "$A/tasks/$fid/cancel" 1)" write:EINVAL "cancel of a done task gets EINVAL"
t_is "$(state "$A" "$fid")" done "the done task stays done"

# ---- retry of a cancelled task (one that never ran)
before=$(info "$A" "$qid" attempt)
t_is "$(w "$A/tasks/$qid/retry" 1)" ok "root retries the cancelled task $qid"
t_like "$(state "$A" "$qid")" '^(queued|running|done)$' "when the write returns it is queued (or on its way)"
t_is "$(MNT=$A task_wait "$qid" 20)" done "the retried cancelled task ends done"
t_is "$(info "$A" "$qid" attempt)" "$((${before:-0} + 1))" "its attempt went from ${before:-?} up by one"
t_is "$(q "SELECT count(*) FROM side WHERE what = 'queued'")" 1 "it ran once"
t_like "$(cat "$A/tasks/$qid/log" 2>&1)" 'cancelled by uid 0' "its log keeps the cancel"

# Nothing may be left running (and nothing must delay the daemon's stop).
t_is "$(psql_ref -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %' AND state = 'active'")" \
	0 "no task backend is left running"
psql_ref -tAc "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %'" >/dev/null
pgqfs_stop a
t_done
