#!/usr/bin/env bash
# A task's times mean what DESIGN.md says: submitted_at is when the
# submission was committed, not when its row was written; started_at is
# when its first statement was sent to the target, after the session's
# set-up.  Each is checked against a clock the daemon does not read: a
# commit made slow by a deferred trigger, and the target's own
# statement_timestamp() through a link whose answers come late.
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	cat <<EOF

[target late]
conninfo = host=127.0.0.1 port=$PROXY_PORT dbname=app user=postgres connect_timeout=10
max_workers = 2

[pool late]
target = late
max_workers = 2

[pool held]
target = main
max_workers = 1
EOF
}

pg_start
# The server's answers reach the daemon 0.3 s late; its statements go at once.
tcp_proxy late 0.3
pgqfs_start || t_bail "daemon did not start"
ctl() { psql_ref -d pgqfs_ctl -tAX -v ON_ERROR_STOP=1 "$@"; }
ms_of() { iso_ms "$(info_of "$1" "$2")"; }
within() { [ "$1" -le "$2" ] && [ "$2" -le "$3" ]; }	# LO V HI

# submitted_at.  A deferred trigger holds the staging commit of files
# named slow*.sql for 0.4 s after their rows are written.
ctl -q <<'SQL'
CREATE FUNCTION public.slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_sleep(0.4);
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON pgqfs.task
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (NEW.name LIKE 'slow%') EXECUTE FUNCTION public.slow_commit();
SQL
echo 1 >"$MNT/pools/held/paused"
echo 'SELECT 1;' >"$E2E_TMP/one.sql"
# One claimed at once (pool default has room), one queued (pool held is
# paused), one behind another task (after=): the three ways a released
# file goes.
first=$(new_id)
t0=$(now_ms)
cp "$E2E_TMP/one.sql" "$MNT/queue/default/slow-run.sql"
t1=$(now_ms)
cp "$E2E_TMP/one.sql" "$MNT/queue/held/slow-held.sql"
t2=$(now_ms)
printf -- '-- pgqfs: after=%s\nSELECT 2;\n' "$first" >"$E2E_TMP/after.sql"
t_ok "cp took the slow commit (0.4 s)" [ $((t1 - t0)) -ge 400 ]
id_of() { ctl -c "SELECT id FROM pgqfs.task WHERE name = '$1'"; }
run=$(id_of slow-run.sql) held=$(id_of slow-held.sql)
t_is "$(task_wait "$run" 30)" done "the file of pool default ran"
sub=$(ms_of "$run" submitted_at)
t_ok "submitted_at of a file claimed at once is after its commit, 0.4 s after the row ($((sub - t0)) ms after cp began)" \
	[ "$((sub - t0))" -ge 400 ]
t_ok "and no later than cp's return ($((t1 - sub)) ms before it)" [ "$sub" -le "$t1" ]
sub=$(ms_of "$held" submitted_at)
t_ok "submitted_at of a file queued in a paused pool is after its commit ($((sub - t1)) ms after cp began)" \
	[ "$((sub - t1))" -ge 400 ]
t_ok "and no later than cp's return ($((t2 - sub)) ms before it)" [ "$sub" -le "$t2" ]
t_is "$(info_of "$held" state)" queued "it is still queued"
# A dependent of a task that is not done is queued too, waiting.
cp "$E2E_TMP/one.sql" "$MNT/queue/held/$first.sql"
t3=$(now_ms)
cp "$E2E_TMP/after.sql" "$MNT/queue/default/slow-after.sql"
t4=$(now_ms)
dep=$(id_of slow-after.sql)
sub=$(ms_of "$dep" submitted_at)
t_ok "submitted_at of a file waiting for another is after its commit ($((sub - t3)) ms after cp began)" \
	within $((t3 + 400)) "$sub" "$t4"
# A group's row too (its members keep their rows' times).
printf -- '-- pgqfs: group=statements\nSELECT 1;\nSELECT 2;\n' >"$E2E_TMP/group.sql"
t5=$(now_ms)
cp "$E2E_TMP/group.sql" "$MNT/queue/default/slow-group.sql"
t6=$(now_ms)
grp=$(id_of slow-group.sql)
t_is "$(task_wait "$grp" 30)" done "the group ran"
sub=$(ms_of "$grp" submitted_at)
t_ok "submitted_at of a group is after its commit ($((sub - t5)) ms after cp began, its three rows held 0.4 s each)" \
	within $((t5 + 1200)) "$sub" "$t6"
echo 0 >"$MNT/pools/held/paused"
t_is "$(task_wait "$dep" 30)" done "it ran after the task it waited for"
t_is "$(task_wait "$held" 30)" done "the held file ran once its pool was resumed"
ctl -q -c "DROP TRIGGER slow_commit ON pgqfs.task"

# started_at.  Through the late link the session's set-up (its
# application_name) is answered 0.3 s after it was sent; the first
# statement goes after that answer, and the server notes at once when it
# came (statement_timestamp(); transaction_timestamp() is BEGIN's).
printf 'SELECT (extract(epoch FROM statement_timestamp()) * 1000)::bigint;\n' >"$E2E_TMP/ts.sql"
printf -- '-- pgqfs: single_transaction=on\nSELECT (extract(epoch FROM transaction_timestamp()) * 1000)::bigint;\n' \
	>"$E2E_TMP/tx.sql"
for f in ts tx; do
	id=$(new_id)
	submit late "$E2E_TMP/$f.sql" "$id.sql"
	t_is "$(task_wait "$id" 60)" done "task $f through the late link ran"
	got=$(sed -n 2p "$MNT/done/$id/result")
	st=$(ms_of "$id" started_at)
	# The server's note is a little after the send; a start stamped
	# before the set-up would be 0.3 s before it.
	t_ok "$f: started_at is when the first statement was sent: the server got it $((got - st)) ms later" \
		within -5 $((got - st)) 249
	t_like "$(cat "$MNT/done/$id/log")" "started on target late" "$f: its log says where it started"
done

# A daemon of an older pgqfs calls claim() as version 6 declared it; the
# schema keeps that signature, without commit times.  Asked for nothing,
# it answers the pool's settings.  (Like every function of the schema, it
# runs in the daemon's search_path.)
inst=$(ctl -c "SELECT max(id) FROM pgqfs.instance")
t_is "$(ctl -q -c "SET search_path = pgqfs" -c "SELECT pool || ' ' || pool_max || ' ' || pool_paused
	FROM claim($inst, '{}', '{default}', '{4}', '{0}', '{0}')")" "default 4 false" \
	"claim() with version 6's arguments still answers"
t_done
