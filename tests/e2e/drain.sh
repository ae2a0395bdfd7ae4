#!/usr/bin/env bash
# SIGTERM drains: nothing new starts, the running task finishes on this
# daemon (its wait reader is answered), a queued one stays queued for the
# next daemon, exit 0; past shutdown_grace running tasks are cancelled and
# say why; a second SIGTERM cuts the grace short.  And the mount.fuse3
# form: `mount -t fuse.pgqfs CONFIG MOUNTPOINT`, stopped by `umount`.
E2E_TIMEOUT=${E2E_TIMEOUT:-150}
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	PGQFS_SHUTDOWN_GRACE=${GRACE:-20s} pgqfs_default_config "$@"
	printf '\n[pool one]\ntarget = main\nmax_workers = 1\n'
}

pg_start
GRACE=20s pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
app() { psql_ref -d app -tAX "$@"; }
ctl() { psql_ref -d pgqfs_ctl -tAX "$@"; }
app -qc 'CREATE TABLE ran (id bigint, at timestamptz DEFAULT clock_timestamp())'

# ---------------------------------------------------------------- drain
printf 'SELECT pg_sleep(2);\nINSERT INTO ran (id) VALUES (1);\n' >"$W/long.sql"
printf 'INSERT INTO ran (id) VALUES (2);\n' >"$W/next.sql"
long=$(new_id)
submit one "$W/long.sql" "$long.sql"
t_ok "the long task runs" wait_file_content "$MNT/tasks/$long/state" running 20
next=$(new_id)
submit one "$W/next.sql" "$next.sql"
# A reader parked on the running task.
timeout 60 cat "$MNT/tasks/$long/wait" >"$W/wait.out" 2>"$W/wait.err" &
reader=$!
sleep 0.3
pid=${PGQFS_PID[main]}
t0=$(date +%s%N)
kill -TERM "$pid"
sleep 0.5
t_ok "while draining the daemon still runs" kill -0 "$pid"
t_is "$(cat "$MNT/tasks/$next/state" 2>&1)" queued "while draining the mount answers; the queued task stays queued"
wait "$reader"
t_is "$(cat "$W/wait.out")" done "the reader parked on the running task is answered: done"
for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
wait "$pid"
t_is "$?" 0 "the daemon exits 0 once drained"
ms=$((($(date +%s%N) - t0) / 1000000))
t_ok "it exited once the task was done, not after the grace (${ms} ms)" test "$ms" -lt 10000
_pgqfs_forget main
t_ok "the mount is gone" bash -c "! grep -q ' $MNT ' /proc/self/mountinfo"
t_is "$(ctl -c "SELECT state FROM pgqfs.task WHERE id = $long")" done "the running task finished on the draining daemon"
t_is "$(ctl -c "SELECT state FROM pgqfs.task WHERE id = $next")" queued "the queued task was left queued"
t_is "$(app -c 'SELECT count(*) FROM ran WHERE id = 2')" 0 "and did not run"
grep -q 'draining' "$E2E_TMP/main.log"
t_is "$?" 0 "the log says it drains"

# The next daemon takes the queued task.
MNT=
GRACE=1s pgqfs_start second || t_bail "second daemon did not start"
t_is "$(task_wait "$next" 30)" done "the next daemon runs the task left queued"
t_is "$(app -c 'SELECT count(*) FROM ran WHERE id = 2')" 1 "once"

# ------------------------------------------------------- grace runs out
printf 'SELECT 1 AS before;\nSELECT pg_sleep(30);\n' >"$W/stuck.sql"
stuck=$(new_id)
submit one "$W/stuck.sql" "$stuck.sql"
t_ok "the stuck task runs" wait_file_content "$MNT/tasks/$stuck/state" running 20
pid=${PGQFS_PID[second]}
t0=$(date +%s%N)
kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
wait "$pid"
t_is "$?" 0 "past its grace the daemon exits 0"
ms=$((($(date +%s%N) - t0) / 1000000))
t_ok "about the grace (1 s) after SIGTERM (${ms} ms)" test "$ms" -ge 900 -a "$ms" -lt 6000
_pgqfs_forget second
t_is "$(ctl -c "SELECT state FROM pgqfs.task WHERE id = $stuck")" failed "the task still running is cancelled: failed"
t_like "$(ctl -c "SELECT convert_from(error, 'UTF8') FROM pgqfs.task WHERE id = $stuck")" \
	'shutdown_grace ran out' "its error says the grace ran out"
t_is "$(app -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'pgqfs task $stuck'")" 0 \
	"its backend is gone"

