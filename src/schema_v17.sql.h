/*
 * Version 17 of the control schema.  Included by schema.sql.h; never edit
 * it once released.
 *
 * "<n>.sql", where n was handed out by new-id, belongs to the user who
 * reserved it, in every pool (DESIGN.md, Submitting).  Two ways around
 * that rule, found by a review:
 *
 *   - retry_task() of a task named "<n>.sql", submitted by another user
 *     before n was handed out (an ordinary name then) and ended since,
 *     made the name pending again: the reserver's cp was refused
 *     (EACCES) for as long as the retried task waited.  A retry of such
 *     a task is refused now (status 6), as its submission would be.
 *   - reserve_id() skipped at most 100 ids whose names were pending, and
 *     then handed out the next one all the same: a user who queued
 *     "<n>.sql" for the next hundred and more ids (with a far
 *     not_before) took the one after from whoever read new-id.  It now
 *     skips every such id: when the first one drawn is pending, it reads
 *     the pending numeric names once and draws ids past the run of them.
 */
#ifndef PGQFS_SCHEMA_V17_SQL_H
#define PGQFS_SCHEMA_V17_SQL_H

static const char *const schema_v17[] = {
	"CREATE OR REPLACE FUNCTION reserve_id(p_uid int, p_max int, p_pools text[])"
	"  RETURNS TABLE (id bigint, pending boolean) LANGUAGE plpgsql AS $$\n"
	"DECLARE v_id bigint; v_taken bigint[]; k int := 1;\n"
	"BEGIN\n"
	"  PERFORM pg_advisory_xact_lock(hashtext(current_schema() || '.reserve'), p_uid);\n"
	"  IF (SELECT count(*) FROM reservation r WHERE r.uid = p_uid AND NOT r.used) >= p_max THEN\n"
	"    RETURN;\n"
	"  END IF;\n"
	"  v_id := nextval('task_id_seq');\n"
	"  IF EXISTS (SELECT 1 FROM task t WHERE t.name = v_id || '.sql'\n"
	"      AND t.state IN ('staged', 'queued') AND t.group_id IS NULL) THEN\n"
	"    v_taken := ARRAY(SELECT DISTINCT substring(t.name FROM '^([1-9][0-9]{0,17})\\.sql$')::bigint\n"
	"      FROM task t WHERE t.state IN ('staged', 'queued') AND t.group_id IS NULL\n"
	"        AND t.name ~ '^[1-9][0-9]{0,17}\\.sql$' ORDER BY 1);\n"
	/* Ids only grow: one walk along the sorted names. */
	"    LOOP\n"
	"      WHILE k <= cardinality(v_taken) AND v_taken[k] < v_id LOOP\n"
	"        k := k + 1;\n"
	"      END LOOP;\n"
	"      EXIT WHEN k > cardinality(v_taken) OR v_taken[k] <> v_id;\n"
	"      v_id := nextval('task_id_seq');\n"
	"    END LOOP;\n"
	"  END IF;\n"
	"  INSERT INTO reservation AS r (id, uid) VALUES (v_id, p_uid);\n"
	"  id := v_id;\n"
	"  pending := EXISTS (SELECT 1 FROM task t WHERE t.pool = ANY (p_pools)\n"
	"    AND t.name = v_id || '.sql' AND t.state IN ('staged', 'queued'));\n"
	"  RETURN NEXT;\n"
	"END $$",
	/* As in version 16, with 6: the task is named "<n>.sql" for an id n
	 * that another user reserved. */
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
	"  ELSIF v_in IS NULL AND v_name ~ '^[1-9][0-9]{0,17}\\.sql$' AND EXISTS (\n"
	"      SELECT 1 FROM reservation s\n"
	"      WHERE s.id = substring(v_name FROM '^([0-9]+)')::bigint AND s.uid <> v_uid) THEN\n"
	"    RETURN 6;\n"
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
