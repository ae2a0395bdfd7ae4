/*
 * The control database's schema, one array of statements per version.
 * store_migrate() applies the versions a database lacks, in order, in one
 * transaction under an advisory lock, and records the version in meta.
 * Objects are created unqualified: the migrating connection's search_path
 * is the configured schema.  Never edit a released version: add one.
 */
#ifndef PGQFS_SCHEMA_SQL_H
#define PGQFS_SCHEMA_SQL_H

static const char *const schema_v1[] = {
	"CREATE TABLE meta (version int NOT NULL)",
	"INSERT INTO meta VALUES (0)",
	"CREATE SEQUENCE task_id_seq",
	/* A running daemon; alive while it holds the advisory lock on its id. */
	"CREATE TABLE instance ("
	"  id bigserial PRIMARY KEY,"
	"  host text NOT NULL,"
	"  pid int NOT NULL,"
	"  started_at timestamptz NOT NULL DEFAULT now())",
	"CREATE TABLE task ("
	"  id bigint PRIMARY KEY,"
	"  pool text NOT NULL,"
	"  name text NOT NULL,"
	"  state text NOT NULL CHECK (state IN"
	"    ('staged', 'queued', 'running', 'done', 'failed', 'cancelled')),"
	"  priority int NOT NULL DEFAULT 0,"
	"  query bytea NOT NULL,"
	"  uid int NOT NULL,"
	"  gid int NOT NULL,"
	"  instance bigint,"		/* the stager while staged, the runner after */
	"  daemon text,"
	"  target text,"
	"  submitted_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  started_at timestamptz,"
	"  finished_at timestamptz,"
	"  changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  result_size bigint NOT NULL DEFAULT 0,"
	"  result_at timestamptz,"
	"  log_size bigint NOT NULL DEFAULT 0,"
	"  log_at timestamptz,"
	"  error bytea,"
	"  rows bigint,"
	"  attempt int NOT NULL DEFAULT 0,"
	"  backend_pid int"
	") WITH (fillfactor = 80)",
	/* A pending name is a de-duplication key. */
	"CREATE UNIQUE INDEX task_pending_name ON task (pool, name)"
	"  WHERE state IN ('staged', 'queued')",
	/* A claim reads a pool's pending tasks in order and stops at its
	 * limit (released staged ones among them). */
	"CREATE INDEX task_pending ON task (pool, priority, id) WHERE state IN ('staged', 'queued')",
	/* Listings by state, and the few running tasks a claim counts. */
	"CREATE INDEX task_state ON task (state, id)",
	/* Output streams in bounded chunks: a read at any offset is one range scan. */
	"CREATE TABLE chunk ("
	"  task bigint NOT NULL,"
	"  stream smallint NOT NULL,"
	"  off bigint NOT NULL,"
	"  data bytea NOT NULL,"
	"  PRIMARY KEY (task, stream, off))",
	/*
	 * CSV compresses well, and lz4 costs less than the disk and WAL it
	 * saves (a 300 MB result of repeated text: written 13x faster, read
	 * twice as fast; md5-like data: 30% smaller, read 10% slower).  pglz
	 * costs more than it saves: a server built without lz4 stores the
	 * chunks uncompressed.
	 */
	"DO $$ BEGIN\n"
	"  ALTER TABLE chunk ALTER data SET COMPRESSION lz4;\n"
	"EXCEPTION WHEN feature_not_supported THEN\n"
	"  ALTER TABLE chunk ALTER data SET STORAGE EXTERNAL;\n"
	"END $$",
	/*
	 * Finished tasks per pool and state, so that stats never counts the
	 * retained history (pending and running tasks are few: counted live).
	 * The functions that end or remove tasks add to it: the executor's
	 * progress to its own instance's rows (no other daemon waits on them),
	 * the rarer cancel, recover and housekeeping to instance 0's, always
	 * in (pool, state) order, one statement each, so that none deadlock.
	 * A count is the sum over instances.
	 */
	"CREATE TABLE tally ("
	"  instance bigint NOT NULL,"
	"  pool text NOT NULL,"
	"  state text NOT NULL,"
	"  n bigint NOT NULL,"
	"  PRIMARY KEY (instance, pool, state))",
	"CREATE TABLE reservation ("
	"  id bigint PRIMARY KEY,"
	"  uid int NOT NULL,"
	"  reserved_at timestamptz NOT NULL DEFAULT now())",

	"CREATE FUNCTION log_line(p_text text) RETURNS bytea LANGUAGE sql AS $$"
	"  SELECT convert_to(to_char(clock_timestamp() AT TIME ZONE 'UTC',"
	"    'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\" ') || p_text || E'\\n', 'UTF8')"
	"$$",

	/*
	 * Stores writers' contents as staged tasks, many in one transaction
	 * (see store_stage()), or queued at once (p_queue: a rename into the
	 * queue).  Element i is new when p_id[i] = 0, else the staged task
	 * p_id[i] with new content.  One row per element: ord, the task id,
	 * status 0 (stored), 1 (the name is pending already) or 2 (the
	 * task is no longer staged), and when it was submitted.  A busy element wastes a sequence value,
	 * never a reservation.
	 */
	"CREATE FUNCTION stage_many(p_id bigint[], p_pool text[], p_name text[], p_uid int[],"
	"    p_gid int[], p_query bytea[], p_queue boolean[], p_instance bigint)"
	"  RETURNS TABLE (ord int, id bigint, status int, submitted_us bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint; v_res bigint; v_log bytea; v_state text; v_at timestamptz;\n"
	"BEGIN\n"
	"  FOR i IN 1 .. coalesce(cardinality(p_id), 0) LOOP\n"
	"    ord := i;\n"
	"    v_state := CASE WHEN p_queue[i] THEN 'queued' ELSE 'staged' END;\n"
	"    v_at := NULL;\n"
	"    IF p_id[i] <> 0 THEN\n"
	"      UPDATE task t SET query = p_query[i], state = v_state, changed_at = clock_timestamp()\n"
	"        WHERE t.id = p_id[i] AND t.state = 'staged' RETURNING t.submitted_at INTO v_at;\n"
	"      id := p_id[i];\n"
	"      status := CASE WHEN FOUND THEN 0 ELSE 2 END;\n"
	"    ELSE\n"
	"      v_res := NULL;\n"
	"      IF p_name[i] ~ '^[0-9]{1,18}\\.sql$' THEN\n"
	/* Locked: a writer racing for the same reservation waits, then finds
	 * it used and takes a fresh id. */
	"        SELECT r.id INTO v_res FROM reservation r\n"
	"          WHERE r.id = substring(p_name[i] FROM '^([0-9]+)')::bigint AND r.uid = p_uid[i]\n"
	"          FOR UPDATE;\n"
	"      END IF;\n"
	"      v_id := coalesce(v_res, nextval('task_id_seq'));\n"
	"      v_log := log_line(format('submitted %s to pool %s by uid %s', p_name[i], p_pool[i], p_uid[i]));\n"
	"      INSERT INTO task AS t (id, pool, name, state, query, uid, gid, instance, log_size, log_at)\n"
	"        VALUES (v_id, p_pool[i], p_name[i], v_state, p_query[i], p_uid[i], p_gid[i],\n"
	"                p_instance, length(v_log), clock_timestamp())\n"
	"        ON CONFLICT (pool, name) WHERE state IN ('staged', 'queued') DO NOTHING\n"
	"        RETURNING t.submitted_at INTO v_at;\n"
	"      id := v_id;\n"
	"      IF FOUND THEN\n"
	"        status := 0;\n"
	"        INSERT INTO chunk VALUES (v_id, 1, 0, v_log);\n"
	"        IF v_res IS NOT NULL THEN\n"
	"          DELETE FROM reservation r WHERE r.id = v_res;\n"
	"        END IF;\n"
	"      ELSE\n"
	"        status := 1;\n"
	"      END IF;\n"
	"    END IF;\n"
	"    submitted_us := (extract(epoch FROM v_at) * 1000000)::bigint;\n"
	"    IF status = 0 AND p_queue[i] THEN\n"
	"      PERFORM pg_notify(current_schema() || '_queue', p_pool[i]);\n"
	"    END IF;\n"
	"    RETURN NEXT;\n"
	"  END LOOP;\n"
	"END $$",

	/* Staged to queued.  The staged content is durable already, and a lost
	 * flip is redone by recovery, so this commit need not wait for disk. */
	"CREATE FUNCTION release(p_id bigint, p_sync boolean) RETURNS text"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_pool text;\n"
	"BEGIN\n"
	"  IF NOT p_sync THEN\n"
	"    PERFORM set_config('synchronous_commit', 'off', true);\n"
	"  END IF;\n"
	"  UPDATE task SET state = 'queued', changed_at = clock_timestamp()\n"
	"    WHERE id = p_id AND state = 'staged' RETURNING pool INTO v_pool;\n"
	"  IF v_pool IS NOT NULL THEN\n"
	"    PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"  END IF;\n"
	"  RETURN v_pool;\n"
	"END $$",

	"CREATE FUNCTION cancel(p_pool text, p_name text, p_uid int) RETURNS bigint"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint; v_off bigint; v_log bytea;\n"
	"BEGIN\n"
	"  v_log := log_line(format('cancelled by uid %s', p_uid));\n"
	"  UPDATE task SET state = 'cancelled', finished_at = clock_timestamp(),\n"
	"      changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"      log_size = log_size + length(v_log),\n"
	"      error = convert_to(format(E'pgqfs: cancelled by uid %s before it started\\n', p_uid), 'UTF8')\n"
	"    WHERE pool = p_pool AND name = p_name AND state IN ('staged', 'queued')\n"
	"    RETURNING id, log_size - length(v_log) INTO v_id, v_off;\n"
	"  IF v_id IS NOT NULL THEN\n"
	"    INSERT INTO chunk VALUES (v_id, 1, v_off, v_log);\n"
	"    INSERT INTO tally AS y VALUES (0, p_pool, 'cancelled', 1)\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"    PERFORM pg_notify(current_schema() || '_done', v_id::text || ':cancelled');\n"
	"  END IF;\n"
	"  RETURN v_id;\n"
	"END $$",

	/*
	 * The executor's one statement for new work.  For each of its pools
	 * (max: the pool's max_workers, want: tasks it can start, local: its
	 * running ones, counted by itself since its finished tasks may not be
	 * recorded yet) it claims queued tasks in (priority, id) order.  A
	 * pool's transaction-level advisory lock serialises claims across
	 * daemons, so the count of the others' running tasks and the claim are
	 * one decision; pools are locked in name order, so claims never
	 * deadlock.  p_release are tasks whose writers closed them on this
	 * daemon (their content is durable already): they are claimed with the
	 * queued ones as far as the pools have room, and the rest become
	 * queued, with a NOTIFY so that other daemons may take them.
	 */
	"CREATE FUNCTION claim_many(p_instance bigint, p_release bigint[],"
	"    p_pools text[], p_max int[], p_want int[], p_local int[])"
	"  RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"                 submitted_us bigint, log_size bigint, attempt int, uid int)"
	"  LANGUAGE plpgsql SET enable_bitmapscan = off AS $$\n"
	"DECLARE p record; v_n int; v_daemon text; v_pool text;\n"
	"BEGIN\n"
	"  SELECT i.host || ':' || i.pid INTO v_daemon FROM instance i WHERE i.id = p_instance;\n"
	"  FOR p IN SELECT * FROM unnest(p_pools, p_max, p_want, p_local) AS u(pool, max, want, local)\n"
	"      ORDER BY u.pool LOOP\n"
	"    PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.pool'), hashtext(p.pool));\n"
	"    SELECT count(*) INTO v_n FROM task t\n"
	"      WHERE t.pool = p.pool AND t.state = 'running' AND t.instance <> p_instance;\n"
	"    v_n := least(p.want, p.max - p.local - v_n);\n"
	"    CONTINUE WHEN v_n <= 0;\n"
	"    RETURN QUERY\n"
	"      UPDATE task t SET state = 'running', instance = p_instance, daemon = v_daemon,\n"
	"          started_at = clock_timestamp(), changed_at = clock_timestamp(),\n"
	"          attempt = t.attempt + 1\n"
	"        FROM (SELECT q.id FROM task q WHERE q.pool = p.pool\n"
	"                AND (q.state = 'queued' OR (q.state = 'staged' AND q.id = ANY (p_release)))\n"
	"              ORDER BY q.priority, q.id LIMIT v_n FOR UPDATE SKIP LOCKED) c\n"
	"        WHERE t.id = c.id\n"
	"        RETURNING t.id, t.pool, t.name, t.query,\n"
	"          (extract(epoch FROM t.submitted_at) * 1000000)::bigint,\n"
	"          t.log_size, t.attempt, t.uid;\n"
	"  END LOOP;\n"
	"  IF cardinality(p_release) > 0 THEN\n"
	"    FOR v_pool IN\n"
	"      WITH r AS (UPDATE task t SET state = 'queued', changed_at = clock_timestamp()\n"
	"                   WHERE t.id = ANY (p_release) AND t.state = 'staged'\n"
	"                   RETURNING t.pool)\n"
	"      SELECT DISTINCT r.pool FROM r\n"
	"    LOOP\n"
	"      PERFORM pg_notify(current_schema() || '_queue', v_pool);\n"
	"    END LOOP;\n"
	"  END IF;\n"
	"END $$",

	/* Output and state of running tasks, in one statement per batch. */
	"CREATE FUNCTION progress(p_instance bigint, p_sync boolean,"
	"    u_id bigint[], u_result_size bigint[], u_log_size bigint[],"
	"    u_pid int[], u_target text[], u_started bigint[], u_state text[],"
	"    u_finished bigint[], u_rows bigint[], u_error bytea[], u_truncate boolean[],"
	"    c_task bigint[], c_stream smallint[], c_off bigint[], c_data bytea[])"
	"  RETURNS text LANGUAGE plpgsql AS $$\n"
	"DECLARE v_done text;\n"
	"BEGIN\n"
	"  IF NOT p_sync THEN\n"
	"    PERFORM set_config('synchronous_commit', 'off', true);\n"
	"  END IF;\n"
	/* Rows of a statement that failed after they were stored: psql
	 * prints none of them, so neither do we. */
	"  IF true = ANY (u_truncate) THEN\n"
	"    DELETE FROM chunk c USING unnest(u_id, u_result_size, u_truncate) AS u(id, size, trunc)\n"
	"      WHERE u.trunc AND c.task = u.id AND c.stream = 0 AND c.off >= u.size;\n"
	"    UPDATE chunk c SET data = substr(c.data, 1, (u.size - c.off)::int)\n"
	"      FROM unnest(u_id, u_result_size, u_truncate) AS u(id, size, trunc)\n"
	"      WHERE u.trunc AND c.task = u.id AND c.stream = 0 AND c.off < u.size\n"
	"        AND c.off + length(c.data) > u.size;\n"
	"  END IF;\n"
	"  INSERT INTO chunk (task, stream, off, data)\n"
	"    SELECT c.task, c.stream, c.off, c.data\n"
	"      FROM unnest(c_task, c_stream, c_off, c_data) AS c(task, stream, off, data)\n"
	"      JOIN task t ON t.id = c.task AND t.state = 'running' AND t.instance = p_instance;\n"
	"  WITH upd AS (\n"
	"    UPDATE task t SET\n"
	"        result_at = CASE WHEN u.result_size <> t.result_size THEN clock_timestamp() ELSE t.result_at END,\n"
	"        log_at = CASE WHEN u.log_size <> t.log_size THEN clock_timestamp() ELSE t.log_at END,\n"
	"        result_size = u.result_size,\n"
	"        log_size = u.log_size,\n"
	"        backend_pid = coalesce(u.pid, t.backend_pid),\n"
	"        target = coalesce(u.target, t.target),\n"
	"        started_at = coalesce(to_timestamp(u.started / 1e6), t.started_at),\n"
	"        state = coalesce(u.state, t.state),\n"
	"        finished_at = to_timestamp(u.finished / 1e6),\n"
	"        rows = coalesce(u.nrows, t.rows),\n"
	"        error = coalesce(u.error, t.error),\n"
	"        changed_at = CASE WHEN u.state IS NOT NULL OR u.pid IS NOT NULL\n"
	"                          THEN clock_timestamp() ELSE t.changed_at END\n"
	"      FROM unnest(u_id, u_result_size, u_log_size, u_pid, u_target, u_started,\n"
	"                  u_state, u_finished, u_rows, u_error)\n"
	"           AS u(id, result_size, log_size, pid, target, started, state, finished, nrows, error)\n"
	"      WHERE t.id = u.id AND t.state = 'running' AND t.instance = p_instance\n"
	"      RETURNING t.id, t.pool, t.state),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT p_instance, upd.pool, upd.state, count(*) FROM upd WHERE upd.state <> 'running'\n"
	"        GROUP BY upd.pool, upd.state ORDER BY upd.pool, upd.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT string_agg(upd.id::text || ':' || upd.state, ',') INTO v_done\n"
	"    FROM upd WHERE upd.state <> 'running';\n"
	"  IF v_done IS NOT NULL THEN\n"
	"    PERFORM pg_notify(current_schema() || '_done', v_done);\n"
	"  END IF;\n"
	"  RETURN v_done;\n"
	"END $$",

	/*
	 * Liveness without heartbeats: an instance whose advisory lock can be
	 * taken has lost its session, so its daemon is gone.  Its running tasks
	 * failed with an unknown outcome (SQL is not idempotent: never re-run),
	 * its staged rows become queued (their writers are gone too).
	 */
	"CREATE FUNCTION recover(p_instance bigint)"
	"  RETURNS TABLE (failed bigint, requeued bigint, alive bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE r record; v_dead bigint[] := '{}'; v_ids text[]; v_failed bigint := 0;\n"
	"  v_queued bigint := 0; v_alive bigint := 0;\n"
	"BEGIN\n"
	"  FOR r IN SELECT i.id FROM instance i WHERE i.id <> p_instance ORDER BY i.id LOOP\n"
	"    IF pg_try_advisory_lock(hashtext(current_schema()), r.id::int) THEN\n"
	"      v_dead := v_dead || r.id;\n"
	"    ELSE\n"
	"      v_alive := v_alive + 1;\n"
	"    END IF;\n"
	"  END LOOP;\n"
	"  IF cardinality(v_dead) = 0 THEN\n"
	"    RETURN QUERY SELECT v_failed, v_queued, v_alive;\n"
	"    RETURN;\n"
	"  END IF;\n"
	/* Their staged rows first: this takes no tally row, so that the
	 * statement below is the only one here that locks some. */
	"  UPDATE task t SET state = 'queued', changed_at = clock_timestamp()\n"
	"    WHERE t.state = 'staged' AND t.instance = ANY (v_dead);\n"
	"  GET DIAGNOSTICS v_queued = ROW_COUNT;\n"
	/* One statement for all the dead: tally rows are locked once, in order. */
	"  WITH l AS (SELECT i.id, i.host, i.pid,\n"
	"        log_line(format('failed: the daemon running it (%s:%s) stopped; outcome unknown',\n"
	"                        i.host, i.pid)) AS line\n"
	"      FROM instance i WHERE i.id = ANY (v_dead)),\n"
	"    f AS (UPDATE task t SET state = 'failed', finished_at = clock_timestamp(),\n"
	"          changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"          log_size = t.log_size + length(l.line),\n"
	"          error = convert_to(format(E'pgqfs: the daemon running this task (%s:%s) stopped before it finished; '\n"
	"                     'the outcome is unknown and the task was not run again\\n', l.host, l.pid), 'UTF8')\n"
	"        FROM l WHERE t.state = 'running' AND t.instance = l.id\n"
	"        RETURNING t.id, t.pool, t.log_size - length(l.line) AS off, l.line),\n"
	"    c AS (INSERT INTO chunk SELECT f.id, 1, f.off, f.line FROM f),\n"
	/* The dead instances' tally rows are folded into instance 0's. */
	"    d AS (DELETE FROM tally y WHERE y.instance = ANY (v_dead)\n"
	"      RETURNING y.pool, y.state, y.n),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT 0, x.pool, x.state, sum(x.n) FROM\n"
	"        (SELECT f.pool, 'failed' AS state, 1 AS n FROM f\n"
	"         UNION ALL SELECT d.pool, d.state, d.n FROM d) x\n"
	"        GROUP BY x.pool, x.state ORDER BY x.pool, x.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT count(*), array_agg(f.id::text || ':failed' ORDER BY f.id) INTO v_failed, v_ids FROM f;\n"
	/* NOTIFY payloads hold 8000 bytes: 400 "id:state"s at a time. */
	"  IF v_failed > 0 THEN\n"
	"    FOR i IN 0 .. (cardinality(v_ids) - 1) / 400 LOOP\n"
	"      PERFORM pg_notify(current_schema() || '_done',\n"
	"                        array_to_string(v_ids[i * 400 + 1 : i * 400 + 400], ','));\n"
	"    END LOOP;\n"
	"  END IF;\n"
	"  IF v_queued > 0 THEN\n"
	"    PERFORM pg_notify(current_schema() || '_queue', '');\n"
	"  END IF;\n"
	"  DELETE FROM instance i WHERE i.id = ANY (v_dead);\n"
	"  PERFORM pg_advisory_unlock(hashtext(current_schema()), d::int) FROM unnest(v_dead) AS d;\n"
	"  RETURN QUERY SELECT v_failed, v_queued, v_alive;\n"
	"END $$",

	/*
	 * The stats file's figures: pending and running tasks counted live,
	 * finished ones from the tally.  Every task's past versions leave
	 * index entries under the active states until VACUUM; a plain index
	 * scan marks them dead as it passes and skips them from then on, a
	 * bitmap scan visits them all, every time.  (Also claim_many's.)
	 */
	"CREATE FUNCTION stats() RETURNS TABLE (pool text, state text, n bigint)"
	"  LANGUAGE plpgsql STABLE SET enable_bitmapscan = off AS $$\n"
	"BEGIN\n"
	"  RETURN QUERY\n"
	"    SELECT t.pool, CASE t.state WHEN 'staged' THEN 'queued' ELSE t.state END, count(*)\n"
	"      FROM task t WHERE t.state IN ('staged', 'queued', 'running') GROUP BY 1, 2\n"
	"    UNION ALL\n"
	"    SELECT y.pool, y.state, sum(y.n)::bigint FROM tally y GROUP BY 1, 2 HAVING sum(y.n) <> 0;\n"
	"END $$",

	"CREATE FUNCTION housekeeping(p_retention_ms bigint) RETURNS bigint"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_n bigint;\n"
	"BEGIN\n"
	"  WITH d AS (DELETE FROM task t\n"
	"      WHERE t.state IN ('done', 'failed', 'cancelled')\n"
	"        AND t.finished_at < now() - p_retention_ms * interval '1 millisecond'\n"
	"      RETURNING t.id, t.pool, t.state),\n"
	"    c AS (DELETE FROM chunk USING d WHERE chunk.task = d.id),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT 0, d.pool, d.state, -count(*) FROM d GROUP BY d.pool, d.state\n"
	"        ORDER BY d.pool, d.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT count(*) INTO v_n FROM d;\n"
	"  DELETE FROM reservation r\n"
	"    WHERE r.reserved_at < now() - p_retention_ms * interval '1 millisecond';\n"
	"  RETURN v_n;\n"
	"END $$",
	NULL
};

