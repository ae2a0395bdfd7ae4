/*
 * Version 11 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * A schedule's name is its owner's in its pool.  A run is submitted under
 * the schedule's name, and a tick is skipped while a task of that name is
 * pending there (the pending name is unique), so another user could hold
 * a schedule's runs off by keeping NAME.sql pending (a far not_before=).
 * Now, while schedules/<pool>/NAME.sql exists, only its owner (and root)
 * may submit NAME.sql to the pool: stage_many() answers status 5 to
 * anyone else (EPERM), and so does retry_task() for another user's task
 * of that name.  And a schedule is not written over another user's task
 * of its name that is pending, or running with retries left (a failed
 * attempt is queued again): put_schedule() answers 4 (EBUSY).
 * All take the same advisory lock on the (pool, name) first, so that of
 * a schedule and a submission racing each other, the later sees the
 * earlier committed (the control connections run READ COMMITTED, where
 * each statement sees what committed before it, whatever the database's
 * default: store_internal.h).  Root is never refused
 * either way: what root queues holds the runs off as before.  (A new
 * deadlock is possible, rarely: a schedule write holding the lock and
 * waiting for the schedule's row, which fire_schedules() holds while its
 * run waits for a batch of stage_many() waiting for the lock.  The server
 * breaks it; the losing write fails with EIO and may be written again.)
 */
#ifndef PGQFS_SCHEMA_V11_SQL_H
#define PGQFS_SCHEMA_V11_SQL_H

