#!/usr/bin/env bash
# Three paths of the control schema that took a group's member, or a tally
# row, before the group's row, forced into a deadlock against a path that
# takes the group first (since schema version 16 they take the group
# first too).  In each case a session of the test holds the tally row that the
# first path reaches after it locked the member(s), so that it waits there;
# the second path then takes the group and waits for the first; the test
# lets the tally row go.  The server's log must show no deadlock, and the
# tasks must end as they should:
#
# 1. tasks/ID/retry of a failed member (retry_task(): the member, the tally
#    row of its failed state, then group_recount()'s group) against the
#    progress batch of another member's end (progress(): the group, then
#    group_note()'s tally row of the group's failed end).
# 2. tasks/ID/cancel of a queued member (cancel_task(): the member, the
#    tally row of cancelled, then group_note()'s group) against the step
#    that records the running member's end and claims the queued one
#    (progress()'s group, then claim_take()'s member), in a pool of one
#    worker.
# 3. The recovery of a dead daemon's running members (recover(): the
#    members, the tally row of failed, then group_note()'s group) against a
#    cancel of their group (cancel_task(): the group, then the members).
# 4. tasks/ID/cancel of a group that waits (after=) for another group,
#    against the progress batch that ends the other group, failed
#    (progress(): the group, the failed tally row, then settle()'s update
#    of the waiting group).  Run before case 3.
# 5. tasks/ID/cancel of a group and of a group that waits for it, at once
#    (the first: its group, the tally rows, then settle()'s update of the
#    waiting group).  Run before case 3.
# 6. Case 4 one level down: a cancel of a group that waits for a group
#    that waits for the group whose member ends.  Run before case 3.
#
# The members wait, where the test needs them to, on advisory locks that
# the test holds on app; each counts its runs on a sequence of its own (not
# transactional: a run cut off by a kill counts too).
#
# deadlock_timeout is 3 s on the control database, so that where a
# deadlock forms, the server's check of a path that waited before the
# test let the tally row go comes well after the cycle formed, whatever
# the machine's speed: that path is the one rolled back and tried again.
# In case 2 that is the step, and the member stays cancelled (were it the
# cancel, tried again after the step had claimed the member, the member
# would run).
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	config_pool one main 1
}
ctl() { psql_ref -d pgqfs_ctl -tAqc "SET search_path = pgqfs; $1"; }
app() { psql_ref -d app -tAqc "$1"; }

pg_start
psql_ref -q -c "ALTER DATABASE pgqfs_ctl SET deadlock_timeout = '3s'" ||
	t_bail "cannot set deadlock_timeout"
psql_ref -d app -q -v ON_ERROR_STOP=1 <<'SQL' || t_bail "cannot create the test's objects"
CREATE SEQUENCE lo_seq_11; CREATE SEQUENCE lo_seq_12;
CREATE SEQUENCE lo_seq_21; CREATE SEQUENCE lo_seq_22;
CREATE SEQUENCE lo_seq_31; CREATE SEQUENCE lo_seq_32;
CREATE SEQUENCE lo_seq_41; CREATE SEQUENCE lo_seq_42; CREATE SEQUENCE lo_seq_43;
CREATE SEQUENCE lo_seq_51; CREATE SEQUENCE lo_seq_52;
CREATE SEQUENCE lo_seq_53; CREATE SEQUENCE lo_seq_54;
CREATE SEQUENCE lo_seq_55; CREATE SEQUENCE lo_seq_56;
CREATE SEQUENCE lo_seq_57; CREATE SEQUENCE lo_seq_58;
CREATE SEQUENCE lo_seq_61; CREATE SEQUENCE lo_seq_62;
CREATE SEQUENCE lo_seq_63; CREATE SEQUENCE lo_seq_64;
-- Member K counts its run, then waits for advisory lock KEY (shared).
CREATE FUNCTION lo_gate(p_k int, p_key bigint) RETURNS int LANGUAGE plpgsql AS $$
BEGIN
  PERFORM nextval(format('lo_seq_%s', p_k)::regclass);
  PERFORM pg_advisory_xact_lock_shared(p_key);
  RETURN p_k;
END $$;
SQL
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

