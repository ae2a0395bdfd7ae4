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
	NULL
};

#endif
