#!/usr/bin/env bash
# Retention: finished tasks older than `retention` are removed (at start
# and then hourly), with their output; pending ones stay.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@" | sed 's/^retention = .*/retention = 2s/'
	printf '\n[pool one]\ntarget = main\nmax_workers = 1\n'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
echo "SELECT 'old' AS age;" >"$W/old.sql"
id=$(new_id)
submit default "$W/old.sql" "$id.sql"
t_is "$(task_wait "$id")" done "a task ran"
sleep 2.5
# A task that ends now, just before the restart, is younger than that.
echo "SELECT pg_sleep(30);" >"$W/recent.sql"
recent=$(new_id)
submit one "$W/recent.sql" "$recent.sql"
wait_file_content "$MNT/tasks/$recent/state" running 10
pgqfs_stop main
t_is "$(cat "$E2E_TMP/mnt-main/tasks/$recent/state" 2>/dev/null)" "" "after the stop the mount point shows no task"
pgqfs_start main || t_bail "daemon did not restart"
# Listed, not looked up: a lookup made before the removal would leave a
# kernel entry that lives for its 60 s.
gone() { ! ls "$MNT/tasks" | grep -x "$id" >/dev/null; }
t_ok "the finished task older than the retention is removed" wait_until 10 gone
t_file_is "$MNT/tasks/$recent/state" $'failed\n' "the task cancelled by the stop is younger and stays"
chunks=$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.chunk WHERE task = $id")
t_is "$chunks" 0 "its output is removed too"
t_stats_match "stats counts what the control database holds after the removal"
t_done
