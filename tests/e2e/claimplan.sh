#!/usr/bin/env bash
# A claim stays one index range scan at any queue depth: with 100,000
# tasks queued in a pool (most of them waiting for a dependency or a
# time, the rest ready with random priorities), the claim's selection is
# an index scan of task_ready in (priority, id) order with no sort, and
# the daemon starts the ready tasks lowest priority first.
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool deep]\ntarget = main\nmax_workers = 1\n'
}
pg_start
pgqfs_start || t_bail "daemon did not start"
ctl() { psql_ref -d pgqfs_ctl -tAX -v ON_ERROR_STOP=1 "$@"; }

# On a fresh cluster the per-task path never scans a whole table: its
# functions' plans, generic after a few calls and made while the tables
# were nearly empty, must still reach rows through indexes once the
# tables are not (schema v6).  Files, a group and a dependent chain, with
# nothing listed and the group not read through the mount: a listing may
# scan, and so may a group's row, whose sizes sum its members, here half
# the table (the planner rightly scans once autovacuum has analyzed it).
seq_scans() {
	ctl -c "SELECT coalesce(sum(seq_scan), 0) FROM pg_stat_user_tables
		WHERE schemaname = 'pgqfs' AND relname IN ('task', 'chunk', 'dep')"
}
# A busy backend reports its counts at most once a second, an idle one
# within 10 s, one that exits at once: the counts are read with the daemon
# stopped, before (its schema's creation scanned the tables) and after.
pgqfs_stop
scans0=$(seq_scans)
pgqfs_start || t_bail "daemon did not start again"
# Housekeeping runs at start once nothing else is due, and it may scan:
# its hourly anti-join of used id reservations hashes every task id.  It
# goes first, while there are no reservations (then it scans nothing).
housekept() {
	grep -q '^pgqfs_control_statement_seconds_count{statement="housekeeping"} [1-9]' "$MNT/metrics"
}
t_ok "the start's housekeeping is done before the work" wait_until 20 housekept
write_files "$MNT/queue/fast" warm 300
gid=$(new_id)
{ echo '-- pgqfs: group=statements'; for i in $(seq 300); do echo "SELECT $i;"; done; } >"$E2E_TMP/g.sql"
submit fast "$E2E_TMP/g.sql" "$gid.sql"
a=$(new_id); echo 'SELECT 1;' >"$E2E_TMP/a.sql"; submit fast "$E2E_TMP/a.sql" "$a.sql"
b=$(new_id); printf -- "-- pgqfs: after=%s\nSELECT 2;\n" "$a" >"$E2E_TMP/b.sql"; submit fast "$E2E_TMP/b.sql" "$b.sql"
group_ended() {
	[ "$(ctl -c "SELECT state FROM pgqfs.task WHERE id = $gid")" = done ]
}
t_ok "the group of 300 ran" wait_until 120 group_ended
t_is "$(task_wait "$b" 60)" done "the dependent ran"
fast_done() { [ "$(sed -n 's/^pool\.fast\.done //p' "$MNT/stats")" -ge 602 ]; }
t_ok "the 300 files ran too" wait_until 60 fast_done
pgqfs_stop
scans1=$(seq_scans)
pgqfs_start || t_bail "daemon did not start again"
t_is "$((scans1 - scans0))" 0 "no sequential scan of task, chunk or dep while 600 tasks ran ($scans0 before, $scans1 after)"
echo 1 >"$MNT/pools/deep/paused"
# claim() plans its choice once (plan_cache_mode = force_generic_plan,
# schema v6, with sequential and bitmap scans off): the generic plan, pool
# and limit unknown, must be the same ordered index scan, whether it was
# made on a nearly empty table, with these stale statistics or with fresh
# ones.
generic_plan() {
	ctl -c "SET plan_cache_mode = force_generic_plan" -c "SET enable_seqscan = off" \
	    -c "SET enable_bitmapscan = off" \
	    -c "PREPARE choice(text, int) AS SELECT q.id, q.priority, q.result_size FROM pgqfs.task q
		WHERE q.pool = \$1 AND q.state = 'queued' AND q.deps = 0 AND q.run_at IS NULL
		  AND NOT q.is_group ORDER BY q.priority, q.id LIMIT \$2" \
	    -c "EXPLAIN (COSTS OFF) EXECUTE choice('deep', 16)"
}
generic_plan_ok() {	# WHEN
	local p
	p=$(generic_plan)
	t_like "$p" 'Index Scan using task_ready on task' "$1: the generic plan of the choice scans task_ready"
	t_is "$(grep -Ec 'Sort|Seq Scan|Bitmap' <<<"$p")" 0 "$1: with no sort, sequential or bitmap scan"
}
generic_plan_ok "a nearly empty table"
# Statistics taken while the table is nearly empty, and kept stale while
# the rows below go in: what the planner sees when a big group has just
# been queued and autovacuum has not caught up.
ctl -q -c "ALTER TABLE pgqfs.task SET (autovacuum_enabled = off)" -c "ANALYZE pgqfs.task"
# 100,000 rows straight into the table: 60,000 held by not_before, 30,000
# waiting for a dependency, 10,000 ready.
ctl -q <<'SQL'
INSERT INTO pgqfs.task (id, pool, name, state, query, uid, gid, priority, deps, run_at)
SELECT nextval('pgqfs.task_id_seq'), 'deep', 'deep' || g || '.sql', 'queued',
       convert_to('SELECT ' || g || ';', 'UTF8'), 0, 0, (g * 7919) % 2001 - 1000,
       CASE WHEN g % 10 BETWEEN 6 AND 8 THEN 1 ELSE 0 END,
       CASE WHEN g % 10 < 6 THEN now() + interval '1 day' END
  FROM generate_series(1, 100000) g;
