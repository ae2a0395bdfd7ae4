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

role_daemons
inst=$INST
ctl() { psql_ref -d pgqfs_ctl -tAc "$1"; }

open_writer "$A/queue/default/open.sql" "$W/go" "$W/open.out"
ready() { [ -e "$W/open.out.ready" ]; }
t_ok "the open file's first part is stored" wait_until 10 ready

role_refuse
t_ok "the cluster restarts (-m immediate)" pg_restart immediate
looked() { [ "$(ctl "SELECT gone_since IS NOT NULL FROM pgqfs.instance WHERE id = $inst")" = t ]; }
t_ok "b comes back and its recovery finds a gone" wait_until 30 looked
t_is "$(ctl "SELECT state || ' ' || instance FROM pgqfs.task WHERE name = 'open.sql'")" \
	"staged $inst" "the open file is still staged under a's instance: not queued at once"
t_is "$(recover_now)" 0 "another look within the grace queues nothing either"

role_allow
back() { grep -q "reconnected to the control database as instance $inst again" "${PGQFS_LOG[a]}"; }
t_ok "a comes back and takes its instance again" wait_until 30 back
t_is "$(ctl "SELECT gone_since IS NULL FROM pgqfs.instance WHERE id = $inst")" t \
	"and is no longer counted as gone"
writer_finish open.sql "$W/go" "$W/open.out" "$W/whole.ref"
pgqfs_stop b
pgqfs_stop a
t_done
