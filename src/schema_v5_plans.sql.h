/*
 * Version 5 of the control schema: plans that stay cheap whatever the
 * statistics say.  Included by schema.sql.h; never edit it once released.
 *
 * The task table grows by thousands of rows a second under load, faster
 * than autovacuum's ANALYZE follows, and version 3's settle() and
 * group_note() joined unnest(ids) to task: with stale statistics the
 * planner hashed every done task instead (measured: 10 ms a call with
 * 2,000 done tasks, two thirds of the server's time per task under load).
 * Here each statement reaches its rows through an index by id = ANY (ids),
 * and does nothing at all when no dep row names an ended task (the usual
 * case: most tasks have no dependents) or no ended task is a member.
 *
 * A condition on state or group_id next to id = ANY (ids) is written
 * (cond) IS TRUE, which no index can serve: the planner then has only the
 * primary key.  Written plainly, it lets the planner scan task_state (or
 * the partial task_group) for every row in that state, which it does when
 * its statistics say the state is rare: after a restart, the first claims
 * of a 5,000-member group scanned all its queued members, 20-30 ms a
 * claim instead of 1 (seen on EXPLAIN: Index Cond: state = 'queued',
 * Filter: id = ANY).
 */
#ifndef PGQFS_SCHEMA_V5_PLANS_SQL_H
#define PGQFS_SCHEMA_V5_PLANS_SQL_H

