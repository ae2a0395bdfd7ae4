#!/usr/bin/env bash
# A cp whose close() failed queues nothing (DESIGN.md, Submitting: "when
# the commit fails, cp gets an error and nothing is queued"): its file
# stays listed until removed or rewritten, and the last close (FUSE's
# release, which comes after cp has exited) does not store and queue it
# behind the writer's back.  A session of ours holds the task table
# locked past request_timeout, so the staging commit cannot finish in
# time; then the lock goes, and nothing of the failed cp may run.  A cp
# over the listed file afterwards submits it, once.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@" | sed '/^\[pgqfs\]$/a request_timeout = 2s'
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
session_send lk "BEGIN; LOCK TABLE pgqfs.task IN EXCLUSIVE MODE; SELECT 'locked'; SELECT pg_sleep(4); COMMIT;"
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

t_done
