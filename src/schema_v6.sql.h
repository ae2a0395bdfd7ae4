/*
 * Version 6 of the control schema.  Included by schema.sql.h; never edit
 * it once released.  (pending_names(), at its end, came before it was:
 * the session that wrote version 6 did not land.)
 *
 * group_note() of version 5 still chose its ended members with
 * t.state IN ('done', 'failed', 'cancelled') written plainly next to
 * id = ANY (ids): the planner, told by stale statistics that ended rows
 * are rare, joined a scan of task_state over every ended task to the
 * primary key (seen on auto_explain during a 5,000-member group: a
 * bitmap AND, 1.1-1.5 ms a call on a fresh cluster, growing with the
 * history kept).  Written (cond) IS TRUE as version 5 does elsewhere, the
 * condition leaves only the primary key.
 *
 * claim() chose its tasks with a custom plan at every call: the
 * statement's generic plan is estimated dearer (its LIMIT unknown), so
 * PL/pgSQL's plan cache never switched to it, and planning the statement
 * (a CTE of a union, two updates and a delete) cost 0.55-0.74 ms a call,
 * measured by pg_stat_statements with track_planning: 20-40% of a step's
 * time during a 5,000-member group.  Here claim() uses generic plans
 * (plan_cache_mode), made once per connection and again when the task
 * table's statistics change.  A generic plan made while the table was
 * small must stay right when it is large, so every statement has one
 * sane plan whatever the statistics say:
 * - sequential and bitmap scans are off (an index always serves);
 * - the chosen tasks are reached by id = ANY (array), never by a join
 *   that a hash of a whole index could serve, with their other
 *   conditions written (cond) IS TRUE;
 * - the choice is an ordered scan of task_ready, the one index that both
 *   matches its conditions and gives its order (claimplan.sh checks the
 *   generic plan on an empty table, and at depth with stale statistics
 *   and fresh ones).
 * A first version forced generic plans on version 5's statement as it
 * was: made on a nearly empty table, its plan scanned the whole table at
 * every claim (48 ms a claim at 7,000 rows).
 *
 * The same trap was open elsewhere, without forcing anything: PL/pgSQL
 * turns to a statement's generic plan after five calls when it costs no
 * more, and on a fresh cluster that plan is made while the task table is
 * nearly empty, where a sequential scan is cheapest.  It is kept until
 * autovacuum next analyzes the table, up to a minute later and thousands
 * of rows on: group_note()'s first test, a lookup of a few ids, scanned
 * the whole table at every ended batch (seen on auto_explain: 1.5 ms a
 * call at 5,000 rows, a quarter of the server's time per file).  The
 * functions of the per-task path, which reach every row through an
 * index, run with sequential scans off, and without JIT: a scan that
 * cannot be avoided (a tiny table without a fitting index) then costs the
 * 10^10 of a disabled path, far above jit_above_cost, and JIT compiled
 * the statement at every call (seen: stats() took 230-360 ms, against
 * 2 ms; none of these statements runs long enough to gain from JIT).
 */
#ifndef PGQFS_SCHEMA_V6_SQL_H
#define PGQFS_SCHEMA_V6_SQL_H