/*
 * Version 2: a reserved id is an idempotency key.  A used reservation is
 * kept (used) for as long as its task is, so that its name can be refused
 * (EEXIST) once the task has left the queue; another user's name for it is
 * refused (EACCES) at stage time, here, where two daemons agree.  Unused
 * reservations per uid are capped (reserve_id()), and cancel() checks the
 * submitter.
 */
static const char *const schema_v2[] = {
	"ALTER TABLE reservation ADD COLUMN used boolean NOT NULL DEFAULT false",
	"CREATE INDEX reservation_unused ON reservation (uid) WHERE NOT used",
	/* Version 1 deleted a reservation when its id was used: a retained
	 * task named after its own id was submitted under a reservation, and
	 * keeps its name from being submitted again. */
	"INSERT INTO reservation (id, uid, used)"
	"  SELECT id, uid, true FROM task WHERE name = id::text || '.sql'"
	"  ON CONFLICT (id) DO UPDATE SET used = true",

	/*
	 * As in version 1, and for a name "<n>.sql" where n (in canonical
	 * decimal: "07.sql" is an ordinary name) is a reserved id:
	 * status 3 when another user reserved it, 1 when its task is pending,
	 * 4 when its task has left the queue.
	 */
	"CREATE OR REPLACE FUNCTION stage_many(p_id bigint[], p_pool text[], p_name text[], p_uid int[],"
	"    p_gid int[], p_query bytea[], p_queue boolean[], p_instance bigint)"
	"  RETURNS TABLE (ord int, id bigint, status int, submitted_us bigint)"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint; v_res bigint; v_log bytea; v_state text; v_at timestamptz;\n"
	"  v_ruid int; v_used boolean;\n"
	"BEGIN\n"
	"  FOR i IN 1 .. coalesce(cardinality(p_id), 0) LOOP\n"
	"    ord := i;\n"
	"    v_state := CASE WHEN p_queue[i] THEN 'queued' ELSE 'staged' END;\n"
	"    v_at := NULL;\n"
	"    IF p_id[i] <> 0 THEN\n"
	"      UPDATE task t SET query = p_query[i], state = v_state, changed_at = clock_timestamp()\n"
	"        WHERE t.id = p_id[i] AND t.state = 'staged' RETURNING t.submitted_at INTO v_at;\n"
	"      id := p_id[i];\n"
	"      status := CASE WHEN FOUND THEN 0 ELSE 2 END;\n"
	"    ELSE\n"
	"      v_res := NULL;\n"
	"      v_ruid := NULL;\n"
	"      v_used := false;\n"
	"      IF p_name[i] ~ '^[1-9][0-9]{0,17}\\.sql$' THEN\n"
	/* Locked: a writer racing for the same reservation waits, then finds
	 * it used. */
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
	"        INSERT INTO task AS t (id, pool, name, state, query, uid, gid, instance, log_size, log_at)\n"
	"          VALUES (v_id, p_pool[i], p_name[i], v_state, p_query[i], p_uid[i], p_gid[i],\n"
	"                  p_instance, length(v_log), clock_timestamp())\n"
	"          ON CONFLICT (pool, name) WHERE state IN ('staged', 'queued') DO NOTHING\n"
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
	"    IF status = 0 AND p_queue[i] THEN\n"
	"      PERFORM pg_notify(current_schema() || '_queue', p_pool[i]);\n"
	"    END IF;\n"
	"    RETURN NEXT;\n"
	"  END LOOP;\n"
	"END $$",

	/* The submitter's own, or any for root (uid 0); -1 when the pending
	 * task is another user's (the kernel's sticky-bit check raced a
	 * change of owner: a claim, an rm and a new submission of the name). */
	"CREATE OR REPLACE FUNCTION cancel(p_pool text, p_name text, p_uid int) RETURNS bigint"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint; v_off bigint; v_log bytea;\n"
	"BEGIN\n"
	"  v_log := log_line(format('cancelled by uid %s', p_uid));\n"
	"  UPDATE task SET state = 'cancelled', finished_at = clock_timestamp(),\n"
	"      changed_at = clock_timestamp(), log_at = clock_timestamp(),\n"
	"      log_size = log_size + length(v_log),\n"
	"      error = convert_to(format(E'pgqfs: cancelled by uid %s before it started\\n', p_uid), 'UTF8')\n"
	"    WHERE pool = p_pool AND name = p_name AND state IN ('staged', 'queued')\n"
	"      AND (p_uid = 0 OR uid = p_uid)\n"
	"    RETURNING id, log_size - length(v_log) INTO v_id, v_off;\n"
	"  IF v_id IS NOT NULL THEN\n"
	"    INSERT INTO chunk VALUES (v_id, 1, v_off, v_log);\n"
	"    INSERT INTO tally AS y VALUES (0, p_pool, 'cancelled', 1)\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + 1;\n"
	"    PERFORM pg_notify(current_schema() || '_done', v_id::text || ':cancelled');\n"
	"  ELSIF EXISTS (SELECT 1 FROM task WHERE pool = p_pool AND name = p_name\n"
	"                  AND state IN ('staged', 'queued')) THEN\n"
	"    RETURN -1;\n"
	"  END IF;\n"
	"  RETURN v_id;\n"
	"END $$",

	/* As in version 1; a used reservation goes with its task. */
	"CREATE OR REPLACE FUNCTION housekeeping(p_retention_ms bigint) RETURNS bigint"
	"  LANGUAGE plpgsql AS $$\n"
	"DECLARE v_n bigint;\n"
	"BEGIN\n"
	"  WITH d AS (DELETE FROM task t\n"
	"      WHERE t.state IN ('done', 'failed', 'cancelled')\n"
	"        AND t.finished_at < now() - p_retention_ms * interval '1 millisecond'\n"
	"      RETURNING t.id, t.pool, t.state),\n"
	"    c AS (DELETE FROM chunk USING d WHERE chunk.task = d.id),\n"
	"    tl AS (INSERT INTO tally AS y\n"
	"      SELECT 0, d.pool, d.state, -count(*) FROM d GROUP BY d.pool, d.state\n"
	"        ORDER BY d.pool, d.state\n"
	"      ON CONFLICT (instance, pool, state) DO UPDATE SET n = y.n + excluded.n)\n"
	"  SELECT count(*) INTO v_n FROM d;\n"
	"  DELETE FROM reservation r\n"
	"    WHERE (NOT r.used AND r.reserved_at < now() - p_retention_ms * interval '1 millisecond')\n"
	"       OR (r.used AND NOT EXISTS (SELECT 1 FROM task t WHERE t.id = r.id));\n"
	"  RETURN v_n;\n"
	"END $$",

	/*
	 * new-id: a fresh id for p_uid, unless it holds p_max unused
	 * reservations already (no row); pending says whether a task named
	 * "<id>.sql" (submitted without a reservation) is pending in p_pools.
	 * The uid's lock makes the count and the insert one decision.
	 */
	"CREATE FUNCTION reserve_id(p_uid int, p_max int, p_pools text[])"
	"  RETURNS TABLE (id bigint, pending boolean) LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint;\n"
	"BEGIN\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.reserve'), p_uid);\n"
	"  IF (SELECT count(*) FROM reservation r WHERE r.uid = p_uid AND NOT r.used) >= p_max THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  INSERT INTO reservation AS r (id, uid) VALUES (nextval('task_id_seq'), p_uid)\n"
	"    RETURNING r.id INTO v_id;\n"
	"  id := v_id;\n"
	"  pending := EXISTS (SELECT 1 FROM task t WHERE t.pool = ANY (p_pools)\n"
	"    AND t.name = v_id || '.sql' AND t.state IN ('staged', 'queued'));\n"
	"  RETURN NEXT;\n"
	"END $$",
	NULL
};

#include "schema_v3.sql.h"
#include "schema_v4_schedules.sql.h"
#include "schema_v5_plans.sql.h"
#include "schema_v6.sql.h"
#include "schema_v7.sql.h"
#include "schema_v8.sql.h"
#include "schema_v9.sql.h"
#include "schema_v10.sql.h"
#include "schema_v11.sql.h"
#include "schema_v12.sql.h"
#include "schema_v13.sql.h"
#include "schema_v14.sql.h"
#include "schema_v15.sql.h"
#include "schema_v16.sql.h"
#include "schema_v17.sql.h"

static const char *const *const schema_versions[] = {
	schema_v1,
	schema_v2,
	schema_v3,
	schema_v4_schedules,
	schema_v5_plans,
	schema_v6,
	schema_v7,
	schema_v8,
	schema_v9,
	schema_v10,
	schema_v11,
	schema_v12,
	schema_v13,
	schema_v14,
	schema_v15,
	schema_v16,
	schema_v17,
};

#endif
