/*
 * Version 8 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * claim_one(): the claim of one released file on a daemon with room in
 * its pool, the pickup of a single `cp` on an idle daemon.  claim() does
 * the general case in 7 statements and two nested functions (0.5 ms on
 * the server here for one task); this is two statements (0.3 ms).  Its
 * update takes the file only when claim() would have chosen it and
 * nothing else:
 *
 *   - the file waits for nothing (as claim()'s direct path asks) and is
 *     still staged (a cancel or an rm since its release wins);
 *   - the pool is not paused and has room: this daemon's running tasks
 *     of the pool (p_local) and the other daemons' leave a slot under
 *     its limit, and the daemon asked for one (p_want);
 *   - no queued task of the pool is ready, nor held with its time come:
 *     such a task would go first, by (priority, id) or as a due hold.
 *
 * The pool's advisory lock is taken first, as claim() takes it, so the
 * update's snapshot sees every claim of the pool committed before it.
 * When it takes the file it answers as claim() would: the pool's row
 * (its live limit, whether it is paused, its next held task's time), then
 * the file's.  When the update takes nothing, claim() does the rest with
 * the same arguments, in the same transaction: the daemon's one round
 * trip either way, and the same outcome as before this version.
 */
#ifndef PGQFS_SCHEMA_V8_SQL_H
#define PGQFS_SCHEMA_V8_SQL_H

static const char *const schema_v8[] = {
	"CREATE FUNCTION claim_one(p_instance bigint, p_id bigint, p_us bigint, p_pool text,"
	"  p_max int, p_want int, p_local int)"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.pool'), hashtext(p_pool));\n"
	"  RETURN QUERY\n"
	"   WITH s AS (SELECT coalesce(ps.max_workers, p_max) AS max, coalesce(ps.paused, false) AS paused,\n"
	"       (SELECT min(h.run_at) FROM task h WHERE h.pool = p_pool AND h.state = 'queued'\n"
	"         AND h.run_at IS NOT NULL) AS next\n"
	"      FROM (SELECT) o LEFT JOIN pool_setting ps ON ps.pool = p_pool),\n"
	"    c AS (UPDATE task t SET state = 'running', instance = p_instance,\n"
	"      daemon = (SELECT i.host || ':' || i.pid FROM instance i WHERE i.id = p_instance),\n"
	"      started_at = clock_timestamp(), changed_at = clock_timestamp(),\n"
	"      submitted_at = coalesce(to_timestamp(p_us / 1e6), t.submitted_at),\n"
	"      attempt = t.attempt + CASE WHEN t.attempt_counted THEN 0 ELSE 1 END,\n"
	"      attempt_counted = false, result_size = 0, rows = NULL, error = NULL,\n"
	"      finished_at = NULL, backend_pid = NULL, cancel_uid = NULL,\n"
	"      stmt = NULL, n_stmts = NULL, rows_now = NULL, json_size = 0\n"
	"     FROM s\n"
	"     WHERE t.id = p_id AND (t.pool = p_pool AND t.state = 'staged' AND t.after IS NULL\n"
	"       AND t.invalid IS NULL AND t.not_before IS NULL AND NOT t.is_group\n"
	"       AND t.group_id IS NULL AND t.result_size = 0) IS TRUE\n"
	"      AND p_want > 0 AND NOT s.paused AND (s.next IS NULL OR s.next > clock_timestamp())\n"
	"      AND p_local + (SELECT count(*) FROM task r WHERE r.state = 'running'\n"
	"        AND (r.pool = p_pool AND r.instance <> p_instance AND NOT r.is_group) IS TRUE) < s.max\n"
	"      AND NOT EXISTS (SELECT 1 FROM task q WHERE q.pool = p_pool AND q.state = 'queued'\n"
	"        AND q.deps = 0 AND q.run_at IS NULL AND NOT q.is_group)\n"
	"     RETURNING t.id, t.pool, t.name, t.query, t.submitted_at, t.log_size, t.attempt,\n"
	"      t.uid, t.priority)\n"
	/* The pool's row, as claim() returns it: what the daemon learns of
	 * the pool (its live limit, paused, its next held task's time). */
	"   SELECT NULL::bigint, p_pool, NULL::text, NULL::bytea, NULL::bigint, NULL::bigint,\n"
	"     NULL::int, NULL::int, NULL::int, s.max, s.paused,\n"
	"     (extract(epoch FROM s.next) * 1000000)::bigint\n"
	"    FROM s WHERE EXISTS (SELECT 1 FROM c)\n"
	"   UNION ALL\n"
	"   SELECT c.id, c.pool, c.name, c.query, (extract(epoch FROM c.submitted_at) * 1000000)::bigint,\n"
	"     c.log_size, c.attempt, c.uid, c.priority, NULL::int, NULL::boolean, NULL::bigint\n"
	"    FROM c;\n"
	"  IF NOT FOUND THEN\n"
	"    RETURN QUERY SELECT * FROM claim(p_instance, ARRAY[p_id], ARRAY[p_us], ARRAY[p_pool],\n"
	"      ARRAY[p_max], ARRAY[p_want], ARRAY[p_local]);\n"
	"  END IF;\n"
	"END $$",
	NULL
};

#endif
