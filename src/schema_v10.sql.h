/*
 * Version 10 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * fire_schedules(), as in version 4, but a tick at or before the moment
 * its schedule was last written (changed_at, by the server's clock) is
 * never fired: the row moves on to the next tick, and the daemon is told
 * so (kind 4).  A schedule's first tick is computed by the writing
 * daemon's clock, its ticks fired by the server's: with the daemon's
 * clock behind, a schedule rewritten just after a tick got that tick as
 * its first, and it fired again.  By the server's clock that tick was
 * before the write, so the write's first tick is the one after it.
 *
 * progress(), as in version 9, for a batch sent again: a daemon that lost
 * its control connection sends the batch it had not seen committed, with
 * the ends of the tasks that ended meanwhile, under the lost instance.
 * That batch may have committed after all: its chunks of a task still
 * running there are there already (ON CONFLICT DO NOTHING), and a cut
 * of a stream (truncate) applies only to a task still running under the
 * instance, never to a later attempt's output.  Version 9's restatement
 * had dropped the function's settings (version 6): they are set again.
 *
 * cancels_asked(): a daemon told by a NOTIFY that a task of its own was
 * cancelled looks the cancel up before it stops the task.
 *
 * reserve_id(): an id whose name "<id>.sql" is pending in any pool is
 * skipped.  A numeric name never handed out is an ordinary name, so a
 * user could queue "<n>.sql" for the next ids (with a far not_before) and
 * take them from whoever new-id would give them to: that user's cp of
 * its reserved id was refused.  At most 100 ids are skipped in one call.
 */
#ifndef PGQFS_SCHEMA_V10_SQL_H
#define PGQFS_SCHEMA_V10_SQL_H

