/*
 * Version 7 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * submitted_at is when the submission was committed (DESIGN.md), not when
 * its row was inserted: the INSERT comes before the rest of the staging
 * statement and before its commit's WAL flush, 0.4-1 ms in all on an
 * idle machine.  Only the daemon sees the commit acknowledged, so it
 * stamps the time then (its clock, like started_at's) and hands it over
 * with the release: claim() takes a p_release_us beside p_release and
 * stores it with the claim or the queueing of each released task, in the
 * same row update.  A task whose daemon stopped before the file was closed
 * keeps its INSERT's time, and so do a group's members (the group's row
 * gets the commit's): writing thousands of rows again would cost the bulk
 * path more than the stamp is worth.  So does a task held by not_before,
 * whose relative not_before=+N was counted from it when it was staged.
 *
 * claim() is also shorter on its common path, a file released into a
 * pool with room: 7 statements where version 6 ran 12.  The pool's
 * setting, its next held task's time and its running tasks of other
 * daemons are one statement; the held tasks' times are cleared only when
 * one is due; the daemon's name is read with them; the released tasks are
 * looked up again only when some were not chosen.
 */
#ifndef PGQFS_SCHEMA_V7_SQL_H
#define PGQFS_SCHEMA_V7_SQL_H

static const char *const schema_v7[] = {
	/* Version 6's claim_take() with the released tasks' commit times. */
	"CREATE FUNCTION claim_take(p_instance bigint, p_daemon text, p_ids bigint[], p_old bigint[],"
	"  p_rel bigint[], p_rel_us bigint[])"
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
	"      submitted_at = coalesce(to_timestamp((SELECT r.us FROM unnest(p_rel, p_rel_us)\n"
	"        AS r(id, us) WHERE r.id = t.id LIMIT 1) / 1e6), t.submitted_at),\n"
	"      attempt = t.attempt + CASE WHEN t.attempt_counted THEN 0 ELSE 1 END,\n"
	"      attempt_counted = false, result_size = 0, rows = NULL, error = NULL,\n"
	"      finished_at = NULL, backend_pid = NULL, cancel_uid = NULL,\n"
	"      stmt = NULL, n_stmts = NULL, rows_now = NULL, json_size = 0\n"
	"     WHERE t.id = ANY (p_ids) AND (t.state = 'staged' OR t.state = 'queued'\n"
	"      AND t.deps = 0 AND t.run_at IS NULL) IS TRUE\n"
	"     RETURNING t.id, t.pool, t.name, t.query, t.submitted_at, t.log_size, t.attempt,\n"
	"      t.uid, t.priority, t.group_id),\n"
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
	"CREATE FUNCTION claim(p_instance bigint, p_release bigint[], p_release_us bigint[],"
	"  p_pools text[], p_max int[], p_want int[], p_local int[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"
	" SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"DECLARE p record; v_n int; v_daemon text; v_max int; v_paused boolean;\n"
	" v_next timestamptz; v_direct bigint[] := '{}'; v_ids bigint[];\n"
	" v_old bigint[]; v_others int; v_chosen bigint[] := '{}';\n"
	"BEGIN\n"
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
	"  SELECT s.max_workers, s.paused, n.next, n.others, n.daemon\n"
	"   INTO v_max, v_paused, v_next, v_others, v_daemon\n"
	"   FROM (SELECT (SELECT min(t.run_at) FROM task t WHERE t.pool = p.pool\n"
	"       AND t.state = 'queued' AND t.run_at IS NOT NULL) AS next,\n"
	"     (SELECT count(*) FROM task t WHERE t.state = 'running' AND (t.pool = p.pool\n"
	"       AND t.instance <> p_instance AND NOT t.is_group) IS TRUE) AS others,\n"
	"     (SELECT i.host || ':' || i.pid FROM instance i WHERE i.id = p_instance) AS daemon) n\n"
	"   LEFT JOIN pool_setting s ON s.pool = p.pool;\n"
	"  IF v_next <= clock_timestamp() THEN\n"
	"   UPDATE task t SET run_at = NULL\n"
	"    WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at <= clock_timestamp();\n"
	"   SELECT min(t.run_at) INTO v_next FROM task t\n"
	"    WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at IS NOT NULL;\n"
	"  END IF;\n"
	"  v_max := coalesce(v_max, p.max);\n"
	"  v_paused := coalesce(v_paused, false);\n"
	"  RETURN QUERY SELECT NULL::bigint, p.pool, NULL::text, NULL::bytea, NULL::bigint,\n"
	"   NULL::bigint, NULL::int, NULL::int, NULL::int, v_max, v_paused,\n"
	"   (extract(epoch FROM v_next) * 1000000)::bigint;\n"
	"  CONTINUE WHEN v_paused;\n"
	"  v_n := least(p.want, v_max - p.local - v_others);\n"
	"  CONTINUE WHEN v_n <= 0;\n"
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
	"  RETURN QUERY SELECT * FROM claim_take(p_instance, v_daemon, v_ids, v_old,\n"
	"   p_release, p_release_us);\n"
	"  v_chosen := v_chosen || v_ids;\n"
	" END LOOP;\n"
	/* The chosen ones were locked (v_direct): all of them were taken. */
	" IF cardinality(p_release) > 0 AND NOT p_release <@ v_chosen THEN\n"
	"  PERFORM release_rest(p_release, p_release_us);\n"
	" END IF;\n"
	"END $$",
	/*
	 * The released tasks that claim() did not take: queued, with their
	 * commit times, in the row update that queues them.  Those waiting for
	 * nothing here, as enqueue() does for them; the others (waiting for a
	 * task or a time, failing, groups) through enqueue(), theirs first;
	 * not a held task's, whose not_before=+N counted from its row's time.
	 * They wake every daemon: none of them was claimed.
	 */
	"CREATE FUNCTION release_rest(p_release bigint[], p_release_us bigint[]) RETURNS void"
	" LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_pools text[]; v_rest bigint[];\n"
	"BEGIN\n"
	"  WITH q AS (UPDATE task t SET state = 'queued', changed_at = clock_timestamp(),\n"
	"      submitted_at = coalesce(to_timestamp(r.us / 1e6), t.submitted_at)\n"
	"    FROM unnest(p_release, p_release_us) AS r(id, us)\n"
	"    WHERE t.id = r.id AND (t.state = 'staged' AND t.after IS NULL\n"
	"      AND t.invalid IS NULL AND t.not_before IS NULL AND NOT t.is_group) IS TRUE\n"
	"    RETURNING t.pool)\n"
	"  SELECT array_agg(DISTINCT q.pool) INTO v_pools FROM q;\n"
	"  PERFORM pg_notify(current_schema() || '_queue', x) FROM unnest(v_pools) AS x;\n"
	"  v_rest := ARRAY(SELECT t.id FROM task t\n"
	"   WHERE t.id = ANY (p_release) AND (t.state = 'staged') IS TRUE ORDER BY t.id);\n"
	"  IF cardinality(v_rest) > 0 THEN\n"
	"    UPDATE task t SET submitted_at = to_timestamp(r.us / 1e6)\n"
	"      FROM unnest(p_release, p_release_us) AS r(id, us)\n"
	"      WHERE t.id = r.id AND r.us IS NOT NULL\n"
	"        AND (t.id = ANY (v_rest) AND t.not_before IS NULL) IS TRUE;\n"
	"    PERFORM enqueue(v_rest, true);\n"
	"  END IF;\n"
	"END $$",
	/* Version 6's signature, for a daemon of an older pgqfs. */
	"CREATE OR REPLACE FUNCTION claim(p_instance bigint, p_release bigint[],"
	"  p_pools text[], p_max int[], p_want int[], p_local int[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE sql AS $$\n"
	" SELECT * FROM claim(p_instance, p_release, NULL::bigint[], p_pools, p_max, p_want, p_local)\n"
	"$$",
	"DROP FUNCTION claim_take(bigint, text, bigint[], bigint[])",
	/* step() with the released tasks' commit times. */
	"CREATE FUNCTION step(p_instance bigint,"
	"    u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"    u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"    u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"    u_retry_at bigint[], u_stmt int[], u_n_stmts int[], u_rows_now bigint[],"
	"    u_json_size bigint[],"
	"    c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[],"
	"    p_release bigint[], p_release_us bigint[],"
	"    p_pools text[], p_max int[], p_want int[], p_local int[])"
	"  RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"                 submitted_us bigint, log_size bigint, attempt int, uid int,"
	"                 priority int, pool_max int, pool_paused boolean, pool_next_us bigint,"
	"                 done text)"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_done text;\n"
	"BEGIN\n"
	"  v_done := progress(p_instance, true, u_id, u_result_size, u_log_size, u_pid, u_target,\n"
	"    u_started, u_state, u_finished, u_rows, u_error, u_truncate, u_retry_at, u_stmt,\n"
	"    u_n_stmts, u_rows_now, u_json_size, c_task, c_stream, c_off, c_data);\n"
	"  RETURN QUERY SELECT c.*, NULL::text\n"
	"    FROM claim(p_instance, p_release, p_release_us, p_pools, p_max, p_want, p_local) c;\n"
	"  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::bytea, NULL::bigint,\n"
	"    NULL::bigint, NULL::int, NULL::int, NULL::int, NULL::int, NULL::boolean, NULL::bigint,\n"
	"    v_done;\n"
	"END $$",
	NULL
};

#endif
