#!/usr/bin/env bash
# corpus.sh: every file in tests/e2e/corpus/ runs once under the reference
# psql and once as a pgqfs task; the task's files must say what psql said.
#
#   result  == psql -X -q --csv -v ON_ERROR_STOP=1 -f query.sql   (stdout)
#   state   == done (psql exit 0) or failed (psql exit 3)
#   error   == psql's stderr, then "SQLSTATE: xxxxx"   (failed tasks)
#
# The psql runs come first, all of them; then every file is submitted to
# pgqfs at once (so tasks run concurrently in pool "default") and waited
# for.  The two systems never run a file at the same time, and each corpus
# file is written to give the same output on a second run against the same
# database.  Files named fail_*.sql must fail under psql, the rest succeed.
#
# The one deliberate difference (DESIGN.md, Submitting): a file whose last
# statement has no terminating ";" is cut short, and pgqfs runs nothing of
# it.  Those files are listed in cut_line with the line their unterminated
# statement starts on; psql still runs them in step 1, so the reference
# checks describe them, but their tasks must fail at once, saying where.

# shellcheck source=lib.sh
. "${SRCDIR:-$(cd "$(dirname "$0")/.." && pwd)}/e2e/lib.sh"

corpus=$SRCDIR/e2e/corpus
work=$E2E_TMP/corpus
mkdir -p "$work"

names=()
for f in "$corpus"/*.sql; do
	names+=("$(basename "$f" .sql)")
done
[ "${#names[@]}" -ge 36 ] || t_bail "corpus has ${#names[@]} files, want at least 36"

declare -A cut_line=(
	[fail_do_block]=4
	[layout]=21
	[no_final_newline]=3
)
for n in "${!cut_line[@]}"; do
	[ -e "$corpus/$n.sql" ] || t_bail "cut_line names $n, which is not in the corpus"
done

pg_start
pgqfs_start main || t_bail "pgqfs did not mount"

# psql_run DIR [PSQL-OPTIONS...]: the reference command, in DIR, whose
# query.sql is a copy of the corpus file (psql names the file in its
# messages: "psql:query.sql:LINE: ERROR:  ...").
psql_run() {
	local dir=$1
	shift
	(cd "$dir" && psql_ref -q --csv -v ON_ERROR_STOP=1 "$@" -f query.sql -d app)
}

# ---- 1. the reference, for every file
declare -A sqlstate=()
for n in "${names[@]}"; do
	d=$work/$n
	mkdir -p "$d"
	cp -- "$corpus/$n.sql" "$d/query.sql"
	psql_run "$d" >"$d/want.out" 2>"$d/want.err"
	echo $? >"$d/want.rc"
	case $n in
	fail_*)
		t_is "$(cat "$d/want.rc")" 3 "reference: $n fails under psql" ||
			t_diag_file "$d/want.err"
		# The error file holds only the failing statement's messages, so
		# a fail_* file must not make psql print anything else (no NOTICE
		# before the error).
		t_is "$(grep -c '^psql:' "$d/want.err")" 1 \
			"reference: $n prints one message, its error" ||
			t_diag_file "$d/want.err"
		# The SQLSTATE, from psql too: a second run printing only codes.
		sqlstate[$n]=$(psql_run "$d" -v VERBOSITY=sqlstate 2>&1 >/dev/null |
			sed -n 's/^psql:query\.sql:[0-9]*: ERROR:  \([0-9A-Z]\{5\}\)$/\1/p')
		t_like "${sqlstate[$n]}" '^[0-9A-Z]{5}$' "reference: SQLSTATE of $n"
		;;
	*)
		t_is "$(cat "$d/want.rc")" 0 "reference: $n succeeds under psql" ||
			t_diag_file "$d/want.err"
		;;
	esac
done

# ---- 2. submit every file, each under a reserved id
declare -A id=()
for n in "${names[@]}"; do
	id[$n]=$(new_id)
	if ! t_like "${id[$n]}" '^[0-9]+$' "new-id gives an id for $n"; then
		unset "id[$n]"
		continue
	fi
	t_ok "submit $n as task ${id[$n]}" \
		submit default "$corpus/$n.sql" "${id[$n]}.sql"
done

# listed DIR ID: ID is a directory under $MNT/DIR and readdir shows it.
# shellcheck disable=SC2010,SC2317 # ids are digits; ls is the readdir under test; called via t_ok
listed() {
	[ -d "$MNT/$1/$2" ] && ls -- "$MNT/$1" | grep -x -- "$2" >/dev/null
}

# ---- 3. wait for each task and compare
for n in "${names[@]}"; do
	[ -n "${id[$n]:-}" ] || continue
	i=${id[$n]}
	d=$work/$n
	task=$MNT/tasks/$i
	if [ -n "${cut_line[$n]:-}" ]; then
		line=${cut_line[$n]}
		t_is "$(task_wait "$i" 60)" failed "$n (task $i): cut short, wait says failed"
		t_file_is "$task/state" $'failed\n' "$n: state is failed"
		# Every one of these files prints rows before its last statement
		# under psql: an empty result shows that nothing ran.
		t_is "$(stat -c %s -- "$task/result")" 0 "$n: nothing ran, the result is empty"
		t_like "$(cat "$task/error")" "ends inside a statement at line $line([^0-9]|$).*;.* ends it" \
			"$n: error says the file ends inside the statement at line $line, and a ; ends it"
		t_cmp "$corpus/$n.sql" "$task/query.sql" "$n: query.sql is the file submitted"
		t_ok "$n: listed under failed/" listed failed "$i"
		continue
	fi
	if [ "$(cat "$d/want.rc")" -eq 0 ]; then want="done"; else want="failed"; fi

	t_is "$(task_wait "$i" 60)" "$want" "$n (task $i): wait says $want"
	t_file_is "$task/state" "$want"$'\n' "$n: state is $want"
	t_cmp "$d/want.out" "$task/result" "$n: result is what psql printed"
	t_is "$(stat -c %s -- "$task/result")" "$(wc -c <"$task/result")" \
		"$n: stat size of result is its true size"
	t_cmp "$corpus/$n.sql" "$task/query.sql" "$n: query.sql is the file submitted"
	t_ok "$n: listed under $want/" listed "$want" "$i"
	t_ok "$n: info has id=$i" grep -qx -- "id=$i" "$task/info"
	t_ok "$n: info has state=$want" grep -qx -- "state=$want" "$task/info"
	if [ "$want" = "done" ]; then
		# DESIGN gives failed tasks an error file; for a task that
		# succeeded either no error file or an empty one is accepted.
		t_ok "$n: no error output" test ! -s "$task/error"
	else
		cp -- "$d/want.err" "$d/want.error"
		printf 'SQLSTATE: %s\n' "${sqlstate[$n]}" >>"$d/want.error"
		t_cmp "$d/want.error" "$task/error" \
			"$n: error is psql's stderr and SQLSTATE: ${sqlstate[$n]}"
	fi
done

# ---- 4. nothing left behind
t_is "$(ls -A -- "$MNT/queue/default")" "" "queue/default is empty once all tasks finished"
t_is "$(ls -A -- "$MNT/running")" "" "running/ is empty once all tasks finished"

t_done