# ------------------------------------------------ second SIGTERM cuts it
MNT=
GRACE=60s pgqfs_start third || t_bail "third daemon did not start"
stuck2=$(new_id)
submit one "$W/stuck.sql" "$stuck2.sql"
t_ok "a stuck task runs" wait_file_content "$MNT/tasks/$stuck2/state" running 20
pid=${PGQFS_PID[third]}
t0=$(date +%s%N)
kill -TERM "$pid"
sleep 0.5
kill -TERM "$pid"
for ((i = 0; i < 200; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
wait "$pid"
t_is "$?" 0 "a second SIGTERM: exit 0"
ms=$((($(date +%s%N) - t0) / 1000000))
t_ok "well before the 60 s grace (${ms} ms)" test "$ms" -lt 6000
_pgqfs_forget third
t_is "$(ctl -c "SELECT state FROM pgqfs.task WHERE id = $stuck2")" failed "its task was cancelled"

# ------------------------------------------ systemd: notify and journal
# Type=notify: READY=1 once mounted, STOPPING=1 when it drains, as
# datagrams on $NOTIFY_SOCKET; with stderr the journal's stream
# ($JOURNAL_STREAM names it), lines carry "<N>" priorities.
sock=$E2E_TMP/notify.sock
python3 - "$sock" >"$W/notify.out" 2>&1 <<'PY' &
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
s.settimeout(60)
with open(sys.argv[1] + ".ready", "w"):
    pass
for _ in range(2):
    print(s.recv(4096).decode(), flush=True)
PY
listener=$!
wait_until 10 test -e "$sock.ready"
MNT=
: >"$E2E_TMP/notify.log"
jstream=$(stat -c '%d:%i' "$E2E_TMP/notify.log")
NOTIFY_SOCKET=$sock JOURNAL_STREAM=$jstream GRACE=5s pgqfs_start notify || t_bail "notify daemon did not start"
wait_until 10 grep -q READY=1 "$W/notify.out"
t_is "$(head -1 "$W/notify.out")" READY=1 "systemd is told READY=1 once mounted"
kill -TERM "${PGQFS_PID[notify]}"
wait "${PGQFS_PID[notify]}"
_pgqfs_forget notify
wait "$listener"
t_is "$(sed -n 2p "$W/notify.out")" STOPPING=1 "and STOPPING=1 when it drains"
t_like "$(cat "$E2E_TMP/notify.log")" '^<6>pgqfs info: instance [0-9]+ mounted' \
	"with stderr the journal's stream, a line carries its priority and no timestamp"

# ------------------------------------------------------ mount.fuse3 form
# mount(8) gives its helpers a fixed PATH, so `-t fuse.pgqfs` needs pgqfs
# installed; `-t fuse PROGRAM#SOURCE` is the same call (mount.fuse3 runs
# "PROGRAM SOURCE MOUNTPOINT -o OPTIONS" through /bin/sh) with a path.
mkdir -p "$E2E_TMP/mnt-fstab"
GRACE=5s pgqfs_config fstab >"$E2E_TMP/fstab.conf"
fmnt=$E2E_TMP/mnt-fstab
timeout 30 mount -t fuse -o allow_other "$PGQFS#$E2E_TMP/fstab.conf" "$fmnt" >"$W/mount.out" 2>&1
t_is "$?" 0 "mount -t fuse PGQFS#CONFIG MOUNTPOINT returns 0 once mounted"
t_diag_file "$W/mount.out" 10
fpid=$(pgrep -f "pgqfs $E2E_TMP/fstab.conf $fmnt" | head -1)
t_ok "the daemon runs detached (pid ${fpid:-none})" test -n "$fpid"
[ -n "$fpid" ] && echo "$fpid" >"$E2E_TMP/pids/fstab.pid"
t_ok "the mount answers" timeout 5 test -d "$fmnt/queue/default"
id=$(timeout 5 cat "$fmnt/new-id")
printf 'SELECT 42 AS answer;\n' >"$W/answer.sql"
t_ok "cp into the fstab mount" timeout 10 cp "$W/answer.sql" "$fmnt/queue/default/$id.sql"
t_is "$(timeout 30 cat "$fmnt/tasks/$id/wait")" done "its task runs"
t_is "$(cat "$fmnt/done/$id/result")" $'answer\n42' "with the result psql prints"
t_ok "umount stops it" timeout 20 umount "$fmnt"
for ((i = 0; i < 200; i++)); do kill -0 "$fpid" 2>/dev/null || break; sleep 0.05; done
t_ok "the daemon is gone after umount" bash -c "! kill -0 $fpid 2>/dev/null"
t_is "$(ctl -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'pgqfs_ctl' AND pid <> pg_backend_pid()")" 0 \
	"its control connections are closed (no daemon holds an instance lock)"
rm -f "$E2E_TMP/pids/fstab.pid"
t_done
