#!/usr/bin/env bash
# A cancel written while a failed attempt's retry is being recorded: the
# task is running in the control database, so tasks/ID/cancel answers 0,
# but the daemon has finished the attempt already and does not hear the
# stop.  The task must end cancelled, not run its next attempt.  A lock
# of ours on the chunk table holds the progress statement that records
# the retry, to open that window wide.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
ctl() { psql_ref -d pgqfs_ctl -tAXc "$1"; }
psql_ref -d app -qX -c "CREATE SEQUENCE attempts" || t_bail "cannot create the sequence"
cat >"$W/flaky.sql" <<'SQL'
-- pgqfs: retries=1 retry_delay=100ms
SELECT pg_sleep(1.5);
DO $$ BEGIN
	IF nextval('attempts') = 1 THEN
		RAISE EXCEPTION 'transient failure' USING ERRCODE = '40001';
	END IF;
END $$;
SQL
id=$(new_id)
submit default "$W/flaky.sql" "$id.sql" || t_fail "cp"
running() { [ "$(cat "$MNT/tasks/$id/state" 2>/dev/null)" = running ]; }
t_ok "the task runs" wait_until 10 running
session_open lk pgqfs_ctl
session_send lk "BEGIN; LOCK TABLE pgqfs.chunk IN EXCLUSIVE MODE; SELECT 'locked';"
locked() { grep -q locked "$E2E_TMP/lk.out"; }
wait_until 10 locked || t_bail "the lock was not taken: $(cat "$E2E_TMP/lk.out")"
held() {
	[ "$(ctl "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND (query LIKE '%progress(%' OR query LIKE '%step(%')")" -ge 1 ]
}
failed1() { [ "$(psql_ref -d app -tAXc "SELECT is_called FROM attempts")" = t ]; }
t_ok "the first attempt fails" wait_until 15 failed1
# Its end (and retry) is recorded in the next statement, which waits on
# the lock: the task stays running in the control database.
sleep 0.5
t_ok "the record of its retry waits on the lock" wait_until 15 held
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $id")" running \
	"the control database still says running"
echo 1 >"$MNT/tasks/$id/cancel"
t_is "$?" 0 "the cancel is accepted"
session_send lk "COMMIT;"
session_close lk
t_is "$(task_wait "$id" 20)" cancelled "the task ends cancelled"
t_like "$(cat "$MNT/tasks/$id/error")" 'cancelled by uid 0' "its error says who cancelled it"
sleep 1
t_is "$(psql_ref -d app -tAXc "SELECT last_value FROM attempts")" 1 "its next attempt never ran"
t_is "$(ctl "SELECT attempt FROM pgqfs.task WHERE id = $id")" 1 "attempt stays 1"
t_like "$(cat "$MNT/tasks/$id/log")" 'attempt 1 failed \(40001\)' "its log has the failed attempt"
t_done
