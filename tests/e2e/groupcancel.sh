#!/usr/bin/env bash
# A group's cancel and the end of one of its members, at the same moment,
# do not deadlock (schema version 15).  The cancel locks the group, then its
# members in order; the progress batch that records the member's end locked
# the member, then the group (to count the end): each waited for the other
# until the server broke the deadlock (deadlock_timeout) and one of them
# was tried again.  Forced here: the test holds the first member's row, so
# that the cancel waits for it holding the group, while the second member
# ends; then lets the row go.  Then the same for a queued group's first
# claim.  The server's log must show no deadlock.
. "$SRCDIR/e2e/lib.sh"

ctl() { psql_ref -d pgqfs_ctl -tAqc "SET search_path = pgqfs; $1"; }
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
waiting() {
	[ "$(ctl "SELECT count(*) FROM pg_stat_activity WHERE application_name = '$1'
		AND wait_event_type = 'Lock'")" = 1 ]
}

session_open gate app
session_send gate "SELECT pg_advisory_lock(77), 'gated';"
gated() { grep -q gated "$E2E_TMP/gate.out"; }
wait_until 10 gated || t_bail "the gate was not taken: $(cat "$E2E_TMP/gate.out")"
printf -- '-- pgqfs: group=statements\nSELECT pg_sleep(30) AS one;\nSELECT pg_advisory_xact_lock_shared(77) IS NULL AS two;\n' >"$W/g.sql"
gid=$(new_id)
submit default "$W/g.sql" "$gid.sql" || t_fail "cp of the group"
# Started, and their starts stored: no progress batch has anything of
# them to store until the second one ends.
both_run() {
	[ "$(ctl "SELECT count(*) FROM task WHERE group_id = $gid AND state = 'running'
		AND started_at IS NOT NULL AND log_size > 0")" = 2 ]
}
t_ok "both members run" wait_until 10 both_run
read -r m1 m2 <<<"$(ctl "SELECT string_agg(id::text, ' ' ORDER BY id) FROM task WHERE group_id = $gid")"

session_open row pgqfs_ctl
session_send row "BEGIN; SELECT 1 FROM pgqfs.task WHERE id = $m1 FOR UPDATE; SELECT 'held';"
held() { grep -q held "$E2E_TMP/row.out"; }
wait_until 10 held || t_bail "member $m1 was not locked: $(cat "$E2E_TMP/row.out")"
(echo 1 >"$MNT/tasks/$gid/cancel"; echo $? >"$E2E_TMP/cancel.rc") &
cancel_pid=$!
t_ok "the group's cancel waits for its first member's row" wait_until 10 waiting "pgqfs filesystem"
session_send gate "SELECT pg_advisory_unlock(77);"
t_ok "the second member's end waits for the group" wait_until 10 waiting "pgqfs executor"
session_send row "COMMIT;"
session_close row
wait "$cancel_pid"
t_is "$(cat "$E2E_TMP/cancel.rc")" 0 "the cancel write succeeds"
t_is "$(task_wait "$gid" 30)" failed "the cancelled group fails"
t_is "$(cat "$MNT/tasks/$m1/state") $(cat "$MNT/tasks/$m2/state")" "cancelled done" \
	"its running member is cancelled, the one that ended is done"
t_is "$(grep -c 'deadlock detected' "$PG_DIR/postgres.log")" 0 "the server saw no deadlock"
session_close gate

# The same for a queued group's first claim, which marks the group running
# after it took the members: the pool is paused while the group is
# submitted, the test holds the first member's row, and the pool resumes.
# The claim waits for that row, then the group's cancel (for the group, or
# for the row), then the row goes.
echo 1 >"$MNT/pools/default/paused" || t_fail "pause of the pool"
printf -- '-- pgqfs: group=statements\nSELECT 1 AS one;\nSELECT 2 AS two;\n' >"$W/q.sql"
qid=$(new_id)
submit default "$W/q.sql" "$qid.sql" || t_fail "cp of the second group"
t_is "$(cat "$MNT/tasks/$qid/state")" queued "the group waits, queued, in the paused pool"
read -r q1 q2 <<<"$(ctl "SELECT string_agg(id::text, ' ' ORDER BY id) FROM task WHERE group_id = $qid")"
session_open row2 pgqfs_ctl
session_send row2 "BEGIN; SELECT 1 FROM pgqfs.task WHERE id = $q1 FOR UPDATE; SELECT 'held';"
held2() { grep -q held "$E2E_TMP/row2.out"; }
wait_until 10 held2 || t_bail "member $q1 was not locked: $(cat "$E2E_TMP/row2.out")"
echo 0 >"$MNT/pools/default/paused" || t_fail "resume of the pool"
t_ok "the group's first claim waits for its first member's row" wait_until 10 waiting "pgqfs executor"
(echo 1 >"$MNT/tasks/$qid/cancel"; echo $? >"$E2E_TMP/cancel2.rc") &
cancel_pid=$!
t_ok "the group's cancel waits too" wait_until 10 waiting "pgqfs filesystem"
session_send row2 "COMMIT;"
session_close row2
wait "$cancel_pid"
t_is "$(cat "$E2E_TMP/cancel2.rc")" 0 "the cancel write succeeds"
t_like "$(task_wait "$qid" 30)" '^(failed|done)$' "the group ends"
t_is "$(grep -c 'deadlock detected' "$PG_DIR/postgres.log")" 0 "the server saw no deadlock"
t_done
