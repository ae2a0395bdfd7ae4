/*
 * Version 3 of the control schema: task control (DESIGN.md, "Task
 * control").  Included by schema.sql.h; never edit it once released.
 *
 * A task's life gains a waiting room: a queued task is claimable only when
 * it waits for nothing, that is when every task it names in after= is
 * done (deps = 0) and no time holds it (run_at IS NULL: not_before, or a
 * retry's back-off).  Only such tasks are in the claim's index, so a claim
 * stays one index range scan however many tasks wait.  Every move into
 * the queue goes through enqueue(), and every end of a task through
 * settle(), which wakes or fails its dependents in the same transaction:
 * dependents are pushed, never polled.
 */
#ifndef PGQFS_SCHEMA_V3_SQL_H
#define PGQFS_SCHEMA_V3_SQL_H

static const char *const schema_v3[] = {
	"ALTER TABLE task"
	"  ADD COLUMN options text,"		/* the header's options, as info shows them */
	"  ADD COLUMN after bigint[],"		/* after=: the ids it waits for */
	"  ADD COLUMN not_before timestamptz,"
	"  ADD COLUMN run_at timestamptz,"	/* queued: held until then */
	"  ADD COLUMN deps int NOT NULL DEFAULT 0," /* queued: after= ids not done yet */
	"  ADD COLUMN invalid text,"		/* a bad header: fails when queued */
	"  ADD COLUMN cancel_uid int,"		/* running: a cancel was asked by */
	/* running: where it is (the progress file), stored with its output */
	"  ADD COLUMN stmt int,"			/* the statement running, from 1 */
	"  ADD COLUMN n_stmts int,"
	"  ADD COLUMN rows_now bigint,"
	/* result.json, a stream of chunks like result (stream 2) */
	"  ADD COLUMN json_size bigint NOT NULL DEFAULT 0,"
	"  ADD COLUMN json_at timestamptz,"
	/* A retry by id counted its attempt already: the claim does not. */
	"  ADD COLUMN attempt_counted boolean NOT NULL DEFAULT false,"
	/* Groups (DESIGN.md, Groups): the group's row runs nothing; each
	 * statement is a member task with group_id.  The group's state
	 * follows its members' ends, counted here. */
	"  ADD COLUMN group_id bigint,"
	"  ADD COLUMN is_group boolean NOT NULL DEFAULT false,"
	"  ADD COLUMN n_members int,"
	"  ADD COLUMN n_ended int NOT NULL DEFAULT 0,"
	"  ADD COLUMN n_bad int NOT NULL DEFAULT 0",
	"CREATE INDEX task_group ON task (group_id, id) WHERE group_id IS NOT NULL",
	/* Members hold no pending name: NAME.sql may be submitted again while
	 * an earlier group's members still wait. */
	"DROP INDEX task_pending_name",
	"CREATE UNIQUE INDEX task_pending_name ON task (pool, name)"
	"  WHERE state IN ('staged', 'queued') AND group_id IS NULL",
	"DROP INDEX task_pending",
	"CREATE INDEX task_ready ON task (pool, priority, id)"
	"  WHERE state = 'queued' AND deps = 0 AND run_at IS NULL AND NOT is_group",
	"CREATE INDEX task_held ON task (pool, run_at)"
	"  WHERE state = 'queued' AND run_at IS NOT NULL",
	/* Who waits for whom, from the queueing of the waiter to the end of
	 * the task it waits for. */
	"CREATE TABLE dep ("
	"  after bigint NOT NULL,"
	"  task bigint NOT NULL,"
	"  PRIMARY KEY (after, task))",
	/* Pools' live settings; a pool without a row (or a NULL) has its
	 * configuration's. */
	"CREATE TABLE pool_setting ("
	"  pool text PRIMARY KEY,"
	"  max_workers int,"
	"  paused boolean NOT NULL DEFAULT false,"
	"  changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  changed_by int)",

	/* Appends a line to a task's log (its row must be locked or new). */
	"CREATE FUNCTION append_log(p_id bigint, p_text text) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_log bytea := log_line(p_text); v_off bigint;\n"
	"BEGIN\n"
	"  UPDATE task t SET log_size = t.log_size + length(v_log), log_at = clock_timestamp()\n"
	"    WHERE t.id = p_id RETURNING t.log_size - length(v_log) INTO v_off;\n"
	"  IF FOUND THEN\n"
	"    INSERT INTO chunk VALUES (p_id, 1, v_off, v_log);\n"
	"  END IF;\n"
	"END $$",

	/* NOTIFYs "id:state" items of ended tasks, 400 to a payload (they
	 * hold 8000 bytes). */
	"CREATE FUNCTION notify_done(p_ids bigint[], p_state text) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
	"  FOR i IN 0 .. (coalesce(cardinality(p_ids), 0) - 1) / 400 LOOP\n"
	"    PERFORM pg_notify(current_schema() || '_done',\n"
	"      (SELECT string_agg(x::text || ':' || p_state, ',')\n"
	"         FROM unnest(p_ids[i * 400 + 1 : i * 400 + 400]) AS x));\n"
	"  END LOOP;\n"
	"END $$",

	/*
	 * Members of groups among the ended tasks p_ids: their groups count
	 * them, and a group whose members have all ended ends, done if all
	 * are done, else failed (then it is settled like any task).
	 */
	"CREATE FUNCTION group_note(p_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$\n"
	"DECLARE v_done bigint[]; v_failed bigint[];\n"
	"BEGIN\n"
	"  WITH e AS (SELECT t.group_id AS g, count(*) AS n,\n"
	"        count(*) FILTER (WHERE t.state <> 'done') AS bad\n"
	"      FROM unnest(p_ids) AS u(id) JOIN task t ON t.id = u.id\n"
	"      WHERE t.group_id IS NOT NULL AND t.state IN ('done', 'failed', 'cancelled')\n"
	"      GROUP BY t.group_id ORDER BY t.group_id),\n"
	"    u AS (UPDATE task g SET n_ended = g.n_ended + e.n, n_bad = g.n_bad + e.bad,\n"
	"        state = CASE WHEN g.n_ended + e.n < g.n_members THEN g.state\n"
	"                     WHEN g.n_bad + e.bad = 0 THEN 'done' ELSE 'failed' END,\n"
	"        finished_at = CASE WHEN g.n_ended + e.n < g.n_members THEN NULL\n"
	"                           ELSE clock_timestamp() END,\n"
	"        changed_at = clock_timestamp()\n"
	"      FROM e WHERE g.id = e.g AND g.state NOT IN ('done', 'failed', 'cancelled')\n"
	"      RETURNING g.id, g.pool, g.state),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT 0, u.pool, u.state, count(*) FROM u WHERE u.state IN ('done', 'failed')\n"
	"        GROUP BY u.pool, u.state ORDER BY u.pool, u.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT array_agg(u.id) FILTER (WHERE u.state = 'done'),\n"
	"         array_agg(u.id) FILTER (WHERE u.state = 'failed')\n"
	"    INTO v_done, v_failed FROM u;\n"
	"  PERFORM notify_done(v_done, 'done');\n"
	"  PERFORM notify_done(v_failed, 'failed');\n"
	"  IF v_done IS NOT NULL OR v_failed IS NOT NULL THEN\n"
	"    PERFORM settle(coalesce(v_done, '{}') || coalesce(v_failed, '{}'));\n"
	"  END IF;\n"
	"END $$",

	/*
	 * What follows the end of tasks p_ids (their rows updated to a final
	 * state in this transaction): the dependents of a done task wait for
	 * one task fewer (and their pools are woken when one waits for
	 * nothing more); the dependents of a failed or cancelled one fail
	 * without running, and theirs after them.  Runs after the update, in
	 * a statement of its own: a waiter queued concurrently has either
	 * committed its dep row (seen here) or waits on the ended row's lock
	 * (and sees its new state: see enqueue()).
	 */
	"CREATE FUNCTION settle(p_ids bigint[]) RETURNS void LANGUAGE plpgsql AS $$\n"
	"DECLARE v_pool text; v_ids bigint[];\n"
	"BEGIN\n"
	"  IF coalesce(cardinality(p_ids), 0) = 0 THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  PERFORM group_note(p_ids);\n"
	"  FOR v_pool IN\n"
	"    WITH d AS (DELETE FROM dep USING unnest(p_ids) AS u(id) JOIN task x ON x.id = u.id\n"
	"        WHERE dep.after = u.id AND x.state = 'done'\n"
	"        RETURNING dep.task),\n"
	"      n AS (SELECT d.task, count(*) AS n FROM d GROUP BY d.task),\n"
	"      u AS (UPDATE task t SET deps = t.deps - n.n, changed_at = clock_timestamp()\n"
	"        FROM n WHERE t.id = n.task AND t.state = 'queued'\n"
	"        RETURNING t.pool, t.deps, t.run_at)\n"
	"    SELECT DISTINCT u.pool FROM u WHERE u.deps = 0 AND u.run_at IS NULL\n"
	"  LOOP\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"  END LOOP;\n"
	"  v_ids := ARRAY(SELECT x.id FROM unnest(p_ids) AS u(id) JOIN task x ON x.id = u.id\n"
	"                   WHERE x.state IN ('failed', 'cancelled'));\n"
	"  WHILE cardinality(v_ids) > 0 LOOP\n"
	"    WITH d AS (DELETE FROM dep WHERE dep.after = ANY (v_ids) RETURNING dep.after, dep.task),\n"
	"      w AS (SELECT DISTINCT ON (d.task) d.task, d.after FROM d ORDER BY d.task, d.after),\n"
	"      l AS (SELECT w.task, w.after, x.state AS why,\n"
	"          log_line(format('failed without running: task %s, which it waits for (after=), ended %s',\n"
	"                          w.after, x.state)) AS line\n"
	"        FROM w JOIN task x ON x.id = w.after),\n"
	"      f AS (UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"          changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"          log_size = t.log_size + length(l.line),\n"
	"          error = convert_to(format(E'pgqfs: not run: task %s, which this task waits for (after=%s), ended %s\\n',\n"
	"                                    l.after, l.after, l.why), 'UTF8')\n"
	"        FROM l WHERE t.id = l.task AND t.state = 'queued'\n"
	"        RETURNING t.id, t.pool, t.log_size - length(l.line) AS off, l.line),\n"
	"      c AS (INSERT INTO chunk SELECT f.id, 1, f.off, f.line FROM f),\n"
	"      tl AS (INSERT INTO tally AS y\n"
	"        SELECT 0, f.pool, 'failed', count(*) FROM f GROUP BY f.pool ORDER BY f.pool\n"
	"        ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"    SELECT array_agg(f.id ORDER BY f.id) INTO v_ids FROM f;\n"
	"    PERFORM notify_done(v_ids, 'failed');\n"
	"  END LOOP;\n"
	"END $$",

	/*
	 * Fails a task that has not started (its row locked), for a reason
	 * that is also its error, and settles it.  p_instance: whose tally.
	 */
	"CREATE FUNCTION fail_unstarted(p_id bigint, p_why text) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_pool text;\n"
	"BEGIN\n"
	"  UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"      changed_at = clock_timestamp(),\n"
	"      error = convert_to('pgqfs: ' || p_why || E'\\n', 'UTF8')\n"
	"    WHERE t.id = p_id RETURNING t.pool INTO v_pool;\n"
	"  PERFORM append_log(p_id, 'failed without running: ' || p_why);\n"
	"  INSERT INTO tally AS y VALUES (0, v_pool, 'failed', 1)\n"
	"    ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"  PERFORM notify_done(ARRAY[p_id], 'failed');\n"
	"  PERFORM settle(ARRAY[p_id]);\n"
	"END $$",

	/*
	 * Staged tasks p_ids become queued: a bad header or a dependency
	 * that failed, was cancelled or does not exist fails the task at
	 * once; otherwise it waits for its unfinished dependencies (a dep
	 * row each) and until not_before.  Each dependency's row is locked
	 * (FOR SHARE) while it is looked at, so that its end either committed
	 * before (its state is seen) or comes after this transaction (and
	 * settle() sees the dep row).  p_notify: wake every daemon for pools
	 * that got runnable tasks (the claim does not: it takes them).
	 */
	"CREATE FUNCTION enqueue(p_ids bigint[], p_notify boolean) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE r record; v_a bigint; v_st text; v_bad text; v_deps int; v_pools text[] := '{}';\n"
	"BEGIN\n"
	/* A group's members are queued with it. */
	"  IF EXISTS (SELECT 1 FROM task g WHERE g.id = ANY (p_ids) AND g.is_group) THEN\n"
	"    p_ids := p_ids || ARRAY(SELECT m.id FROM task m WHERE m.group_id = ANY (p_ids)\n"
	"                              AND m.state = 'staged' ORDER BY m.id);\n"
	"  END IF;\n"
	/* Most tasks wait for nothing: one statement for them all. */
	"  WITH q AS (UPDATE task t SET state = 'queued', changed_at = clock_timestamp()\n"
	"      WHERE t.id = ANY (p_ids) AND t.state = 'staged' AND t.after IS NULL\n"
	"        AND t.invalid IS NULL AND t.not_before IS NULL\n"
	"      RETURNING t.pool)\n"
	"  SELECT coalesce(array_agg(DISTINCT q.pool), '{}') INTO v_pools FROM q;\n"
	"  FOR r IN SELECT t.id, t.pool, t.after, t.invalid, t.not_before FROM task t\n"
	"      WHERE t.id = ANY (p_ids) AND t.state = 'staged' ORDER BY t.id FOR UPDATE LOOP\n"
	"    v_bad := r.invalid;\n"
	"    v_deps := 0;\n"
	"    IF v_bad IS NULL AND r.after IS NOT NULL THEN\n"
	"      FOR v_a IN SELECT DISTINCT a FROM unnest(r.after) AS a ORDER BY a LOOP\n"
	"        IF v_a = r.id THEN\n"
	"          v_bad := format('not run: after=%s names this task itself', v_a);\n"
	"          EXIT;\n"
	"        END IF;\n"
	"        SELECT x.state INTO v_st FROM task x WHERE x.id = v_a FOR SHARE;\n"
	"        IF NOT FOUND THEN\n"
	"          v_bad := format('not run: after=%s: there is no task %s', v_a, v_a);\n"
	"          EXIT;\n"
	"        ELSIF v_st IN ('failed', 'cancelled') THEN\n"
	"          v_bad := format('not run: task %s, which this task waits for (after=%s), ended %s',\n"
	"                          v_a, v_a, v_st);\n"
	"          EXIT;\n"
	"        ELSIF v_st <> 'done' THEN\n"
	"          INSERT INTO dep VALUES (v_a, r.id) ON CONFLICT DO NOTHING;\n"
	"          v_deps := v_deps + 1;\n"
	"        END IF;\n"
	"      END LOOP;\n"
	/* A wait in a circle would never end. */
	"      IF v_bad IS NULL AND v_deps > 0 AND EXISTS (\n"
	"          WITH RECURSIVE w(id) AS (SELECT d.after FROM dep d WHERE d.task = r.id\n"
	"            UNION SELECT d.after FROM dep d JOIN w ON d.task = w.id)\n"
	"          SELECT 1 FROM w WHERE w.id = r.id) THEN\n"
	"        v_bad := 'not run: its after= tasks wait, in a circle, for this one';\n"
	"      END IF;\n"
	"    END IF;\n"
	"    IF v_bad IS NOT NULL THEN\n"
	"      DELETE FROM dep WHERE dep.task = r.id;\n"
	"      PERFORM fail_unstarted(r.id, v_bad);\n"
	"      CONTINUE;\n"
	"    END IF;\n"
	"    UPDATE task t SET state = 'queued', deps = v_deps, changed_at = clock_timestamp(),\n"
	"        run_at = CASE WHEN r.not_before > clock_timestamp() THEN r.not_before END\n"
	"      WHERE t.id = r.id;\n"
	"    IF v_deps = 0 AND NOT (r.pool = ANY (v_pools)) THEN\n"
	"      v_pools := v_pools || r.pool;\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"  IF p_notify THEN\n"
	"    PERFORM pg_notify(current_schema() || '_queue', x) FROM unnest(v_pools) AS x;\n"
	"  END IF;\n"
	"END $$",

	/*
	 * The members of group p_id (staged, its content element p_elem):
	 * one task per statement, p_m_query[k] for each k with p_m_elem[k] =
	 * p_elem, in order, named NAME.sql:N, with the group's options.  A
	 * new content replaces the members staged before.
	 */
	"CREATE FUNCTION stage_members(p_id bigint, p_elem int, p_group boolean,"
	"    p_m_elem int[], p_m_query bytea[]) RETURNS void LANGUAGE plpgsql AS $$\n"
	"DECLARE v_n int;\n"
	"BEGIN\n"
	"  DELETE FROM task m WHERE m.group_id = p_id AND m.state = 'staged';\n"
	"  IF NOT p_group THEN\n"
	"    UPDATE task g SET is_group = false, n_members = NULL WHERE g.id = p_id AND g.is_group;\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  INSERT INTO task (id, pool, name, state, query, uid, gid, instance, priority, after,\n"
	"                    options, not_before, group_id)\n"
	"    SELECT nextval('task_id_seq'), g.pool, g.name || ':' || s.n, 'staged', s.q, g.uid,\n"
	"           g.gid, g.instance, g.priority, g.after, g.options, g.not_before, g.id\n"
	"      FROM task g,\n"
	"           (SELECT u.q, row_number() OVER (ORDER BY u.o) AS n\n"
	"              FROM unnest(p_m_elem, p_m_query) WITH ORDINALITY AS u(e, q, o)\n"
	"             WHERE u.e = p_elem) s\n"
	"     WHERE g.id = p_id\n"
	"     ORDER BY s.n;\n"
	"  GET DIAGNOSTICS v_n = ROW_COUNT;\n"
	"  UPDATE task g SET is_group = true, n_members = v_n, n_ended = 0, n_bad = 0\n"
	"    WHERE g.id = p_id;\n"
	"END $$",

	/*
	 * As in version 2, with the header's options: p_priority, p_after
	 * (ids "1,2,3" or NULL), not_before absolute (p_nb_us, microseconds
	 * since the epoch) or from the submission (p_nb_ms), p_options (as
	 * info shows them) and p_invalid (why the header is bad: the task
	 * fails when queued).  A task queued at once (p_queue) goes through
	 * enqueue() like every other.
	 */
	"DROP FUNCTION stage_many(bigint[], text[], text[], int[], int[], bytea[], boolean[], bigint)",
	"CREATE FUNCTION stage_many(p_id bigint[], p_pool text[], p_name text[], p_uid int[],"
	"    p_gid int[], p_query bytea[], p_queue boolean[], p_instance bigint,"
	"    p_priority int[], p_after text[], p_nb_us bigint[], p_nb_ms bigint[],"
	"    p_options text[], p_invalid text[], p_group boolean[], p_m_elem int[], p_m_query bytea[])"
	"  RETURNS TABLE (ord int, id bigint, status int, submitted_us bigint)"
	"  LANGUAGE plpgsql AS $$\n"
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

	/* Staged to queued (see version 1). */
	"CREATE OR REPLACE FUNCTION release(p_id bigint, p_sync boolean) RETURNS text"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_pool text;\n"
	"BEGIN\n"
	"  IF NOT p_sync THEN\n"
	"    PERFORM set_config('synchronous_commit', 'off', true);\n"
	"  END IF;\n"
	"  SELECT t.pool INTO v_pool FROM task t WHERE t.id = p_id AND t.state = 'staged';\n"
	"  IF v_pool IS NOT NULL THEN\n"
	"    PERFORM enqueue(ARRAY[p_id], true);\n"
	"  END IF;\n"
	"  RETURN v_pool;\n"
	"END $$",

	/* Cancels a task that has not started (its row locked): its error
	 * says by whom, its dependents fail. */
	"CREATE FUNCTION cancel_unstarted(p_id bigint, p_uid int) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_pool text;\n"
	"BEGIN\n"
	"  UPDATE task t SET state = 'cancelled', finished_at = clock_timestamp(),\n"
	"      changed_at = clock_timestamp(),\n"
	"      error = convert_to(format(E'pgqfs: cancelled by uid %s before it started\\n', p_uid), 'UTF8')\n"
	"    WHERE t.id = p_id RETURNING t.pool INTO v_pool;\n"
	"  PERFORM append_log(p_id, format('cancelled by uid %s', p_uid));\n"
	"  DELETE FROM dep WHERE dep.task = p_id;\n"
	"  INSERT INTO tally AS y VALUES (0, v_pool, 'cancelled', 1)\n"
	"    ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"  PERFORM notify_done(ARRAY[p_id], 'cancelled');\n"
	"  PERFORM settle(ARRAY[p_id]);\n"
	"END $$",

	/*
	 * Cancels a group's members that have not ended (the group ends when
	 * they have).  A running one is asked to stop, as cancel_task() does.
	 */
	"CREATE FUNCTION cancel_members(p_group bigint, p_uid int) RETURNS void"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE r record;\n"
	"BEGIN\n"
	"  FOR r IN SELECT m.id, m.state FROM task m WHERE m.group_id = p_group\n"
	"      AND m.state IN ('staged', 'queued', 'running') ORDER BY m.id FOR UPDATE LOOP\n"
	"    IF r.state = 'running' THEN\n"
	"      UPDATE task m SET cancel_uid = p_uid WHERE m.id = r.id AND m.cancel_uid IS NULL;\n"
	"      PERFORM pg_notify(current_schema() || '_stop', r.id::text || ':' || p_uid::text);\n"
	"    ELSE\n"
	"      PERFORM cancel_unstarted(r.id, p_uid);\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"END $$",

	/* As in version 2 (rm of a pending name), through cancel_unstarted();
	 * for a group, its members. */
	"CREATE OR REPLACE FUNCTION cancel(p_pool text, p_name text, p_uid int) RETURNS bigint"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint; v_uid int; v_group boolean;\n"
	"BEGIN\n"
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

	/*
	 * tasks/ID/cancel: 0 done (a task not started is cancelled; a
	 * running one is asked to stop: the daemon running it hears it on
	 * SCHEMA_stop, payload "id:uid"), 1 it has finished already, 2 no
	 * such task, 3 not p_uid's (uid 0 may cancel any).
	 */
	"CREATE FUNCTION cancel_task(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_state text; v_uid int; v_asked int; v_group boolean;\n"
	"BEGIN\n"
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

	/*
	 * tasks/ID/retry: a failed or cancelled task is queued again under
	 * its id (its log goes on; the next attempt replaces its result and
	 * error).  0 done, 1 it is not failed or cancelled, 2 no such task,
	 * 3 not p_uid's, 4 its name is pending in its pool again.
	 */
	"CREATE FUNCTION retry_task(p_id bigint, p_uid int) RETURNS int"
	"  LANGUAGE plpgsql AS $$\n"
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
	/* A group: its members that failed or were cancelled, again. */
	"    FOR r IN SELECT m.id FROM task m WHERE m.group_id = p_id\n"
	"        AND m.state IN ('failed', 'cancelled') ORDER BY m.id LOOP\n"
	"      PERFORM retry_task(r.id, p_uid);\n"
	"    END LOOP;\n"
	"    RETURN 0;\n"
	"  END IF;\n"
	"  IF v_in IS NOT NULL THEN\n"
	/* A member: its group waits for it again. */
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

	/* pools/POOL/max_workers and paused: NULL keeps the other. */
	"CREATE FUNCTION set_pool(p_pool text, p_max int, p_paused boolean, p_uid int)"
	"  RETURNS void LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
	"  INSERT INTO pool_setting AS s (pool, max_workers, paused, changed_by)\n"
	"    VALUES (p_pool, p_max, coalesce(p_paused, false), p_uid)\n"
	"    ON CONFLICT (pool) DO UPDATE SET\n"
	"      max_workers = coalesce(p_max, s.max_workers),\n"
	"      paused = coalesce(p_paused, s.paused),\n"
	"      changed_at = clock_timestamp(), changed_by = p_uid;\n"
	"  PERFORM pg_notify(current_schema() || '_queue', p_pool);\n"
	"END $$",

	/*
	 * The executor's one statement for new work, as claim_many() in
	 * version 1, and: the released tasks are queued first (enqueue());
	 * a pool's live setting replaces the limit the daemon passes, a
	 * paused pool starts nothing; tasks whose time has come are released
	 * from their hold; and for each pool one row with id NULL tells the
	 * daemon the pool's limit, whether it is paused and when its next
	 * held task is due (so that it claims then).  A claimed task starts
	 * a new attempt: the previous one's result goes.
	 */
	"DROP FUNCTION claim_many(bigint, bigint[], text[], int[], int[], int[])",
	"CREATE FUNCTION claim(p_instance bigint, p_release bigint[],"
	"    p_pools text[], p_max int[], p_want int[], p_local int[])"
	"  RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"                 submitted_us bigint, log_size bigint, attempt int, uid int,"
	"                 priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	"  LANGUAGE plpgsql SET enable_bitmapscan = off AS $$\n"
	"DECLARE p record; v_n int; v_daemon text; v_pool text; v_max int; v_paused boolean;\n"
	"  v_next timestamptz;\n"
	"BEGIN\n"
	"  SELECT i.host || ':' || i.pid INTO v_daemon FROM instance i WHERE i.id = p_instance;\n"
	"  IF cardinality(p_release) > 0 THEN\n"
	"    PERFORM enqueue(p_release, false);\n"
	"  END IF;\n"
	"  FOR p IN SELECT * FROM unnest(p_pools, p_max, p_want, p_local) AS u(pool, max, want, local)\n"
	"      ORDER BY u.pool LOOP\n"
	"    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.pool'), hashtext(p.pool));\n"
	"    SELECT s.max_workers, s.paused INTO v_max, v_paused FROM pool_setting s WHERE s.pool = p.pool;\n"
	"    v_max := coalesce(v_max, p.max);\n"
	"    v_paused := coalesce(v_paused, false);\n"
	"    UPDATE task t SET run_at = NULL\n"
	"      WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at <= clock_timestamp();\n"
	"    SELECT min(t.run_at) INTO v_next FROM task t\n"
	"      WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at IS NOT NULL;\n"
	"    RETURN QUERY SELECT NULL::bigint, p.pool, NULL::text, NULL::bytea, NULL::bigint,\n"
	"      NULL::bigint, NULL::int, NULL::int, NULL::int, v_max, v_paused,\n"
	"      (extract(epoch FROM v_next) * 1000000)::bigint;\n"
	"    CONTINUE WHEN v_paused;\n"
	"    SELECT count(*) INTO v_n FROM task t\n"
	"      WHERE t.pool = p.pool AND t.state = 'running' AND t.instance <> p_instance\n"
	"        AND NOT t.is_group;\n"
	"    v_n := least(p.want, v_max - p.local - v_n);\n"
	"    CONTINUE WHEN v_n <= 0;\n"
	"    RETURN QUERY\n"
	"      WITH c AS (\n"
	"        UPDATE task t SET state = 'running', instance = p_instance, daemon = v_daemon,\n"
	"            started_at = clock_timestamp(), changed_at = clock_timestamp(),\n"
	"            attempt = t.attempt + CASE WHEN t.attempt_counted THEN 0 ELSE 1 END,\n"
	"            attempt_counted = false, result_size = 0, rows = NULL, error = NULL,\n"
	"            finished_at = NULL, backend_pid = NULL, cancel_uid = NULL,\n"
	"            stmt = NULL, n_stmts = NULL, rows_now = NULL, json_size = 0\n"
	"          FROM (SELECT q.id, q.result_size AS old_size FROM task q\n"
	"                  WHERE q.pool = p.pool AND q.state = 'queued' AND q.deps = 0\n"
	"                    AND q.run_at IS NULL AND NOT q.is_group\n"
	"                ORDER BY q.priority, q.id LIMIT v_n FOR UPDATE SKIP LOCKED) s\n"
	"          WHERE t.id = s.id\n"
	"          RETURNING t.id, t.pool, t.name, t.query, t.submitted_at, t.log_size, t.attempt,\n"
	"            t.uid, t.priority, s.old_size, t.group_id),\n"
	/* A group runs from its first member's start. */
	"        gr AS (UPDATE task g SET state = 'running', changed_at = clock_timestamp(),\n"
	"            started_at = coalesce(g.started_at, clock_timestamp())\n"
	"          WHERE g.id IN (SELECT c.group_id FROM c WHERE c.group_id IS NOT NULL)\n"
	"            AND g.state = 'queued'),\n"
	"        d AS (DELETE FROM chunk k USING c\n"
	"          WHERE c.old_size > 0 AND k.task = c.id AND k.stream IN (0, 2))\n"
	"      SELECT c.id, c.pool, c.name, c.query,\n"
	"        (extract(epoch FROM c.submitted_at) * 1000000)::bigint,\n"
	"        c.log_size, c.attempt, c.uid, c.priority, NULL::int, NULL::boolean, NULL::bigint FROM c;\n"
	"  END LOOP;\n"
	"  IF cardinality(p_release) > 0 THEN\n"
	"    FOR v_pool IN SELECT DISTINCT t.pool FROM task t\n"
	"        WHERE t.id = ANY (p_release) AND t.state = 'queued' AND t.deps = 0 AND t.run_at IS NULL\n"
	"    LOOP\n"
	"      PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"    END LOOP;\n"
	"  END IF;\n"
	"END $$",

	/* Rows of a statement that failed after they were stored: psql
	 * prints none of them, so result and result.json drop them. */
	"CREATE FUNCTION truncate_streams(u_id bigint[], u_result_size bigint[],"
	"    u_json_size bigint[], u_truncate boolean[]) RETURNS void LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
	"  DELETE FROM chunk c\n"
	"    USING unnest(u_id, u_result_size, u_json_size, u_truncate) AS u(id, size, jsize, trunc)\n"
	"    WHERE u.trunc AND c.task = u.id AND c.stream IN (0, 2)\n"
	"      AND c.off >= CASE c.stream WHEN 0 THEN u.size ELSE u.jsize END;\n"
	"  UPDATE chunk c SET data = substr(c.data, 1,\n"
	"      ((CASE c.stream WHEN 0 THEN u.size ELSE u.jsize END) - c.off)::int)\n"
	"    FROM unnest(u_id, u_result_size, u_json_size, u_truncate) AS u(id, size, jsize, trunc)\n"
	"    WHERE u.trunc AND c.task = u.id AND c.stream IN (0, 2)\n"
	"      AND c.off < CASE c.stream WHEN 0 THEN u.size ELSE u.jsize END\n"
	"      AND c.off + length(c.data) > CASE c.stream WHEN 0 THEN u.size ELSE u.jsize END;\n"
	"END $$",

	/*
	 * As in version 1, and: a task may go back to queued (u_state
	 * 'queued': a transient error with attempts left), held until
	 * u_retry_at; its attempt's error and end are kept until the next
	 * attempt starts.  Ended tasks are settled.
	 */
	"DROP FUNCTION progress(bigint, boolean, bigint[], bigint[], bigint[], int[], text[],"
	"  bigint[], text[], bigint[], bigint[], bytea[], boolean[], bigint[], smallint[],"
	"  bigint[], bytea[])",
	"CREATE FUNCTION progress(p_instance bigint, p_sync boolean,"
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
	"        state = coalesce(u.state, t.state),\n"
	"        finished_at = to_timestamp(u.finished / 1e6),\n"
	"        rows = coalesce(u.nrows, t.rows),\n"
	"        error = coalesce(u.error, t.error),\n"
	"        stmt = coalesce(u.stmt, t.stmt),\n"
	"        n_stmts = coalesce(u.n_stmts, t.n_stmts),\n"
	"        rows_now = coalesce(u.rows_now, t.rows_now),\n"
	"        run_at = CASE WHEN u.state = 'queued' AND to_timestamp(u.retry_at / 1e6) > clock_timestamp()\n"
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

	/*
	 * A progress batch and a claim in one statement and one commit (the
	 * executor's usual step): the ends it records free their slots for the
	 * claim that follows, one round trip and one wait for the disk instead
	 * of two.  Always a synchronous commit: a claim must not be lost.
	 * Rows: the claim's, then one whose pool is NULL and whose done column
	 * is progress()'s answer.
	 */
	"CREATE FUNCTION step(p_instance bigint,"
	"    u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"    u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"    u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"    u_retry_at bigint[], u_stmt int[], u_n_stmts int[], u_rows_now bigint[],"
	"    u_json_size bigint[],"
	"    c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[],"
	"    p_release bigint[], p_pools text[], p_max int[], p_want int[], p_local int[])"
	"  RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"                 submitted_us bigint, log_size bigint, attempt int, uid int,"
	"                 priority int, pool_max int, pool_paused boolean, pool_next_us bigint,"
	"                 done text)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_done text;\n"
	"BEGIN\n"
	"  v_done := progress(p_instance, true, u_id, u_result_size, u_log_size, u_pid, u_target,\n"
	"    u_started, u_state, u_finished, u_rows, u_error, u_truncate, u_retry_at, u_stmt,\n"
	"    u_n_stmts, u_rows_now, u_json_size, c_task, c_stream, c_off, c_data);\n"
	"  RETURN QUERY SELECT c.*, NULL::text\n"
	"    FROM claim(p_instance, p_release, p_pools, p_max, p_want, p_local) c;\n"
	"  RETURN QUERY SELECT NULL::bigint, NULL::text, NULL::text, NULL::bytea, NULL::bigint,\n"
	"    NULL::bigint, NULL::int, NULL::int, NULL::int, NULL::int, NULL::boolean, NULL::bigint,\n"
	"    v_done;\n"
	"END $$",

	/*
	 * As in version 1; the dead daemons' staged rows go through
	 * enqueue(), their running tasks' dependents are settled.
	 */
	"CREATE OR REPLACE FUNCTION recover(p_instance bigint)"
	"  RETURNS TABLE (failed bigint, requeued bigint, alive bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE r record; v_dead bigint[] := '{}'; v_staged bigint[]; v_failed_ids bigint[];\n"
	"  v_failed bigint := 0; v_alive bigint := 0;\n"
	"BEGIN\n"
	"  FOR r IN SELECT i.id FROM instance i WHERE i.id <> p_instance ORDER BY i.id LOOP\n"
	"    IF pg_try_advisory_lock(hashtext(current_schema()), r.id::int) THEN\n"
	"      v_dead := v_dead || r.id;\n"
	"    ELSE\n"
	"      v_alive := v_alive + 1;\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"  IF cardinality(v_dead) = 0 THEN\n"
	"    RETURN QUERY SELECT 0::bigint, 0::bigint, v_alive;\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  WITH l AS (SELECT i.id, i.host, i.pid,\n"
	"        log_line(format('failed: the daemon running it (%s:%s) stopped; outcome unknown',\n"
	"                        i.host, i.pid)) AS line\n"
	"      FROM instance i WHERE i.id = ANY (v_dead)),\n"
	"    f AS (UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"          changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"          log_size = t.log_size + length(l.line),\n"
	"          error = convert_to(format(E'pgqfs: the daemon running this task (%s:%s) stopped before it finished; '\n"
	"                     'the outcome is unknown and the task was not run again\\n', l.host, l.pid), 'UTF8')\n"
	"        FROM l WHERE t.state = 'running' AND t.instance = l.id AND NOT t.is_group\n"
	"        RETURNING t.id, t.pool, t.log_size - length(l.line) AS off, l.line),\n"
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
	/* Their writers are gone too. */
	"  v_staged := ARRAY(SELECT t.id FROM task t\n"
	"                      WHERE t.state = 'staged' AND t.instance = ANY (v_dead) ORDER BY t.id);\n"
	"  PERFORM enqueue(v_staged, true);\n"
	"  DELETE FROM instance i WHERE i.id = ANY (v_dead);\n"
	"  PERFORM pg_advisory_unlock(hashtext(current_schema()), d::int) FROM unnest(v_dead) AS d;\n"
	"  RETURN QUERY SELECT v_failed, cardinality(v_staged)::bigint, v_alive;\n"
	"END $$",
	NULL
};

#endif
