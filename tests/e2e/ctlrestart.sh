#!/usr/bin/env bash
# A server restart ends every daemon's connections at once: the daemon that
# comes back first must not take the others for dead before they have had
# the time to come back.  Daemon a (its own role) holds a file open whose
# first part is stored; the cluster restarts (-m immediate) while a's role
# is refused, so that b comes back first; b's recovery finds a gone whole
# and waits (gone_since) instead of queueing a's stored part.  Let in again
# within the grace, a takes its instance back, and the whole file runs once
# at its last close.  (Before, b queued the stored part at its first look.)
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	if [ "$1" = a ]; then
		pgqfs_default_config "$@" | sed '/^control = /s/user=postgres/user=pgqd/'
	else
		pgqfs_default_config "$@"
	fi
}
pg_start
psql_ref -qc "CREATE ROLE pgqd SUPERUSER LOGIN" || t_bail "cannot create a's role"
pgqfs_start a || t_bail "daemon a did not start"
pgqfs_start b || t_bail "daemon b did not start"
A=$(mnt a)
W=$E2E_TMP/work
mkdir -p "$W"
ctl() { psql_ref -d pgqfs_ctl -tAc "$1"; }
inst=$(ctl "SELECT id FROM pgqfs.instance WHERE pid = ${PGQFS_PID[a]}")
[ -n "$inst" ] || t_bail "daemon a's instance is not registered"
open_writer_whole "$W/whole.sql"
psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$W/whole.sql" >"$W/whole.ref"

open_writer "$A/queue/default/open.sql" "$W/go" "$W/open.out"
ready() { [ -e "$W/open.out.ready" ]; }
t_ok "the open file's first part is stored" wait_until 10 ready

hba=$PG_DIR/data/pg_hba.conf
cp -p "$hba" "$hba.orig"
{ printf 'local pgqfs_ctl pgqd reject\n'; cat "$hba.orig"; } >"$hba"
t_ok "the cluster restarts (-m immediate), a's role refused" pg_restart immediate
looked() { [ "$(ctl "SELECT gone_since IS NOT NULL FROM pgqfs.instance WHERE id = $inst")" = t ]; }
t_ok "b comes back and its recovery finds a gone" wait_until 30 looked
t_is "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE name = 'open.sql'")" \
	"staged $inst" "the open file is still staged under a's instance: not queued at once"
t_is "$(recover_now)" 0 "another look within the grace queues nothing either"

cp -p "$hba.orig" "$hba"
_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
back() { grep -q "reconnected to the control database as instance $inst again" "${PGQFS_LOG[a]}"; }
t_ok "a comes back and takes its instance again" wait_until 30 back
t_is "$(ctl "SELECT gone_since IS NULL FROM pgqfs.instance WHERE id = $inst")" t \
	"and is no longer counted as gone"
writer_finish open.sql "$W/go" "$W/open.out" "$W/whole.ref"
pgqfs_stop b
pgqfs_stop a
t_done
