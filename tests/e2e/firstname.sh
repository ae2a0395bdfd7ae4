#!/usr/bin/env bash
# A task whose session was not named while its claim was in flight (files
# claimed together) has its session named in the query string of its
# first statement, when that statement is a plain query or data change:
# one round trip less.  What the task prints must not show it:
#   - the statement runs under the task's application_name, and its rows
#     are psql's (the naming's row is not among them);
#   - an error's "LINE n:" excerpt and caret are numbered in the statement,
#     as psql shows them, on the first line, on line 9 (the string's line
#     10: the number loses a digit) and on line 12, and a syntax error
#     that stops the whole string is reported as psql reports it;
#   - a first statement that is not a plain query (SET) is named apart,
#     as before, and a data change runs once.
# A task of one such statement goes in pipeline mode instead (src/pipe.c:
# its naming, statement and reset in one write, in the extended protocol);
# the same files, one statement each, check that its rows and errors are
# psql's too, and the ones with a statement after (the "f" names) check
# the naming in the string.
. "$SRCDIR/e2e/lib.sh"

pg_start
pgqfs_start main -d || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W"
LOG=${PGQFS_LOG[main]}
app() { psql_ref -d app -tAX "$@"; }
app -qc 'CREATE TABLE once (x int)'

printf 'SELECT application_name AS app FROM pg_stat_activity WHERE pid = pg_backend_pid();\n' \
	>"$W/own.sql"
printf 'SELECT nosuch;\n' >"$W/line1.sql"
{
	echo 'SELECT'
	for i in 1 2 3 4 5 6 7; do echo "  $i AS c$i,"; done
	echo '  nosuch9 AS z;'
} >"$W/line9.sql"
{
	echo '-- a comment first'
	echo 'SELECT'
	for i in 1 2 3 4 5 6 7 8 9; do echo "  $i AS c$i,"; done
	echo '  nosuch12 AS z;'
} >"$W/line12.sql"
printf 'SELECT 1 AS a,, 2;\n' >"$W/syntax.sql"
printf 'SELECT 1 AS a;\nSELECT nosuch2 FROM pg_class;\n' >"$W/second.sql"
printf "SET work_mem = '8MB';\nSELECT application_name AS app FROM pg_stat_activity WHERE pid = pg_backend_pid();\n" \
	>"$W/set.sql"
printf 'INSERT INTO once VALUES (1) RETURNING x;\n' >"$W/insert.sql"
printf 'SELECT pg_sleep(2) AS slept;\n' >"$W/sleep.sql"
piped=(own line1 line9 line12 syntax insert sleep)
folded=(ownf line1f line9f line12f syntaxf second)
for n in own line1 line9 line12 syntax; do
	{ cat "$W/$n.sql"; echo 'SELECT 2 AS after;'; } >"$W/${n}f.sql"
done
names=("${piped[@]}" "${folded[@]}" set)

# The pool paused while they are submitted: one claim takes them all
# when it resumes, and none has a session named during its claim.
echo 1 >"$MNT/pools/default/paused"
declare -A id
for n in "${names[@]}"; do
	id[$n]=$(new_id)
	submit default "$W/$n.sql" "${id[$n]}.sql" || t_fail "cp $n.sql"
done
all_queued() {
	local n
	for n in "${names[@]}"; do
		[ "$(cat "$MNT/tasks/${id[$n]}/state")" = queued ] || return 1
	done
}
t_ok "all queued while the pool is paused" wait_until 10 all_queued
echo 0 >"$MNT/pools/default/paused"

running_named() {
	[ "$(app -c "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs task ${id[sleep]}' AND state = 'active'")" = 1 ]
}
t_ok "a long statement runs under its task's application_name" wait_until 10 running_named

for n in "${names[@]}"; do
	task_wait "${id[$n]}" 30 >/dev/null || t_fail "$n did not end"
done
named_in() { grep -qF "task $1: its session is named in its first statement's query string" "$LOG"; }
piped_in() { grep -qF "task $1: named, run and reset in one write" "$LOG"; }
for n in "${folded[@]}"; do
	t_ok "$n: named in its first statement's string" named_in "${id[$n]}"
done
for n in "${piped[@]}"; do
	t_ok "$n: one statement, piped" piped_in "${id[$n]}"
done
t_ok "set: a SET first is named apart" eval '! named_in "${id[set]}" && ! piped_in "${id[set]}"'

t_is "$(cat "$MNT/tasks/${id[own]}/result")" $'app\npgqfs task '"${id[own]}" \
	"its rows are its statement's, under its application_name"
t_is "$(cat "$MNT/tasks/${id[ownf]}/result")" $'app\npgqfs task '"${id[ownf]}"$'\nafter\n2' \
	"so for the task named in its string"
t_is "$(cat "$MNT/tasks/${id[set]}/result")" $'app\npgqfs task '"${id[set]}" \
	"and so for the task named apart"
t_is "$(app -c 'SELECT count(*) FROM once')" 1 "the INSERT ran once"

# psql is the reference for the rest: result, state, error.
for n in line1 line9 line12 syntax line1f line9f line12f syntaxf second insert sleep; do
	d=$W/ref-$n
	mkdir -p "$d"
	cp "$W/$n.sql" "$d/query.sql"
	[ "$n" = insert ] && app -qc 'TRUNCATE once'
	(cd "$d" && psql_ref -q --csv -v ON_ERROR_STOP=1 -f query.sql -d app >out 2>err)
	rc=$?
	want=done
	[ "$rc" = 0 ] || want=failed
	t_is "$(cat "$MNT/tasks/${id[$n]}/state")" "$want" "$n: $want, as under psql"
	t_cmp "$d/out" "$MNT/tasks/${id[$n]}/result" "$n: its result is psql's"
	if [ "$want" = failed ]; then
		# psql's stderr, then the SQLSTATE line pgqfs adds.
		t_cmp "$d/err" <(grep -v '^SQLSTATE: [0-9A-Z]\{5\}$' "$MNT/tasks/${id[$n]}/error") \
			"$n: its error is psql's"
	fi
done
for n in line9 line9f; do
	t_like "$(cat "$MNT/tasks/${id[$n]}/error")" $'\nLINE 9:   nosuch9 AS z;\n' \
		"$n: the excerpt says line 9"
done

t_done
