/*
 * Version 14 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * A held row (version 13: claimed with its staging, not started) is
 * running, so its name is outside task_pending_name: while its file is
 * still open on its daemon, another daemon may stage a file of the same
 * name.  unhold() then cannot put the row back to staged, and it raised
 * the unique violation: the row stayed held with no task to start it,
 * counting against its pool's limit on every daemon until its daemon died
 * (a rewrite of the file failed with the whole staging; a stop left the
 * row to the next recovery, which failed it as of unknown outcome).
 *
 * Now such a row fails at once, with an error that says why (or ends
 * cancelled, if a cancel was asked meanwhile): the name is the other
 * daemon's pending file's, and this content never ran.  The
 * staging that asked for the unhold then finds the row gone from staged
 * (status 2): its writer's close is refused.  Keeping the held name in the
 * unique index instead would refuse a name for as long as a started
 * task's start is not on record, and a script that submits the same name
 * again right after its task started would see its cp refused.
 *
 * A daemon whose executor lost its control connection gives its held
 * rows back once connected again (version 13), but a recovery that
 * another daemon ran in between failed them as of unknown outcome, though
 * they never started.  recover() now leaves a running row with no
 * started_at to its daemon while its instance is lost but not dead (the
 * token's lock held, or gone less than 10 s); the daemon gives back each
 * such row it had (give_back()): staged
 * again if it never started, failed as cancelled by the lost connection
 * if it started at its release before its start was on record.
 */
#ifndef PGQFS_SCHEMA_V14_SQL_H
#define PGQFS_SCHEMA_V14_SQL_H

static const char *const schema_v14[] = {
	/* As in version 13; a held row whose name is pending again fails. */
	"CREATE OR REPLACE FUNCTION unhold(p_instance bigint, p_id bigint) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_cancel int; v_pool text; v_name text;\n"
	"BEGIN\n"
	"  BEGIN\n"
	"    UPDATE task t SET state = 'staged', daemon = NULL, attempt = 0,\n"
	"        attempt_counted = false, changed_at = clock_timestamp()\n"
	"      WHERE t.id = p_id AND t.state = 'running' AND t.instance = p_instance\n"
	"        AND t.started_at IS NULL AND NOT t.is_group AND t.group_id IS NULL\n"
	"      RETURNING t.cancel_uid, t.pool INTO v_cancel, v_pool;\n"
	"  EXCEPTION WHEN unique_violation THEN\n"
	/* The block's row lock went with it: taken again. */
	"    SELECT t.cancel_uid INTO v_cancel FROM task t\n"
	"      WHERE t.id = p_id AND t.state = 'running' AND t.instance = p_instance\n"
	"        AND t.started_at IS NULL AND NOT t.is_group AND t.group_id IS NULL\n"
	"      FOR UPDATE;\n"
	"    IF NOT FOUND THEN\n"
	"      RETURN;\n"
	"    END IF;\n"
	"    IF v_cancel IS NOT NULL THEN\n"
	"      SELECT t.pool INTO v_pool FROM task t WHERE t.id = p_id;\n"
	"      PERFORM cancel_unstarted(p_id, v_cancel);\n"
	"      PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"      RETURN;\n"
	"    END IF;\n"
	"    UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"        changed_at = clock_timestamp(),\n"
	"        error = convert_to(format(E'pgqfs: not run: while this file was open on its '\n"
	"                  'daemon (%s), a file of the same name was submitted again through '\n"
	"                  'another daemon; that file is the pending %s now\\n',\n"
	"                  t.daemon, t.name), 'UTF8')\n"
	"      WHERE t.id = p_id AND t.state = 'running' AND t.instance = p_instance\n"
	"        AND t.started_at IS NULL AND NOT t.is_group AND t.group_id IS NULL\n"
	"      RETURNING t.pool, t.name INTO v_pool, v_name;\n"
	"    PERFORM append_log(p_id, format('failed: %s was submitted again through another '\n"
	"                                    'daemon while this file was open', v_name));\n"
	"    INSERT INTO tally AS y VALUES (0, v_pool, 'failed', 1)\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"    PERFORM notify_done(ARRAY[p_id], 'failed');\n"
	"    PERFORM settle(ARRAY[p_id]);\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"    RETURN;\n"
	"  END;\n"
	"  IF v_cancel IS NOT NULL THEN\n"
	"    PERFORM cancel_unstarted(p_id, v_cancel);\n"
	"  END IF;\n"
	/* Its slot is free: the other daemons may claim again. */
	"  IF v_pool IS NOT NULL THEN\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"  END IF;\n"
	"END $$",
	/*
	 * A claim taken with a file's staging, given back by the daemon that
	 * took it (as p_instance): not started, the row is staged again
	 * (unhold()); started at its release when its control connection
	 * went, its start not on record, it fails as recover_again() fails
	 * the tasks that the lost connection cancelled.
	 */
	"CREATE FUNCTION give_back(p_instance bigint, p_id bigint, p_started boolean) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_daemon text; v_line bytea; v_pool text; v_off bigint;\n"
	"BEGIN\n"
	"  IF NOT p_started THEN\n"
	"    PERFORM unhold(p_instance, p_id);\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  SELECT i.host || ':' || i.pid INTO v_daemon FROM instance i WHERE i.id = p_instance;\n"
	"  v_line := log_line(format('failed: the daemon running it (%s) lost its control '\n"
	"                            'connection and cancelled it; outcome unknown', v_daemon));\n"
	"  UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"      changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"      log_size = t.log_size + length(v_line),\n"
	"      error = convert_to(format(E'pgqfs: the daemon running this task (%s) lost its '\n"
	"                 'control connection and cancelled it; the outcome is unknown and the '\n"
	"                 'task was not run again\\n', v_daemon), 'UTF8')\n"
	"    WHERE t.id = p_id AND t.state = 'running' AND t.instance = p_instance\n"
	"      AND t.started_at IS NULL AND NOT t.is_group AND t.group_id IS NULL\n"
	"    RETURNING t.pool, t.log_size - length(v_line) INTO v_pool, v_off;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  INSERT INTO chunk VALUES (p_id, 1, v_off, v_line);\n"
	"  INSERT INTO tally AS y VALUES (0, v_pool, 'failed', 1)\n"
	"    ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"  PERFORM notify_done(ARRAY[p_id], 'failed');\n"
	"  PERFORM settle(ARRAY[p_id]);\n"
	"  PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"END $$",
	/*
	 * As in version 11, but a running row with no started_at (claimed with
	 * its staging) of an instance that is lost, not dead (its daemon
	 * lives: the token's lock held; or it went less than 10 s ago, as
	 * after a server restart, when its daemon may not have connected again
	 * yet), is left to that daemon, which gives it back (give_back()) once
	 * connected again: a recovery run by another daemon in between failed
	 * it as of unknown outcome, though it had never started.  Once the
	 * instance is dead, a recovery fails it, as before.
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
	"          AND NOT (t.started_at IS NULL AND m.id = ANY (v_lost))\n"
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
