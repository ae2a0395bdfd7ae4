#!/usr/bin/env bash
# A cp whose close() failed queues nothing (DESIGN.md, Submitting: "when
# the commit fails, cp gets an error and nothing is queued"): its file
# stays listed until removed or rewritten, and the last close (FUSE's
# release, which comes after cp has exited) does not store and queue it
# behind the writer's back.  A session of ours holds the task table
# locked past request_timeout, so the staging commit cannot finish in
# time; then the lock goes, and nothing of the failed cp may run.  A cp
# over the listed file afterwards submits it, once.
#
# A writer whose close() waits in line behind another writer's staging
# commit answers Ctrl-C at once, and stores nothing (it waited for that
# commit's deadline, then for its own statement's).
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@" | sed '/^\[pgqfs\]$/a request_timeout = 3s'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
Q=$MNT/queue/default
ctl() { psql_ref -d pgqfs_ctl -tAXc "$1"; }
rows() { ctl "SELECT count(*) FROM pgqfs.task WHERE name = 'b.sql' AND state $1"; }

printf 'SELECT 42 AS b;\n' >"$W/b.sql"
session_open lk pgqfs_ctl
session_send lk "BEGIN; LOCK TABLE pgqfs.task IN EXCLUSIVE MODE; SELECT 'locked'; SELECT pg_sleep(5); COMMIT;"
locked() { grep -q locked "$E2E_TMP/lk.out"; }
wait_until 10 locked || t_bail "the lock was not taken: $(cat "$E2E_TMP/lk.out")"

cp "$W/b.sql" "$Q/b.sql" 2>"$W/cp.err"
rc=$?
t_ok "cp fails while the commit cannot finish (rc $rc: $(cat "$W/cp.err"))" test "$rc" -ne 0
t_like "$(cat "$W/cp.err")" 'Input/output error' "with EIO"
session_close lk
# A release that stored and queued the file would do it as soon as the
# lock is gone; give it the time to, and to run.
sleep 3
t_is "$(rows "<> 'staged'")" 0 "nothing of it was queued, run or finished"
t_ok "the file stays listed" test -e "$Q/b.sql"
t_like "$(cat "${PGQFS_LOG[main]}")" 'b\.sql: not submitted: its last close failed' \
	"the log says why it was not submitted"

# Rewritten, it is submitted, once.
cp "$W/b.sql" "$Q/b.sql" 2>"$W/cp2.err"
rc=$?
t_is "$rc" 0 "a cp over the listed file succeeds ($(cat "$W/cp2.err"))"
one_done() { [ "$(rows "= 'done'")" = 1 ]; }
t_ok "its task runs" wait_until 20 one_done
id=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'b.sql' AND state = 'done'")
psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$W/b.sql" >"$W/b.ref"
t_cmp "$W/b.ref" "$MNT/done/$id/result" "its result is psql's"
t_is "$(rows "IS NOT NULL")" 1 "one task of that name in all"

# ---- In line behind another writer's commit: Ctrl-C answers at once.
# Each writer opens and writes its file, then closes it when told to; the
# time its close() took goes to OUT.  SIGINT has a handler, so that the
# writer lives to say it (Python ignores close()'s EINTR).
cat >"$W/closer.py" <<'PY'
import os, signal, sys, time
path, go, out = sys.argv[1:4]
signal.signal(signal.SIGINT, lambda *a: None)
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"SELECT 1 AS c;\n")
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.01)
t0 = time.monotonic()
try:
    os.close(fd)
    how = "closed"
except OSError as e:
    how = "error %d" % e.errno
with open(out, "w") as f:
    f.write("%d %s\n" % ((time.monotonic() - t0) * 1000, how))
PY
python3 "$W/closer.py" "$Q/fa.sql" "$W/go-a" "$W/a.out" &
pa=$!
python3 "$W/closer.py" "$Q/fc.sql" "$W/go-c" "$W/c.out" &
pc=$!
ready() { [ -e "$W/a.out.ready" ] && [ -e "$W/c.out.ready" ]; }
t_ok "two writers have their files open and written" wait_until 10 ready
session_open lk2 pgqfs_ctl
session_send lk2 "BEGIN; LOCK TABLE pgqfs.task IN EXCLUSIVE MODE; SELECT 'locked'; SELECT pg_sleep(6); COMMIT;"
locked2() { grep -q locked "$E2E_TMP/lk2.out"; }
wait_until 10 locked2 || t_bail "the lock was not taken: $(cat "$E2E_TMP/lk2.out")"
touch "$W/go-a"
blocked() {
	[ "$(ctl "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND query LIKE '%stage_claim%'")" -ge 1 ]
}
t_ok "the first writer's staging commit waits on the lock" wait_until 10 blocked
touch "$W/go-c"
sleep 0.5
kill -INT "$pc"
wait "$pc"
read -r ms how <"$W/c.out"
t_ok "the writer in line behind it ends on SIGINT ($ms ms after its close began, $how)" \
	test "$ms" -lt 2000
t_is "$how" "error 4" "its close() fails with EINTR"
wait "$pa"
read -r ms_a how_a <"$W/a.out"
t_ok "the first writer's close fails at its deadline ($ms_a ms, $how_a)" \
	test "$how_a" = "error 5"
session_close lk2
t_like "$(cat "${PGQFS_LOG[main]}")" 'fc\.sql.*request interrupted' \
	"the log says the interrupted close stored nothing"
sleep 1
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name IN ('fa.sql', 'fc.sql')
	AND state <> 'staged'")" 0 "neither file was queued"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = 'fc.sql'")" 0 \
	"nothing of the interrupted one was stored"

t_done