# runs K: how many times member K has started.
runs() { app "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM lo_seq_$1"; }
# deadlocks: how many the server has broken so far (each case counts its
# own, so that one case's deadlock fails that case alone).
deadlocks() { grep -c 'deadlock detected' "$PG_DIR/postgres.log"; }
# waits APP LIKE BLOCKER: one control session of APP ('pgqfs executor' or
# 'pgqfs filesystem'), in a statement matching LIKE, waits for a lock
# that a session of BLOCKER holds.
waits() {
	[ "$(ctl "SELECT count(DISTINCT w.pid) FROM pg_stat_activity w
		JOIN pg_stat_activity h ON h.pid = ANY (pg_blocking_pids(w.pid))
		WHERE w.application_name = '$1' AND w.wait_event_type = 'Lock'
		AND w.query LIKE '$2' AND h.application_name = '$3'")" = 1 ]
}
# member GROUP N: the id of the group's Nth member.
member() {
	ctl "SELECT id FROM task WHERE group_id = $1 ORDER BY id OFFSET $(($2 - 1)) LIMIT 1"
}
has_members() { [ -n "$(member "$1" 2)" ]; }
# hold_tally SESSION POOL STATE: session SESSION (application_name
# 'lockorder tally') holds the tally row (0, POOL, STATE), committed first
# if it is missing (with n = 0, which counts nothing), so that every upsert
# of it queues on the row's lock in the order it came.
hold_tally() {
	ctl "INSERT INTO tally VALUES (0, '$2', '$3', 0)
		ON CONFLICT (instance, pool, state) DO NOTHING" ||
		t_bail "cannot make tally row (0, $2, $3)"
	session_open "$1" pgqfs_ctl
	session_send "$1" "SET application_name = 'lockorder tally'; BEGIN; SELECT 'held' FROM pgqfs.tally
		WHERE instance = 0 AND pool = '$2' AND state = '$3' FOR UPDATE;"
	wait_until 10 grep -q held "$E2E_TMP/$1.out" ||
		t_bail "tally row (0, $2, $3) was not locked: $(cat "$E2E_TMP/$1.out")"
}

# The gates of cases 1 and 2: advisory locks 71 and 72 on app.
session_open gate app
session_send gate "SELECT pg_advisory_lock(71), pg_advisory_lock(72), 'gated';"
gated() { grep -q gated "$E2E_TMP/gate.out"; }
wait_until 10 gated || t_bail "the gates were not taken: $(cat "$E2E_TMP/gate.out")"

# ---------------------------------------------------------------- 1
# Retry by id of a failed member while the group's other member ends.
dl=$(deadlocks)
printf -- '-- pgqfs: group=statements\nSELECT 1 / (nextval(%s) - 1) AS one;\nSELECT lo_gate(12, 71) AS two;\n' \
	"'lo_seq_11'" >"$W/g1.sql"
g1=$(new_id)
submit default "$W/g1.sql" "$g1.sql" || t_bail "cp of group 1"
wait_until 10 has_members "$g1" || t_bail "group 1 has no members"
a=$(member "$g1" 1) b=$(member "$g1" 2)
# The first member failed (division by zero), its end counted by the
# group; the second runs, its start stored, at its gate.
g1_ready() {
	[ "$(ctl "SELECT state || ' ' || attempt FROM task WHERE id = $a")" = "failed 1" ] &&
		[ "$(ctl "SELECT count(*) FROM task WHERE id = $b AND state = 'running'
			AND started_at IS NOT NULL AND log_size > 0")" = 1 ] &&
		[ "$(runs 12)" = 1 ]
}
t_ok "1: the first member failed, the second runs" wait_until 20 g1_ready
t_is "$(ctl "SELECT state || ' ' || n_ended || ' ' || n_bad FROM task WHERE id = $g1")" \
	"running 1 1" "1: the group runs, one member ended, failed"

hold_tally t1 default failed
(echo 1 >"$MNT/tasks/$a/retry"; echo $? >"$E2E_TMP/retry1.rc") &
retry_pid=$!
t_ok "1: the retry of the failed member waits for the tally row" \
	wait_until 10 waits "pgqfs filesystem" '%retry_task(%' "lockorder tally"
session_send gate "SELECT pg_advisory_unlock(71);"
t_ok "1: the batch of the second member's end waits for the retry" \
	wait_until 10 waits "pgqfs executor" '%' "pgqfs filesystem"