static const char *const schema_v11[] = {
	/* Whether a schedule of that name in the pool is another user's than
	 * p_uid, after the (pool, name) lock; never for root, without it (root
	 * is refused nothing, and root's files skip the call: the per-file
	 * path runs as root in the benchmark, and as anyone in use, where it
	 * costs 10-30 us of the server's time). */
	"CREATE FUNCTION name_scheduled(p_pool text, p_name text, p_uid int) RETURNS boolean"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  IF p_uid = 0 THEN\n"
	"    RETURN false;\n"
	"  END IF;\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.name'),\n"
	"                                hashtext(p_pool || '/' || p_name));\n"
	"  RETURN EXISTS (SELECT 1 FROM schedule s WHERE s.pool = p_pool\n"
	"    AND s.name = p_name AND s.uid <> p_uid);\n"
	"END $$",

	/* As in version 3, with status 5: the name is another user's
	 * schedule in the pool. */
	"CREATE OR REPLACE FUNCTION stage_many(p_id bigint[], p_pool text[], p_name text[],"
	"    p_uid int[], p_gid int[], p_query bytea[], p_queue boolean[], p_instance bigint,"
	"    p_priority int[], p_after text[], p_nb_us bigint[], p_nb_ms bigint[],"
	"    p_options text[], p_invalid text[], p_group boolean[], p_m_elem int[], p_m_query bytea[])"
	"  RETURNS TABLE (ord int, id bigint, status int, submitted_us bigint)"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_id bigint; v_res bigint; v_log bytea; v_at timestamptz;\n"
	"  v_ruid int; v_used boolean; v_after bigint[]; v_queue bigint[] := '{}';\n"
	"BEGIN\n"
	"  FOR i IN 1 .. coalesce(cardinality(p_id), 0) LOOP\n"
	"    ord := i;\n"
	"    v_at := NULL;\n"
	"    v_after := string_to_array(p_after[i], ',')::bigint[];\n"
	"    IF p_id[i] <> 0 THEN\n"
	"      UPDATE task t SET query = p_query[i], changed_at = clock_timestamp(),\n"
	"          priority = p_priority[i], after = v_after, options = p_options[i],\n"
	"          invalid = p_invalid[i],\n"
	"          not_before = coalesce(to_timestamp(p_nb_us[i] / 1e6),\n"
	"                                t.submitted_at + p_nb_ms[i] * interval '1 millisecond')\n"
	"        WHERE t.id = p_id[i] AND t.state = 'staged' RETURNING t.submitted_at INTO v_at;\n"
	"      id := p_id[i];\n"
	"      status := CASE WHEN FOUND THEN 0 ELSE 2 END;\n"
	"    ELSE\n"
	"      v_res := NULL;\n"
	"      v_ruid := NULL;\n"
	"      v_used := false;\n"
	"      IF p_name[i] ~ '^[1-9][0-9]{0,17}\\.sql$' THEN\n"
	"        SELECT r.id, r.uid, r.used INTO v_res, v_ruid, v_used FROM reservation r\n"
	"          WHERE r.id = substring(p_name[i] FROM '^([0-9]+)')::bigint\n"
	"          FOR UPDATE;\n"
	"      END IF;\n"
	"      IF v_res IS NOT NULL AND v_ruid <> p_uid[i] THEN\n"
	"        id := 0;\n"
	"        status := 3;\n"
	"      ELSIF v_res IS NOT NULL AND v_used THEN\n"
	"        id := v_res;\n"
	"        status := CASE WHEN EXISTS (SELECT 1 FROM task t WHERE t.id = v_res\n"
	"                                      AND t.state IN ('staged', 'queued'))\n"
	"                       THEN 1 ELSE 4 END;\n"
	"      ELSIF p_uid[i] <> 0 AND name_scheduled(p_pool[i], p_name[i], p_uid[i]) THEN\n"
	"        id := 0;\n"
	"        status := 5;\n"
	"      ELSE\n"
	"        v_id := coalesce(v_res, nextval('task_id_seq'));\n"
	"        v_log := log_line(format('submitted %s to pool %s by uid %s', p_name[i], p_pool[i], p_uid[i]));\n"
	"        INSERT INTO task AS t (id, pool, name, state, query, uid, gid, instance, log_size, log_at,\n"
	"                               priority, after, options, invalid, not_before)\n"
	"          VALUES (v_id, p_pool[i], p_name[i], 'staged', p_query[i], p_uid[i], p_gid[i],\n"
	"                  p_instance, length(v_log), clock_timestamp(),\n"
	"                  p_priority[i], v_after, p_options[i], p_invalid[i],\n"
	"                  coalesce(to_timestamp(p_nb_us[i] / 1e6),\n"
	"                           clock_timestamp() + p_nb_ms[i] * interval '1 millisecond'))\n"
	"          ON CONFLICT (pool, name) WHERE state IN ('staged', 'queued') AND group_id IS NULL\n"
	"          DO NOTHING\n"
	"          RETURNING t.submitted_at INTO v_at;\n"
	"        id := v_id;\n"
	"        IF FOUND THEN\n"
	"          status := 0;\n"
	"          INSERT INTO chunk VALUES (v_id, 1, 0, v_log);\n"
	"          IF v_res IS NOT NULL THEN\n"
	"            UPDATE reservation r SET used = true WHERE r.id = v_res;\n"
	"          END IF;\n"
	"        ELSE\n"
	"          status := 1;\n"
	"        END IF;\n"
	"      END IF;\n"
	"    END IF;\n"
	"    submitted_us := (extract(epoch FROM v_at) * 1000000)::bigint;\n"
	"    IF status = 0 AND (p_group[i] OR p_id[i] <> 0) THEN\n"
	"      PERFORM stage_members(id, i, p_group[i], p_m_elem, p_m_query);\n"
	"    END IF;\n"
	"    IF status = 0 AND p_queue[i] THEN\n"
	"      v_queue := v_queue || id;\n"
	"    END IF;\n"
	"    RETURN NEXT;\n"
	"  END LOOP;\n"
	"  IF cardinality(v_queue) > 0 THEN\n"
	"    PERFORM enqueue(v_queue, true);\n"
	"  END IF;\n"
	"END $$",

	/* As in version 4 (3: the name is another user's schedule), with
	 * 4: another user's task of the name is pending in the pool, or
	 * running with retries left (root is never refused). */
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
	"                             options, every_ms, cron, tz, next_at)\n"
	"    VALUES (p_pool, p_name, p_uid, p_gid, p_query, p_priority,\n"
	"            string_to_array(p_after, ',')::bigint[], p_nb_us, p_nb_ms, p_options,\n"
	"            p_every_ms, p_cron, p_tz,\n"
	"            'epoch'::timestamptz + p_next_ms * interval '1 millisecond')\n"
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
	/* As in version 3, with 5: the task, not a group's member, is named
	 * as another user's schedule in its pool (root is never refused). */
	"CREATE OR REPLACE FUNCTION retry_task(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_state text; v_uid int; v_pool text; v_name text; v_group boolean;\n"
	"  v_in bigint; r record; v_gstate text; v_gpool text;\n"
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
	"      PERFORM retry_task(r.id, p_uid);\n"
	"    END LOOP;\n"
	"    RETURN 0;\n"
	"  ELSIF v_in IS NULL AND p_uid <> 0 AND name_scheduled(v_pool, v_name, v_uid) THEN\n"
	"    RETURN 5;\n"
	"  END IF;\n"
	"  IF v_in IS NOT NULL THEN\n"
	"    SELECT g.state, g.pool INTO v_gstate, v_gpool FROM task g WHERE g.id = v_in FOR UPDATE;\n"
	"    UPDATE task g SET n_ended = g.n_ended - 1, n_bad = g.n_bad - 1,\n"
	"        state = 'running', finished_at = NULL, changed_at = clock_timestamp()\n"
	"      WHERE g.id = v_in;\n"
	"    IF v_gstate IN ('done', 'failed') THEN\n"
	"      INSERT INTO tally AS y VALUES (0, v_gpool, v_gstate, -1)\n"
	"        ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n - 1;\n"
	"    END IF;\n"
	"  END IF;\n"
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
	/*
	 * Each daemon process registers its instances with a token, a random
	 * number fixed for its lifetime, and its filesystem's control
	 * connections hold the token's lock, shared (store_internal.h).
	 */
	"ALTER TABLE instance ADD COLUMN token bigint",
	/* Since when a recovery has seen the instance gone whole (its
	 * executor's lock and its token's both free), or NULL. */
	"ALTER TABLE instance ADD COLUMN gone_since timestamptz",
	/* As in version 9, with the daemon's token (the 3-argument form
	 * stays, for daemons of the version before); an instance taken back
	 * is no longer gone. */
	"CREATE FUNCTION register_again(p_old bigint, p_host text, p_pid int, p_token bigint)"
	"  RETURNS TABLE (id bigint, reused boolean)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint;\n"
	"BEGIN\n"
	"  IF p_old > 0 AND pg_try_advisory_lock(hashtext(current_schema()), p_old::int) THEN\n"
	"    UPDATE instance i SET gone_since = NULL WHERE i.id = p_old;\n"
	"    IF FOUND THEN\n"
	"      RETURN QUERY SELECT p_old, true;\n"
	"      RETURN;\n"
	"    END IF;\n"
	"    PERFORM pg_advisory_unlock(hashtext(current_schema()), p_old::int);\n"
	"  END IF;\n"
	"  INSERT INTO instance (host, pid, token) VALUES (p_host, p_pid, p_token)\n"
	"    RETURNING instance.id INTO v_id;\n"
	"  PERFORM pg_advisory_lock(hashtext(current_schema()), v_id::int);\n"
	"  RETURN QUERY SELECT v_id, false;\n"
	"END $$",
	/*
	 * As in version 3, for an instance whose executor is gone (its lock
	 * free) while its daemon's filesystem is not (its connections hold the
	 * token's lock): its running tasks fail as a dead daemon's do (the
	 * executor cancelled them when its connection went), but its staged
	 * rows are not queued, nor its row removed.  Those are files still
	 * open for writing there, and the daemon takes its instance back
	 * (register_again()) when its executor returns, or moves them to the
	 * instance it registers instead (recover_again()).  The row stays
	 * while the daemon lives (a stage_many() begun under it may commit
	 * after the move); when the daemon is gone too, a later recovery finds
	 * the token's lock free and queues what is staged under it as a dead
	 * daemon's.  A daemon gone whole is dead only after 10 s seen so
	 * (gone_since): after a server restart, every daemon's connections
	 * went at once, and the one that comes back first must not queue the
	 * others' open files before they have had the time to come back and
	 * take their instances again.  Instances are looked at under
	 * transaction locks, which the commit lets go of (the session locks of
	 * version 3 stayed taken if the statement failed).
	 */
	"CREATE OR REPLACE FUNCTION recover(p_instance bigint)"
	"  RETURNS TABLE (failed bigint, requeued bigint, alive bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE r record; v_dead bigint[] := '{}'; v_lost bigint[] := '{}'; v_gone bigint[];\n"
	"  v_held bigint[] := '{}'; v_staged bigint[]; v_failed_ids bigint[];\n"
	"  v_failed bigint := 0; v_alive bigint := 0;\n"
	"BEGIN\n"
	"  FOR r IN SELECT i.id, i.token, i.gone_since FROM instance i WHERE i.id <> p_instance\n"
	"      ORDER BY i.id LOOP\n"
	"    IF NOT pg_try_advisory_xact_lock(hashtext(current_schema()), r.id::int) THEN\n"
	"      v_alive := v_alive + 1;\n"
	"    ELSIF r.token IS NOT NULL AND NOT pg_try_advisory_xact_lock(r.token) THEN\n"
	"      v_lost := v_lost || r.id;\n"
	"      v_held := v_held || r.id;\n"
	"    ELSIF r.gone_since < clock_timestamp() - interval '10 seconds' THEN\n"
	"      v_dead := v_dead || r.id;\n"
	"    ELSE\n"
	"      v_lost := v_lost || r.id;\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"  UPDATE instance i SET gone_since = NULL WHERE i.id = ANY (v_held)\n"
	"    AND i.gone_since IS NOT NULL;\n"
	"  UPDATE instance i SET gone_since = clock_timestamp() WHERE i.id = ANY (v_lost)\n"
	"    AND NOT i.id = ANY (v_held) AND i.gone_since IS NULL;\n"
	"  v_gone := v_dead || v_lost;\n"
	"  IF cardinality(v_gone) = 0 THEN\n"
	"    RETURN QUERY SELECT 0::bigint, 0::bigint, v_alive;\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  WITH l AS (SELECT i.id, i.host, i.pid,\n"
	"        CASE WHEN i.id = ANY (v_held) THEN 'lost its control connection'\n"
	"             ELSE 'stopped' END AS how\n"
	"      FROM instance i WHERE i.id = ANY (v_gone)),\n"
	"    m AS (SELECT l.*, log_line(format('failed: the daemon running it (%s:%s) %s; outcome unknown',\n"
	"                                      l.host, l.pid, l.how)) AS line FROM l),\n"
	"    f AS (UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"          changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"          log_size = t.log_size + length(m.line),\n"
	"          error = convert_to(format(E'pgqfs: the daemon running this task (%s:%s) %s before it '\n"
	"                     'finished; the outcome is unknown and the task was not run again\\n',\n"
	"                     m.host, m.pid, m.how), 'UTF8')\n"
	"        FROM m WHERE t.state = 'running' AND t.instance = m.id AND NOT t.is_group\n"
	"        RETURNING t.id, t.pool, t.log_size - length(m.line) AS off, m.line),\n"
	"    c AS (INSERT INTO chunk SELECT f.id, 1, f.off, f.line FROM f),\n"
	"    d AS (DELETE FROM tally y WHERE y.instance = ANY (v_dead)\n"
	"      RETURNING y.pool, y.state, y.n),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT 0, x.pool, x.state, sum(x.n) FROM\n"
	"        (SELECT f.pool, 'failed' AS state, 1 AS n FROM f\n"
	"         UNION ALL SELECT d.pool, d.state, d.n FROM d) x\n"
	"        GROUP BY x.pool, x.state ORDER BY x.pool, x.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT count(*), array_agg(f.id ORDER BY f.id) INTO v_failed, v_failed_ids FROM f;\n"
	"  IF v_failed > 0 THEN\n"
	"    PERFORM notify_done(v_failed_ids, 'failed');\n"
	"    PERFORM settle(v_failed_ids);\n"
	"  END IF;\n"
	"  v_staged := ARRAY(SELECT t.id FROM task t\n"
	"                      WHERE t.state = 'staged' AND t.instance = ANY (v_dead) ORDER BY t.id);\n"
	"  PERFORM enqueue(v_staged, true);\n"
	"  DELETE FROM instance i WHERE i.id = ANY (v_dead);\n"
	"  RETURN QUERY SELECT v_failed, cardinality(v_staged)::bigint, v_alive;\n"
	"END $$",
	NULL
};

#endif
