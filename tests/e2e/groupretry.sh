#!/usr/bin/env bash
# A group that failed by its own after= (the task it waits for failed)
# ends again on a retry: failed at once while that task is still failed,
# and done once it was retried and ran.  Its row and its members failed
# together, so the group had counted none of them; a retry took one off
# its counts per member, and the group then stayed running for good.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
ctl() { psql_ref -d pgqfs_ctl -tAqX "$@"; }
printf 'SELECT count(*) AS n FROM retryme;\n' >"$W/x.sql"
idx=$(new_id)
submit default "$W/x.sql" "$idx.sql" || t_fail "cp of the task waited for"
t_is "$(task_wait "$idx" 20)" failed "the task waited for fails (no table retryme)"
printf -- '-- pgqfs: group=statements after=%s\nSELECT 1 AS a;\nSELECT 2 AS b;\nSELECT 3 AS c;\n' \
	"$idx" >"$W/g.sql"
idg=$(new_id)
submit default "$W/g.sql" "$idg.sql" || t_fail "cp of the group"
t_is "$(task_wait "$idg" 20)" failed "the group fails: the task it waits for failed"

t_ok "retry of the group, the task it waits for still failed" bash -c "echo 1 > '$MNT/tasks/$idg/retry'"
t_is "$(task_wait "$idg" 10)" failed "the group ends failed again"
t_is "$(ctl -c "SELECT n_ended || '/' || n_bad || '/' || n_members FROM pgqfs.task WHERE id = $idg")" \
	3/3/3 "its counts: 3 ended, 3 failed, of 3"

psql_ref -d app -qc "CREATE TABLE retryme (); GRANT SELECT ON retryme TO PUBLIC" ||
	t_bail "cannot create table retryme"
t_ok "retry of the task waited for" bash -c "echo 1 > '$MNT/tasks/$idx/retry'"
t_is "$(task_wait "$idx" 20)" done "it is done"
t_ok "retry of the group" bash -c "echo 1 > '$MNT/tasks/$idg/retry'"
t_is "$(task_wait "$idg" 20)" done "the group is done"
t_is "$(ctl -c "SELECT n_ended || '/' || n_bad || '/' || n_members FROM pgqfs.task WHERE id = $idg")" \
	3/0/3 "its counts: 3 ended, none failed, of 3"
t_done
