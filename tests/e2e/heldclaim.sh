#!/usr/bin/env bash
# A file claimed with its staging (schema_v13.sql.h) on an idle daemon:
# its row is running with no started_at from the flush on, and the task
# starts only at the file's last close.  A writer that closes one of two
# descriptors (a dup) makes the flush without the release, so the test
# can act while the claim is held:
#   - more written and closed: the task runs once, the whole file, as psql
#     runs it (a file cut short never runs);
#   - removed: nothing runs, and its slot (a pool of one) is free again;
#   - cancelled: it ends cancelled and never runs;
#   - the executor's control connection lost: staged again once it is
#     back, and it runs once at the last close;
#   - the daemon stopped (SIGTERM): the row is staged again, and the next
#     start's recovery queues it: it runs once (but a task started at its
#     release, its start not yet on record, is not: it runs once too);
#   - the daemon killed (-9): the recovery fails it as of unknown outcome
#     (it may have started); it does not run.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	config_pgqfs 0
	config_target main 4
	config_pool one main 1
	config_pool two main 1
}
pg_start
ran_tables
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

# dup_writer PATH FIRST SECOND OUT: in the background (WRITER_PID), opens
# PATH, writes FIRST, dups the descriptor and closes the first one (a
# flush, no release), creates OUT.ready, waits for OUT.go, writes SECOND
# on the dup and closes it (the release); OUT gets "closed" or "error N".
dup_writer() {
	python3 - "$@" <<'PY' &
import os, sys, time
os.closerange(3, 1024)
path, first, second, out = sys.argv[1:5]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, first.encode())
fd2 = os.dup(fd)
os.close(fd)
open(out + ".ready", "w").close()
while not os.path.exists(out + ".go"):
    time.sleep(0.02)
try:
    if second:
        os.write(fd2, second.encode())
    os.close(fd2)
    how = "closed"
except OSError as e:
    how = "error %d" % e.errno
with open(out, "w") as f:
    f.write(how + "\n")
PY
	WRITER_PID=$!
}
# held ID: task ID's row is claimed with its staging, not started.
held() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT state || ' ' || (started_at IS NULL)
		FROM pgqfs.task WHERE id = $1")" = "running true" ]
}
ran_count() {
	psql_ref -d app -tAc "SELECT count(*) FROM ran WHERE tag = '$1'"
}
# go OUT: lets the writer of OUT finish, and checks that it closed.
go() {
	touch "$1.go"
	wait "$WRITER_PID"
	t_is "$(cat "$1")" closed "$2: the writer's last close succeeds"
}

# 1. Written again after the flush that claimed it.
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('whole');
SELECT 1 AS first;
" "SELECT 2 AS second;
" "$W/w1"
t_ok "whole: the writer flushed" wait_until 10 test -e "$W/w1.ready"
t_ok "whole: its row is claimed with its staging, not started" wait_until 10 held "$id"
sleep 0.3
t_is "$(ran_count whole)" 0 "whole: nothing runs before the last close"
go "$W/w1" whole
t_is "$(task_wait "$id" 20)" done "whole: it runs"
printf "INSERT INTO ran VALUES ('whole');\nSELECT 1 AS first;\nSELECT 2 AS second;\n" >"$W/whole.sql"
psql_ref -d ref -X -q --csv -v ON_ERROR_STOP=1 -f "$W/whole.sql" >"$W/whole.ref"
t_cmp "$W/whole.ref" "$MNT/tasks/$id/result" "whole: the whole file ran, as psql runs it"
t_is "$(ran_count whole)" 1 "whole: it ran once"
t_is "$(info_of "$id" attempt)" 1 "whole: its first attempt"
sub=$(iso_ms "$(info_of "$id" submitted_at)") start=$(iso_ms "$(info_of "$id" started_at)")
t_ok "whole: started_at ($start) is not before submitted_at ($sub)" test "$start" -ge "$sub"

# 2. Removed while held: nothing runs, and the pool's one slot is free.
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('removed');
" "" "$W/w2"
t_ok "removed: its row is claimed with its staging" wait_until 10 held "$id"
# A reader parked on its wait is answered, as for a task that is gone.
(timeout 20 cat "$MNT/tasks/$id/wait" >"$W/w2.wait" 2>"$W/w2.err"; echo $? >"$W/w2.rc") &
waiter=$!
t_ok "removed: a wait reader parks on it" wait_until 10 eval \
	'[ "$(awk '"'"'$1 == "waiting" { print $2 }'"'"' "$MNT/stats")" = 1 ]'
