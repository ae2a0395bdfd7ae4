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
	NULL
};

#endif
