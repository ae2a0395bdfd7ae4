#!/usr/bin/env bash
# A stopped control database never hangs a request: the fixed tree answers
# without it, every request that needs it gets EIO past request_timeout,
# and an interrupted one (Ctrl-C) answers at once.  Both ways a request
# can wait are tried: a statement on a connection the daemon already has
# (every server process stopped), and a new connection (the postmaster
# stopped).  After the server resumes, everything works again.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@" | sed '/^\[pgqfs\]$/a request_timeout = 2s'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"


# timed CMD [ARGS...]: runs CMD with its output in files (a hung reader
# must not hold a pipe of ours open), under an outer timeout so that the
# test goes on when it hangs; sets RC, MS (elapsed ms) and ERR (stderr).
timed() {
	local t0
	t0=$(now_ms)
	timeout -k 1 10 "$@" >"$W/out" 2>"$W/err" </dev/null
	RC=$?
	MS=$(($(now_ms) - t0))
	ERR=$(cat "$W/err")
}

# fast DESC CMD...: CMD succeeds within a second.
fast() {
	local desc=$1
	shift
	timed "$@"
	t_ok "$desc (rc $RC, $MS ms)" test "$RC" = 0 -a "$MS" -lt 1000
}

# eio DESC CMD...: CMD fails with EIO after the 2 s deadline, not later.
eio() {
	local desc=$1
	shift
	timed "$@"
	t_ok "$desc: fails after the deadline (rc $RC, $MS ms)" \
		test "$RC" -ne 0 -a "$RC" -lt 124 -a "$MS" -ge 1500 -a "$MS" -le 4500
	t_like "$ERR" 'Input/output error' "$desc: the error is EIO"
}

# interrupted DESC CMD...: CMD, sent SIGINT after 0.5 s, ends within a
# second of the signal.
interrupted() {
	local desc=$1
	shift
	timed timeout -s INT 0.5 "$@"
	t_ok "$desc: ends on SIGINT (rc $RC, $MS ms)" test "$RC" != 0 -a "$MS" -lt 1500
}

echo "SELECT 1 AS one;" >"$W/one.sql"
id=$(new_id)
submit default "$W/one.sql" "$id.sql"
t_is "$(task_wait "$id" 20)" done "a task runs before the freeze"
cat "$MNT/stats" >/dev/null

# A signal with a handler (a shell's SIGCHLD) while a control write waits
# a little for the database does not fail the write: the kernel's
# interrupt is heeded only once a request has waited 300 ms.  The task's
# row is locked for 150 ms; the writer, its cancel in line behind that
# lock, is sent SIGUSR1 20 ms in.
echo 1 >"$MNT/pools/default/paused"
cid=$(new_id)
submit default "$W/one.sql" "$cid.sql"
t_is "$(cat "$MNT/tasks/$cid/state")" queued "a task waits in the paused pool"
cat >"$W/canceller.py" <<'PY'
import os, signal, sys, time
path, go, out = sys.argv[1:4]
signal.signal(signal.SIGUSR1, lambda *a: None)
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
t0 = time.monotonic()
try:
    fd = os.open(path, os.O_WRONLY)
    os.write(fd, b"1\n")
    os.close(fd)
    how = "written"
except OSError as e:
    how = "error %d" % e.errno
with open(out, "w") as f:
    f.write("%d %s\n" % ((time.monotonic() - t0) * 1000, how))
PY
rm -f "$W/go-cancel"
python3 "$W/canceller.py" "$MNT/tasks/$cid/cancel" "$W/go-cancel" "$W/cancel.out" &
pcan=$!
wait_until 10 test -e "$W/cancel.out.ready" || t_fail "the canceller did not start"
session_open rowlock pgqfs_ctl
session_send rowlock "BEGIN; SELECT 'locked' FROM pgqfs.task WHERE id = $cid FOR UPDATE; SELECT pg_sleep(0.15); COMMIT;"
rowlocked() { grep -q locked "$E2E_TMP/rowlock.out"; }
wait_until 10 rowlocked || t_bail "the row was not locked: $(cat "$E2E_TMP/rowlock.out")"
touch "$W/go-cancel"
sleep 0.02
kill -USR1 "$pcan"
wait "$pcan"
session_close rowlock
read -r ms how <"$W/cancel.out"
t_is "$how" written "a cancel write signalled while it waits on a row lock succeeds ($ms ms)"
t_is "$(task_wait "$cid" 20)" cancelled "and the task is cancelled"
echo 0 >"$MNT/pools/default/paused"