rm "$MNT/queue/one/$id.sql"
t_is "$?" 0 "removed: rm succeeds"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE id = $id")" 0 \
	"removed: its row is gone"
t_ok "removed: the wait reader is answered within 5 s" wait_until 5 test -s "$W/w2.rc"
wait "$waiter"
t_like "$(cat "$W/w2.err")" 'No such file or directory' "removed: it gets ENOENT"
go "$W/w2" removed
printf 'SELECT 3 AS next;\n' >"$W/next.sql"
id2=$(new_id)
submit one "$W/next.sql" "$id2.sql" || t_fail "cp of the next task"
t_is "$(task_wait "$id2" 20)" done "removed: the next task of the pool of one runs"
t_is "$(ran_count removed)" 0 "removed: it never ran"

# 3. Cancelled while held.
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('cancelled');
" "" "$W/w3"
t_ok "cancelled: its row is claimed with its staging" wait_until 10 held "$id"
echo 1 >"$MNT/tasks/$id/cancel"
t_is "$?" 0 "cancelled: the cancel is accepted"
# A cancel reaches the daemon through a NOTIFY, as for any running task:
# a release that came first would start it, and the cancel stop it then.
t_ok "cancelled: it ends cancelled before its last close" \
	wait_file_content "$MNT/tasks/$id/state" cancelled
go "$W/w3" cancelled
t_is "$(task_wait "$id" 20)" cancelled "cancelled: it ends cancelled"
sleep 0.3
t_is "$(ran_count cancelled)" 0 "cancelled: it never ran"
id2=$(new_id)
submit one "$W/next.sql" "$id2.sql" || t_fail "cp of the next task"
t_is "$(task_wait "$id2" 20)" done "cancelled: the next task of the pool of one runs"

# 3b. The executor's control connection lost while the file is held: the
# claim is given back once it is connected again (not failed by the
# recovery as if it had run), and the file runs once at its last close.
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('lost');
" "" "$W/w3b"
t_ok "lost: its row is claimed with its staging" wait_until 10 held "$id"
executor_terminate
staged_again() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT state FROM pgqfs.task WHERE id = $1")" = staged ]
}
t_ok "lost: its row is staged again once the executor is connected again" \
	wait_until 20 staged_again "$id"
go "$W/w3b" lost
t_is "$(task_wait "$id" 20)" done "lost: it runs at its last close"
t_is "$(ran_count lost)" 1 "lost: it ran once"

# 3d, 3e. The daemon frozen (SIGSTOP: it cannot connect again) while a
# file is held, some of its sessions ended, and a recovery run meanwhile,
# as another daemon's would be: the held row is left to its daemon, not
# failed as of unknown outcome.  Thawed, the daemon gives the claim back,
# and the file runs once at its last close.
#   3d: only the executor's session ends: the daemon lives, its
#       filesystem's sessions hold its token's lock;
#   3e: every session of the daemon ends (as after a server restart):
#       nothing holds its token's lock, and its instance is lost, not yet
#       dead (gone less than 10 s).
frozen_case() {	# TAG END-SESSIONS-FUNCTION
	local tag=$1 end=$2 id
	id=$(new_id)
	dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('$tag');
" "" "$W/w-$tag"
	t_ok "$tag: its row is claimed with its staging" wait_until 10 held "$id"
	kill -STOP "${PGQFS_PID[main]}"
	"$end"
	psql_ref -d pgqfs_ctl -qtAc "SET search_path = pgqfs; SELECT failed FROM recover(0)" >/dev/null
	t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT state || ' ' || (started_at IS NULL)
		FROM pgqfs.task WHERE id = $id")" "running true" \
		"$tag: a recovery meanwhile leaves the held row to its daemon"
	kill -CONT "${PGQFS_PID[main]}"
	t_ok "$tag: its row is staged again once the daemon is connected again" \
		wait_until 20 staged_again "$id"
	go "$W/w-$tag" "$tag"
	t_is "$(task_wait "$id" 20)" done "$tag: it runs at its last close"
	t_is "$(ran_count "$tag")" 1 "$tag: it ran once"
}
all_sessions_end() {
	psql_ref -d app -qtAc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = 'pgqfs_ctl' AND backend_type = 'client backend'" >/dev/null
	_none_left() {
		[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_stat_activity
			WHERE datname = 'pgqfs_ctl' AND backend_type = 'client backend'
			AND pid <> pg_backend_pid()")" = 0 ]
	}
	t_ok "all-gone: no session of the daemon is left" wait_until 10 _none_left
}
frozen_case frozen executor_terminate
frozen_case all-gone all_sessions_end

