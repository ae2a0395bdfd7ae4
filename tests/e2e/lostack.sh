#!/usr/bin/env bash
# A staging commit whose answer is lost: the server commits the row, the
# daemon never hears it (the control database is reached through a TCP
# proxy of ours, stopped with SIGSTOP while the commit finishes), and cp
# gets EIO at request_timeout.  Its writer was told the commit failed, so
# nothing of it may run: the daemon removes the row the commit may have
# left (at the file's last close, once the server answers again), a cp of
# the same name then succeeds (it got EBUSY for as long as the daemon ran)
# and runs once, and a restart queues nothing more (it queued the row).
. "$SRCDIR/e2e/lib.sh"

pg_start
tcp_proxy ctlproxy
PGQFS_CONTROL="host=127.0.0.1 port=$PROXY_PORT user=postgres dbname=pgqfs_ctl connect_timeout=5"
pgqfs_config() {
	pgqfs_default_config "$@" | sed '/^\[pgqfs\]$/a request_timeout = 4s'
}
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
Q=$MNT/queue/default
LOG=${PGQFS_LOG[main]}
ctl() { psql_ref -d pgqfs_ctl -tAXc "$1"; }
# A row claimed with its staging (schema_v13.sql.h), not started, shows as
# held: like a staged row, no daemon but its own may run it.
STATE="CASE WHEN state = 'running' AND started_at IS NULL THEN 'held' ELSE state END"
rows() { ctl "SELECT coalesce(string_agg($STATE, ',' ORDER BY id), '') FROM pgqfs.task WHERE name = 'x.sql'"; }

printf 'SELECT 42 AS x;\n' >"$W/x.sql"
psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$W/x.sql" >"$W/x.ref"
# A first task, so that the daemon's connections are open and warm.
cp "$W/x.sql" "$Q/warm.sql" || t_fail "cp of a first file"

blocked() {
	[ "$(ctl "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'
		AND query LIKE '%stage_claim%'")" -ge 1 ]
}
# lost_ack NAME [FROM]: cp of x.sql to NAME (or rename(2) of staging file
# FROM to NAME), its staging commit held on a lock of ours; the proxy stopped,
# then the lock let go: the commit finishes and its answer stays in the
# proxy.  RC is cp's (mv's) status; the proxy is left stopped.
lost_ack() {
	local pcp
	session_open lk pgqfs_ctl
	session_send lk "BEGIN; LOCK TABLE pgqfs.task IN EXCLUSIVE MODE; SELECT 'locked';"
	wait_until 10 grep -q locked "$E2E_TMP/lk.out" ||
		t_bail "the lock was not taken: $(cat "$E2E_TMP/lk.out")"
	if [ -n "${2:-}" ]; then
		python3 -c 'import os, sys; os.rename(sys.argv[1], sys.argv[2])' \
			"$Q/$2" "$Q/$1" 2>"$W/$1.err" &
	else
		cp "$W/x.sql" "$Q/$1" 2>"$W/$1.err" &
	fi
	pcp=$!
	t_ok "$1: the staging commit waits on the lock" wait_until 10 blocked
	kill -STOP "$PROXY_PID"
	stopped() { grep -Eq '^State:[[:space:]]+T' "/proc/$PROXY_PID/status"; }
	t_ok "$1: the proxy is stopped" wait_until 5 stopped
	session_send lk "COMMIT;"
	session_close lk
	wait "$pcp"
	RC=$?
}

lost_ack x.sql
rc=$RC
pre=$(rows)
kill -CONT "$PROXY_PID"
t_like "$pre" '^(staged|held)$' "the commit stored the row (staged, or held by its claim), its answer lost"
t_ok "cp fails (rc $rc: $(cat "$W/x.sql.err"))" test "$rc" -ne 0
t_like "$(cat "$W/x.sql.err")" 'Input/output error' "with EIO"
gone() { [ -z "$(rows)" ]; }
t_ok "the row its commit left is removed" wait_until 15 gone
t_like "$(cat "$LOG")" 'x\.sql: a staging commit whose outcome was unknown had stored it: that row is removed' \
	"the log says so"