SQL
# With those stale statistics, a condition on state next to id = ANY (ids)
# must not send the planner through task_state (every queued row): the
# schema writes it (cond) IS TRUE, leaving the primary key (claim(): the
# group's row, the released rows; settle(): failed dependencies;
# group_note(): the ended members).
ids="'{5,17,99}'"
for q in "UPDATE pgqfs.task g SET changed_at = g.changed_at WHERE g.id = ANY ($ids) AND (g.state = 'queued') IS TRUE" \
	"SELECT t.id FROM pgqfs.task t WHERE t.id = ANY ($ids) AND (t.state = 'staged') IS TRUE" \
	"SELECT x.id FROM pgqfs.task x WHERE x.id = ANY ($ids) AND (x.state IN ('failed', 'cancelled')) IS TRUE" \
	"SELECT 1 FROM pgqfs.task t WHERE t.id = ANY ($ids) AND (t.group_id IS NOT NULL) IS TRUE" \
	"SELECT t.group_id FROM pgqfs.task t WHERE t.id = ANY ($ids) AND (t.group_id IS NOT NULL) IS TRUE AND (t.state IN ('done', 'failed', 'cancelled')) IS TRUE"; do
	p=$(ctl -c "EXPLAIN (COSTS OFF) $q")
	t_like "$p" 'Index Cond: \(id = ANY' "stale statistics, by the primary key: ${q:0:60}..."
done
# settle(): the dependents of an ended task, joined by id, among queued
# rows that stale statistics say are few.
p=$(ctl -c "EXPLAIN (COSTS OFF) UPDATE pgqfs.task t SET deps = t.deps - n.n
	FROM (SELECT 5::bigint AS task, 1 AS n UNION ALL SELECT 17, 1) n
	WHERE t.id = n.task AND (t.state = 'queued') IS TRUE")
t_like "$p" 'Index Scan using task_pkey' "stale statistics, a join by id: the dependents through the primary key"
t_diag "written plainly: $(ctl -c "EXPLAIN (COSTS OFF) SELECT 1 FROM pgqfs.task g
	WHERE g.id = ANY ($ids) AND g.state = 'queued'" | tr '\n' ' ')"
generic_plan_ok "stale statistics"
# Sequential scans off makes an unavoidable one (a tiny table) cost 10^10,
# which JIT compiles at every call unless JIT is off too: stats() took
# 230-360 ms so.  Every function run without sequential scans runs
# without JIT, and stats() at this depth compiles nothing.
t_is "$(ctl -c "SELECT string_agg(p.proname, ' ') FROM pg_proc p
	JOIN pg_namespace n ON n.oid = p.pronamespace
	WHERE n.nspname = 'pgqfs' AND 'enable_seqscan=off' = ANY (p.proconfig)
	  AND NOT coalesce('jit=off' = ANY (p.proconfig), false)")" "" \
	"every function without sequential scans runs without JIT"
explained=$(ctl -c "SET search_path = pgqfs" -c "LOAD 'auto_explain'" \
	-c "SET auto_explain.log_min_duration = 0" \
	-c "SET auto_explain.log_nested_statements = on" -c "SET auto_explain.log_level = notice" \
	-c "SET client_min_messages = notice" \
	-c "SELECT count(*) FROM pgqfs.stats()" 2>&1)
t_like "$explained" 'Scan using task_state on task t' "stats()'s statement was explained (its live tasks by task_state)"
t_is "$(grep -c 'JIT:' <<<"$explained")" 0 "stats() compiles nothing with JIT"
ctl -q -c "ALTER TABLE pgqfs.task RESET (autovacuum_enabled)" -c "ANALYZE pgqfs.task"
t_is "$(ctl -c "SELECT count(*) FROM pgqfs.task WHERE pool = 'deep' AND state = 'queued'")" 100000 \
	"100,000 tasks queued in pool deep"
# The selection as claim() makes it (schema v5: no row locks, the pool's
# advisory lock serializes claims).
plan=$(ctl -c "EXPLAIN (COSTS OFF) SELECT q.id, q.priority, q.result_size FROM pgqfs.task q
	WHERE q.pool = 'deep' AND q.state = 'queued' AND q.deps = 0 AND q.run_at IS NULL
	  AND NOT q.is_group
	ORDER BY q.priority, q.id LIMIT 16")
t_diag "$plan"
t_like "$plan" 'Index Scan using task_ready on task' "the claim's selection scans the task_ready index"
t_is "$(grep -c Sort <<<"$plan")" 0 "with no sort"
t_is "$(grep -Ec 'Seq Scan|Bitmap' <<<"$plan")" 0 "and no sequential or bitmap scan"
generic_plan_ok "fresh statistics"
ready_min=$(ctl -c "SELECT min(priority) FROM pgqfs.task WHERE pool = 'deep' AND deps = 0 AND run_at IS NULL")
echo 0 >"$MNT/pools/deep/paused"
first_started() {
	[ -n "$(ctl -c "SELECT 1 FROM pgqfs.task WHERE pool = 'deep' AND started_at IS NOT NULL LIMIT 1")" ]
}
t_ok "the daemon starts the deep pool's tasks" wait_until 30 first_started
t_is "$(ctl -c "SELECT priority FROM pgqfs.task WHERE pool = 'deep' AND started_at IS NOT NULL
	ORDER BY started_at LIMIT 1")" "$ready_min" "the first started has the lowest priority of the ready ones"
echo 1 >"$MNT/pools/deep/paused"
t_done