session_send t1 "COMMIT;"
session_close t1
wait "$retry_pid"
t_is "$(cat "$E2E_TMP/retry1.rc")" 0 "1: the retry write succeeds"
t_is "$(task_wait "$g1" 30)" done "1: the group ends, done"
t_is "$(cat "$MNT/tasks/$a/state") $(info_of "$a" attempt) $(runs 11)" "done 2 2" \
	"1: the retried member ran again, as attempt 2, and is done"
t_is "$(cat "$MNT/tasks/$b/state") $(info_of "$b" attempt) $(runs 12)" "done 1 1" \
	"1: the other member ran once and is done"
t_is "$(($(deadlocks) - dl))" 0 "1: the server saw no deadlock"

# ---------------------------------------------------------------- 2
# Cancel by id of a queued member while the step that records the end of
# the member running before it claims it (pool one: one worker).
dl=$(deadlocks)
printf -- '-- pgqfs: group=statements\nSELECT lo_gate(21, 72) AS one;\nSELECT nextval(%s) AS two;\n' \
	"'lo_seq_22'" >"$W/g2.sql"
g2=$(new_id)
submit one "$W/g2.sql" "$g2.sql" || t_bail "cp of group 2"
wait_until 10 has_members "$g2" || t_bail "group 2 has no members"
a=$(member "$g2" 1) b=$(member "$g2" 2)
g2_ready() {
	[ "$(ctl "SELECT count(*) FROM task WHERE id = $a AND state = 'running'
		AND started_at IS NOT NULL AND log_size > 0")" = 1 ] &&
		[ "$(runs 21)" = 1 ]
}
t_ok "2: the first member runs, at its gate" wait_until 20 g2_ready
t_is "$(ctl "SELECT state FROM task WHERE id = $b")" queued \
	"2: the second member waits, queued, for the pool's one worker"

hold_tally t2 one cancelled
(echo 1 >"$MNT/tasks/$b/cancel"; echo $? >"$E2E_TMP/cancel2.rc") &
cancel_pid=$!
t_ok "2: the cancel of the queued member waits for the tally row" \
	wait_until 10 waits "pgqfs filesystem" '%cancel_task(%' "lockorder tally"
session_send gate "SELECT pg_advisory_unlock(72);"
t_ok "2: the step that records the first member's end and claims waits for the cancel" \
	wait_until 10 waits "pgqfs executor" '%step(%' "pgqfs filesystem"
session_send t2 "COMMIT;"
session_close t2
wait "$cancel_pid"
t_is "$(cat "$E2E_TMP/cancel2.rc")" 0 "2: the cancel write succeeds"
t_is "$(task_wait "$g2" 30)" failed "2: the group ends, failed"
t_is "$(cat "$MNT/tasks/$a/state") $(info_of "$a" attempt) $(runs 21)" "done 1 1" \
	"2: the first member ran once and is done"
t_is "$(cat "$MNT/tasks/$b/state") $(runs 22)" "cancelled 0" \
	"2: the cancelled member is cancelled and never ran"
t_is "$(ctl "SELECT attempt || ' ' || (started_at IS NULL) FROM task WHERE id = $b")" "0 true" \
	"2: it was never claimed"
t_is "$(($(deadlocks) - dl))" 0 "2: the server saw no deadlock"

session_close gate

