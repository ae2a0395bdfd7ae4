#!/usr/bin/env bash
# A pool's timeout: a task running longer is cancelled on its target and
# fails saying so; what it printed before stays; tasks within the limit,
# and tasks of pools without one, are not touched.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool short]\ntarget = main\nmax_workers = 2\ntimeout = 1s\n'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"

printf 'SELECT 1 AS first;\nSELECT pg_sleep(30);\nSELECT 2 AS never;\n' >"$W/long.sql"
printf 'SELECT 1 AS first;\n' >"$W/first.sql"
echo "SELECT pg_sleep(0.2), 'in time' AS msg;" >"$W/quick.sql"
long=$(new_id)
t0=$SECONDS
submit short "$W/long.sql" "$long.sql"
quick=$(new_id)
submit short "$W/quick.sql" "$quick.sql"
t_is "$(task_wait "$long" 20)" failed "a task past its pool's timeout fails"
t_ok "it was cancelled about a second after it started ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -le 5
error=$(cat "$MNT/failed/$long/error")
t_like "$error" "^pgqfs: timed out: cancelled after the pool's timeout of 1 s"$'\n' "its error says it timed out"
t_like "$error" 'psql:query.sql:2: ERROR:  canceling statement due to user request' \
	"then what psql prints for the cancelled statement, with its line"
t_like "$error" $'\nSQLSTATE: 57014\n$' "and its SQLSTATE"
psql_ref -q --csv -v ON_ERROR_STOP=1 -d app -f "$W/first.sql" >"$W/first.want"
t_cmp "$W/first.want" "$MNT/failed/$long/result" "the output before the cancel is kept, as psql printed it"
t_like "$(cat "$MNT/failed/$long/log")" 'timed out after 1000 ms: cancelling' "the log says why"
active() {
	psql_ref -d app -tAc "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE 'pgqfs task %' AND query LIKE '%SELECT pg_sleep(30)%' AND state = 'active'"
}
t_is "$(active)" 0 "nothing of it runs on the target any more"
t_is "$(task_wait "$quick" 20)" done "a task of the same pool within the limit is done"

# A pool without a timeout lets the same work run past a second.
echo "SELECT pg_sleep(1.5), 'no limit' AS msg;" >"$W/slow.sql"
slow=$(new_id)
submit default "$W/slow.sql" "$slow.sql"
t_is "$(task_wait "$slow" 20)" done "a pool without a timeout lets a task run longer"
t_done
