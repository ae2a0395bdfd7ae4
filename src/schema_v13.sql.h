/*
 * Version 13 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * A file claimed with its staging.  On an idle daemon a pickup was the
 * claim's round trip after the release: the control backend woken, the
 * claim run, its commit's WAL flush, the executor woken by the answer
 * (1.1-1.4 ms of the 1.2-1.6 ms).  stage_claim() stages a batch as
 * stage_many() does and then claims, in the same transaction, each file
 * that its daemon asked it to (a pool with room on that daemon), on the
 * conditions of claim_one(): so the staging's commit, which cp waits for
 * anyway, makes the claim durable too, and the release starts the task
 * with no round trip at all.
 *
 * Such a row is running, owned by its daemon, with no started_at: it
 * counts against its pool's limit everywhere, a cancel asks its daemon to
 * stop it, and the recovery of a daemon that died takes it for a task
 * whose outcome is unknown (it may have started).  Its daemon does not
 * start it before the file's last close (a file cut short never runs).
 * Until then the row goes back to staged when the file is written again
 * (stage_claim(), before it stages the new content) or removed or
 * renamed (the daemon's unstage, which takes such a row as staged).
 * started_at IS NULL on a running row that is no group marks it: every
 * claim sets started_at, and a started task's first progress stores its
 * own.
 *
 * submitted_at is the staging statement's last clock reading, before its
 * commit's flush: the daemon learns the commit's time only when the row
 * is claimed already.  That puts the flush (0.2-0.4 ms here) into the
 * task's recorded pickup, not out of it.
 */
#ifndef PGQFS_SCHEMA_V13_SQL_H
#define PGQFS_SCHEMA_V13_SQL_H

