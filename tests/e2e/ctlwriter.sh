#!/usr/bin/env bash
# Another daemon's recovery leaves a file still open for writing alone.
# Daemon a holds a file open whose first part is stored (fsync), and runs a
# long task; its executor's control connection is terminated, and new
# connections are refused, so that it cannot come back; daemon b's
# recovery then finds a's executor gone.  a's filesystem is alive (its
# connections hold the writer lock): the long task fails (its executor
# cancelled it), but the staged row is not queued and a's instance stays.
# When connections are allowed again, a takes its instance back, and the
# whole file runs once when its writer closes it.  (Before, b queued the
# stored part, which ran while its writer was still writing.)  Last, a is
# killed with a file open: its filesystem is gone too, and b's recovery
# queues the stored part, as after any daemon's death.
. "$SRCDIR/e2e/lib.sh"

role_daemons
inst=$INST
ctl() { psql_ref -d pgqfs_ctl -tAc "$1"; }

# A long task on a (its own release claims it), and an open file.
printf 'SELECT pg_sleep(120);\n' >"$W/long.sql"
cp "$W/long.sql" "$A/queue/default/long.sql" || t_bail "cp of long.sql"
long=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'long.sql'")
on_a() { [ "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE id = $long")" = "running $inst" ]; }
t_ok "a long task runs on daemon a" wait_until 10 on_a
open_writer "$A/queue/default/open.sql" "$W/go" "$W/open.out"
ready() { [ -e "$W/open.out.ready" ]; }
t_ok "the open file's first part is stored" wait_until 10 ready
t_is "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE name = 'open.sql'")" \
	"staged $inst" "its row is staged, under a's instance"

# cut INST: the executor connection of instance INST (the session holding
# its lock) is terminated.
cut() {
	t_is "$(ctl "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory'
		AND objsubid = 2 AND objid = $1 AND mode = 'ExclusiveLock' AND granted")" 1 \
		"the executor connection of a's instance $1 is terminated"
}

role_refuse
cut "$inst"
failed() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE id = $long")" = failed ]; }
t_ok "b's recovery finds a's executor gone: the long task fails" wait_until 30 failed
t_like "$(cat "$A/tasks/$long/error")" 'lost its control connection' "its error says why"
t_is "$(ctl "SELECT string_agg(state, ',') FROM pgqfs.task WHERE name = 'open.sql'")" staged \
	"the open file's row is still staged: not queued by b's recovery"
t_is "$(ctl "SELECT count(*) FROM pgqfs.instance WHERE id = $inst")" 1 "a's instance stays"
t_ok "b's log says no staged task was queued" \
	bash -c "! grep -Eq '[1-9][0-9]* staged tasks queued' '${PGQFS_LOG[b]}'"

role_allow
# It takes its instance back; or, if a recovery was looking at that moment,
# registers a new one and moves its staged rows there.
backs() { grep -c "reconnected to the control database as instance" "${PGQFS_LOG[a]}"; }
back() { [ "$(backs)" -gt "$before" ]; }
before=0
t_ok "daemon a reconnects" wait_until 30 back
writer_finish open.sql "$W/go" "$W/open.out" "$W/whole.ref"

# Twice: a's old session lingers when its executor comes back (a session
# of ours holds its instance's lock), so a registers a new instance and
# moves its staged rows there; then that executor's connection goes too.
# b's recovery still leaves the open file staged: a's filesystem holds the
# token's lock (before, the second instance of one daemon was taken for
# dead as soon as its first was there).
inst=$(ctl "SELECT id FROM pgqfs.instance WHERE pid = ${PGQFS_PID[a]}")
rm -f "$W/go"
open_writer "$A/queue/default/twice.sql" "$W/go" "$W/twice.out"
ready3() { [ -e "$W/twice.out.ready" ]; }
t_ok "a third open file's first part is stored" wait_until 10 ready3
role_refuse
cut "$inst"
session_open linger pgqfs_ctl
session_send linger "SELECT 'held', pg_advisory_lock(hashtext('pgqfs'), $inst);"
held() { [ "$(ctl "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objsubid = 2
	AND objid = $inst AND mode = 'ExclusiveLock' AND granted")" = 1 ]; }
t_ok "a session of ours holds a's instance lock, as a lingering one would" wait_until 20 held
role_allow
inst2() { ctl "SELECT id FROM pgqfs.instance WHERE pid = ${PGQFS_PID[a]} AND id <> $inst"; }
moved() { [ -n "$(inst2)" ] &&
	[ "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE name = 'twice.sql'")" = \
	  "staged $(inst2)" ]; }
t_ok "a registers a new instance and moves its staged row there" wait_until 30 moved
i2=$(inst2)
cp "$W/long.sql" "$A/queue/default/long2.sql" || t_fail "cp of long2.sql"
long=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'long2.sql'")
on_a2() { [ "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE id = $long")" = "running $i2" ]; }
t_ok "a long task runs on a's new instance" wait_until 10 on_a2
role_refuse
cut "$i2"
t_ok "b's recovery finds the new instance's executor gone: the long task fails" \
	wait_until 30 failed
t_is "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE name = 'twice.sql'")" \
	"staged $i2" "the open file's row is still staged under it"
session_close linger
t_is "$(recover_now)" 0 \
	"with its lingering session gone, a recovery (ours, at once) queues nothing"
t_is "$(ctl "SELECT count(*) FROM pgqfs.instance WHERE id IN ($inst, $i2)")" 2 \
	"both of a's instances stay registered while a's filesystem lives"
before=$(backs)
role_allow
t_ok "daemon a reconnects again" wait_until 30 back
writer_finish twice.sql "$W/go" "$W/twice.out" "$W/whole.ref"

# Daemon a dies with a file open: b's recovery queues the stored part.
rm -f "$W/go"
open_writer "$A/queue/default/dies.sql" "$W/go" "$W/dies.out"
ready2() { [ -e "$W/dies.out.ready" ]; }
t_ok "another open file's first part is stored" wait_until 10 ready2
kill -9 "${PGQFS_PID[a]}"
fusermount3 -uz "$A" 2>/dev/null
touch "$W/go"		# its writer finds the mount gone, and ends
wait "$WRITER_PID" 2>/dev/null
_pgqfs_forget a
dies=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'dies.sql'")
ran() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE id = $dies")" = done ]; }
t_ok "after a's death, b's recovery queues its stored part, which runs" wait_until 30 ran
pgqfs_stop b
t_done
