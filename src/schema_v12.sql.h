/*
 * Version 12 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * A schedule written anew (for the first time, or after an rm) takes as
 * its last run the latest run of a schedule of its name in its pool that
 * is still pending or running, so its ticks are skipped while that run
 * goes on, as a rewritten schedule's are (a tick is skipped while the
 * previous run is still queued or running).  Before, rm and then cp of a
 * schedule, a natural way to edit it, lost that guard: the new schedule's
 * first tick ran beside the old one's run.
 *
 * A retry of a group, or of one of its members, counts the group's ended
 * and failed members anew (group_recount()) instead of taking one off its
 * counts per member retried.  A group that ended by its own after= (its
 * row and its members failed at once, which group_note() does not count,
 * the group having ended first) had counts of 0: a retry took them below
 * 0, the members that ran again could not bring them back to the number
 * of members, and the group stayed running for good.  The recount also
 * ends the group at once when all its members failed again (their after=
 * still failed).
 *
 * claim_one() plans without bitmap scans, as claim() does (version 5): a
 * bitmap scan of task_ready does not mark the index entries of claimed
 * tasks dead, so claim_one() alone (an idle daemon's pickups) would read
 * more of them at each call until a vacuum.
 */
static const char *const schema_v12[] = {
	/* As in version 11, with last_task for a new row. */
	"CREATE OR REPLACE FUNCTION put_schedule(p_pool text, p_name text, p_uid int, p_gid int,"
	"    p_query bytea, p_priority int, p_after text, p_nb_us bigint, p_nb_ms bigint,"
	"    p_options text, p_every_ms bigint, p_cron text, p_tz text, p_next_ms bigint)"
	"  RETURNS int LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  IF name_scheduled(p_pool, p_name, p_uid) THEN\n"
	"    RETURN 3;\n"
	"  END IF;\n"
	"  IF p_uid <> 0 AND EXISTS (SELECT 1 FROM task t WHERE t.pool = p_pool AND t.name = p_name\n"
	"      AND t.group_id IS NULL AND t.uid <> p_uid AND (t.state IN ('staged', 'queued')\n"
	"        OR t.state = 'running' AND NOT t.is_group AND t.attempt <= coalesce(\n"
	"          substring(t.options FROM '(?:^|\n)retries=([0-9]+)')::int, 0))) THEN\n"
	"    RETURN 4;\n"
	"  END IF;\n"
	"  INSERT INTO schedule AS s (pool, name, uid, gid, query, priority, after, nb_us, nb_ms,\n"
	"                             options, every_ms, cron, tz, next_at, last_task)\n"
	"    VALUES (p_pool, p_name, p_uid, p_gid, p_query, p_priority,\n"
	"            string_to_array(p_after, ',')::bigint[], p_nb_us, p_nb_ms, p_options,\n"
	"            p_every_ms, p_cron, p_tz,\n"
	"            'epoch'::timestamptz + p_next_ms * interval '1 millisecond',\n"
	"            (SELECT max(t.id) FROM task t\n"
	"              WHERE t.state IN ('staged', 'queued', 'running') AND t.pool = p_pool\n"
	"                AND t.name = p_name AND t.schedule IS NOT NULL))\n"
	"    ON CONFLICT (pool, name) DO UPDATE SET uid = excluded.uid, gid = excluded.gid,\n"
	"      query = excluded.query, priority = excluded.priority, after = excluded.after,\n"
	"      nb_us = excluded.nb_us, nb_ms = excluded.nb_ms, options = excluded.options,\n"
	"      every_ms = excluded.every_ms, cron = excluded.cron, tz = excluded.tz,\n"
	"      next_at = excluded.next_at, changed_at = clock_timestamp()\n"
	"    WHERE s.uid = excluded.uid OR excluded.uid = 0;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN 3;\n"
	"  END IF;\n"
	"  PERFORM pg_notify(current_schema() || '_queue', '.schedules');\n"
	"  RETURN 0;\n"
	"END $$",
	"ALTER FUNCTION claim_one(bigint, bigint, bigint, text, int, int, int)"
	"  SET enable_bitmapscan = off",

	/* Group p_group's ended and failed members, counted anew; it ends
	 * (done, or failed if any failed) when all have ended. */
	"CREATE FUNCTION group_recount(p_group bigint) RETURNS void"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_old text; v_new text; v_pool text;\n"
	"BEGIN\n"
	"  SELECT g.state, g.pool INTO v_old, v_pool FROM task g WHERE g.id = p_group FOR UPDATE;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  UPDATE task g SET n_ended = c.ended, n_bad = c.bad,\n"
	"      state = CASE WHEN c.ended < g.n_members THEN 'running'\n"
	"                   WHEN c.bad = 0 THEN 'done' ELSE 'failed' END,\n"
	"      finished_at = CASE WHEN c.ended < g.n_members THEN NULL\n"
	"                         ELSE clock_timestamp() END,\n"
	"      changed_at = clock_timestamp()\n"
	"    FROM (SELECT count(*) FILTER (WHERE m.state IN ('done', 'failed', 'cancelled')) AS ended,\n"
	"                 count(*) FILTER (WHERE m.state IN ('failed', 'cancelled')) AS bad\n"
	"            FROM task m WHERE m.group_id = p_group) c\n"
	"    WHERE g.id = p_group\n"
	"    RETURNING g.state INTO v_new;\n"
	"  IF v_old IN ('done', 'failed') THEN\n"
	"    INSERT INTO tally AS y VALUES (0, v_pool, v_old, -1)\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n - 1;\n"
	"  END IF;\n"
	"  IF v_new IN ('done', 'failed') THEN\n"
	"    INSERT INTO tally AS y VALUES (0, v_pool, v_new, 1)\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"    PERFORM notify_done(ARRAY[p_group], v_new);\n"
	"    PERFORM settle(ARRAY[p_group]);\n"
	"  END IF;\n"
	"END $$",

	/* A failed or cancelled task p_id, checked by retry_task(), queued
	 * again: 4 if its name is pending in its pool. */
	"CREATE FUNCTION retry_attempt(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_state text; v_pool text;\n"
	"BEGIN\n"
	"  SELECT t.state, t.pool INTO v_state, v_pool FROM task t WHERE t.id = p_id FOR UPDATE;\n"
	"  BEGIN\n"
	"    UPDATE task t SET state = 'staged', cancel_uid = NULL, run_at = NULL, deps = 0,\n"
	"        attempt = t.attempt + 1, attempt_counted = true, changed_at = clock_timestamp()\n"
	"      WHERE t.id = p_id;\n"
	"  EXCEPTION WHEN unique_violation THEN\n"
	"    RETURN 4;\n"
	"  END;\n"
	"  PERFORM append_log(p_id, format('retry asked by uid %s', p_uid));\n"
	"  INSERT INTO tally AS y VALUES (0, v_pool, v_state, -1)\n"
	"    ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n - 1;\n"
	"  PERFORM enqueue(ARRAY[p_id], true);\n"
	"  RETURN 0;\n"
	"END $$",

	/* As in version 11, with the group's counts taken anew after its
	 * members' retries (group_recount()). */
	"CREATE OR REPLACE FUNCTION retry_task(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_state text; v_uid int; v_pool text; v_name text; v_group boolean;\n"
	"  v_in bigint; r record; v_r int;\n"
	"BEGIN\n"
	"  SELECT t.state, t.uid, t.pool, t.name, t.is_group, t.group_id\n"
	"    INTO v_state, v_uid, v_pool, v_name, v_group, v_in FROM task t\n"
	"    WHERE t.id = p_id FOR UPDATE;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN 2;\n"
	"  ELSIF p_uid <> 0 AND v_uid <> p_uid THEN\n"
	"    RETURN 3;\n"
	"  ELSIF v_state NOT IN ('failed', 'cancelled') THEN\n"
	"    RETURN 1;\n"
	"  ELSIF v_group THEN\n"
	"    FOR r IN SELECT m.id FROM task m WHERE m.group_id = p_id\n"
	"        AND m.state IN ('failed', 'cancelled') ORDER BY m.id LOOP\n"
	"      PERFORM retry_attempt(r.id, p_uid);\n"
	"    END LOOP;\n"
	"    PERFORM group_recount(p_id);\n"
	"    RETURN 0;\n"
	"  ELSIF v_in IS NULL AND p_uid <> 0 AND name_scheduled(v_pool, v_name, v_uid) THEN\n"
	"    RETURN 5;\n"
	"  END IF;\n"
	"  v_r := retry_attempt(p_id, p_uid);\n"
	"  IF v_r = 0 AND v_in IS NOT NULL THEN\n"
	"    PERFORM group_recount(v_in);\n"
	"  END IF;\n"
	"  RETURN v_r;\n"
	"END $$",
	NULL
};
