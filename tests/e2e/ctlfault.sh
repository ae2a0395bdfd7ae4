#!/usr/bin/env bash
# Faults on the control connection that are not the daemon's death:
# (a) control statements that fail (a lock held past lock_timeout) are
#     retried: every task ends done, none "outcome unknown", no new
#     instance;
# (b) a daemon shut out of the control database while another daemon's
#     task ends answers its parked reader soon after it is let back in
#     (the NOTIFY it missed is made up for after the reconnection);
# (c) while its control database does not answer new connections, the
#     daemon keeps serving and stops on SIGTERM (reconnection never blocks
#     its executor thread);
# (d) the re-check of parked readers after a reconnection answers a reader
#     whose task is gone ENOENT, and, while the task table is locked (every
#     look-up waits its request_timeout), does not hold up a SIGTERM.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	if [ "$1" = a ]; then
		# Daemon a connects to the control database as its own role,
		# so that pg_hba.conf can shut out a alone.
		pgqfs_default_config "$@" |
			sed "s|^control = .*|control = host=$PGHOST port=$PGPORT user=ctl_a dbname=pgqfs_ctl|"
	else
		pgqfs_default_config "$@"
	fi
}

# reject_role DB ROLE / restore_hba: like pg_hba_reject, for one role.
reject_role() {
	local hba=$PG_DIR/data/pg_hba.conf
	[ -f "$hba.orig" ] || cp -p -- "$hba" "$hba.orig"
	{ printf 'local %s %s reject\n' "$1" "$2"; cat -- "$hba.orig"; } >"$hba"
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
	sleep 0.2
	psql_ref -qAt -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = '$1' AND usename = '$2'" >/dev/null
}

pg_start
W=$E2E_TMP/work
mkdir -p "$W"

# ---- (a) a lock held past lock_timeout on the table claims and progress write
psql_ref -q -c "ALTER DATABASE pgqfs_ctl SET lock_timeout = '200ms'" ||
	t_bail "cannot set lock_timeout"
pgqfs_start || t_bail "daemon did not start"
N=8
ids=()
for k in $(seq "$N"); do
	printf "SELECT pg_sleep(1);\nSELECT 'out' || g AS v FROM generate_series(1, 3) g;\n" >"$W/a$k.sql"
	id=$(new_id)
	ids+=("$id")
	submit default "$W/a$k.sql" "$id.sql" || t_fail "submit a$k"
done
running() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE state = 'running'")" = 4 ]
}
t_ok "four tasks run (the pool's limit), four wait" wait_until 15 running
# Held for 4 s: the running tasks end meanwhile, their progress and the
# claims of the queued ones time out on the lock.
psql_ref -d pgqfs_ctl -q -c "SET lock_timeout = 0" -c "BEGIN" \
	-c "LOCK TABLE pgqfs.task IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(4)" \
	-c "COMMIT" >"$W/lock.out" 2>&1 &
locker=$!
locked() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
		WHERE c.relname = 'task' AND l.mode = 'AccessExclusiveLock' AND l.granted")" = 1 ]
}
t_ok "the task table is locked" wait_until 10 locked
wait "$locker"
t_is "$?" 0 "the lock was held for 4 s and released"
states=
for id in "${ids[@]}"; do
	states="$states $(task_wait "$id" 60)"
done
t_is "$states" "$(printf ' done%.0s' $(seq "$N"))" "all $N tasks end done"
t_is "$(cat "$MNT/tasks/${ids[0]}/result")" "$(psql_ref -q --csv -v ON_ERROR_STOP=1 -d app -f "$W/a1.sql" 2>&1)" \
	"a task's result is whole (its progress batch was sent again)"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE error LIKE '%outcome%unknown%'")" \
	0 "no task's outcome is unknown"
t_ok "the failed statements were retried (the fault was hit)" \
	grep -q 'failed, trying again' "${PGQFS_LOG[main]}"
t_diag "$(grep -m 3 'failed, trying again' "${PGQFS_LOG[main]}")"
t_ok "the daemon kept its instance (no reconnection)" \
	bash -c "! grep -q -e 'reconnected to the control database' -e 'lost the control connection' '${PGQFS_LOG[main]}'"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.instance WHERE pid = ${PGQFS_PID[main]}")" \
	1 "one instance registered by the daemon"
pgqfs_stop
psql_ref -q -c "ALTER DATABASE pgqfs_ctl RESET lock_timeout"
MNT=

# ---- (b) another daemon's task ends while a is shut out
psql_ref -q -c "CREATE ROLE ctl_a LOGIN SUPERUSER" || t_bail "cannot create role ctl_a"
pgqfs_start a || t_bail "daemon a did not start"
pgqfs_start b || t_bail "daemon b did not start"
A=$(mnt a)
B=$(mnt b)
echo "SELECT pg_sleep(3);" >"$W/b.sql"
id=$(MNT=$B new_id)
MNT=$B submit default "$W/b.sql" "$id.sql" || t_fail "submit to b"
t_ok "the task runs" wait_file_content "$B/tasks/$id/state" running 10
t_like "$(psql_ref -d pgqfs_ctl -tAc "SELECT daemon FROM pgqfs.task WHERE id = $id")" \
	":${PGQFS_PID[b]}\$" "daemon b runs it"