# ---------------------------------------------------------------- 4, 6
# (Before case 3, which kills daemon main.)  A cancel of a group X that
# waits (after=) for another group G, against the progress batch that ends
# G's only member, failed.  The cancel holds X and its first member and
# waits for the tally row (0, default, cancelled); the batch ends G failed
# (tally (0, default, failed)) and then, in settle(), fails the tasks that
# wait for it: it waited for X, holding the failed tally row that the
# cancel reaches once X ends.  A cancel now reads the tasks its task waits
# for (after=) first, shared: the batch, which locks G first, waits for
# the cancel, or it for the batch.  Case 6 is the same one level down: X
# waits for a group H that waits for G (the batch fails both in one
# settle()), and the cancel reads G too.
#
# chain LABEL DEPTH SEQ KEY: G's member counts its run on lo_seq_SEQ and
# waits at advisory lock KEY; DEPTH groups of one member wait in a line
# behind G, and X, of two members, behind them (lo_seq_SEQ+1 onwards).
has_member() { [ -n "$(member "$1" 1)" ]; }
chain() {
	local label=$1 depth=$2 seq=$3 key=$4 g x a i ids=() dl
	dl=$(deadlocks)
	session_open "gate$label" app
	session_send "gate$label" "SELECT pg_advisory_lock($key), 'gated';"
	wait_until 10 grep -q gated "$E2E_TMP/gate$label.out" ||
		t_bail "the gate of case $label was not taken: $(cat "$E2E_TMP/gate$label.out")"
	printf -- '-- pgqfs: group=statements\nSELECT lo_gate(%s, %s) / 0 AS one;\n' \
		"$seq" "$key" >"$W/c$label-g.sql"
	g=$(new_id)
	submit default "$W/c$label-g.sql" "$g.sql" || t_bail "cp of case $label's first group"
	x=$g
	for ((i = 1; i <= depth; i++)); do
		printf -- '-- pgqfs: group=statements after=%s\nSELECT nextval(%s) AS one;\n' \
			"$x" "'lo_seq_$((seq + i))'" >"$W/c$label-h$i.sql"
		x=$(new_id)
		submit default "$W/c$label-h$i.sql" "$x.sql" || t_bail "cp of case $label's group $i"
		ids+=("$x")
	done
	printf -- '-- pgqfs: group=statements after=%s\nSELECT nextval(%s) AS one;\nSELECT nextval(%s) AS two;\n' \
		"$x" "'lo_seq_$((seq + depth + 1))'" "'lo_seq_$((seq + depth + 2))'" >"$W/c$label-x.sql"
	x=$(new_id)
	submit default "$W/c$label-x.sql" "$x.sql" || t_bail "cp of case $label's last group"
	ids+=("$x")
	wait_until 10 has_member "$g" || t_bail "case $label's first group has no member"
	wait_until 10 has_members "$x" || t_bail "case $label's last group has no members"
	a=$(member "$g" 1)
	local waiting
	waiting=$(printf 'queued 1,%.0s' "${ids[@]}")
	chain_ready() {
		[ "$(ctl "SELECT count(*) FROM task WHERE id = $a AND state = 'running'
			AND started_at IS NOT NULL AND log_size > 0")" = 1 ] &&
			[ "$(runs "$seq")" = 1 ] &&
			[ "$(ctl "SELECT string_agg(state || ' ' || deps, ',' ORDER BY id) || ','
				FROM task WHERE id IN ($(IFS=,; echo "${ids[*]}"))")" = "$waiting" ]
	}
	t_ok "$label: G's member runs, at its gate; the groups behind it wait, queued" \
		wait_until 20 chain_ready

	hold_tally "t$label" default cancelled
	(echo 1 >"$MNT/tasks/$x/cancel"; echo $? >"$E2E_TMP/cancel$label.rc") &
	local cancel_pid=$!
	t_ok "$label: the cancel of the last group waits for the tally row" \
		wait_until 10 waits "pgqfs filesystem" '%cancel_task(%' "lockorder tally"
	session_send "gate$label" "SELECT pg_advisory_unlock($key);"
	t_ok "$label: the batch of G's member's end waits for the cancel" \
		wait_until 10 waits "pgqfs executor" '%' "pgqfs filesystem"
	session_send "t$label" "COMMIT;"
	session_close "t$label"
	wait "$cancel_pid"
	t_is "$(cat "$E2E_TMP/cancel$label.rc")" 0 "$label: the cancel write succeeds"
	t_is "$(task_wait "$g" 30)" failed "$label: G ends, failed"
	for i in "${ids[@]}"; do
		t_is "$(task_wait "$i" 30)" failed "$label: group $i, behind it, ends failed"
	done
	t_is "$(ctl "SELECT string_agg(state, ' ' ORDER BY id) FROM task WHERE group_id = $x")" \
		"cancelled cancelled" "$label: the cancelled group's members are cancelled"
	for ((i = 1; i <= depth + 2; i++)); do
		t_is "$(runs $((seq + i)))" 0 "$label: lo_seq_$((seq + i))'s member never ran"
	done
	t_is "$(($(deadlocks) - dl))" 0 "$label: the server saw no deadlock"
	session_close "gate$label"
}
chain 4 0 41 74
chain 6 1 61 76

