#!/usr/bin/env bash
# Groups (DESIGN.md, Groups): a "-- pgqfs: group=statements" file makes
# each statement a member task; the group runs nothing, its state follows
# its members, its wait ends when they have all ended, its result lists
# them; members are listed and readable like any task and name their
# group; cancel and retry of the group apply to its members.
E2E_TIMEOUT=${E2E_TIMEOUT:-180}
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
app() { psql_ref -d app -tAX "$@"; }
app -qc 'CREATE TABLE g (k int)'

# ------------------------------------------------------------ a group
{
	echo '-- pgqfs: group=statements priority=-1'
	echo '-- five members'
	for k in 1 2 3 4 5; do echo "INSERT INTO g VALUES ($k); SELECT $k AS k;"; done
} >"$W/five.sql"
gid=$(new_id)
submit default "$W/five.sql" "$gid.sql"
t_is "$(task_wait "$gid" 30)" done "the group is done when its members are"
t_is "$(app -c 'SELECT string_agg(k::text, $$,$$ ORDER BY k) FROM g')" 1,2,3,4,5 \
	"each statement ran once"

result=$(cat "$MNT/tasks/$gid/result")
t_is "$(echo "$result" | head -1)" 'id,state' "the group's result has the header id,state"
t_is "$(echo "$result" | tail -n +2 | wc -l)" 10 "and a line per member (ten statements)"
t_is "$(echo "$result" | tail -n +2 | cut -d, -f2 | sort -u)" done "every member done"
t_is "$(stat -c %s "$MNT/tasks/$gid/result")" "$(printf '%s\n' "$result" | wc -c)" "its size is exact"
first=$(echo "$result" | sed -n 2p | cut -d, -f1)
second=$(echo "$result" | sed -n 3p | cut -d, -f1)
t_ok "the group's info counts its members" grep -qx 'members=10' "$MNT/tasks/$gid/info"
t_like "$(cat "$MNT/tasks/$second/info")" "group=$gid" "a member's info names its group"
t_is "$(grep -c '^group=' "$MNT/tasks/$second/info")" 1 "once: not also the header's group=statements"
t_like "$(cat "$MNT/tasks/$second/info")" "name=$gid.sql:2" "a member is named NAME.sql:N"
t_like "$(cat "$MNT/tasks/$second/info")" 'priority=-1' "and takes the group's options"
t_is "$(cat "$MNT/tasks/$second/result")" $'k\n1' "a member's result is its statement's, as psql prints it"
t_ok "members are listed in done/" test -d "$MNT/done/$first"
t_is "$(cat "$MNT/done/$first/state")" done "a member is readable like any task"

# ------------------------------------------------ a failing member
printf -- '-- pgqfs: group=statements\nSELECT 1 AS a;\nSELECT * FROM nosuch;\nSELECT 3 AS c;\n' >"$W/bad.sql"
bid=$(new_id)
submit default "$W/bad.sql" "$bid.sql"
t_is "$(task_wait "$bid" 30)" failed "a group with a failed member fails"
t_is "$(cut -d, -f2 "$MNT/tasks/$bid/result" | tail -n +2 | tr '\n' ' ')" 'done failed done ' \
	"its other members ran"
m2=$(sed -n 3p "$MNT/tasks/$bid/result" | cut -d, -f1)
t_is "$(cat "$MNT/tasks/$m2/result")" "" "the failed member's result is empty (read, and so cached)"
t_is "$(cat "$MNT/tasks/$m2/state")" failed "its state is failed"
# Fixed: retry of the group runs the failed member again.
app -qc 'CREATE TABLE nosuch (x int)'
app -qc 'INSERT INTO nosuch VALUES (42)'
t_ok "retry of the group" bash -c "echo 1 > '$MNT/tasks/$bid/retry'"
t_is "$(task_wait "$bid" 30)" done "after its retry the group is done"
t_is "$(cut -d, -f2 "$MNT/tasks/$bid/result" | tail -n +2 | tr '\n' ' ')" 'done done done ' \
	"every member done"
# What the kernel kept of the member (retried with its group, not by its
# own id) is not served: its files are read again.
t_is "$(cat "$MNT/tasks/$m2/state")" done "the member's state is its new one"
t_cmp <(psql_ref -d app -X -q --csv -c 'SELECT * FROM nosuch') "$MNT/tasks/$m2/result" \
	"its result is its new one, as psql prints it"

# ------------------------------------ held: after=, listing, rm cancels
printf 'SELECT pg_sleep(2);\n' >"$W/gate.sql"
gate=$(new_id)
submit default "$W/gate.sql" "$gate.sql"
printf -- '-- pgqfs: group=statements after=%s\nINSERT INTO g VALUES (100);\nINSERT INTO g VALUES (101);\n' \
	"$gate" >"$W/held.sql"
hid=$(new_id)
submit default "$W/held.sql" "$hid.sql"
sleep 0.5
t_is "$(cat "$MNT/tasks/$hid/state")" queued "a group waiting for after= is queued"
t_is "$(ls "$MNT/queue/default" | grep -c "^$hid.sql")" 1 "listed under its name only, not its members"
t_is "$(task_wait "$hid" 30)" done "it runs once its dependency is done"
t_is "$(app -c 'SELECT count(*) FROM g WHERE k >= 100')" 2 "both members ran"

printf 'SELECT pg_sleep(3);\n' >"$W/gate2.sql"
submit one_slot_gate "$W/gate2.sql" x.sql 2>/dev/null
echo 1 >"$MNT/pools/default/paused"
printf -- '-- pgqfs: group=statements\nINSERT INTO g VALUES (200);\nINSERT INTO g VALUES (201);\n' >"$W/rm.sql"
rid=$(new_id)
submit default "$W/rm.sql" "$rid.sql"
sleep 0.3
t_ok "rm of the queued group" rm "$MNT/queue/default/$rid.sql"
echo 0 >"$MNT/pools/default/paused"
t_is "$(task_wait "$rid" 30)" failed "a group whose members were cancelled ends failed"
t_is "$(cut -d, -f2 "$MNT/tasks/$rid/result" | tail -n +2 | tr '\n' ' ')" 'cancelled cancelled ' \
	"its members were cancelled"
t_is "$(app -c 'SELECT count(*) FROM g WHERE k >= 200')" 0 "and never ran"

# ------------------------------------------------------- the bulk path
{
	echo '-- pgqfs: group=statements'
	for ((k = 0; k < 5000; k++)); do echo 'SELECT 1;'; done
} >"$W/bulk.sql"
big=$(new_id)
submit fast "$W/bulk.sql" "$big.sql"
t_is "$(task_wait "$big" 120)" done "a group of 5,000 statements is done"
t_is "$(tail -n +2 "$MNT/tasks/$big/result" | grep -c ',done$')" 5000 "with 5,000 members done"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE group_id = $big AND attempt = 1")" 5000 \
	"each run once"
t_done