timeout 60 cat "$A/tasks/$id/wait" >"$W/wait.out" 2>&1 &
reader=$!
sleep 0.5
t_ok "a's reader is parked" kill -0 "$reader"
reject_role pgqfs_ctl ctl_a
ended() { [ "$(psql_ref -d pgqfs_ctl -tAc "SELECT state FROM pgqfs.task WHERE id = $id")" = done ]; }
t_ok "b's task ends while a is shut out" wait_until 15 ended
sleep 1
t_ok "a's reader is still parked (it missed the NOTIFY)" kill -0 "$reader"
pg_hba_restore
a_back() { grep -q 'reconnected to the control database' "${PGQFS_LOG[a]}"; }
t_ok "a reconnects" wait_until 15 a_back
reader_done() { ! kill -0 "$reader" 2>/dev/null; }
# Needs executor_set_reconnected() wired to fs_recheck_waiters in main.c.
t_ok "a's parked reader is answered within 5 s of the reconnection" wait_until 5 reader_done
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
t_is "$(cat "$W/wait.out")" done "it reads the task's state"

# ---- (c) the control database accepts no new connection; a must reconnect
t_is "$(timeout 5 cat "$A/tasks/$id/state")" done "a serves its mount again"
pid=$(psql_ref -d pgqfs_ctl -tAc "SELECT pid FROM pg_stat_activity
	WHERE usename = 'ctl_a' AND application_name = 'pgqfs executor'")
t_like "$pid" '^[0-9]+$' "a's control backend is found"
pg_freeze
# Ends a's control session; the frozen postmaster takes no new one.
kill -TERM "$pid"
lost() { grep -q 'lost the control connection' "${PGQFS_LOG[a]}"; }
t_ok "a notices the lost connection" wait_until 10 lost
sleep 1
t_ok "a lists its pools meanwhile" timeout 5 ls "$A/queue"
# Before, a reconnected with a blocking connect and no timeout: its
# executor thread hung, and so did its shutdown.
pgqfs_stop a
pg_thaw
pgqfs_stop b

# ---- (d) the re-check after a reconnection: a task gone, a table locked
pgqfs_start d || t_bail "daemon d did not start"
D=$(mnt d)
# Queued tasks of a pool no daemon serves: they never end.
ids=()
for k in $(seq 8); do
	ids+=("$(MNT=$D new_id)")
done
for id in "${ids[@]}"; do
	psql_ref -d pgqfs_ctl -q -c "INSERT INTO pgqfs.task (id, pool, name, state, query, uid, gid)
		VALUES ($id, 'elsewhere', '$id.sql', 'queued', 'SELECT 1', 0, 0)" || t_fail "insert task $id"
done
gone=${ids[0]}
readers=()
for id in "${ids[@]}"; do
	timeout 120 cat "$D/tasks/$id/wait" >"$W/d$id.out" 2>&1 &
	readers+=($!)
done
t_ok "eight readers parked" wait_until 10 grep -qx 'waiting 8' "$D/stats"
# Retention-like: the row goes without a NOTIFY.
psql_ref -d pgqfs_ctl -q -c "DELETE FROM pgqfs.task WHERE id = $gone"
ctl_pid() {
	psql_ref -d pgqfs_ctl -tAc "SELECT pid FROM pg_stat_activity
		WHERE application_name = 'pgqfs executor' AND pid <> pg_backend_pid()"
}
reconnected() { [ "$(grep -c 'reconnected to the control database' "${PGQFS_LOG[d]}")" -ge "$1" ]; }
pid=$(ctl_pid)
t_like "$pid" '^[0-9]+$' "d's control backend is found"
psql_ref -qAt -c "SELECT pg_terminate_backend($pid)" >/dev/null
t_ok "d reconnects" wait_until 15 reconnected 1
t_ok "the reader of the gone task is answered" wait_until 5 bash -c "! kill -0 ${readers[0]} 2>/dev/null"
t_like "$(cat "$W/d$gone.out")" 'No such file' "it reads ENOENT"
t_ok "the others stay parked" wait_until 5 grep -qx 'waiting 7' "$D/stats"
# Lock the task table, then make d reconnect: its re-check waits on the lock.
psql_ref -d pgqfs_ctl -q -c "SET lock_timeout = 0" -c "BEGIN" \
	-c "LOCK TABLE pgqfs.task IN ACCESS EXCLUSIVE MODE" -c "SELECT pg_sleep(100)" \
	-c "COMMIT" >"$W/dlock.out" 2>&1 &
locker=$!
t_ok "the task table is locked" wait_until 10 locked
pid=$(ctl_pid)
psql_ref -qAt -c "SELECT pg_terminate_backend($pid)" >/dev/null
t_ok "d reconnects again" wait_until 15 reconnected 2
rechecking() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs filesystem' AND wait_event_type = 'Lock'")" -ge 1 ]
}
t_ok "its re-check waits on the lock" wait_until 10 rechecking
# A parked reader's Ctrl-C meanwhile is answered at once: the re-check,
# on the thread that answers readers, gives way to it (it waited for the
# re-check's request_timeout).
intr=${readers[1]}
t0=$(now_ms)
kill -INT "$intr"
for ((i = 0; i < 200; i++)); do
	kill -0 "$intr" 2>/dev/null || break
	sleep 0.05
done
ms=$(($(now_ms) - t0))
t_ok "a parked reader interrupted during the re-check leaves at once ($ms ms)" test "$ms" -lt 2000
t_ok "its re-check goes on waiting on the lock" wait_until 10 rechecking
# The executor's own statement waits on the lock too: it is given its
# STOP_GRACE_MS (10 s).  Before, the re-check looked the 7 ids up one by
# one, each waiting its request_timeout (10 s), and SIGTERM then waited
# for all of them (over 60 s).
start=$(date +%s%N)
PGQFS_STOP_TIMEOUT=25 pgqfs_stop d
t_diag "d stopped in $((($(date +%s%N) - start) / 1000000)) ms"
kill "$locker" 2>/dev/null
wait "$locker" 2>/dev/null
for p in "${readers[@]}"; do
	kill "$p" 2>/dev/null
	wait "$p" 2>/dev/null
done
t_done