static const char *const schema_v10[] = {
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
	"        s.nb_ms, s.options, s.last_task, s.next_at, s.changed_at,\n"
	"        u.next\n"
	"      FROM unnest(p_pool, p_name, p_at, p_next) AS u(pool, name, at, next)\n"
	"      JOIN schedule s ON s.pool = u.pool AND s.name = u.name\n"
	"        AND floor(extract(epoch FROM s.next_at) * 1000) = u.at\n"
	"      WHERE s.next_at <= clock_timestamp()\n"
	"        AND u.next > u.at\n"
	"      ORDER BY s.pool, s.name FOR UPDATE OF s SKIP LOCKED LOOP\n"
	"    kind := 2;\n"
	"    fired := NULL;\n"
	"    IF r.next_at <= r.changed_at THEN\n"
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
	/* truncate_streams() of the tasks still running under p_instance. */
	"CREATE FUNCTION truncate_running(p_instance bigint, u_id bigint[],"
	"    u_result_size bigint[], u_json_size bigint[], u_truncate boolean[])"
	"  RETURNS void LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_id bigint[]; v_size bigint[]; v_jsize bigint[]; v_trunc boolean[];\n"
	"BEGIN\n"
	"  SELECT array_agg(u.id), array_agg(u.size), array_agg(u.jsize), array_agg(u.trunc)\n"
	"    INTO v_id, v_size, v_jsize, v_trunc\n"
	"    FROM unnest(u_id, u_result_size, u_json_size, u_truncate) AS u(id, size, jsize, trunc)\n"
	"    JOIN task t ON t.id = u.id AND t.state = 'running' AND t.instance = p_instance\n"
	"    WHERE u.trunc;\n"
	"  IF v_id IS NOT NULL THEN\n"
	"    PERFORM truncate_streams(v_id, v_size, v_jsize, v_trunc);\n"
	"  END IF;\n"
	"END $$",
	"CREATE OR REPLACE FUNCTION progress(p_instance bigint, p_sync boolean,"
	"    u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"    u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"    u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"    u_retry_at bigint[], u_stmt int[], u_n_stmts int[], u_rows_now bigint[],"
	"    u_json_size bigint[],"
	"    c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[])"
	"  RETURNS text LANGUAGE plpgsql AS $$\n"
	"DECLARE v_done text; v_ended bigint[]; v_pools text[];\n"
	"BEGIN\n"
	"  IF NOT p_sync THEN\n"
	"    PERFORM set_config('synchronous_commit', 'off', true);\n"
	"  END IF;\n"
	"  IF true = ANY (u_truncate) THEN\n"
	"    PERFORM truncate_running(p_instance, u_id, u_result_size, u_json_size, u_truncate);\n"
	"  END IF;\n"
	"  INSERT INTO chunk (task, stream, off, data)\n"
	"    SELECT c.task, c.stream, c.off, c.data\n"
	"      FROM unnest(c_task, c_stream, c_off, c_data) AS c(task, stream, off, data)\n"
	"      JOIN task t ON t.id = c.task AND t.state = 'running' AND t.instance = p_instance\n"
	"    ON CONFLICT (task, stream, off) DO NOTHING;\n"
	"  WITH upd AS (\n"
	"    UPDATE task t SET\n"
	"        result_at = CASE WHEN u.result_size <> t.result_size THEN clock_timestamp() ELSE t.result_at END,\n"
	"        log_at = CASE WHEN u.log_size <> t.log_size THEN clock_timestamp() ELSE t.log_at END,\n"
	"        json_at = CASE WHEN u.json_size <> t.json_size THEN clock_timestamp() ELSE t.json_at END,\n"
	"        result_size = u.result_size,\n"
	"        json_size = u.json_size,\n"
	"        log_size = u.log_size,\n"
	"        backend_pid = coalesce(u.pid, t.backend_pid),\n"
	"        target = coalesce(u.target, t.target),\n"
	"        started_at = coalesce(to_timestamp(u.started / 1e6), t.started_at),\n"
	/* A cancel asked while its retry was being recorded wins. */
	"        state = CASE WHEN u.state = 'queued' AND t.cancel_uid IS NOT NULL THEN 'cancelled'\n"
	"          ELSE coalesce(u.state, t.state) END,\n"
	"        finished_at = to_timestamp(u.finished / 1e6),\n"
	"        rows = coalesce(u.nrows, t.rows),\n"
	"        error = CASE WHEN u.state = 'queued' AND t.cancel_uid IS NOT NULL\n"
	"          THEN convert_to(format(E'pgqfs: cancelled by uid %s before its next attempt\\n',\n"
	"            t.cancel_uid), 'UTF8') ELSE coalesce(u.error, t.error) END,\n"
	"        stmt = coalesce(u.stmt, t.stmt),\n"
	"        n_stmts = coalesce(u.n_stmts, t.n_stmts),\n"
	"        rows_now = coalesce(u.rows_now, t.rows_now),\n"
	"        run_at = CASE WHEN u.state = 'queued' AND t.cancel_uid IS NULL\n"
	"          AND to_timestamp(u.retry_at / 1e6) > clock_timestamp()\n"
	"                      THEN to_timestamp(u.retry_at / 1e6) END,\n"
	"        changed_at = CASE WHEN u.state IS NOT NULL OR u.pid IS NOT NULL\n"
	"                          THEN clock_timestamp() ELSE t.changed_at END\n"
	"      FROM unnest(u_id, u_result_size, u_log_size, u_pid, u_target, u_started,\n"
	"                  u_state, u_finished, u_rows, u_error, u_retry_at, u_stmt, u_n_stmts,\n"
	"                  u_rows_now, u_json_size)\n"
	"           AS u(id, result_size, log_size, pid, target, started, state, finished, nrows, error,\n"
	"                retry_at, stmt, n_stmts, rows_now, json_size)\n"
	"      WHERE t.id = u.id AND t.state = 'running' AND t.instance = p_instance\n"
	"      RETURNING t.id, t.pool, t.state, t.run_at),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT p_instance, upd.pool, upd.state, count(*) FROM upd\n"
	"        WHERE upd.state NOT IN ('running', 'queued')\n"
	"        GROUP BY upd.pool, upd.state ORDER BY upd.pool, upd.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n),\n"
	"    rq AS (SELECT DISTINCT upd.pool FROM upd WHERE upd.state = 'queued')\n"
	"  SELECT string_agg(upd.id::text || ':' || upd.state, ',') FILTER (WHERE upd.state NOT IN ('running', 'queued')),\n"
	"         array_agg(upd.id) FILTER (WHERE upd.state NOT IN ('running', 'queued')),\n"
	"         (SELECT array_agg(rq.pool) FROM rq)\n"
	"    INTO v_done, v_ended, v_pools\n"
	"    FROM upd;\n"
	"  IF v_done IS NOT NULL THEN\n"
	"    PERFORM pg_notify(current_schema() || '_done', v_done);\n"
	"    PERFORM settle(v_ended);\n"
	"  END IF;\n"
	/* Tasks to be tried again: every daemon may take them (when their
	 * hold ends: the claim says when). */
	"  IF v_pools IS NOT NULL THEN\n"
	"    PERFORM pg_notify(current_schema() || '_queue', x) FROM unnest(v_pools) AS x;\n"
	"  END IF;\n"
	"  RETURN v_done;\n"
	"END $$",
	/* Which of tasks p_ids, running under p_instance, have a cancel on
	 * record: a NOTIFY on SCHEMA_stop is only a hint, since any role that
	 * reaches the database may send one.  (A function: the executor's
	 * statements are prepared at its connection's set-up, which must not
	 * wait on a lock of the task table.) */
	"CREATE FUNCTION cancels_asked(p_instance bigint, p_ids bigint[])"
	"  RETURNS TABLE (id bigint, cancel_uid int)"
	"  LANGUAGE plpgsql STABLE SET enable_seqscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  RETURN QUERY SELECT t.id, t.cancel_uid FROM task t\n"
	"    WHERE t.id = ANY (p_ids) AND t.state = 'running' AND t.instance = p_instance\n"
	"      AND t.cancel_uid IS NOT NULL;\n"
	"END $$",
	"CREATE OR REPLACE FUNCTION reserve_id(p_uid int, p_max int, p_pools text[])"
	"  RETURNS TABLE (id bigint, pending boolean) LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint;\n"
	"BEGIN\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.reserve'), p_uid);\n"
	"  IF (SELECT count(*) FROM reservation r WHERE r.uid = p_uid AND NOT r.used) >= p_max THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  FOR i IN 1 .. 100 LOOP\n"
	"    v_id := nextval('task_id_seq');\n"
	"    EXIT WHEN NOT EXISTS (SELECT 1 FROM task t WHERE t.name = v_id || '.sql'\n"
	"      AND t.state IN ('staged', 'queued') AND t.group_id IS NULL);\n"
	"  END LOOP;\n"
	"  INSERT INTO reservation AS r (id, uid) VALUES (v_id, p_uid);\n"
	"  id := v_id;\n"
	"  pending := EXISTS (SELECT 1 FROM task t WHERE t.pool = ANY (p_pools)\n"
	"    AND t.name = v_id || '.sql' AND t.state IN ('staged', 'queued'));\n"
	"  RETURN NEXT;\n"
	"END $$",
	"ALTER FUNCTION progress SET enable_seqscan = off",
	"ALTER FUNCTION progress SET jit = off",
	NULL
};

#endif