static const char *const schema_v13[] = {
	/* claim_one()'s update (version 12), with no started_at yet: the
	 * claim of staged task p_id, under its pool's advisory lock.  Only if
	 * that lock is free: a claim that holds it may take a while, and the
	 * writer's close() must not wait for it (the file is claimed at its
	 * release then). */
	"CREATE FUNCTION claim_held(p_instance bigint, p_id bigint, p_pool text, p_max int,"
	"    p_local int)"
	"  RETURNS TABLE (submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  IF NOT pg_try_advisory_xact_lock(hashtext(current_schema() || '.pool'), hashtext(p_pool)) THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  RETURN QUERY\n"
	"   WITH s AS (SELECT coalesce(ps.max_workers, p_max) AS max,\n"
	"          coalesce(ps.paused, false) AS paused,\n"
	"          (SELECT min(h.run_at) FROM task h WHERE h.pool = p_pool\n"
	"            AND h.state = 'queued' AND h.run_at IS NOT NULL) AS next\n"
	"         FROM (SELECT) o LEFT JOIN pool_setting ps ON ps.pool = p_pool),\n"
	"       c AS (UPDATE task t SET state = 'running', instance = p_instance,\n"
	"         daemon = (SELECT i.host || ':' || i.pid FROM instance i WHERE i.id = p_instance),\n"
	"         started_at = NULL, changed_at = clock_timestamp(), submitted_at = clock_timestamp(),\n"
	"         attempt = t.attempt + CASE WHEN t.attempt_counted THEN 0 ELSE 1 END,\n"
	"         attempt_counted = false, result_size = 0, rows = NULL, error = NULL,\n"
	"         finished_at = NULL, backend_pid = NULL, cancel_uid = NULL,\n"
	"         stmt = NULL, n_stmts = NULL, rows_now = NULL, json_size = 0\n"
	"        FROM s\n"
	"        WHERE t.id = p_id AND (t.pool = p_pool AND t.state = 'staged'\n"
	"          AND t.after IS NULL AND t.invalid IS NULL AND t.not_before IS NULL\n"
	"          AND NOT t.is_group AND t.group_id IS NULL AND t.result_size = 0) IS TRUE\n"
	"         AND NOT s.paused AND (s.next IS NULL OR s.next > clock_timestamp())\n"
	"         AND p_local + (SELECT count(*) FROM task q WHERE q.state = 'running'\n"
	"           AND (q.pool = p_pool AND q.instance <> p_instance\n"
	"                AND NOT q.is_group) IS TRUE) < s.max\n"
	"         AND NOT EXISTS (SELECT 1 FROM task q WHERE q.pool = p_pool\n"
	"           AND q.state = 'queued' AND q.deps = 0 AND q.run_at IS NULL AND NOT q.is_group)\n"
	"        RETURNING t.submitted_at, t.log_size, t.attempt, t.uid, t.priority)\n"
	"      SELECT (extract(epoch FROM c.submitted_at) * 1000000)::bigint, c.log_size,\n"
	"             c.attempt, c.uid, c.priority, s.max, s.paused,\n"
	"             (extract(epoch FROM s.next) * 1000000)::bigint\n"
	"        FROM c, s;\n"
	"END $$",
	/* Task p_id, claimed with its staging by p_instance and not started,
	 * is staged again: its file is written again, removed or renamed, or
	 * its daemon stops while the file is open.  A cancel asked meanwhile
	 * cancels it. */
	"CREATE FUNCTION unhold(p_instance bigint, p_id bigint) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_cancel int; v_pool text;\n"
	"BEGIN\n"
	"  UPDATE task t SET state = 'staged', daemon = NULL, attempt = 0,\n"
	"      attempt_counted = false, changed_at = clock_timestamp()\n"
	"    WHERE t.id = p_id AND t.state = 'running' AND t.instance = p_instance\n"
	"      AND t.started_at IS NULL AND NOT t.is_group AND t.group_id IS NULL\n"
	"    RETURNING t.cancel_uid, t.pool INTO v_cancel, v_pool;\n"
	"  IF v_cancel IS NOT NULL THEN\n"
	"    PERFORM cancel_unstarted(p_id, v_cancel);\n"
	"  END IF;\n"
	/* Its slot is free: the other daemons may claim again. */
	"  IF v_pool IS NOT NULL THEN\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"  END IF;\n"
	"END $$",
	/* stage_many() (version 11), then claim_held() of each file asked. */
	"CREATE FUNCTION stage_claim(p_id bigint[], p_pool text[], p_name text[],"
	"    p_uid int[], p_gid int[], p_query bytea[], p_queue boolean[], p_instance bigint,"
	"    p_priority int[], p_after text[], p_nb_us bigint[], p_nb_ms bigint[],"
	"    p_options text[], p_invalid text[], p_group boolean[], p_m_elem int[], p_m_query bytea[],"
	"    p_max int[], p_want int[], p_local int[])"
	"  RETURNS TABLE (ord int, id bigint, status int, claimed boolean, submitted_us bigint,"
	"        log_size bigint, attempt int, uid int, priority int, pool_max int,"
	"        pool_paused boolean, pool_next_us bigint)"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"DECLARE v_id bigint; r record;\n"
	"BEGIN\n"
	/* A file claimed with an earlier staging, written again since: its
	 * daemon dropped that claim; the row is staged again before the new
	 * content is. */
	"  FOR i IN 1 .. coalesce(cardinality(p_id), 0) LOOP\n"
	"    IF p_id[i] <> 0 THEN\n"
	"      PERFORM unhold(p_instance, p_id[i]);\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"  FOR r IN SELECT * FROM stage_many(p_id, p_pool, p_name, p_uid, p_gid, p_query, p_queue,\n"
	"      p_instance, p_priority, p_after, p_nb_us, p_nb_ms, p_options, p_invalid, p_group,\n"
	"      p_m_elem, p_m_query) LOOP\n"
	"    ord := r.ord;\n"
	"    id := r.id;\n"
	"    status := r.status;\n"
	"    submitted_us := r.submitted_us;\n"
	"    claimed := false;\n"
	"    log_size := NULL; attempt := NULL; uid := NULL; priority := NULL;\n"
	"    pool_max := NULL; pool_paused := NULL; pool_next_us := NULL;\n"
	"    v_id := r.id;\n"
	"    IF r.status = 0 AND coalesce(p_want[r.ord], 0) > 0 AND NOT p_queue[r.ord]\n"
	"       AND NOT p_group[r.ord] THEN\n"
	"      SELECT true, c.submitted_us, c.log_size, c.attempt, c.uid, c.priority,\n"
	"             c.pool_max, c.pool_paused, c.pool_next_us\n"
	"        INTO claimed, submitted_us, log_size, attempt, uid, priority, pool_max,\n"
	"             pool_paused, pool_next_us\n"
	"        FROM claim_held(p_instance, v_id, p_pool[r.ord], p_max[r.ord], p_local[r.ord]) c;\n"
	"      IF NOT FOUND THEN\n"
	"        claimed := false;\n"
	"        submitted_us := r.submitted_us;\n"
	"      END IF;\n"
	"    END IF;\n"
	"    RETURN NEXT;\n"
	"  END LOOP;\n"
	"END $$",
	/*
	 * progress() and step() with u_submitted: a task claimed with its
	 * staging stores, with its start, its commit's time as the daemon saw
	 * it acknowledged (what claim() stores for a released file), in place
	 * of the staging statement's clock.  As in version 10 (progress) and 7
	 * (step) otherwise; the old ones go (a daemon of an older version does
	 * not run against a newer schema).
	 */
	"DROP FUNCTION step(bigint, bigint[], bigint[], bigint[], int[], text[], bigint[], text[], bigint[],"
	"  bigint[], bytea[], boolean[], bigint[], int[], int[], bigint[], bigint[], bigint[],"
	"  smallint[], bigint[], bytea[], bigint[], text[], int[], int[], int[])",
	"DROP FUNCTION step(bigint, bigint[], bigint[], bigint[], int[], text[], bigint[], text[], bigint[],"
	"  bigint[], bytea[], boolean[], bigint[], int[], int[], bigint[], bigint[], bigint[],"
	"  smallint[], bigint[], bytea[], bigint[], bigint[], text[], int[], int[], int[])",
	"DROP FUNCTION progress(bigint, boolean, bigint[], bigint[], bigint[], int[], text[], bigint[], text[], bigint[],"
	"  bigint[], bytea[], boolean[], bigint[], int[], int[], bigint[], bigint[], bigint[],"
	"  smallint[], bigint[], bytea[])",
	"CREATE FUNCTION progress(p_instance bigint, p_sync boolean,"
	"  u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"  u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"  u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"  u_retry_at bigint[], u_stmt int[], u_n_stmts int[], u_rows_now bigint[],"
	"  u_json_size bigint[],"
	"  c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[],"
	"  u_submitted bigint[])"
	" RETURNS text LANGUAGE plpgsql AS $$\n"
	"DECLARE v_done text; v_ended bigint[]; v_pools text[];\n"
	"BEGIN\n"
	" IF NOT p_sync THEN\n"
	"  PERFORM set_config('synchronous_commit', 'off', true);\n"
	" END IF;\n"
	" IF true = ANY (u_truncate) THEN\n"
	"  PERFORM truncate_running(p_instance, u_id, u_result_size, u_json_size, u_truncate);\n"
	" END IF;\n"
	" INSERT INTO chunk (task, stream, off, data)\n"
	"  SELECT c.task, c.stream, c.off, c.data\n"
	"   FROM unnest(c_task, c_stream, c_off, c_data) AS c(task, stream, off, data)\n"
	"   JOIN task t ON t.id = c.task AND t.state = 'running' AND t.instance = p_instance\n"
	"  ON CONFLICT (task, stream, off) DO NOTHING;\n"
	" WITH upd AS (\n"
	"  UPDATE task t SET\n"
	"    result_at = CASE WHEN u.result_size <> t.result_size THEN clock_timestamp() ELSE t.result_at END,\n"
	"    log_at = CASE WHEN u.log_size <> t.log_size THEN clock_timestamp() ELSE t.log_at END,\n"
	"    json_at = CASE WHEN u.json_size <> t.json_size THEN clock_timestamp() ELSE t.json_at END,\n"
	"    result_size = u.result_size,\n"
	"    json_size = u.json_size,\n"
	"    log_size = u.log_size,\n"
	"    backend_pid = coalesce(u.pid, t.backend_pid),\n"
	"    target = coalesce(u.target, t.target),\n"
	"    started_at = coalesce(to_timestamp(u.started / 1e6), t.started_at),\n"
	"    submitted_at = coalesce(to_timestamp(u.submitted / 1e6), t.submitted_at),\n"
	/* A cancel asked while its retry was being recorded wins. */
	"    state = CASE WHEN u.state = 'queued' AND t.cancel_uid IS NOT NULL THEN 'cancelled'\n"
	"     ELSE coalesce(u.state, t.state) END,\n"
	"    finished_at = to_timestamp(u.finished / 1e6),\n"
	"    rows = coalesce(u.nrows, t.rows),\n"
	"    error = CASE WHEN u.state = 'queued' AND t.cancel_uid IS NOT NULL\n"
	"     THEN convert_to(format(E'pgqfs: cancelled by uid %s before its next attempt\\n',\n"
	"      t.cancel_uid), 'UTF8') ELSE coalesce(u.error, t.error) END,\n"
	"    stmt = coalesce(u.stmt, t.stmt),\n"
	"    n_stmts = coalesce(u.n_stmts, t.n_stmts),\n"
	"    rows_now = coalesce(u.rows_now, t.rows_now),\n"
	"    run_at = CASE WHEN u.state = 'queued' AND t.cancel_uid IS NULL\n"
	"     AND to_timestamp(u.retry_at / 1e6) > clock_timestamp()\n"
	"           THEN to_timestamp(u.retry_at / 1e6) END,\n"
	"    changed_at = CASE WHEN u.state IS NOT NULL OR u.pid IS NOT NULL\n"
	"             THEN clock_timestamp() ELSE t.changed_at END\n"
	"   FROM unnest(u_id, u_result_size, u_log_size, u_pid, u_target, u_started,\n"
	"         u_state, u_finished, u_rows, u_error, u_retry_at, u_stmt, u_n_stmts,\n"
	"         u_rows_now, u_json_size, u_submitted)\n"
	"      AS u(id, result_size, log_size, pid, target, started, state, finished, nrows, error,\n"
	"        retry_at, stmt, n_stmts, rows_now, json_size, submitted)\n"
	"   WHERE t.id = u.id AND t.state = 'running' AND t.instance = p_instance\n"
	"   RETURNING t.id, t.pool, t.state, t.run_at),\n"
	"  tl AS (INSERT INTO tally AS y\n"
	"   SELECT p_instance, upd.pool, upd.state, count(*) FROM upd\n"
	"    WHERE upd.state NOT IN ('running', 'queued')\n"
	"    GROUP BY upd.pool, upd.state ORDER BY upd.pool, upd.state\n"
	"   ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n),\n"
	"  rq AS (SELECT DISTINCT upd.pool FROM upd WHERE upd.state = 'queued')\n"
	" SELECT string_agg(upd.id::text || ':' || upd.state, ',') FILTER (WHERE upd.state NOT IN ('running', 'queued')),\n"
	"     array_agg(upd.id) FILTER (WHERE upd.state NOT IN ('running', 'queued')),\n"
	"     (SELECT array_agg(rq.pool) FROM rq)\n"
	"  INTO v_done, v_ended, v_pools\n"
	"  FROM upd;\n"
	" IF v_done IS NOT NULL THEN\n"
	"  PERFORM pg_notify(current_schema() || '_done', v_done);\n"
	"  PERFORM settle(v_ended);\n"
	" END IF;\n"
	/* Tasks to be tried again: every daemon may take them (when their
	 * hold ends: the claim says when). */
	" IF v_pools IS NOT NULL THEN\n"
	"  PERFORM pg_notify(current_schema() || '_queue', x) FROM unnest(v_pools) AS x;\n"
	" END IF;\n"
	" RETURN v_done;\n"
	"END $$",
	/* As version 10 set them on the one it replaces. */
	"ALTER FUNCTION progress SET enable_seqscan = off",
	"ALTER FUNCTION progress SET jit = off",
	"CREATE FUNCTION step(p_instance bigint,"
	"    u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"    u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"    u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"    u_retry_at bigint[], u_stmt int[], u_n_stmts int[], u_rows_now bigint[],"
	"    u_json_size bigint[],"
	"    c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[],"
	"    u_submitted bigint[], p_release bigint[], p_release_us bigint[],"
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
	"    u_n_stmts, u_rows_now, u_json_size, c_task, c_stream, c_off, c_data, u_submitted);\n"
	"  RETURN QUERY SELECT c.*, NULL::text\n"
	"    FROM claim(p_instance, p_release, p_release_us, p_pools, p_max, p_want, p_local) c;\n"
	"  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::bytea, NULL::bigint,\n"
	"    NULL::bigint, NULL::int, NULL::int, NULL::int, NULL::int, NULL::boolean, NULL::bigint,\n"
	"    v_done;\n"
	"END $$",
	NULL
};

#endif