# ---------------------------------------------------------------- 5
# Cancels, at the same moment, of a queued group and of a group that
# waits for it (after=), in a paused pool.  Each cancel holds its group and
# its first member and waits for the tally row (0, default, cancelled);
# once it goes, the first cancel ends its group (the failed tally row)
# and then fails the waiting group (settle()), which the second cancel
# held while it waited for the cancelled tally row that the first holds.
# A cancel now reads the tasks its task waits for (after=) first, shared:
# the second waits for the first's lock on the group it waits for instead.
case5() {	# LABEL HOW (the waiting group's cancel; id: tasks/ID/cancel; rm: of its pending file) SEQ
	local g5 d5 cancel_pid cancel2_pid dl
	dl=$(deadlocks)
	echo 1 >"$MNT/pools/default/paused" || t_fail "$1: pause of the pool"
	printf -- '-- pgqfs: group=statements\nSELECT nextval(%s) AS one;\nSELECT nextval(%s) AS two;\n' \
		"'lo_seq_$(($3))'" "'lo_seq_$(($3 + 1))'" >"$W/g5.sql"
	g5=$(new_id)
	submit default "$W/g5.sql" "$g5.sql" || t_bail "cp of group 5"
	printf -- '-- pgqfs: group=statements after=%s\nSELECT nextval(%s) AS one;\nSELECT nextval(%s) AS two;\n' \
		"$g5" "'lo_seq_$(($3 + 2))'" "'lo_seq_$(($3 + 3))'" >"$W/d5.sql"
	d5=$(new_id)
	submit default "$W/d5.sql" "$d5.sql" || t_bail "cp of group 5's waiting group"
	t_is "$(ctl "SELECT string_agg(state || ' ' || deps, ',' ORDER BY id) FROM task WHERE id IN ($g5, $d5)")" \
		"queued 0,queued 1" "$1: both groups wait, queued, the second for the first"
	hold_tally t5 default cancelled
	(echo 1 >"$MNT/tasks/$g5/cancel"; echo $? >"$E2E_TMP/cancel5g.rc") &
	cancel_pid=$!
	t_ok "$1: the group's cancel waits for the tally row" \
		wait_until 10 waits "pgqfs filesystem" '%cancel_task(%' "lockorder tally"
	if [ "$2" = rm ]; then
		(rm "$MNT/queue/default/$d5.sql" 2>"$E2E_TMP/cancel5d.err"; echo $? >"$E2E_TMP/cancel5d.rc") &
	else
		(echo 1 >"$MNT/tasks/$d5/cancel" 2>"$E2E_TMP/cancel5d.err"; echo $? >"$E2E_TMP/cancel5d.rc") &
	fi
	cancel2_pid=$!
	two_cancels_wait() {
		[ "$(ctl "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgqfs filesystem'
			AND wait_event_type = 'Lock' AND query LIKE '%cancel%(%'")" = 2 ]
	}
	t_ok "$1: the waiting group's cancel waits too" wait_until 10 two_cancels_wait
	session_send t5 "COMMIT;"
	session_close t5
	wait "$cancel_pid" "$cancel2_pid"
	t_is "$(cat "$E2E_TMP/cancel5g.rc")" 0 "$1: the group's cancel succeeds"
	# Done, or refused as too late: the first cancel failed the waiting group.
	t_like "$(cat "$E2E_TMP/cancel5d.rc") $(cat "$E2E_TMP/cancel5d.err")" \
		'^(0 |1 .*(Invalid argument|No such file))' "$1: the waiting group's cancel ($2) succeeds, or finds it ended"
	t_is "$(cat "$MNT/tasks/$g5/state") $(cat "$MNT/tasks/$d5/state")" "failed failed" \
		"$1: both groups end, failed"
	t_like "$(ctl "SELECT string_agg(state, ' ' ORDER BY id) FROM task WHERE group_id IN ($g5, $d5)")" \
		'^cancelled cancelled (cancelled|failed) (cancelled|failed)$' "$1: their members are cancelled, or failed unrun"
	t_is "$(runs $3) $(runs $(($3 + 1))) $(runs $(($3 + 2))) $(runs $(($3 + 3)))" "0 0 0 0" "$1: none of them ran"
	t_is "$(($(deadlocks) - dl))" 0 "$1: the server saw no deadlock"
	echo 0 >"$MNT/pools/default/paused" || t_fail "$1: resume of the pool"
}
case5 5 id 51
case5 5b rm 55


