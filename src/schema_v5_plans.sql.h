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
 */
#ifndef PGQFS_SCHEMA_V5_PLANS_SQL_H
#define PGQFS_SCHEMA_V5_PLANS_SQL_H

static const char *const schema_v5_plans[] = {
	"CREATE OR REPLACE FUNCTION group_note(p_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$\n"
	"DECLARE v_done bigint[]; v_failed bigint[];\n"
	"BEGIN\n"
	"  IF NOT EXISTS (SELECT 1 FROM task t WHERE t.id = ANY (p_ids)\n"
	"                   AND t.group_id IS NOT NULL) THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  WITH e AS (SELECT t.group_id AS g, count(*) AS n,\n"
	"        count(*) FILTER (WHERE t.state <> 'done') AS bad\n"
	"      FROM task t\n"
	"      WHERE t.id = ANY (p_ids) AND t.group_id IS NOT NULL\n"
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
	"        WHERE dep.after = ANY (p_ids) AND x.id = dep.after AND x.state = 'done'\n"
	"        RETURNING dep.task),\n"
	"      n AS (SELECT d.task, count(*) AS n FROM d GROUP BY d.task),\n"
	"      u AS (UPDATE task t SET deps = t.deps - n.n, changed_at = clock_timestamp()\n"
	"        FROM n WHERE t.id = n.task AND t.state = 'queued'\n"
	"        RETURNING t.pool, t.deps, t.run_at)\n"
	"    SELECT DISTINCT u.pool FROM u WHERE u.deps = 0 AND u.run_at IS NULL\n"
	"  LOOP\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"  END LOOP;\n"
	"  v_ids := ARRAY(SELECT x.id FROM task x\n"
	"                   WHERE x.id = ANY (p_ids) AND x.state IN ('failed', 'cancelled')\n"
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
	"        FROM l WHERE t.id = l.task AND t.state = 'queued'\n"
	"        RETURNING t.id, t.pool, t.log_size - length(l.line) AS off, l.line),\n"
	"      c AS (INSERT INTO chunk SELECT f.id, 1, f.off, f.line FROM f),\n"
	"      tl AS (INSERT INTO tally AS y\n"
	"        SELECT 0, f.pool, 'failed', count(*) FROM f GROUP BY f.pool ORDER BY f.pool\n"
	"        ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"    SELECT array_agg(f.id ORDER BY f.id) INTO v_ids FROM f;\n"
	"    PERFORM notify_done(v_ids, 'failed');\n"
	"  END LOOP;\n"
	"END $$",
	NULL
};

#endif
