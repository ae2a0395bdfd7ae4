/*
 * Version 16 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * One lock order for a group and its members: the group's row first.
 * Version 15 made progress() and claim_take() lock the groups of their
 * tasks before the tasks; these took a member (and then a tally row)
 * before its group, and could wait for one of those, or for a group's
 * cancel (the group, then its members), until the server broke the
 * deadlock after deadlock_timeout and one side was tried again:
 *
 *   - recover() and recover_again() failed a gone daemon's running
 *     members, upserted tally (0, pool, 'failed'), then counted the ends
 *     into their groups (settle(), group_note());
 *   - cancel_task() of one member locked the member, upserted its tally
 *     row (cancel_unstarted()), then updated its group (group_note());
 *   - retry_task() of one member locked the member, upserted its tally row
 *     (retry_attempt()), then locked its group (group_recount()).
 *
 * One order now, for every function that takes more than one of these
 * rows: the tasks a task waits for (after=; a member has its group's), FOR
 * SHARE as enqueue() reads them; then the group; then the member; then
 * tally rows.  Each of the functions above, and cancel() (an rm of a
 * pending file), takes its rows first in that order, each set in id
 * order: lock_after(), then lock_rows() (FOR NO KEY UPDATE, as
 * progress() and group_note()'s update take a group; retry_task() takes
 * a member's group FOR UPDATE, as group_recount() does after it).  A
 * task's group_id and after= never change, so they are read without a
 * lock.  The tasks a task waits for include, while they have not ended,
 * those that they wait for (after= of after=): the end of the first fails
 * the whole chain in one statement.  A recovery locks in one go the
 * groups of every instance it will take, its own included for
 * recover_again() (two sets, one after the other, could each wait on a
 * progress() that held a group of the second and waited for one of the
 * first), after the tasks that those instances' staged rows wait for.
 *
 * The tasks a task waits for come first because a group's end (a
 * progress() batch, or a cancel of the group) holds the group, then
 * upserts the tally rows of its end, then settle() updates or fails the
 * tasks that wait for it: a cancel or a retry of such a waiting task that
 * held it, or a tally row, while it went on to the group (enqueue()'s FOR
 * SHARE) or to the same tally rows deadlocked with it.  Taking the tasks
 * it waits for first, the cancel or the retry waits for the end, or the
 * end for it.
 *
 * Left as they were (the server breaks such a deadlock after
 * deadlock_timeout and the statement is sent again):
 *
 *   - fail_unstarted() fails a member before its group is counted, at a
 *     group's submission (nothing else sees it yet) or at a retry (which
 *     holds the group first);
 *   - housekeeping() deletes old rows in the order it finds them, a
 *     member perhaps before its group, which a retry of that group, at
 *     the moment its retention ends, takes first.
 */
#ifndef PGQFS_SCHEMA_V16_SQL_H
#define PGQFS_SCHEMA_V16_SQL_H