# 3c. The executor's control connection lost and kept out (new sessions
# of the control database refused, the filesystem's own sessions left
# alone), the file released meanwhile, then the daemon stopped: the claim
# the executor had to give back goes back through the filesystem's
# sessions at the stop, and the restart's recovery queues the row: it runs
# once (not failed as of unknown outcome).
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('kept-out');
" "" "$W/w3c"
t_ok "kept out: its row is claimed with its staging" wait_until 10 held "$id"
retries=$(grep -c 'cannot connect to the control database, trying again' "${PGQFS_LOG[main]}")
hba=$PG_DIR/data/pg_hba.conf
cp -p -- "$hba" "$W/hba.orig"
{ printf 'local pgqfs_ctl all reject\n'; cat -- "$W/hba.orig"; } >"$hba"
_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
sleep 0.3
# As executor_terminate, from another database: this one refuses us too.
t_is "$(psql_ref -d app -tAc "SELECT count(pg_terminate_backend(pid))
	FROM pg_stat_activity WHERE application_name = 'pgqfs executor'")" 1 \
	"kept out: the executor's control connection is terminated"
kept_out() {
	[ "$(grep -c 'cannot connect to the control database, trying again' "${PGQFS_LOG[main]}")" -gt "$retries" ]
}
t_ok "kept out: the executor cannot connect again" wait_until 10 kept_out
go "$W/w3c" kept-out
sleep 0.3
t_is "$(ran_count kept-out)" 0 "kept out: it does not start without the control connection"
pgqfs_stop
cp -p -- "$W/hba.orig" "$hba"
_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT state FROM pgqfs.task WHERE id = $id")" staged \
	"kept out: its row is staged again at the stop"
pgqfs_start || t_bail "daemon did not start again"
t_is "$(task_wait "$id" 30)" done "kept out: it runs after the restart"
t_is "$(ran_count kept-out)" 1 "kept out: it ran once"

# 4. The daemon stops while the file is open: staged again, and queued by
# the next start's recovery.
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('stopped');
" "" "$W/w4"
t_ok "stopped: its row is claimed with its staging" wait_until 10 held "$id"
graces=$(grep -c 'shutdown_grace ran out' "${PGQFS_LOG[main]}")
pgqfs_stop
t_is "$(grep -c 'shutdown_grace ran out' "${PGQFS_LOG[main]}")" "$graces" \
	"stopped: the stop did not wait for the held file (its shutdown_grace did not run out)"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT state FROM pgqfs.task WHERE id = $id")" staged \
	"stopped: its row is staged again"
touch "$W/w4.go"
wait "$WRITER_PID"
pgqfs_start || t_bail "daemon did not start again"
t_is "$(task_wait "$id" 30)" done "stopped: it runs after the restart"
t_is "$(ran_count stopped)" 1 "stopped: it ran once"

# 4c. Released while the daemon drains (a task of another pool keeps the
# drain going): it was claimed before the drain, but no task starts on a
# draining daemon; its claim went back at the drain's start, and its
# release queues it.  It runs once, after the restart.
printf "SELECT pg_sleep(30);\n" >"$W/long.sql"
idl=$(new_id)
submit two "$W/long.sql" "$idl.sql" || t_fail "cp of the long task"
t_ok "draining: the long task runs" wait_file_content "$MNT/tasks/$idl/state" running
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('drained');
" "" "$W/w4c"
t_ok "draining: its row is claimed with its staging" wait_until 10 held "$id"
gave=$(grep -c 'gave their claims back' "${PGQFS_LOG[main]}")
kill -TERM "${PGQFS_PID[main]}"
gave_back() {
	[ "$(grep -c 'gave their claims back' "${PGQFS_LOG[main]}")" -gt "$gave" ]
}
t_ok "draining: the daemon drains, and gives the held file's claim back" wait_until 10 gave_back
go "$W/w4c" draining
sleep 0.5
t_is "$(ran_count drained)" 0 "draining: the released file did not start during the drain"
pgqfs_stop
t_like "$(psql_ref -d pgqfs_ctl -tAc "SELECT state FROM pgqfs.task WHERE id = $id")" '^(queued|staged)$' \
	"draining: its row waits for a daemon"
