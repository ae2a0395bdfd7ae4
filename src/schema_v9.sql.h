/*
 * Version 9 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * register_again(): the registration of a daemon whose executor lost its
 * control connection and has a new one.  Before, it always registered a
 * new instance, and its own recovery (or another daemon's) then found the
 * old one dead: its staged rows were queued, those of files still open
 * for writing here among them, so the part of a file a flush had stored
 * ran while its writer was still writing.
 *
 * Now the daemon takes its old instance back when that instance is still
 * its own: its row is there (no daemon has recovered it) and its advisory
 * lock is free (nobody is recovering it now).  Its staged rows stay
 * staged, for the files that are still open here and for releases the
 * daemon sends again.  When the old instance is gone, a new one is
 * registered as before.  The registration touches no task: it is the
 * connection's set-up, and must not wait on a lock of the task table
 * (the daemon would not be seen alive meanwhile).
 *
 * The row is locked after the advisory lock is taken: a recover() that
 * unlocked the instance but has not committed its removal yet is waited
 * for, and its removal seen.
 *
 * recover_again() is the new connection's first recovery, recover() with
 * what the daemon left behind when the connection went:
 *   - the instance taken back: its running tasks are the ones the daemon
 *     cancelled then (it keeps none across a loss); they fail, their
 *     outcome unknown, as recover() fails a dead daemon's;
 *   - a new instance while the old one is still there (its session
 *     lingers on the server, which has not noticed the connection end: a
 *     network cut, a half-open socket): the old one's staged rows move to
 *     the new one, so that a recovery that later finds the old one dead
 *     queues nothing of this daemon's open files.  Its running tasks stay
 *     with it, for that recovery to fail.
 *
 * progress(): a cancel that a daemon missed because the task had just
 * failed and was being queued for a retry (tasks/ID/cancel said 0, the
 * task ran again) now ends it cancelled.
 */
#ifndef PGQFS_SCHEMA_V9_SQL_H
#define PGQFS_SCHEMA_V9_SQL_H

static const char *const schema_v9[] = {
	"CREATE FUNCTION register_again(p_old bigint, p_host text, p_pid int)"
	"  RETURNS TABLE (id bigint, reused boolean)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint;\n"
	"BEGIN\n"
	"  IF p_old > 0 AND pg_try_advisory_lock(hashtext(current_schema()), p_old::int) THEN\n"
	"    PERFORM 1 FROM instance i WHERE i.id = p_old FOR UPDATE;\n"
	"    IF FOUND THEN\n"
	"      RETURN QUERY SELECT p_old, true;\n"
	"      RETURN;\n"
	"    END IF;\n"
	"    PERFORM pg_advisory_unlock(hashtext(current_schema()), p_old::int);\n"
	"  END IF;\n"
	"  INSERT INTO instance (host, pid) VALUES (p_host, p_pid) RETURNING instance.id INTO v_id;\n"
	"  PERFORM pg_advisory_lock(hashtext(current_schema()), v_id::int);\n"
	"  RETURN QUERY SELECT v_id, false;\n"
	"END $$",
	"CREATE FUNCTION recover_again(p_instance bigint, p_old bigint)"
	"  RETURNS TABLE (failed bigint, requeued bigint, alive bigint, own_failed bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_ids bigint[];\n"
	"BEGIN\n"
	"  IF p_old = p_instance THEN\n"
	"    WITH l AS (SELECT i.host, i.pid,\n"
	"        log_line(format('failed: the daemon running it (%s:%s) lost its control '\n"
	"                        'connection and cancelled it; outcome unknown', i.host, i.pid)) AS line\n"
	"        FROM instance i WHERE i.id = p_instance),\n"
	"      f AS (UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"          changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"          log_size = t.log_size + length(l.line),\n"
	"          error = convert_to(format(E'pgqfs: the daemon running this task (%s:%s) lost its '\n"
	"                     'control connection and cancelled it; the outcome is unknown and the '\n"
	"                     'task was not run again\\n', l.host, l.pid), 'UTF8')\n"
	"        FROM l WHERE t.state = 'running' AND t.instance = p_instance AND NOT t.is_group\n"
	"        RETURNING t.id, t.pool, t.log_size - length(l.line) AS off, l.line),\n"
	"      c AS (INSERT INTO chunk SELECT f.id, 1, f.off, f.line FROM f),\n"
	"      tl AS (INSERT INTO tally AS y\n"
	"        SELECT p_instance, f.pool, 'failed', count(*) FROM f GROUP BY f.pool ORDER BY f.pool\n"
	"        ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"    SELECT array_agg(f.id ORDER BY f.id) INTO v_ids FROM f;\n"
	"    IF v_ids IS NOT NULL THEN\n"
	"      PERFORM notify_done(v_ids, 'failed');\n"
	"      PERFORM settle(v_ids);\n"
	"    END IF;\n"
	"  ELSIF p_old > 0 THEN\n"
	"    UPDATE task t SET instance = p_instance WHERE t.instance = p_old AND t.state = 'staged'\n"
	"      AND EXISTS (SELECT 1 FROM instance i WHERE i.id = p_old);\n"
	"  END IF;\n"
	"  RETURN QUERY SELECT r.failed, r.requeued, r.alive, coalesce(cardinality(v_ids), 0)::bigint\n"
	"    FROM recover(p_instance) r;\n"
	"END $$",
	/* As in version 3, but for a cancel asked while a retry was being
	 * recorded (cancel_task() saw the task running and set cancel_uid; the
	 * daemon had finished it already, so ignored the stop): the task ends
	 * cancelled instead of queued for its next attempt. */
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
	"    PERFORM truncate_streams(u_id, u_result_size, u_json_size, u_truncate);\n"
	"  END IF;\n"
	"  INSERT INTO chunk (task, stream, off, data)\n"
	"    SELECT c.task, c.stream, c.off, c.data\n"
	"      FROM unnest(c_task, c_stream, c_off, c_data) AS c(task, stream, off, data)\n"
	"      JOIN task t ON t.id = c.task AND t.state = 'running' AND t.instance = p_instance;\n"
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
	NULL
};

#endif
