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
	NULL
};

#endif
