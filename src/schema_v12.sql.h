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
	NULL
};
