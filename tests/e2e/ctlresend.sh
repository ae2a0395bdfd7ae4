#!/usr/bin/env bash
# The ends a daemon keeps when its control connection goes are sent again
# with the batch it had not seen committed, and that batch may have
# committed after all.  The control database is reached through a TCP
# proxy of ours.  Task b runs long and has output; task a ends while
# every progress batch waits on a locked table.  The proxy is stopped,
# the lock let go: the batch holding b's output commits and its answer
# stays in the proxy.  Then the proxy dies (the connection is cut) and a
# new one listens on its port.  The daemon sends the batch again, with
# a's end: b's output is stored once, a is done with psql's result, run
# once, and b (cancelled when the connection went) fails, its outcome
# unknown.  (Before, the batch sent again failed on b's chunks, and a
# was failed too.)
. "$SRCDIR/e2e/lib.sh"

pg_start
tcp_proxy ctlproxy
PORT=$PROXY_PORT
PGQFS_CONTROL="host=127.0.0.1 port=$PORT user=postgres dbname=pgqfs_ctl connect_timeout=5"
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
LOG=${PGQFS_LOG[main]}
ctl() { psql_ref -d pgqfs_ctl -tAXc "$1"; }

ran_tables
printf "INSERT INTO ran VALUES ('a');\nSELECT pg_sleep(1);\nSELECT 42 AS answer;\n" >"$W/a.sql"
psql_ref -d ref -X -q --csv -v ON_ERROR_STOP=1 -f "$W/a.sql" >"$W/a.ref"
printf "SELECT 'x' AS out;\nSELECT pg_sleep(60);\n" >"$W/b.sql"

# The lock first: claims do not touch the tally, progress batches do, so
# the first batch (the starts, b's output) waits on it.
tally_lock lk
cp "$W/b.sql" "$MNT/queue/default/b.sql" || t_fail "cp b.sql"
cp "$W/a.sql" "$MNT/queue/default/a.sql" || t_fail "cp a.sql"
a=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'a.sql'")
b=$(ctl "SELECT id FROM pgqfs.task WHERE name = 'b.sql'")
both() { [ "$(ctl "SELECT count(*) FROM pgqfs.task WHERE state = 'running'")" = 2 ]; }
t_ok "both tasks run" wait_until 10 both
t_ok "a ends on its target" wait_until 15 ran_ended a "$a"
t_ok "a progress batch waits on the lock" wait_until 10 executor_stuck
t_is "$(ctl "SELECT result_size FROM pgqfs.task WHERE id = $b")" 0 "b's output is not stored yet"

kill -STOP "$PROXY_PID"
stopped() { grep -Eq '^State:[[:space:]]+T' "/proc/$PROXY_PID/status"; }
t_ok "the proxy is stopped" wait_until 5 stopped
session_send lk "COMMIT;"
session_close lk
stored() { [ "$(ctl "SELECT result_size > 0 FROM pgqfs.task WHERE id = $b")" = t ]; }
t_ok "the batch with b's output commits, its answer held in the proxy" wait_until 10 stored
t_is "$(ctl "SELECT state FROM pgqfs.task WHERE id = $a")" running "a's end was not in it"
kill -9 "$PROXY_PID"
wait "$PROXY_PID" 2>/dev/null
tcp_proxy ctlproxy 0 "$PORT"
back() { grep -q 'reconnected to the control database as instance' "$LOG"; }
t_ok "the daemon reconnects through a new proxy" wait_until 20 back

t_is "$(task_wait "$a" 20)" done "a is done"
t_cmp "$W/a.ref" "$MNT/tasks/$a/result" "a's result is psql's"
t_is "$(ctl "SELECT attempt FROM pgqfs.task WHERE id = $a")" 1 "a had one attempt"
t_is "$(psql_ref -d app -tAc "SELECT count(*) FROM ran WHERE tag = 'a'")" 1 "a ran once"
t_is "$(task_wait "$b" 20)" failed "b, cancelled when the connection went, failed"
t_like "$(cat "$MNT/tasks/$b/error")" 'outcome is unknown' "its outcome unknown"
t_file_is "$MNT/tasks/$b/result" $'out\nx\n' "b's output is stored once"
t_ok "nothing was given up" bash -c "! grep -q 'were not stored' '$LOG'"
pgqfs_stop
t_done