# A `wait` reader of a running task, its file open before the freeze,
# reads once told to (the look-up of its task then hangs): OUT gets how
# long the read took.
cat >"$W/waitread.py" <<'PY'
import os, signal, sys, time
path, go, out = sys.argv[1:4]
class Interrupted(Exception):
    pass
def on_int(*a):
    raise Interrupted()  # else Python reads again after EINTR
signal.signal(signal.SIGINT, on_int)
fd = os.open(path, os.O_RDONLY)
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
t0 = time.monotonic()
try:
    os.read(fd, 64)
    how = "read"
except Interrupted:
    how = "interrupted"
except OSError as e:
    how = "error %d" % e.errno
with open(out, "w") as f:
    f.write("%d %s\n" % ((time.monotonic() - t0) * 1000, how))
PY
echo "SELECT pg_sleep(60);" >"$W/long.sql"
lid=$(new_id)
submit default "$W/long.sql" "$lid.sql"
t_ok "a long task runs" wait_file_content "$MNT/tasks/$lid/state" running 10
python3 "$W/waitread.py" "$MNT/tasks/$lid/wait" "$W/wgo" "$W/w.out" &
wpid=$!
t_ok "a reader has the task's wait file open" wait_until 10 test -e "$W/w.out.ready"

# ---- every server process stopped: statements on open connections hang
t_ok "every server process is stopped" pg_freeze all
touch "$W/wgo"
sleep 0.5
kill -INT "$wpid"
wait "$wpid"
read -r wms whow <"$W/w.out"
t_ok "a read of wait whose look-up hangs ends on SIGINT ($wms ms, $whow)" test "$wms" -lt 1500
t_is "$whow" interrupted "by the signal, not by an error"
fast "ls of the root answers at once" ls "$MNT"
fast "ls -l of the root answers at once" ls -l "$MNT"
fast "ls of queue/ answers at once" ls "$MNT/queue"
fast "stat of stats answers at once" stat "$MNT/stats"
eio "cat stats" cat "$MNT/stats"
interrupted "cat stats" cat "$MNT/stats"
eio "a lookup under tasks/" stat "$MNT/tasks/900001"
interrupted "a lookup under tasks/" stat "$MNT/tasks/900002"
eio "ls of tasks/" ls "$MNT/tasks"
t_like "$(cat "${PGQFS_LOG[main]}")" 'no answer within request_timeout' "the log says why"
# Look-ups in one directory run side by side (fs_io.c): a new name's,
# which asks the stopped database, holds up no other, which still ends on
# Ctrl-C (the kernel's per-directory lock could not be interrupted).
timeout -k 1 10 stat "$MNT/queue/default/slow1.sql" >/dev/null 2>&1 &
spid=$!
sleep 0.3
interrupted "a look-up beside another's in the same directory" \
	stat "$MNT/queue/default/slow2.sql"
wait "$spid"
pg_thaw

t_ok "after the server resumes, stats reads again" wait_until 10 cat "$MNT/stats"
t_is "$(stat -c %s "$MNT/stats")" "$(wc -c <"$MNT/stats")" "stats's size in stat is its true size"

# ---- only the postmaster stopped, no open connection: a connect hangs
n=$(psql_ref -d pgqfs_ctl -tAc "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
	WHERE application_name = 'pgqfs filesystem'")
t_ok "the filesystem's connections are ended ($n)" test "$n" -gt 0
gone() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs filesystem'")" = 0 ]
}
wait_until 10 gone
t_ok "the postmaster is stopped" pg_freeze
fast "ls of the root answers at once" ls "$MNT"
eio "cat stats, connecting" cat "$MNT/stats"
interrupted "cat stats, connecting" cat "$MNT/stats"
eio "a lookup under tasks/, connecting" stat "$MNT/tasks/900003"
pg_thaw

echo "SELECT 2 AS two;" >"$W/two.sql"
id2=$(new_id)
submit default "$W/two.sql" "$id2.sql"
t_is "$(task_wait "$id2" 20)" done "after the server resumes, a task is submitted and runs"
t_stats_match "stats counts what the control database holds"
t_done
