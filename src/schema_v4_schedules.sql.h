/*
 * Version 4 of the control schema: schedules (DESIGN.md, "Schedules").
 * Included by schema.sql.h; never edit it once released.
 *
 * A schedule is a row, not a task: its file's text, its owner, and when
 * it fires next (next_at).  The daemons compute ticks in C (the cron
 * module: the database knows no cron), so a tick is decided by a compare
 * and set: a daemon that finds a row due sends the next_at it saw and the
 * one it computed; fire_schedules() moves the row only if it still has
 * the next_at that daemon saw, and submits a run only then.  However many
 * daemons race for a tick, one moves the row and the others find it moved:
 * each tick fires once, and a next tick is always after the database's
 * clock, so ticks missed while no daemon ran are not made up.
 */
#ifndef PGQFS_SCHEMA_V4_SCHEDULES_SQL_H
#define PGQFS_SCHEMA_V4_SCHEDULES_SQL_H

static const char *const schema_v4_schedules[] = {
	/* A run names its schedule, "POOL/NAME" (the schedule may be gone). */
	"ALTER TABLE task ADD COLUMN schedule text",
	"CREATE TABLE schedule ("
	"  pool text NOT NULL,"
	"  name text NOT NULL,"
	"  uid int NOT NULL,"			/* the owner: its last writer */
	"  gid int NOT NULL,"
	"  query bytea NOT NULL,"		/* the file, header included */
	/* What each run gets from the header, as stage_many() takes it. */
	"  priority int NOT NULL DEFAULT 0,"
	"  after bigint[],"
	"  nb_us bigint,"			/* not_before, absolute (us since 1970) */
	"  nb_ms bigint,"			/* not_before, after the submission */
	"  options text,"			/* as info shows them */
	"  every_ms bigint,"			/* every=, or NULL */
	"  cron text,"				/* cron=, or NULL */
	"  tz text,"				/* tz= of cron=, NULL: UTC */
	"  next_at timestamptz NOT NULL,"	/* the next tick */
	"  last_task bigint,"			/* the last run submitted */
	"  created_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),"
	"  PRIMARY KEY (pool, name))",
	"CREATE INDEX schedule_next ON schedule (next_at)",

	/*
	 * Writes schedule p_pool/p_name for p_uid: a new one, or a
	 * replacement by its owner or root (uid 0, who then owns it).
	 * Returns 0, or 3 when the name is another user's schedule.  The
	 * last run is kept: a replacement does not run beside it.
	 */
	"CREATE FUNCTION put_schedule(p_pool text, p_name text, p_uid int, p_gid int,"
	"    p_query bytea, p_priority int, p_after text, p_nb_us bigint, p_nb_ms bigint,"
	"    p_options text, p_every_ms bigint, p_cron text, p_tz text, p_next_ms bigint)"
	"  RETURNS int LANGUAGE plpgsql AS $$\n"
	"BEGIN\n"
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
	/* Every daemon learns the new next tick (see fire_schedules()). */
	"  PERFORM pg_notify(current_schema() || '_queue', '.schedules');\n"
	"  RETURN 0;\n"
	"END $$",

	/* Ends schedule p_pool/p_name for p_uid (its owner, or root): 0, 2
	 * none, 3 another user's.  Its runs are left as they are. */
	"CREATE FUNCTION drop_schedule(p_pool text, p_name text, p_uid int)"
	"  RETURNS int LANGUAGE plpgsql AS $$\n"
	"DECLARE v_uid int;\n"
	"BEGIN\n"
	"  SELECT s.uid INTO v_uid FROM schedule s WHERE s.pool = p_pool AND s.name = p_name\n"
	"    FOR UPDATE;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN 2;\n"
	"  ELSIF v_uid <> p_uid AND p_uid <> 0 THEN\n"
	"    RETURN 3;\n"
	"  END IF;\n"
	"  DELETE FROM schedule s WHERE s.pool = p_pool AND s.name = p_name;\n"
	"  PERFORM pg_notify(current_schema() || '_queue', '.schedules');\n"
	"  RETURN 0;\n"
	"END $$",

	/*
	 * The executor's statement for schedules.  For each (p_pool[i],
	 * p_name[i]) due at p_at[i] (ms since 1970) by the row the daemon
	 * read, moves the row to p_next[i] and submits a run, only if the
	 * row is still due at that tick (its next_at unchanged, not after
	 * the clock): another daemon that moved it first fired that tick.  A
	 * row locked by another daemon is skipped (it is firing it).  A run
	 * is not submitted while the schedule's last run is pending or
	 * running (the tick is skipped), nor while a task of its name is
	 * pending in the pool, nor for a tick more than p_grace_ms past: it
	 * was missed while no daemon ran (or none reached the database), and
	 * missed ticks are not made up.  A run is queued as any submission
	 * is, owned by the schedule's owner.
	 *
	 * Returns a row per tick taken (kind 1: a run submitted, id fired;
	 * kind 2: skipped; kind 3: missed), then (kind 0) the earliest
	 * p_limit schedules of pools p_pools with their next tick, for the
	 * daemon's next firing.
	 * now_ms: the database's clock, which decides when ticks are due.
	 */
	/* Ticks travel in whole ms (a next_at set by hand may have finer
	 * ones: it is compared as it was read, floored). */
	"CREATE FUNCTION fire_schedules(p_instance bigint, p_pools text[], p_pool text[],"
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
	"        s.nb_ms, s.options, s.last_task, s.next_at, u.next\n"
	"      FROM unnest(p_pool, p_name, p_at, p_next) AS u(pool, name, at, next)\n"
	"      JOIN schedule s ON s.pool = u.pool AND s.name = u.name\n"
	"        AND floor(extract(epoch FROM s.next_at) * 1000) = u.at\n"
	"      WHERE s.next_at <= clock_timestamp()\n"
	"        AND u.next > u.at\n"
	"      ORDER BY s.pool, s.name FOR UPDATE OF s SKIP LOCKED LOOP\n"
	"    kind := 2;\n"
	"    fired := NULL;\n"
	"    IF r.next_at < clock_timestamp() - p_grace_ms * interval '1 millisecond' THEN\n"
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
	NULL
};

#endif