static const char *const schema_v16[] = {
	/* Task rows p_ids, locked in id order. */
	"CREATE FUNCTION lock_rows(p_ids bigint[]) RETURNS void"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  IF coalesce(cardinality(p_ids), 0) > 0 THEN\n"
	"    PERFORM 1 FROM task t WHERE t.id = ANY (p_ids) ORDER BY t.id FOR NO KEY UPDATE OF t;\n"
	"  END IF;\n"
	"END $$",
	/* The tasks that task p_id waits for (after=; a member has its
	 * group's), and those that they wait for while they have not ended,
	 * read FOR SHARE in id order, as enqueue() reads them: before the
	 * task, its group and any tally row.  An end of the first of such a
	 * chain fails or wakes the rest in one statement, down to p_id.  A
	 * task's after= never changes once it is written. */
	"CREATE FUNCTION lock_after(p_id bigint) RETURNS void"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  PERFORM 1 FROM task x WHERE x.id = ANY (ARRAY(\n"
	"      WITH RECURSIVE up(id) AS (\n"
	"        SELECT a.id FROM task t, unnest(t.after) AS a(id) WHERE t.id = p_id\n"
	"        UNION SELECT a.id FROM up JOIN task t ON t.id = up.id\n"
	"            AND t.state NOT IN ('done', 'failed', 'cancelled'),\n"
	"          unnest(t.after) AS a(id))\n"
	"      SELECT up.id FROM up))\n"
	"    ORDER BY x.id FOR SHARE;\n"
	"END $$",
	/* What a recovery by p_instance updates before it counts ends into
	 * groups and tally rows, locked first: the tasks that the staged rows
	 * of every instance it can take wait for (after=), FOR SHARE as
	 * enqueue() reads them, then the groups of those instances' running
	 * members (p_own: its own as well), each set in id order.  The
	 * instances' locks are the ones recover() takes next (taken again,
	 * they stack). */
	"CREATE FUNCTION recover_locks(p_instance bigint, p_own boolean) RETURNS void"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_gone bigint[];\n"
	"BEGIN\n"
	"  v_gone := ARRAY(SELECT i.id FROM instance i WHERE i.id <> p_instance\n"
	"    AND pg_try_advisory_xact_lock(hashtext(current_schema()), i.id::int) ORDER BY i.id);\n"
	"  IF p_own THEN\n"
	"    v_gone := v_gone || p_instance;\n"
	"  END IF;\n"
	"  IF cardinality(v_gone) > 0 THEN\n"
	"    PERFORM 1 FROM task x WHERE x.id = ANY (ARRAY(\n"
	"        SELECT a.id FROM task t, unnest(t.after) AS a(id)\n"
	"        WHERE t.state = 'staged' AND t.instance = ANY (v_gone)))\n"
	"      ORDER BY x.id FOR SHARE;\n"
	"    PERFORM lock_rows(ARRAY(\n"
	"      SELECT t.group_id FROM task t WHERE t.state = 'running' AND t.instance = ANY (v_gone)\n"
	"        AND t.group_id IS NOT NULL));\n"
	"  END IF;\n"
	"END $$",
	/* As in version 14, the groups of the members it fails locked first. */
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
	"  PERFORM recover_locks(p_instance, false);\n"
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
	/* As in version 9, the same. */
	"CREATE OR REPLACE FUNCTION recover_again(p_instance bigint, p_old bigint)"
	"  RETURNS TABLE (failed bigint, requeued bigint, alive bigint, own_failed bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_ids bigint[];\n"
	"BEGIN\n"
	"  IF p_old = p_instance THEN\n"
	"    PERFORM recover_locks(p_instance, true);\n"
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
	/* As in version 3, the tasks it waits for (after=) locked first. */
	"CREATE OR REPLACE FUNCTION cancel(p_pool text, p_name text, p_uid int) RETURNS bigint"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_id bigint; v_uid int; v_group boolean;\n"
	"BEGIN\n"
	"  SELECT t.id INTO v_id FROM task t\n"
	"    WHERE t.pool = p_pool AND t.name = p_name AND t.state IN ('staged', 'queued')\n"
	"      AND t.group_id IS NULL;\n"
	"  IF v_id IS NOT NULL THEN\n"
	"    PERFORM lock_after(v_id);\n"
	"  END IF;\n"
	"  SELECT t.id, t.uid, t.is_group INTO v_id, v_uid, v_group FROM task t\n"
	"    WHERE t.pool = p_pool AND t.name = p_name AND t.state IN ('staged', 'queued')\n"
	"      AND t.group_id IS NULL\n"
	"    FOR UPDATE;\n"
	"  IF v_id IS NULL THEN\n"
	"    RETURN NULL;\n"
	"  ELSIF p_uid <> 0 AND v_uid <> p_uid THEN\n"
	"    RETURN -1;\n"
	"  ELSIF v_group THEN\n"
	"    PERFORM cancel_members(v_id, p_uid);\n"
	"    RETURN v_id;\n"
	"  END IF;\n"
	"  PERFORM cancel_unstarted(v_id, p_uid);\n"
	"  RETURN v_id;\n"
	"END $$",
	/* As in version 3, the tasks it waits for (after=), then a member's
	 * group, locked first. */
	"CREATE OR REPLACE FUNCTION cancel_task(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_state text; v_uid int; v_asked int; v_group boolean; v_in bigint;\n"
	"BEGIN\n"
	"  PERFORM lock_after(p_id);\n"
	"  SELECT t.group_id INTO v_in FROM task t WHERE t.id = p_id;\n"
	"  IF v_in IS NOT NULL THEN\n"
	"    PERFORM lock_rows(ARRAY[v_in]);\n"
	"  END IF;\n"
	"  SELECT t.state, t.uid, t.cancel_uid, t.is_group INTO v_state, v_uid, v_asked, v_group\n"
	"    FROM task t WHERE t.id = p_id FOR UPDATE;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN 2;\n"
	"  ELSIF p_uid <> 0 AND v_uid <> p_uid THEN\n"
	"    RETURN 3;\n"
	"  ELSIF v_group AND v_state IN ('staged', 'queued', 'running') THEN\n"
	"    PERFORM cancel_members(p_id, p_uid);\n"
	"  ELSIF v_state IN ('staged', 'queued') THEN\n"
	"    PERFORM cancel_unstarted(p_id, p_uid);\n"
	"  ELSIF v_state = 'running' THEN\n"
	/* No log line from here: the daemon running it writes its log (at
	 * offsets it keeps), and logs the cancel when it hears it. */
	"    IF v_asked IS NULL THEN\n"
	"      UPDATE task t SET cancel_uid = p_uid WHERE t.id = p_id;\n"
	"    END IF;\n"
	"    PERFORM pg_notify(current_schema() || '_stop', p_id::text || ':' || p_uid::text);\n"
	"  ELSE\n"
	"    RETURN 1;\n"
	"  END IF;\n"
	"  RETURN 0;\n"
	"END $$",
	/* As in version 12, the tasks it waits for (after=), then a member's
	 * group, locked first. */
	"CREATE OR REPLACE FUNCTION retry_task(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE v_state text; v_uid int; v_pool text; v_name text; v_group boolean;\n"
	"  v_in bigint; r record; v_r int;\n"
	"BEGIN\n"
	"  PERFORM lock_after(p_id);\n"
	"  SELECT t.group_id INTO v_in FROM task t WHERE t.id = p_id;\n"
	"  IF v_in IS NOT NULL THEN\n"
	"    PERFORM 1 FROM task g WHERE g.id = v_in FOR UPDATE;\n"
	"  END IF;\n"
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

#endif
