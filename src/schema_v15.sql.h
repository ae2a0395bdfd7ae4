/*
 * Version 15 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * A schedule's first tick that passed while its write was in flight (the
 * write waited for a lock, or came within milliseconds of the tick) was
 * never fired.  The writing daemon computes the first tick after the
 * control database's clock, read just before put_schedule(); version 10
 * skips every tick at or before the write's commit (changed_at), to keep
 * a daemon whose clock was behind from firing again, as a rewritten
 * schedule's first tick, a tick the old rule had fired.
 *
 * The row now keeps the clock reading its first tick was computed from
 * (base_at).  A tick at or before the commit is skipped if it is at or
 * before base_at, or if a run of the schedule was submitted at or after
 * it (the old rule fired it while the write was in flight, or the
 * schedule was removed and written again just after it): a tick that went
 * by already.  Any other such tick is the new rule's own, and fires, late.
 * A tick the old rule passed without a run (its last run still pending)
 * may then fire under the new rule, once, if nothing is pending.
 *
 * progress() locks the group rows of the members in its batch before it
 * touches any task.  It locked a member, then its group (to count the
 * member's end), while a cancel or a retry of the group locks the group,
 * then its members in order: the two could wait for each other until the
 * server broke the deadlock (deadlock_timeout, then one of them was tried
 * again).  A batch that only records members' output takes the group's
 * lock too: it locks its members newest first, the cancel in order.  The body of version 13 is kept as progress_members();
 * progress() takes the locks, then calls it, so that step() and the
 * daemons of earlier versions take them too.  claim_take() does the same
 * for a queued group whose first members it takes (it marks the group
 * running), which a cancel of the group met the same way.
 *
 * Rarer paths still take a member (or a tally row) before its group:
 * recover() and recover_again() (a daemon gone, a lost connection), a
 * member's own cancel or retry by id (cancel_unstarted(), settle() and
 * group_note(); retry_attempt() and group_recount()), and settle()'s
 * update of a queued group's dependents.  Against a group's cancel, or
 * against progress(), which now holds the group before the tally rows
 * that recover() and a member's retry take first, they can still
 * deadlock: the server breaks it after deadlock_timeout, and the daemon,
 * or the write, tries again (store.c).
 */
#ifndef PGQFS_SCHEMA_V15_SQL_H
#define PGQFS_SCHEMA_V15_SQL_H

/* Version 13's progress(): its argument types. */
#define SIGNATURE_PROGRESS_V13 \
	"bigint, boolean, bigint[], bigint[], bigint[], int[], text[], bigint[], text[], bigint[], " \
	"bigint[], bytea[], boolean[], bigint[], int[], int[], bigint[], bigint[], " \
	"bigint[], smallint[], bigint[], bytea[], bigint[]"

