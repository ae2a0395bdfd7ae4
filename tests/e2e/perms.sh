#!/usr/bin/env bash
# With -o allow_other the mount enforces ownership: a task belongs to its
# submitter and is not readable by others unless its pool is public.
. "$SRCDIR/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || { t_skip "permissions" "needs root to act as two users"; t_done; }
id nobody >/dev/null 2>&1 || { t_skip "permissions" "no user nobody"; t_done; }

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '\n[pool open]\ntarget = main\nmax_workers = 2\npublic = yes\n'
}
as_nobody() { runuser -u nobody -- "$@"; }

pg_start
pgqfs_start main -o allow_other || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
chmod 755 "$E2E_TMP" "$W"
echo "SELECT 'root secret' AS s;" >"$W/root.sql"
echo "SELECT 'nobody data' AS s;" >"$W/nobody.sql"
chmod 644 "$W"/*.sql

id=$(new_id)
submit default "$W/root.sql" "$id.sql"
task_wait "$id" >/dev/null
t_is "$(stat -c '%U %a' "$MNT/tasks/$id")" "root 500" "root's task directory is root's, mode 500"
t_is "$(stat -c '%U %a' "$MNT/tasks/$id/result")" "root 400" "its files are mode 400"
t_ok "another user cannot read root's result" bash -c "! runuser -u nobody -- cat '$MNT/tasks/$id/result' 2>/dev/null"
t_ok "another user can list the queue's top level" as_nobody ls "$MNT/done"

nid=$(as_nobody cat "$MNT/new-id")
t_ok "another user can submit" as_nobody cp "$W/nobody.sql" "$MNT/queue/default/$nid.sql"
t_is "$(timeout 30 runuser -u nobody -- cat "$MNT/tasks/$nid/wait")" done "and wait for the task"
t_is "$(stat -c %U "$MNT/tasks/$nid")" nobody "the task belongs to its submitter"
t_file_is "$MNT/tasks/$nid/result" $'s\nnobody data\n' "who can read it (root can too)"
t_is "$(grep '^submitted_uid=' "$MNT/tasks/$nid/info")" "submitted_uid=$(id -u nobody)" "info records the submitter"

# The sticky queue directory: nobody cannot cancel root's pending task.
echo "SELECT pg_sleep(5);" >"$W/block.sql"
echo "SELECT 1;" >"$W/p.sql"
for i in 1 2 3 4; do submit default "$W/block.sql" "b$i.sql"; done
submit default "$W/p.sql" "rootpending.sql"
t_ok "another user cannot remove root's pending task" bash -c \
	"! runuser -u nobody -- rm -f '$MNT/queue/default/rootpending.sql' 2>/dev/null"
t_ok "it is still pending" test -e "$MNT/queue/default/rootpending.sql"
t_is "$(stat -c '%U %a' "$MNT/queue/default/rootpending.sql")" "root 600" \
	"a pending entry is its submitter's, mode 600 (its SQL; writing it is refused)"

# A user's cp over its own pending task reaches the daemon: EBUSY, not the
# kernel's EACCES.
echo "SELECT 'again' AS s;" >"$W/again.sql"
chmod 644 "$W/again.sql"
t_ok "another user submits a task that stays pending" \
	as_nobody cp "$W/nobody.sql" "$MNT/queue/default/nobodypending.sql"
t_like "$(runuser -u nobody -- cp "$W/again.sql" "$MNT/queue/default/nobodypending.sql" 2>&1)" \
	'Device or resource busy' "its second cp of the pending name gets EBUSY"
t_like "$(runuser -u nobody -- cp "$W/again.sql" "$MNT/queue/default/rootpending.sql" 2>&1)" \
	'Permission denied' "a cp over another user's pending task gets EACCES"
t_ok "and it is still pending" test -e "$MNT/queue/default/rootpending.sql"

pid=$(new_id)
submit open "$W/root.sql" "$pid.sql"
task_wait "$pid" >/dev/null
t_is "$(stat -c %a "$MNT/tasks/$pid/result")" 444 "a public pool's files are mode 444"
t_ok "and readable by another user" as_nobody cat "$MNT/tasks/$pid/result"
t_is "$(ls -ld "$MNT/done/$pid" | cut -c1-10)" "dr-xr-xr-x" "a listing shows the same mode (readdirplus)"
t_is "$(ls -l "$MNT/done" | awk -v id="$pid" '$NF == id { print substr($1, 1, 10) }')" "dr-xr-xr-x" \
	"ls -l of done/ shows a public task as readable"
t_done
