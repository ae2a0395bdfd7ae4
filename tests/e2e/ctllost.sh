#!/usr/bin/env bash
# The daemon loses its control connection (the backend is terminated):
# it cancels what it runs, records nothing over the verdict, registers
# again, and the tasks it was running end failed with an unknown outcome.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
echo "SELECT pg_sleep(20);" >"$W/long.sql"
id=$(new_id)
submit default "$W/long.sql" "$id.sql"
t_ok "the task runs" wait_file_content "$MNT/tasks/$id/state" running 10
executor_terminate
t_ok "the running task ends failed" wait_file_content "$MNT/tasks/$id/state" failed 15
t_like "$(cat "$MNT/tasks/$id/error")" 'outcome is unknown' "its error says the outcome is unknown"
active() {
	psql_ref -d app -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %' AND query LIKE '%SELECT pg_sleep(20)%' AND state = 'active'"
}
none_active() { [ "$(active)" = 0 ]; }
t_ok "its statement was cancelled on the target" wait_until 10 none_active
echo "SELECT 'still working' AS msg;" >"$W/after.sql"
id2=$(new_id)
submit default "$W/after.sql" "$id2.sql"
t_is "$(task_wait "$id2" 20)" done "the daemon reconnected and runs new tasks"
t_ok "the reconnection is logged" grep -q 'reconnected to the control database' "${PGQFS_LOG[main]}"

# The whole server restarts, ending every session of the daemon: the
# filesystem's pooled connections are found closed before use, so the
# submissions right after it succeed.
t_ok "the cluster restarts" pg_restart
bad=0
for i in 1 2 3 4 5 6; do
	cp "$W/after.sql" "$MNT/queue/default/r$i.sql" 2>>"$W/restart.err" || bad=$((bad + 1))
done
t_is "$bad" 0 "six submissions right after the restart succeed"
t_diag_file "$W/restart.err" 5
restarted_done() { [ "$(grep -l '^name=r[0-9].sql$' "$MNT"/done/*/info 2>/dev/null | wc -l)" = 6 ]; }
t_ok "and run" wait_until 30 restarted_done
t_done
