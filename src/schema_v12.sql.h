/*
 * Version 12 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * A group's members are claimed straight from staged.  Until now the
 * release of a group queued all its members in one statement (enqueue()):
 * a row update each, about 45-65 us a member here, so a group of 5,000
 * started its first member 230-330 ms after its release, with one of the
 * two CPUs busy and the other idle.  Now a group that waits for nothing
 * (no after=, no not_before=, a good header) is queued alone; claim()
 * takes its members in id order while they are staged and it is queued
 * or running (task_member_staged: the members not yet claimed of each
 * group; task_group_open: the groups of a pool whose members may be).
 * A member claimed goes from staged to running as a released file does
 * (claim_take()).  A group that waits (after=, not_before=) or fails
 * unstarted (a bad header, a dependency that failed) queues its members
 * with it as before, each with its own wait.
 *
 * Staged members are shown as queued, as every staged row is (stats(),
 * tasks/ID/state); cancel_members() cancels them; a recovery that queues
 * a dead daemon's staged rows queues them (they are claimed through the
 * ready index then, as before).
 *
 * The claim also queues the groups among its releases before it chooses
 * (before, in release_rest(), after it): a group's first members start
 * with the claim that releases it, not with the next one.
 */
#ifndef PGQFS_SCHEMA_V12_SQL_H
#define PGQFS_SCHEMA_V12_SQL_H

