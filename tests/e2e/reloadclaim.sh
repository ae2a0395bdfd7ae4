#!/usr/bin/env bash
# A claim answers for the pools it was sent for, whatever happened to
# them meanwhile.
#
# 1. A reload removes pool p2 (and its target) while a claim for a file
#    copied into p2 is in flight (it waits on p2's claim lock, held
#    here).  The task the claim took is the daemon's: it runs on the
#    removed pool's target and ends done, with psql's result; it is not
#    failed (it was, saying "out of memory").
# 2. A file released while a claim is in flight waits for the next
#    claim; the daemon stops before that.  The stop sends it all the same
#    (asking for nothing), so the file is queued, not left staged for a
#    recovery; the next start runs it, once.  The daemon drains as soon
#    as that is done (it waited for shutdown_grace to run out: a committed
#    progress batch counted as one still to send).
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool p3]\ntarget = main\nmax_workers = 1\n'
	[ -e "$E2E_TMP/no-p2" ] && return
	printf '\n[target t2]\nconninfo = %s\nmax_workers = 1\n\n[pool p2]\ntarget = t2\nmax_workers = 1\n' \
		"$PGQFS_TARGET"
}
pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
CONF=$E2E_TMP/main.conf
PID=${PGQFS_PID[main]}
LOG=${PGQFS_LOG[main]}
printf 'SELECT 41 + 1 AS x, current_setting(%s) AS app;\n' "'application_name'" >"$W/a.sql"
printf 'SELECT 7 AS y;\n' >"$W/b.sql"
lock_sql() {
	echo "BEGIN; SELECT pg_advisory_xact_lock(hashtext('pgqfs' || '.pool'), hashtext('$1')); SELECT 'locked';"
}
# session_locked NAME: the session's lock is taken (it said so).
session_locked() {
	wait_until 10 grep -q locked "$E2E_TMP/$1.out" || t_bail "session $1 did not take its lock"
}
# The claim of a file waits on the lock when its pool's lock is held by
# some other session than the daemon's.
claim_waits() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_stat_activity
		WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'")" -ge 1 ]
}
ctl() { psql_ref -d pgqfs_ctl -tAc "$1"; }

# ---- 1: a reload removes the pool of the claim in flight
session_open lk pgqfs_ctl
session_send lk "$(lock_sql p2)"
session_locked lk
id=$(new_id)
submit p2 "$W/a.sql" "$id.sql" || t_fail "cp into p2"
t_ok "the claim of the file waits on p2's lock" wait_until 10 claim_waits
touch "$E2E_TMP/no-p2"
pgqfs_config main >"$CONF"
kill -HUP "$PID"
reloaded() { grep -q 'reload: the executor runs 3 pools' "$LOG"; }
t_ok "the daemon reloads without p2" wait_until 10 reloaded
t_ok "it says the claim's tasks run" grep -q \
	'reload: pool p2 removed: the tasks the claim in flight takes for it run' "$LOG"
session_send lk "COMMIT;"
session_close lk
t_is "$(task_wait "$id" 20)" done "the task the claim took ends done"
t_is "$(cat "$MNT/tasks/$id/error" 2>/dev/null)" "" "with no error"
t_cmp <(PGAPPNAME="pgqfs task $id" psql_ref -d app --csv -f "$W/a.sql") \
	"$MNT/tasks/$id/result" "its result is psql's (under its own name)"
t_is "$(ctl "SELECT pool || ' ' || attempt FROM pgqfs.task WHERE id = $id")" "p2 1" \
	"it ran once, in p2"
# A later reload lets the emptied pool and its target go.
kill -HUP "$PID"
twice() { [ "$(grep -c 'reload: the executor runs 3 pools' "$LOG")" -ge 2 ]; }
t_ok "the daemon reloads again" wait_until 10 twice
t_ok "and lives" kill -0 "$PID"

# stop_behind_claim POOL1 POOL2 WHAT: a file into POOL1, whose claim waits
# on POOL1's lock (held by a session of ours), and a second into POOL2,
# released while that claim is in flight; then SIGTERM, the lock let go,
# and the daemon's exit.  Sets IDA and IDB.
stop_behind_claim() {
	session_open lk2 pgqfs_ctl
	session_send lk2 "$(lock_sql "$1")"
	session_locked lk2
	IDA=$(new_id)
	submit "$1" "$W/b.sql" "$IDA.sql" || t_fail "$3: cp into $1"
	t_ok "$3: the claim of the file into $1 waits on its lock" wait_until 10 claim_waits
	IDB=$(new_id)
	submit "$2" "$W/b.sql" "$IDB.sql" || t_fail "$3: cp into $2"
	t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $IDB")" staged \
		"$3: the file into $2 is staged, its release waiting for the claim in flight"
	kill -TERM "$PID"
	sleep 0.5
	session_send lk2 "COMMIT;"
	session_close lk2
	for ((i = 0; i < 300; i++)); do
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	t_ok "$3: the daemon stops" bash -c "! kill -0 $PID 2>/dev/null"
	wait "$PID"
	t_is "$?" 0 "$3: with status 0"
	_pgqfs_forget main
}

# ---- 2: a release pending when the daemon stops
stop_behind_claim default p3 "drained stop"
# It was drained as soon as the claim answered and its task ended, well
# within shutdown_grace (2 s): nothing was left to cancel.
t_ok "the daemon says it drained" grep -q 'drained: no task runs here any more' "$LOG"
t_ok "before shutdown_grace ran out" bash -c "! grep -q 'shutdown_grace ran out' '$LOG'"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $IDB")" queued \
	"the second file's release was sent before the stop: it is queued"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $IDA")" done \
	"the first file, claimed before the stop, ran"
# This start stops without a drain (shutdown_grace = 0).
PGQFS_SHUTDOWN_GRACE=0 pgqfs_start || t_bail "daemon did not start again"
PID=${PGQFS_PID[main]}
t_is "$(task_wait "$IDB" 20)" done "the next start runs the queued file"
t_is "$(ctl "SELECT attempt FROM pgqfs.task WHERE id = $IDB")" 1 "once"
t_cmp <(psql_ref -d app --csv -f "$W/b.sql") "$MNT/tasks/$IDB/result" "with psql's result"

# ---- 3: the same at a stop without a drain, no task running: the claim
# in flight (a file into paused p3, which it queues) answers after the
# stop began, and the release behind it is sent before the daemon exits.
echo 1 >"$MNT/pools/p3/paused"
stop_behind_claim p3 default "stop without a drain"
idc=$IDA idd=$IDB
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $idd")" queued \
	"the release pending at the stop was sent: the file is queued"
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $idc")" queued \
	"the file into paused p3 is queued"
pgqfs_start || t_bail "daemon did not start a third time"
t_is "$(task_wait "$idd" 20)" done "the next start runs it"
echo 0 >"$MNT/pools/p3/paused"
t_is "$(task_wait "$idc" 20)" done "and p3's, once resumed"
t_is "$(ctl "SELECT string_agg(attempt::text, ' ' ORDER BY id) FROM pgqfs.task
	WHERE id IN ($idc, $idd)")" "1 1" "each once"
pgqfs_stop
t_done
