#!/usr/bin/env bash
# A file still open for writing when the daemon loses its control
# connection stays the writer's.  Its first part is stored (fsync), then
# the executor's control connection is terminated, and then the whole
# server restarts (-m immediate).  Each time the daemon takes its own
# instance back: the staged row is not queued by a recovery, nothing of
# the file runs before its last close, and the whole file then runs
# once, with psql's result.  (Before, the daemon registered a new
# instance, recovered its old one as dead, and ran the stored part.)
# Last, the old session lingers (its lock held): the daemon registers a
# new instance, and the staged row moves to it.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
LOG=${PGQFS_LOG[main]}
ctl() { psql_ref -d pgqfs_ctl -tAc "$1"; }

open_writer_whole "$W/whole.sql"
psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$W/whole.sql" >"$W/whole.ref"

# one NAME HOW: a writer holds NAME open across HOW (a function that
# takes the control connection away and waits for the daemon to come
# back), then finishes it.
one() {
	local name=$1 how=$2 state
	rm -f "$W/go" "$W/$name.out" "$W/$name.out.ready"
	open_writer "$MNT/queue/default/$name" "$W/go" "$W/$name.out"
	ready() { [ -e "$W/$name.out.ready" ]; }
	t_ok "$name: the first part is written and stored" wait_until 10 ready
	t_is "$(ctl "SELECT state FROM pgqfs.task WHERE name = '$name'")" staged \
		"$name: its row is staged"
	"$how"
	# Recovery runs as soon as the daemon is back; a second look after
	# the usual recovery interval of another daemon would find the same.
	sleep 1
	state=$(ctl "SELECT string_agg(state, ',') FROM pgqfs.task WHERE name = '$name'")
	t_is "$state" staged "$name: its row is still staged, not queued by a recovery"
	writer_finish "$name" "$W/go" "$W/$name.out" "$W/whole.ref"
}

terminate() {
	executor_terminate
	back() { [ "$(grep -c 'reconnected to the control database as instance 1 again' "$LOG")" -ge 1 ]; }
	t_ok "the daemon reconnects as the same instance" wait_until 15 back
}
restart() {
	t_ok "the cluster restarts (-m immediate)" pg_restart immediate
	back2() { [ "$(grep -c 'reconnected to the control database as instance 1 again' "$LOG")" -ge 2 ]; }
	t_ok "the daemon reconnects as the same instance again" wait_until 30 back2
}

# The old session lingers: a session of ours waits for the instance's
# advisory lock (shared) and gets it the moment the executor's session
# ends, as a session the server has not seen end would hold it.  The
# daemon registers a new instance, and its staged rows go with it: when
# the lock goes, a recovery finds the old instance's executor gone and its
# filesystem alive (the daemon's token is held), and queues nothing; the
# old row stays while the daemon lives.
linger() {
	executor_linger "$LOG"
	t_is "$(recover_now)" 0 \
		"a recovery (ours, at once) queues nothing"
	t_is "$(ctl "SELECT count(*) FROM pgqfs.instance WHERE id = 1")" 1 \
		"the old instance stays registered while its daemon lives"
}

one a.sql terminate
one b.sql restart
t_ok "no recovery found a dead daemon" bash -c "! grep -q 'staged tasks queued' '$LOG'"
t_is "$(ctl "SELECT count(*) FROM pgqfs.instance")" 1 "one instance is registered"
one c.sql linger
pgqfs_stop
t_done