static const char *const schema_v12[] = {
	"CREATE INDEX task_member_staged ON task (group_id, id)"
	"  WHERE state = 'staged' AND group_id IS NOT NULL",
	"CREATE INDEX task_group_open ON task (pool, priority, id)"
	"  WHERE is_group AND state IN ('queued', 'running')",

	/* As in version 3, but a group's members are queued with it only
	 * when it waits or fails. */
	"CREATE OR REPLACE FUNCTION enqueue(p_ids bigint[], p_notify boolean) RETURNS void"
	"  LANGUAGE plpgsql SET enable_seqscan = off SET jit = off AS $$\n"
	"DECLARE r record; v_a bigint; v_st text; v_bad text; v_deps int; v_pools text[] := '{}';\n"
	"BEGIN\n"
	"  IF EXISTS (SELECT 1 FROM task g WHERE g.id = ANY (p_ids) AND g.is_group\n"
	"      AND g.state = 'staged' AND (g.after IS NOT NULL OR g.invalid IS NOT NULL\n"
	"        OR g.not_before IS NOT NULL)) THEN\n"
	"    p_ids := p_ids || ARRAY(SELECT m.id FROM task g JOIN task m ON m.group_id = g.id\n"
	"                              WHERE g.id = ANY (p_ids) AND g.is_group AND g.state = 'staged'\n"
	"                                AND (g.after IS NOT NULL OR g.invalid IS NOT NULL\n"
	"                                  OR g.not_before IS NOT NULL)\n"
	"                                AND m.state = 'staged' ORDER BY m.id);\n"
	"  END IF;\n"
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
	 * Up to p_n tasks of pool p_pool that claim() takes, by priority then
	 * id, and those of them with output of an earlier attempt (old): the
	 * ready queued tasks, the released files p_direct, and the staged
	 * members of the pool's queued or running groups.
	 */
	"CREATE FUNCTION claim_choose(p_pool text, p_n int, p_direct bigint[],"
	"  OUT ids bigint[], OUT old bigint[])"
	" LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan"
	" SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"BEGIN\n"
	"  SELECT array_agg(x.id), array_agg(x.id) FILTER (WHERE x.old_size > 0)\n"
	"   INTO ids, old\n"
	"   FROM (SELECT y.id, y.old_size FROM\n"
	"     (SELECT w.id, w.priority, w.old_size FROM\n"
	"       (SELECT q.id, q.priority, q.result_size AS old_size FROM task q\n"
	"        WHERE q.pool = p_pool AND q.state = 'queued' AND q.deps = 0\n"
	"         AND q.run_at IS NULL AND NOT q.is_group\n"
	"        ORDER BY q.priority, q.id LIMIT p_n) w\n"
	"      UNION ALL\n"
	"      SELECT r.id, r.priority, r.result_size FROM task r\n"
	"       WHERE r.id = ANY (p_direct) AND (r.pool = p_pool) IS TRUE\n"
	"      UNION ALL\n"
	"      SELECT m.id, m.priority, m.old_size FROM\n"
	"       (SELECT g.id FROM task g\n"
	"        WHERE g.pool = p_pool AND g.is_group AND g.state IN ('queued', 'running')\n"
	"         AND (g.deps = 0 AND g.run_at IS NULL) IS TRUE\n"
	"         AND EXISTS (SELECT 1 FROM task e WHERE e.group_id = g.id AND e.state = 'staged')\n"
	"        ORDER BY g.priority, g.id LIMIT p_n) o\n"
	"       CROSS JOIN LATERAL\n"
	"       (SELECT s.id, s.priority, s.result_size AS old_size FROM task s\n"
	"        WHERE s.group_id = o.id AND s.state = 'staged'\n"
	"        ORDER BY s.id LIMIT p_n) m) y\n"
	"     ORDER BY y.priority, y.id LIMIT p_n) x;\n"
	"END $$",

	/* As in version 7, with the released groups queued first, and the
	 * staged members of a pool's queued or running groups among the
	 * tasks to choose from. */
	"CREATE OR REPLACE FUNCTION claim(p_instance bigint, p_release bigint[], p_release_us bigint[],"
	"  p_pools text[], p_max int[], p_want int[], p_local int[])"
	" RETURNS TABLE (id bigint, pool text, name text, query bytea,"
	"        submitted_us bigint, log_size bigint, attempt int, uid int,"
	"        priority int, pool_max int, pool_paused boolean, pool_next_us bigint)"
	" LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan"
	" SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$\n"
	"DECLARE p record; v_n int; v_daemon text; v_max int; v_paused boolean;\n"
	" v_next timestamptz; v_direct bigint[] := '{}'; v_ids bigint[];\n"
	" v_old bigint[]; v_others int; v_chosen bigint[] := '{}'; v_groups bigint[];\n"
	"BEGIN\n"
	" IF cardinality(p_release) > 0 THEN\n"
	"  v_groups := ARRAY(SELECT t.id FROM task t\n"
	"   WHERE t.id = ANY (p_release) AND (t.state = 'staged' AND t.is_group\n"
	"    AND t.after IS NULL AND t.invalid IS NULL AND t.not_before IS NULL) IS TRUE\n"
	"   ORDER BY t.id);\n"
	"  IF cardinality(v_groups) > 0 THEN\n"
	"   UPDATE task t SET submitted_at = to_timestamp(r.us / 1e6)\n"
	"    FROM unnest(p_release, p_release_us) AS r(id, us)\n"
	"    WHERE t.id = r.id AND r.us IS NOT NULL AND t.id = ANY (v_groups);\n"
	"   PERFORM enqueue(v_groups, true);\n"
	"  END IF;\n"
	"  v_direct := ARRAY(SELECT t.id FROM task t\n"
	"   WHERE t.id = ANY (p_release) AND (t.state = 'staged') IS TRUE\n"
	"    AND (t.after IS NULL AND t.invalid IS NULL AND t.not_before IS NULL\n"
	"     AND NOT t.is_group AND t.group_id IS NULL) IS TRUE\n"
	"   ORDER BY t.id FOR UPDATE);\n"
	" END IF;\n"
	" FOR p IN SELECT * FROM unnest(p_pools, p_max, p_want, p_local) AS u(pool, max, want, local)\n"
	"   ORDER BY u.pool LOOP\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.pool'), hashtext(p.pool));\n"
	"  SELECT s.max_workers, s.paused, n.next, n.others, n.daemon\n"
	"   INTO v_max, v_paused, v_next, v_others, v_daemon\n"
	"   FROM (SELECT (SELECT min(t.run_at) FROM task t WHERE t.pool = p.pool\n"
	"       AND t.state = 'queued' AND t.run_at IS NOT NULL) AS next,\n"
	"     (SELECT count(*) FROM task t WHERE t.state = 'running' AND (t.pool = p.pool\n"
	"       AND t.instance <> p_instance AND NOT t.is_group) IS TRUE) AS others,\n"
	"     (SELECT i.host || ':' || i.pid FROM instance i WHERE i.id = p_instance) AS daemon) n\n"
	"   LEFT JOIN pool_setting s ON s.pool = p.pool;\n"
	"  IF v_next <= clock_timestamp() THEN\n"
	"   UPDATE task t SET run_at = NULL\n"
	"    WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at <= clock_timestamp();\n"
	"   SELECT min(t.run_at) INTO v_next FROM task t\n"
	"    WHERE t.pool = p.pool AND t.state = 'queued' AND t.run_at IS NOT NULL;\n"
	"  END IF;\n"
	"  v_max := coalesce(v_max, p.max);\n"
	"  v_paused := coalesce(v_paused, false);\n"
	"  RETURN QUERY SELECT NULL::bigint, p.pool, NULL::text, NULL::bytea, NULL::bigint,\n"
	"   NULL::bigint, NULL::int, NULL::int, NULL::int, v_max, v_paused,\n"
	"   (extract(epoch FROM v_next) * 1000000)::bigint;\n"
	"  CONTINUE WHEN v_paused;\n"
	"  v_n := least(p.want, v_max - p.local - v_others);\n"
	"  CONTINUE WHEN v_n <= 0;\n"
	"  SELECT c.ids, c.old INTO v_ids, v_old FROM claim_choose(p.pool, v_n, v_direct) c;\n"
	"  CONTINUE WHEN v_ids IS NULL;\n"
	"  RETURN QUERY SELECT * FROM claim_take(p_instance, v_daemon, v_ids, v_old,\n"
	"   p_release, p_release_us);\n"
	"  v_chosen := v_chosen || v_ids;\n"
	" END LOOP;\n"
	" IF cardinality(p_release) > 0 AND NOT p_release <@ v_chosen THEN\n"
	"  PERFORM release_rest(p_release, p_release_us);\n"
	" END IF;\n"
	"END $$",
	NULL
};

#endif