t_ok "the file stays listed" test -e "$Q/x.sql"

cp "$W/x.sql" "$Q/x.sql" 2>"$W/cp2.err"
t_is "$?" 0 "a cp of the same name succeeds ($(cat "$W/cp2.err"))"
done1() { [ "$(rows)" = done ]; }
t_ok "it runs" wait_until 20 done1
id=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'x.sql'")
t_cmp "$W/x.ref" "$MNT/done/$id/result" "with psql's result"


# Again, and the server stays away past the file's last close, so that
# the removal fails then: a rename of the file (a submission under the
# new name) removes the row first, and the new name runs once.
lost_ack x2.sql
t_ok "cp fails ($(cat "$W/x2.sql.err"))" test "$RC" -ne 0
failed_forget() { grep -q 'x2\.sql: cannot remove what a staging commit' "$LOG"; }
t_ok "the removal at its last close fails, the server away" wait_until 15 failed_forget
t_like "$(ctl "SELECT $STATE FROM pgqfs.task WHERE name = 'x2.sql'")" '^(staged|held)$' "its row is still there"
kill -CONT "$PROXY_PID"
mv "$Q/x2.sql" "$Q/y2.sql" 2>"$W/mv.err"
t_is "$?" 0 "mv of the file to a new name succeeds ($(cat "$W/mv.err"))"
t_is "$(ctl "SELECT count(*) FROM pgqfs.task WHERE name = 'x2.sql'")" 0 \
	"the row under the old name is gone"
y2_done() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE name = 'y2.sql'")" = done ]; }
t_ok "the file runs under its new name" wait_until 20 y2_done

# A rename of a staging file whose commit's answer is lost: mv gets EIO,
# the row its commit left is staged (not queued: no daemon may run it),
# the file keeps its new name, and the next successful commit removes the
# row.  Nothing of it runs; rewritten in place, it runs once.
rrows() { ctl "SELECT coalesce(string_agg(state, ',' ORDER BY id), '') FROM pgqfs.task WHERE name = 'r.sql'"; }
cp "$W/x.sql" "$Q/.r.tmp" || t_fail "cp to a staging file"
lost_ack r.sql .r.tmp
rc=$RC
pre=$(rrows)
kill -CONT "$PROXY_PID"
t_is "$pre" staged "the rename's commit stored the row staged, its answer lost"
t_ok "rename fails (rc $rc: $(tail -1 "$W/r.sql.err"))" test "$rc" -ne 0
t_like "$(cat "$W/r.sql.err")" 'Input/output error' "with EIO"
t_ok "the file has its new name" test -e "$Q/r.sql"
cp "$W/x.sql" "$Q/z.sql" || t_fail "cp of another file"
rgone() { [ -z "$(rrows)" ]; }
t_ok "the next successful commit removes the row the rename left" wait_until 15 rgone
zdone() { [ "$(ctl "SELECT state FROM pgqfs.task WHERE name = 'z.sql'")" = done ]; }
t_ok "the other file runs" wait_until 20 zdone
t_is "$(rrows)" "" "nothing of the renamed file ran"
cp "$W/x.sql" "$Q/r.sql" 2>"$W/cp3.err"
t_is "$?" 0 "a rewrite of the renamed file succeeds ($(cat "$W/cp3.err"))"
rdone() { [ "$(rrows)" = done ]; }
t_ok "and runs once" wait_until 20 rdone

pgqfs_stop
pgqfs_start || t_bail "daemon did not start again"
sleep 1
t_is "$(rows)" done "after a restart, one task named x.sql, run once"
t_is "$(ctl "SELECT string_agg(name || ':' || state, ',' ORDER BY id) FROM pgqfs.task
	WHERE name IN ('x2.sql', 'y2.sql')")" "y2.sql:done" "and one of the second file, under its new name"
pgqfs_stop
t_done