static const char *const schema_v6[] = {
	"CREATE OR REPLACE FUNCTION group_note(p_ids bigint[]) RETURNS void LANGUAGE plpgsql"
	"  SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_done bigint[]; v_failed bigint[];\n"
	"BEGIN\n"
	"  IF NOT EXISTS (SELECT 1 FROM task t WHERE t.id = ANY (p_ids)\n"
	"                   AND (t.group_id IS NOT NULL) IS TRUE) THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  WITH e AS (SELECT t.group_id AS g, count(*) AS n,\n"
	"        count(*) FILTER (WHERE t.state <> 'done') AS bad\n"
	"      FROM task t\n"
	"      WHERE t.id = ANY (p_ids) AND (t.group_id IS NOT NULL) IS TRUE\n"
	"        AND (t.state IN ('done', 'failed', 'cancelled')) IS TRUE\n"
	"      GROUP BY t.group_id ORDER BY t.group_id),\n"
	"    u AS (UPDATE task g SET n_ended = g.n_ended + e.n, n_bad = g.n_bad + e.bad,\n"
	"        state = CASE WHEN g.n_ended + e.n < g.n_members THEN g.state\n"
	"                     WHEN g.n_bad + e.bad = 0 THEN 'done' ELSE 'failed' END,\n"
	"        finished_at = CASE WHEN g.n_ended + e.n < g.n_members THEN NULL\n"
	"                           ELSE clock_timestamp() END,\n"
	"        changed_at = clock_timestamp()\n"
	"      FROM e WHERE g.id = e.g AND (g.state NOT IN ('done', 'failed', 'cancelled')) IS TRUE\n"
	"      RETURNING g.id, g.pool, g.state),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT 0, u.pool, u.state, count(*) FROM u WHERE u.state IN ('done', 'failed')\n"
	"        GROUP BY u.pool, u.state ORDER BY u.pool, u.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT array_agg(u.id) FILTER (WHERE u.state = 'done'),\n"
	"         array_agg(u.id) FILTER (WHERE u.state = 'failed')\n"
	"    INTO v_done, v_failed FROM u;\n"
	"  PERFORM notify_done(v_done, 'done');\n"
	"  PERFORM notify_done(v_failed, 'failed');\n"
	"  IF v_done IS NOT NULL OR v_failed IS NOT NULL THEN\n"
	"    PERFORM settle(coalesce(v_done, '{}') || coalesce(v_failed, '{}'));\n"
	"  END IF;\n"
	"END $$",
	/* claim()'s update of the tasks it chose, p_ids: taken only if still
	 * ready (a cancel since the choice wins); p_old: those with an earlier
	 * attempt's result. */
	"CREATE FUNCTION claim_take(p_instance bigint, p_daemon text, p_ids bigint[], p_old bigint[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"
	" SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  RETURN QUERY\n"
	"   WITH c AS (\n"
	"    UPDATE task t SET state = 'running', instance = p_instance, daemon = p_daemon,\n"
	"      started_at = clock_timestamp(), changed_at = clock_timestamp(),\n"
	"      attempt = t.attempt + CASE WHEN t.attempt_counted THEN 0 ELSE 1 END,\n"
	"      attempt_counted = false, result_size = 0, rows = NULL, error = NULL,\n"
	"      finished_at = NULL, backend_pid = NULL, cancel_uid = NULL,\n"
	"      stmt = NULL, n_stmts = NULL, rows_now = NULL, json_size = 0\n"
	"     WHERE t.id = ANY (p_ids) AND (t.state = 'staged' OR t.state = 'queued'\n"
	"      AND t.deps = 0 AND t.run_at IS NULL) IS TRUE\n"
	"     RETURNING t.id, t.pool, t.name, t.query, t.submitted_at, t.log_size, t.attempt,\n"
	"      t.uid, t.priority, t.group_id),\n"
	/* A group runs from its first member's start. */
	"    gr AS (UPDATE task g SET state = 'running', changed_at = clock_timestamp(),\n"
	"      started_at = coalesce(g.started_at, clock_timestamp())\n"
	"     WHERE g.id = ANY (ARRAY(SELECT c.group_id FROM c WHERE c.group_id IS NOT NULL))\n"
	"      AND (g.state = 'queued') IS TRUE),\n"
	"    d AS (DELETE FROM chunk k\n"
	"     WHERE k.task = ANY (ARRAY(SELECT c.id FROM c WHERE c.id = ANY (p_old)))\n"
	"      AND k.stream IN (0, 2))\n"
	"   SELECT c.id, c.pool, c.name, c.query,\n"
	"    (extract(epoch FROM c.submitted_at) * 1000000)::bigint,\n"
	"    c.log_size, c.attempt, c.uid, c.priority, NULL::int, NULL::boolean, NULL::bigint FROM c;\n"
	"END $$",
	"CREATE OR REPLACE FUNCTION claim(p_instance bigint, p_release bigint[],"
	"  p_pools text[], p_max int[], p_want int[], p_local int[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"
	" SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"DECLARE p record; v_n int; v_daemon text; v_max int; v_paused boolean;\n"
	" v_next timestamptz; v_direct bigint[] := '{}'; v_rest bigint[]; v_ids bigint[];\n"
	" v_old bigint[];\n"
	"BEGIN\n"
	" SELECT i.host || ':' || i.pid INTO v_daemon FROM instance i WHERE i.id = p_instance;\n"
	" IF cardinality(p_release) > 0 THEN\n"
	"  v_direct := ARRAY(SELECT t.id FROM task t\n"
	"   WHERE t.id = ANY (p_release) AND (t.state = 'staged') IS TRUE\n"
	"    AND (t.after IS NULL AND t.invalid IS NULL AND t.not_before IS NULL\n"
	"     AND NOT t.is_group AND t.group_id IS NULL) IS TRUE\n"
	"   ORDER BY t.id FOR UPDATE);\n"
	" END IF;\n"
	" FOR p IN SELECT * FROM unnest(p_pools, p_max, p_want, p_local) AS u(pool, max, want, local)\n"
	"   ORDER BY u.pool LOOP\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.pool'), hashtext(p.pool));\n"
	"  SELECT s.max_workers, s.paused INTO v_max, v_paused FROM pool_setting s WHERE s.pool = p.pool;\n"
	"  v_max := coalesce(v_max, p.max);\n"
	"  v_paused := coalesce(v_paused, false);\n"
	"  UPDATE task t SET run_at = NULL\n"
	"   WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at <= clock_timestamp();\n"
	"  SELECT min(t.run_at) INTO v_next FROM task t\n"
	"   WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at IS NOT NULL;\n"
	"  RETURN QUERY SELECT NULL::bigint, p.pool, NULL::text, NULL::bytea, NULL::bigint,\n"
	"   NULL::bigint, NULL::int, NULL::int, NULL::int, v_max, v_paused,\n"
	"   (extract(epoch FROM v_next) * 1000000)::bigint;\n"
	"  CONTINUE WHEN v_paused;\n"
	"  SELECT count(*) INTO v_n FROM task t\n"
	"   WHERE t.state = 'running' AND (t.pool = p.pool AND t.instance <> p_instance\n"
	"    AND NOT t.is_group) IS TRUE;\n"
	"  v_n := least(p.want, v_max - p.local - v_n);\n"
	"  CONTINUE WHEN v_n <= 0;\n"
	/* The first v_n by (priority, id) of the ready queued tasks and the
	 * released ones; those with an earlier attempt's result (retried). */
	"  SELECT array_agg(x.id), array_agg(x.id) FILTER (WHERE x.old_size > 0)\n"
	"   INTO v_ids, v_old\n"
	"   FROM (SELECT y.id, y.old_size FROM\n"
	"     (SELECT w.id, w.priority, w.old_size FROM\n"
	"       (SELECT q.id, q.priority, q.result_size AS old_size FROM task q\n"
	"        WHERE q.pool = p.pool AND q.state = 'queued' AND q.deps = 0\n"
	"         AND q.run_at IS NULL AND NOT q.is_group\n"
	"        ORDER BY q.priority, q.id LIMIT v_n) w\n"
	"      UNION ALL\n"
	"      SELECT r.id, r.priority, r.result_size FROM task r\n"
	"       WHERE r.id = ANY (v_direct) AND (r.pool = p.pool) IS TRUE) y\n"
	"     ORDER BY y.priority, y.id LIMIT v_n) x;\n"
	"  CONTINUE WHEN v_ids IS NULL;\n"
	"  RETURN QUERY SELECT * FROM claim_take(p_instance, v_daemon, v_ids, v_old);\n"
	" END LOOP;\n"
	/* The rest of the released tasks: queued (and waiting, or failed). */
	" IF cardinality(p_release) > 0 THEN\n"
	"  v_rest := ARRAY(SELECT t.id FROM task t\n"
	"   WHERE t.id = ANY (p_release) AND (t.state = 'staged') IS TRUE ORDER BY t.id);\n"
	"  IF cardinality(v_rest) > 0 THEN\n"
	/* They wake every daemon: none of them was claimed. */
	"   PERFORM enqueue(v_rest, true);\n"
	"  END IF;\n"
	" END IF;\n"
	"END $$",
	"ALTER FUNCTION stage_many SET enable_seqscan = off",
	"ALTER FUNCTION stage_many SET jit = off",
	"ALTER FUNCTION stage_members SET enable_seqscan = off",
	"ALTER FUNCTION stage_members SET jit = off",
	"ALTER FUNCTION release SET enable_seqscan = off",
	"ALTER FUNCTION release SET jit = off",
	"ALTER FUNCTION enqueue SET enable_seqscan = off",
	"ALTER FUNCTION enqueue SET jit = off",
	"ALTER FUNCTION progress SET enable_seqscan = off",
	"ALTER FUNCTION progress SET jit = off",
	"ALTER FUNCTION step SET enable_seqscan = off",
	"ALTER FUNCTION step SET jit = off",
	"ALTER FUNCTION settle SET enable_seqscan = off",
	"ALTER FUNCTION settle SET jit = off",
	"ALTER FUNCTION truncate_streams SET enable_seqscan = off",
	"ALTER FUNCTION truncate_streams SET jit = off",
	"ALTER FUNCTION append_log SET enable_seqscan = off",
	"ALTER FUNCTION append_log SET jit = off",
	"ALTER FUNCTION fail_unstarted SET enable_seqscan = off",
	"ALTER FUNCTION fail_unstarted SET jit = off",
	"ALTER FUNCTION cancel SET enable_seqscan = off",
	"ALTER FUNCTION cancel SET jit = off",
	"ALTER FUNCTION cancel_unstarted SET enable_seqscan = off",
	"ALTER FUNCTION cancel_unstarted SET jit = off",
	"ALTER FUNCTION cancel_members SET enable_seqscan = off",
	"ALTER FUNCTION cancel_members SET jit = off",
	"ALTER FUNCTION cancel_task SET enable_seqscan = off",
	"ALTER FUNCTION cancel_task SET jit = off",
	"ALTER FUNCTION retry_task SET enable_seqscan = off",
	"ALTER FUNCTION retry_task SET jit = off",
	"ALTER FUNCTION stats SET enable_seqscan = off",
	"ALTER FUNCTION stats SET jit = off",
	/* The names pending in a pool, for the daemon's answers to lookups
	 * of new names in a burst (fs_absent.c): through the partial unique
	 * index whatever the statistics say.  On a small table whose rows are
	 * half pending, as during a burst on a fresh cluster, the planner
	 * would scan the whole table. */
	"CREATE FUNCTION pending_names(p_pool text, p_max bigint) RETURNS SETOF text"
	" LANGUAGE sql STABLE SET enable_seqscan = off SET jit = off AS $$\n"
	" SELECT t.name FROM task t WHERE t.pool = p_pool\n"
	"  AND t.state IN ('staged', 'queued') AND t.group_id IS NULL LIMIT p_max\n"
	"$$",
	NULL
};

#endif
