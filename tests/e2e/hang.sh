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

# closer PATH GO OUT: opens PATH and writes a statement (before the
# freeze: its look-up and create need the store), then closes it once GO
# exists; OUT gets the close's outcome and how long it took (ms).
closer() {
	python3 - "$@" <<'PY' &
import os, signal, sys, time
os.closerange(3, 1024)
signal.signal(signal.SIGINT, signal.SIG_DFL)	# as cp: Ctrl-C kills it
path, go, out = sys.argv[1:4]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"SELECT 1;\n")
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
t0 = time.monotonic()
with open(out + ".start", "w"):
    pass
try:
    os.close(fd)
    how = "closed"
except OSError as e:
    how = "error %d" % e.errno
with open(out, "w") as f:
    f.write("%s %d\n" % (how, (time.monotonic() - t0) * 1000))
PY
	CLOSER_PID=$!
}
for f in lead line1 line2; do
	closer "$MNT/queue/default/$f.sql" "$W/$f.go" "$W/$f.out"
	eval "${f}_pid=\$CLOSER_PID"
	wait_until 10 test -e "$W/$f.out.ready"
done

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
# Writers in line behind another's group commit: the first to close leads,
# and its statement hangs; the others wait in line, each on its own
# wake-up, and still give up on Ctrl-C, or at their deadline.
touch "$W/lead.go"
wait_until 10 test -e "$W/lead.out.start"
sleep 0.3
touch "$W/line1.go"
wait_until 10 test -e "$W/line1.out.start"
sleep 0.5
kill -INT "$line1_pid"
t0=$(now_ms)
wait "$line1_pid"
rc=$?
ms=$(($(now_ms) - t0))
t_ok "a writer in line behind another's commit ends on SIGINT (rc $rc, $ms ms)" \
	test "$rc" = 130 -a "$ms" -lt 1000
touch "$W/line2.go"
wait "$line2_pid"
read -r how code ms <"$W/line2.out"
t_is "$how $code" "error 5" "a writer in line behind another's commit: close fails with EIO"
t_ok "... after its deadline ($ms ms): in line, then its own statement" \
	test "$ms" -ge 1500 -a "$ms" -le 4500
wait "$lead_pid"
read -r how code ms <"$W/lead.out"
t_is "$how $code" "error 5" "the writer that led: close fails with EIO"
t_ok "... at its deadline ($ms ms)" test "$ms" -ge 1500 -a "$ms" -le 3000
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
t_ok "after the server resumes, the refused files can be removed" \
	rm -f "$MNT/queue/default/lead.sql" "$MNT/queue/default/line1.sql" \
	"$MNT/queue/default/line2.sql"

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