static const char *const schema_v15[] = {
	"ALTER TABLE schedule ADD COLUMN base_at timestamptz",
	/* fire_schedules() looks for a run of a schedule at or after a tick. */
	"CREATE INDEX task_schedule ON task (schedule, submitted_at) WHERE schedule IS NOT NULL",
	/* As in version 12, with the clock reading of the first tick. */
	"CREATE FUNCTION put_schedule(p_pool text, p_name text, p_uid int, p_gid int,"
	"    p_query bytea, p_priority int, p_after text, p_nb_us bigint, p_nb_ms bigint,"
	"    p_options text, p_every_ms bigint, p_cron text, p_tz text, p_next_ms bigint,"
	"    p_base_ms bigint)"
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
	"                             options, every_ms, cron, tz, next_at, last_task, base_at)\n"
	"    VALUES (p_pool, p_name, p_uid, p_gid, p_query, p_priority,\n"
	"            string_to_array(p_after, ',')::bigint[], p_nb_us, p_nb_ms, p_options,\n"
	"            p_every_ms, p_cron, p_tz,\n"
	"            'epoch'::timestamptz + p_next_ms * interval '1 millisecond',\n"
	"            (SELECT max(t.id) FROM task t\n"
	"              WHERE t.state IN ('staged', 'queued', 'running') AND t.pool = p_pool\n"
	"                AND t.name = p_name AND t.schedule IS NOT NULL),\n"
	"            'epoch'::timestamptz + p_base_ms * interval '1 millisecond')\n"
	"    ON CONFLICT (pool, name) DO UPDATE SET uid = excluded.uid, gid = excluded.gid,\n"
	"      query = excluded.query, priority = excluded.priority, after = excluded.after,\n"
	"      nb_us = excluded.nb_us, nb_ms = excluded.nb_ms, options = excluded.options,\n"
	"      every_ms = excluded.every_ms, cron = excluded.cron, tz = excluded.tz,\n"
	"      next_at = excluded.next_at, changed_at = clock_timestamp(),\n"
	"      base_at = excluded.base_at\n"
	"    WHERE s.uid = excluded.uid OR excluded.uid = 0;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN 3;\n"
	"  END IF;\n"
	"  PERFORM pg_notify(current_schema() || '_queue', '.schedules');\n"
	"  RETURN 0;\n"
	"END $$",
	/* Version 12's signature, for a daemon of an earlier version: no base,
	 * so that a tick at or before its write is skipped, as before. */
	"CREATE OR REPLACE FUNCTION put_schedule(p_pool text, p_name text, p_uid int, p_gid int,"
	"    p_query bytea, p_priority int, p_after text, p_nb_us bigint, p_nb_ms bigint,"
	"    p_options text, p_every_ms bigint, p_cron text, p_tz text, p_next_ms bigint)"
	"  RETURNS int LANGUAGE sql AS $$\n"
	"  SELECT put_schedule(p_pool, p_name, p_uid, p_gid, p_query, p_priority, p_after,\n"
	"    p_nb_us, p_nb_ms, p_options, p_every_ms, p_cron, p_tz, p_next_ms, NULL)\n"
	"$$",
	/* As in version 10; a tick at or before the write is skipped only if
	 * it went by already. */
	"CREATE OR REPLACE FUNCTION fire_schedules(p_instance bigint, p_pools text[], p_pool text[],"
	"    p_name text[], p_at bigint[], p_next bigint[], p_limit int, p_grace_ms bigint)"
	"  RETURNS TABLE (kind int, pool text, name text, next_ms bigint, every_ms bigint,"
	"                 cron text, tz text, fired bigint, now_ms bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	/* The output columns pool and name are also the task's and the
	 * schedule's: in SQL they mean the tables' columns. */
	"#variable_conflict use_column\n"
	"DECLARE r record; v_id bigint; v_log bytea; v_now bigint;\n"
	"BEGIN\n"
	"  FOR r IN SELECT s.pool, s.name, s.uid, s.gid, s.query, s.priority, s.after, s.nb_us,\n"
	"        s.nb_ms, s.options, s.last_task, s.next_at, s.changed_at, s.base_at,\n"
	"        u.next\n"
	"      FROM unnest(p_pool, p_name, p_at, p_next) AS u(pool, name, at, next)\n"
	"      JOIN schedule s ON s.pool = u.pool AND s.name = u.name\n"
	"        AND floor(extract(epoch FROM s.next_at) * 1000) = u.at\n"
	"      WHERE s.next_at <= clock_timestamp()\n"
	"        AND u.next > u.at\n"
	"      ORDER BY s.pool, s.name FOR UPDATE OF s SKIP LOCKED LOOP\n"
	"    kind := 2;\n"
	"    fired := NULL;\n"
	"    IF r.next_at <= r.changed_at AND (r.base_at IS NULL OR r.next_at <= r.base_at\n"
	"        OR EXISTS (SELECT 1 FROM task t WHERE t.schedule = r.pool || '/' || r.name\n"
	"                     AND t.submitted_at >= r.next_at)) THEN\n"
	"      kind := 4;\n"
	"    ELSIF r.next_at < clock_timestamp() - p_grace_ms * interval '1 millisecond' THEN\n"
	"      kind := 3;\n"
	"    ELSIF NOT EXISTS (SELECT 1 FROM task t WHERE t.id = r.last_task\n"
	"                        AND t.state IN ('staged', 'queued', 'running')) THEN\n"
	"      v_id := nextval('task_id_seq');\n"
	"      v_log := log_line(format('submitted %s to pool %s by schedule %s/%s of uid %s',\n"
	"                               r.name, r.pool, r.pool, r.name, r.uid));\n"
	"      INSERT INTO task AS t (id, pool, name, state, query, uid, gid, instance, log_size,\n"
	"                             log_at, priority, after, options, not_before, schedule)\n"
	"        VALUES (v_id, r.pool, r.name, 'staged', r.query, r.uid, r.gid, p_instance,\n"
	"                length(v_log), clock_timestamp(), r.priority, r.after, r.options,\n"
	"                coalesce(to_timestamp(r.nb_us / 1e6),\n"
	"                         clock_timestamp() + r.nb_ms * interval '1 millisecond'),\n"
	"                r.pool || '/' || r.name)\n"
	"        ON CONFLICT (pool, name) WHERE state IN ('staged', 'queued') AND group_id IS NULL\n"
	"          DO NOTHING;\n"
	"      IF FOUND THEN\n"
	"        INSERT INTO chunk VALUES (v_id, 1, 0, v_log);\n"
	"        PERFORM enqueue(ARRAY[v_id], true);\n"
	"        kind := 1;\n"
	"        fired := v_id;\n"
	"      END IF;\n"
	"    END IF;\n"
	"    UPDATE schedule s SET next_at = 'epoch'::timestamptz + r.next * interval '1 millisecond',\n"
	"        last_task = coalesce(fired, s.last_task)\n"
	"      WHERE s.pool = r.pool AND s.name = r.name;\n"
	"    pool := r.pool;\n"
	"    name := r.name;\n"
	"    next_ms := r.next;\n"
	"    every_ms := NULL;\n"
	"    cron := NULL;\n"
	"    tz := NULL;\n"
	"    now_ms := NULL;\n"
	"    RETURN NEXT;\n"
	"  END LOOP;\n"
	"  v_now := floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint;\n"
	"  RETURN QUERY SELECT 0, s.pool, s.name,\n"
	"      floor(extract(epoch FROM s.next_at) * 1000)::bigint, s.every_ms, s.cron, s.tz,\n"
	"      NULL::bigint, v_now\n"
	"    FROM schedule s WHERE s.pool = ANY (p_pools)\n"
	"    ORDER BY s.next_at LIMIT p_limit;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN QUERY SELECT 0, NULL::text, NULL::text, NULL::bigint, NULL::bigint,\n"
	"      NULL::text, NULL::text, NULL::bigint, v_now;\n"
	"  END IF;\n"
	"END $$",
	/* Version 13's progress(), renamed: its settings stay with it. */
	"ALTER FUNCTION progress(" SIGNATURE_PROGRESS_V13 ") RENAME TO progress_members",
	"CREATE FUNCTION progress(p_instance bigint, p_sync boolean,"
	"  u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"  u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"  u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"  u_retry_at bigint[], u_stmt int[], u_n_stmts int[], u_rows_now bigint[],"
	"  u_json_size bigint[],"
	"  c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[],"
	"  u_submitted bigint[])"
	" RETURNS text LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_groups bigint[];\n"
	"BEGIN\n"
	"  v_groups := ARRAY(SELECT DISTINCT m.group_id FROM unnest(u_id) AS i(id)\n"
	"    JOIN task m ON m.id = i.id WHERE m.group_id IS NOT NULL);\n"
	"  IF cardinality(v_groups) > 0 THEN\n"
	"    PERFORM 1 FROM task g WHERE g.id = ANY (v_groups) ORDER BY g.id FOR NO KEY UPDATE OF g;\n"
	"  END IF;\n"
	"  RETURN progress_members(p_instance, p_sync, u_id, u_result_size, u_log_size, u_pid,\n"
	"    u_target, u_started, u_state, u_finished, u_rows, u_error, u_truncate, u_retry_at,\n"
	"    u_stmt, u_n_stmts, u_rows_now, u_json_size, c_task, c_stream, c_off, c_data,\n"
	"    u_submitted);\n"
	"END $$",
	/* As in version 7, the queued groups of the members taken locked first. */
	"CREATE OR REPLACE FUNCTION claim_take(p_instance bigint, p_daemon text, p_ids bigint[], p_old bigint[],"
	"  p_rel bigint[], p_rel_us bigint[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"
	" SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"DECLARE v_groups bigint[];\n"
	"BEGIN\n"
	"  v_groups := ARRAY(SELECT DISTINCT m.group_id FROM unnest(p_ids) AS i(id)\n"
	"    JOIN task m ON m.id = i.id WHERE m.group_id IS NOT NULL);\n"
	"  IF cardinality(v_groups) > 0 THEN\n"
	"    PERFORM 1 FROM task g WHERE g.id = ANY (v_groups) AND (g.state = 'queued') IS TRUE\n"
	"      ORDER BY g.id FOR NO KEY UPDATE OF g;\n"
	"  END IF;\n"
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
	NULL
};

#endif