# ---------------------------------------------------------------- 3
# The recovery of a dead daemon's running members against a cancel of
# their group.  Daemon b, started once both members run on main (so that
# it claims neither), recovers main's instance after the kill (at its
# next periodic recovery, within 5 s); the cancel goes through b.
dl=$(deadlocks)
# Its gate, advisory lock 73, is held by a psql of its own, not by a
# session_open session: daemon b, started while it is held, would inherit
# the session's pipe and keep it open.
PGAPPNAME='lockorder gate' psql_ref -d app -qAt -c 'SELECT pg_advisory_lock(73)' \
	-c 'SELECT pg_sleep(600)' >/dev/null 2>&1 &
gate3_pid=$!
wait_until 10 advisory_held 73 || t_bail "the gate of case 3 was not taken"
printf -- '-- pgqfs: group=statements\nSELECT lo_gate(31, 73) AS one;\nSELECT lo_gate(32, 73) AS two;\n' \
	>"$W/g3.sql"
g3=$(new_id)
submit default "$W/g3.sql" "$g3.sql" || t_bail "cp of group 3"
wait_until 10 has_members "$g3" || t_bail "group 3 has no members"
a=$(member "$g3" 1) b=$(member "$g3" 2)
g3_ready() {
	[ "$(ctl "SELECT count(*) FROM task WHERE group_id = $g3 AND state = 'running'
		AND started_at IS NOT NULL AND log_size > 0")" = 2 ] &&
		[ "$(runs 31) $(runs 32)" = "1 1" ]
}
t_ok "3: both members run on main, at their gate" wait_until 20 g3_ready
pgqfs_start b || t_bail "daemon b did not start"
B=$(mnt b)
main_inst=$(ctl "SELECT id FROM instance WHERE pid = ${PGQFS_PID[main]}")

hold_tally t3 default failed
pgqfs_kill9 main
t_pass "3: daemon main killed with SIGKILL"
t_ok "3: b's recovery of main's members waits for the tally row" \
	wait_until 20 waits "pgqfs executor" '%recover(%' "lockorder tally"
(echo 1 >"$B/tasks/$g3/cancel" 2>"$E2E_TMP/cancel3.err"; echo $? >"$E2E_TMP/cancel3.rc") &
cancel_pid=$!
t_ok "3: the cancel of the group waits for the recovery" \
	wait_until 10 waits "pgqfs filesystem" '%cancel_task(%' "pgqfs executor"
session_send t3 "COMMIT;"
session_close t3
wait "$cancel_pid"
# Done, or refused as too late: the recovery ended the group first.
t_like "$(cat "$E2E_TMP/cancel3.rc") $(cat "$E2E_TMP/cancel3.err")" \
	'^(0 |1 .*Invalid argument)' "3: the cancel write succeeds, or finds the group ended"
MNT=$B
t_is "$(task_wait "$g3" 30)" failed "3: the group ends, failed"
t_is "$(ctl "SELECT string_agg(state || ' ' || attempt || ' ' || (instance = $main_inst), ',' ORDER BY id)
	FROM task WHERE group_id = $g3")" "failed 1 true,failed 1 true" \
	"3: both members failed on main's instance, at their first attempt"
for m in "$a" "$b"; do
	t_like "$(cat "$B/tasks/$m/error")" 'outcome is unknown and the task was not run again' \
		"3: member $m failed, its outcome unknown"
done
app "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
	WHERE application_name = 'lockorder gate'" >/dev/null
wait "$gate3_pid"
# The backends main left at the gate go on to their end, with no client.
no_task_sessions() {
	[ "$(app "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %'")" = 0 ]
}
t_ok "3: the members' backends end once the gate opens" wait_until 10 no_task_sessions
t_is "$(runs 31) $(runs 32)" "1 1" "3: neither member ran again"
t_is "$(($(deadlocks) - dl))" 0 "3: the server saw no deadlock"

t_done