pgqfs_start || t_bail "daemon did not start again"
t_is "$(task_wait "$id" 30)" done "draining: it runs after the restart"
t_is "$(ran_count drained)" 1 "draining: it ran once"

# 4b. The daemon stops right after a held task started (its start not yet
# on record): it is not staged again; it runs once.
printf "INSERT INTO ran VALUES ('started');\nSELECT pg_sleep(0.5) AS slept;\n" >"$W/started.sql"
id=$(new_id)
submit one "$W/started.sql" "$id.sql" || t_fail "cp of the task stopped at once"
pgqfs_stop
pgqfs_start || t_bail "daemon did not start again"
t_like "$(task_wait "$id" 30)" '^(done|failed|cancelled)$' "started: it ended"
sleep 1
t_is "$(ran_count started)" 1 "started: it ran once"

# 5. The daemon killed while the file is open: it may have started, as far
# as a recovery can know: failed, outcome unknown, and not run.
id=$(new_id)
dup_writer "$MNT/queue/one/$id.sql" "INSERT INTO ran VALUES ('killed');
" "" "$W/w5"
t_ok "killed: its row is claimed with its staging" wait_until 10 held "$id"
pgqfs_kill9
touch "$W/w5.go"
wait "$WRITER_PID"
pgqfs_start || t_bail "daemon did not start again"
t_is "$(task_wait "$id" 30)" failed "killed: the recovery fails it"
t_like "$(cat "$MNT/tasks/$id/error")" "unknown" "killed: its error says the outcome is unknown"
t_is "$(ran_count killed)" 0 "killed: it did not run"
id2=$(new_id)
submit one "$W/next.sql" "$id2.sql" || t_fail "cp of the next task"
t_is "$(task_wait "$id2" 20)" done "killed: the next task of the pool of one runs"

# 6. The same name submitted through another daemon while the file is held
# here (a held row is running, so the name is free there), then written
# again here: the held row cannot go back to staged under a name that is
# pending again.  It fails, its error says why, and it never runs; the
# other daemon's file runs once; no row is left running.
pgqfs_start b || t_bail "daemon b did not start"
dup_writer "$MNT/queue/one/twin.sql" "INSERT INTO ran VALUES ('twin-a');
" "SELECT 1;
" "$W/w6"
t_ok "twin: its row is claimed with its staging" wait_until 10 test -e "$W/w6.ready"
ida=$(psql_ref -d pgqfs_ctl -tAc "SELECT id FROM pgqfs.task WHERE name = 'twin.sql'")
t_ok "twin: held here" wait_until 10 held "$ida"
printf "INSERT INTO ran VALUES ('twin-b');\n" >"$W/twin.sql"
cp "$W/twin.sql" "${PGQFS_MNT[b]}/queue/one/twin.sql"
t_is "$?" 0 "twin: the other daemon takes the same name"
idb=$(psql_ref -d pgqfs_ctl -tAc "SELECT id FROM pgqfs.task WHERE name = 'twin.sql' AND id <> $ida")
touch "$W/w6.go"
wait "$WRITER_PID"
t_like "$(cat "$W/w6")" '^error ' "twin: the last close here is refused ($(cat "$W/w6"))"
t_is "$(task_wait "$ida" 20)" failed "twin: the held row fails"
t_like "$(cat "$MNT/tasks/$ida/error")" "submitted again" "twin: its error says why"
t_is "$(task_wait "$idb" 20)" done "twin: the other daemon's file runs"
t_is "$(ran_count twin-b)" 1 "twin: it ran once"
t_is "$(ran_count twin-a)" 0 "twin: the held file never ran"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE state = 'running'")" 0 \
	"twin: no row is left running"
pgqfs_stop b
id2=$(new_id)
submit one "$W/next.sql" "$id2.sql" || t_fail "cp of the next task"
t_is "$(task_wait "$id2" 20)" done "twin: the next task of the pool of one runs here (no slot kept for it)"
pgqfs_stop
t_done
