#!/usr/bin/env bash
# Submission calls racing one another while the store is slow: a psql
# session holds pgqfs.task locked (EXCLUSIVE: plain reads go on, every
# write waits), so that a flush or a rename is caught inside its store
# call while another request arrives.
#   - rm during a flush leaves no staged row behind (it would run after a
#     restart);
#   - a rename being submitted reads the content it was given, even when
#     the file is reopened with O_TRUNC by inode meanwhile (a sanitizer
#     build catches a read of the freed buffer);
#   - Ctrl-C on rm and mv is answered at once, not after request_timeout.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@" | sed -e 's/^workers = 0$/workers = 0\
request_timeout = 30s/'
}

pg_start
pgqfs_start || t_bail "no daemon"
Q=$MNT/queue/default

LOCK_IN=$E2E_TMP/lock.in
LOCK_OUT=$E2E_TMP/lock.out
mkfifo "$LOCK_IN"

# lock_task: a psql session takes pgqfs.task in EXCLUSIVE mode and keeps
# its transaction open until unlock_task.
lock_task() {
	: >"$LOCK_OUT"
	psql_ref -d pgqfs_ctl -qAt -v ON_ERROR_STOP=1 <"$LOCK_IN" >"$LOCK_OUT" 2>&1 &
	LOCK_PID=$!
	exec {LOCK_FD}>"$LOCK_IN"
	echo "BEGIN; LOCK TABLE pgqfs.task IN EXCLUSIVE MODE; SELECT 'locked';" >&"$LOCK_FD"
	wait_until 10 grep -q locked "$LOCK_OUT" || t_bail "lock_task: no lock"
}

# unlock_task [SQL]: runs SQL in the locking transaction, then commits.
unlock_task() {
	[ $# -gt 0 ] && echo "$1" >&"$LOCK_FD"
	echo "COMMIT;" >&"$LOCK_FD"
	exec {LOCK_FD}>&-
	wait "$LOCK_PID"
}

# lock_waiters N: at least N sessions wait for a lock on pgqfs.task.
lock_waiters() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_locks
		WHERE NOT granted AND relation = 'pgqfs.task'::regclass")" -ge "$1" ]
}

rows_named() {
	psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE name = '$1'"
}

# writer PATH TAG: a process that creates PATH and writes a statement to it
# without closing it (a shell's `>&3` would: its dup is closed, a flush),
# then touches $E2E_TMP/TAG.ready.  Once $E2E_TMP/TAG.flush exists it
# closes a duplicate of its descriptor (a flush with data), and once
# $E2E_TMP/TAG.close exists its descriptor (the release).  Sets WRITER.
writer() {
	python3 - "$1" "$E2E_TMP/$2" <<'PY' &
import os, sys, time
path, tag = sys.argv[1], sys.argv[2]
def wait_for(f):
    while not os.path.exists(f):
        time.sleep(0.02)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"SELECT 1;\n")
open(tag + ".ready", "w").close()
wait_for(tag + ".flush")
os.close(os.dup(fd))
wait_for(tag + ".close")
os.close(fd)
PY
	WRITER=$!
	wait_until 10 test -e "$E2E_TMP/$2.ready" || t_fail "writer $2 started"
}

# ---- 1: rm while a flush is storing the file
writer "$Q/rmflush.sql" w1
lock_task
touch "$E2E_TMP/w1.flush"
wait_until 10 lock_waiters 1 || t_fail "the flush waits for the lock"
rm -f "$Q/rmflush.sql" &
rmer=$!
sleep 0.5		# rm reaches the daemon (it waits for the flush there)
unlock_task
wait "$rmer"
t_is "$?" 0 "rm during a flush succeeds"
touch "$E2E_TMP/w1.close"
wait "$WRITER"
t_ok "the removed file is not listed" test ! -e "$Q/rmflush.sql"
t_is "$(rows_named rmflush.sql)" 0 "rm during a flush leaves no row in the store"

# ---- 2: rename submitting while the file is reopened with O_TRUNC by inode
printf 'SELECT 2;\n' >"$Q/.trunc"
python3 - "$Q" "$E2E_TMP" <<'PY' >"$E2E_TMP/trunc.out" 2>&1 &
import os, sys, time
q, tmp = sys.argv[1], sys.argv[2]
# O_PATH opens nothing (no FUSE open): the file stays closed, and can
# be reopened by inode once its name is gone.
fd = os.open(q + "/.trunc", os.O_PATH)
open(tmp + "/trunc.ready", "w").close()
while not os.path.exists(tmp + "/trunc.go"):
    time.sleep(0.02)
try:
    w = os.open("/proc/self/fd/%d" % fd, os.O_WRONLY | os.O_TRUNC)
    os.write(w, b"SELECT 'overwritten';\n")
    os.close(w)
    print("reopened")
except OSError as e:
    print("refused", e.errno)
PY
truncer=$!
wait_until 10 test -e "$E2E_TMP/trunc.ready" || t_fail "O_PATH descriptor taken"
writer "$Q/leader.sql" w2
lock_task
touch "$E2E_TMP/w2.flush"	# a flush leads a batch, and waits for the lock
wait_until 10 lock_waiters 1 || t_fail "the flush waits for the lock"
mv "$Q/.trunc" "$Q/trunc.sql" &	# its submission queues behind the flush
mover=$!
sleep 0.5
touch "$E2E_TMP/trunc.go"
wait "$truncer"
t_is "$(cat "$E2E_TMP/trunc.out")" "refused 16" \
	"reopening the file by inode for writing while it is submitted: EBUSY"
unlock_task
wait "$mover"
t_is "$?" 0 "mv of a closed staging file submits it"
touch "$E2E_TMP/w2.close"
wait "$WRITER"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT convert_from(query, 'UTF8') FROM pgqfs.task WHERE name = 'trunc.sql'")" \
	"SELECT 2;" "the renamed task holds the content it had when renamed"

# ---- 4: Ctrl-C on rm and mv of a file whose content is stored.  A dot
# name as mv's target: its lookup needs no store, so that the rename
# itself is what waits.
exec 3>"$Q/intr.sql"
echo "SELECT 7;" >&3	# closes a dup of fd 3: stored, a staged row
pg_freeze all
start=$(date +%s%N)
timeout -s INT 1 rm -f "$Q/intr.sql"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
t_ok "interrupted rm returns within 5 s (took $ms ms, status $rc)" test "$ms" -lt 5000
start=$(date +%s%N)
timeout -s INT 1 mv "$Q/intr.sql" "$Q/.intr2"
rc=$?
ms=$((($(date +%s%N) - start) / 1000000))
t_ok "interrupted mv returns within 5 s (took $ms ms, status $rc)" test "$ms" -lt 5000
pg_thaw
exec 3>&-
staged_intr() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task
		WHERE name IN ('intr.sql', '.intr2') AND state = 'staged'")" = 0 ]
}
t_ok "the interrupted file leaves no staged row (removed, or submitted at close)" \
	wait_until 20 staged_intr

pgqfs_stop
t_done