static const char *const schema_v5_plans[] = {
	"CREATE OR REPLACE FUNCTION group_note(p_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$\n"
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
	"        AND t.state IN ('done', 'failed', 'cancelled')\n"
	"      GROUP BY t.group_id ORDER BY t.group_id),\n"
	"    u AS (UPDATE task g SET n_ended = g.n_ended + e.n, n_bad = g.n_bad + e.bad,\n"
	"        state = CASE WHEN g.n_ended + e.n < g.n_members THEN g.state\n"
	"                     WHEN g.n_bad + e.bad = 0 THEN 'done' ELSE 'failed' END,\n"
	"        finished_at = CASE WHEN g.n_ended + e.n < g.n_members THEN NULL\n"
	"                           ELSE clock_timestamp() END,\n"
	"        changed_at = clock_timestamp()\n"
	"      FROM e WHERE g.id = e.g AND g.state NOT IN ('done', 'failed', 'cancelled')\n"
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

	/* As in version 3; see above for the plans. */
	"CREATE OR REPLACE FUNCTION settle(p_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$\n"
	"DECLARE v_pool text; v_ids bigint[];\n"
	"BEGIN\n"
	"  IF coalesce(cardinality(p_ids), 0) = 0 THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  PERFORM group_note(p_ids);\n"
	"  IF NOT EXISTS (SELECT 1 FROM dep WHERE dep.after = ANY (p_ids)) THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  FOR v_pool IN\n"
	"    WITH d AS (DELETE FROM dep USING task x\n"
	"        WHERE dep.after = ANY (p_ids) AND x.id = dep.after AND (x.state = 'done') IS TRUE\n"
	"        RETURNING dep.task),\n"
	"      n AS (SELECT d.task, count(*) AS n FROM d GROUP BY d.task),\n"
	"      u AS (UPDATE task t SET deps = t.deps - n.n, changed_at = clock_timestamp()\n"
	"        FROM n WHERE t.id = n.task AND (t.state = 'queued') IS TRUE\n"
	"        RETURNING t.pool, t.deps, t.run_at)\n"
	"    SELECT DISTINCT u.pool FROM u WHERE u.deps = 0 AND u.run_at IS NULL\n"
	"  LOOP\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"  END LOOP;\n"
	"  v_ids := ARRAY(SELECT x.id FROM task x\n"
	"                   WHERE x.id = ANY (p_ids) AND (x.state IN ('failed', 'cancelled')) IS TRUE\n"
	"                     AND EXISTS (SELECT 1 FROM dep WHERE dep.after = x.id)\n"
	"                   ORDER BY x.id);\n"
	"  WHILE cardinality(v_ids) > 0 LOOP\n"
	"    WITH d AS (DELETE FROM dep WHERE dep.after = ANY (v_ids) RETURNING dep.after, dep.task),\n"
	"      w AS (SELECT DISTINCT ON (d.task) d.task, d.after FROM d ORDER BY d.task, d.after),\n"
	"      l AS (SELECT w.task, w.after, x.state AS why,\n"
	"          log_line(format('failed without running: task %s, which it waits for (after=), ended %s',\n"
	"                          w.after, x.state)) AS line\n"
	"        FROM w JOIN task x ON x.id = w.after),\n"
	"      f AS (UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"          changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"          log_size = t.log_size + length(l.line),\n"
	"          error = convert_to(format(E'pgqfs: not run: task %s, which this task waits for (after=%s), ended %s\\n',\n"
	"                                    l.after, l.after, l.why), 'UTF8')\n"
	"        FROM l WHERE t.id = l.task AND (t.state = 'queued') IS TRUE\n"
	"        RETURNING t.id, t.pool, t.log_size - length(l.line) AS off, l.line),\n"
	"      c AS (INSERT INTO chunk SELECT f.id, 1, f.off, f.line FROM f),\n"
	"      tl AS (INSERT INTO tally AS y\n"
	"        SELECT 0, f.pool, 'failed', count(*) FROM f GROUP BY f.pool ORDER BY f.pool\n"
	"        ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"    SELECT array_agg(f.id ORDER BY f.id) INTO v_ids FROM f;\n"
	"    PERFORM notify_done(v_ids, 'failed');\n"
	"  END LOOP;\n"
	"END $$",
	/*
	 * As in version 3, and: a released task that needs nothing of
	 * enqueue() (no after=, not_before= or bad header, not a group) may
	 * go from staged straight to running, in the claim's one update of
	 * its row, when its pool has room: it competes with the queued tasks
	 * by (priority, id) as if it were queued.  What is not claimed is
	 * queued by enqueue() after the claims, which wakes the daemons for
	 * it.  One row version, one statement and its index entries fewer
	 * for each such task: the per-file path's usual case on a daemon with
	 * free slots.
	 *
	 * The queued tasks are chosen without row locks: every claim of a
	 * pool holds the pool's advisory lock until it commits, so no two
	 * claims choose from one pool at once, and each sees what the one
	 * before it committed.  A cancel that comes between the choice and
	 * the update is seen by the update, which takes a row only if it is
	 * still ready (its conditions are checked again on the row's latest
	 * version).  Version 3's FOR UPDATE SKIP LOCKED wrote a lock into
	 * every chosen row before the update wrote it again: a page write and
	 * a WAL record per claimed task, for nothing.
	 */
	"CREATE OR REPLACE FUNCTION claim(p_instance bigint, p_release bigint[],"
	"  p_pools text[], p_max int[], p_want int[], p_local int[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET enable_bitmapscan = off AS $$\n"
	"DECLARE p record; v_n int; v_daemon text; v_pool text; v_max int; v_paused boolean;\n"
	" v_next timestamptz; v_direct bigint[] := '{}'; v_rest bigint[];\n"
	"BEGIN\n"
	" SELECT i.host || ':' || i.pid INTO v_daemon FROM instance i WHERE i.id = p_instance;\n"
	" IF cardinality(p_release) > 0 THEN\n"
	"  v_direct := ARRAY(SELECT t.id FROM task t\n"
	"   WHERE t.id = ANY (p_release) AND (t.state = 'staged') IS TRUE AND t.after IS NULL\n"
	"    AND t.invalid IS NULL AND t.not_before IS NULL AND NOT t.is_group\n"
	"    AND t.group_id IS NULL\n"
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
	"   WHERE t.pool = p.pool AND t.state = 'running' AND t.instance <> p_instance\n"
	"    AND NOT t.is_group;\n"
	"  v_n := least(p.want, v_max - p.local - v_n);\n"
	"  CONTINUE WHEN v_n <= 0;\n"
	"  RETURN QUERY\n"
	"   WITH w AS (SELECT q.id, q.priority, q.result_size AS old_size FROM task q\n"
	"     WHERE q.pool = p.pool AND q.state = 'queued' AND q.deps = 0\n"
	"      AND q.run_at IS NULL AND NOT q.is_group\n"
	"     ORDER BY q.priority, q.id LIMIT v_n),\n"
	"   s AS (SELECT x.id, x.old_size FROM (SELECT * FROM w UNION ALL\n"
	"     SELECT r.id, r.priority, r.result_size FROM task r\n"
	"      WHERE r.id = ANY (v_direct) AND r.pool = p.pool AND (r.state = 'staged') IS TRUE) x\n"
	"     ORDER BY x.priority, x.id LIMIT v_n),\n"
	"   c AS (\n"
	"    UPDATE task t SET state = 'running', instance = p_instance, daemon = v_daemon,\n"
	"      started_at = clock_timestamp(), changed_at = clock_timestamp(),\n"
	"      attempt = t.attempt + CASE WHEN t.attempt_counted THEN 0 ELSE 1 END,\n"
	"      attempt_counted = false, result_size = 0, rows = NULL, error = NULL,\n"
	"      finished_at = NULL, backend_pid = NULL, cancel_uid = NULL,\n"
	"      stmt = NULL, n_stmts = NULL, rows_now = NULL, json_size = 0\n"
	"     FROM s WHERE t.id = s.id AND (t.state = 'staged' OR t.state = 'queued'\n"
	"      AND t.deps = 0 AND t.run_at IS NULL)\n"
	"     RETURNING t.id, t.pool, t.name, t.query, t.submitted_at, t.log_size, t.attempt,\n"
	"      t.uid, t.priority, s.old_size, t.group_id),\n"
	/* A group runs from its first member's start. */
	"    gr AS (UPDATE task g SET state = 'running', changed_at = clock_timestamp(),\n"
	"      started_at = coalesce(g.started_at, clock_timestamp())\n"
	"     WHERE g.id IN (SELECT c.group_id FROM c WHERE c.group_id IS NOT NULL)\n"
	"      AND (g.state = 'queued') IS TRUE),\n"
	"    d AS (DELETE FROM chunk k USING c\n"
	"     WHERE c.old_size > 0 AND k.task = c.id AND k.stream IN (0, 2))\n"
	"   SELECT c.id, c.pool, c.name, c.query,\n"
	"    (extract(epoch FROM c.submitted_at) * 1000000)::bigint,\n"
	"    c.log_size, c.attempt, c.uid, c.priority, NULL::int, NULL::boolean, NULL::bigint FROM c;\n"
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
	NULL
};

#endif
