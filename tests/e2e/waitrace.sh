#!/usr/bin/env bash
# `wait` under fire: hundreds of readers park on tasks that end while
# random readers are interrupted (each gets its task's state or dies of the
# signal, the daemon stays clean, nobody stays counted as waiting); readers
# parked when the daemon gets SIGTERM: those on a task that ends in the
# drain get its state, those on a queued task get EINTR from read(2).
. "$SRCDIR/e2e/lib.sh"

pgqfs_config() {
	pgqfs_default_config "$@"
	printf '[pool one]\ntarget = main\nmax_workers = 1\n'
}

pg_start
pgqfs_start || t_bail "daemon did not start"
W=$E2E_TMP/work
mkdir -p "$W/out"

# 24 tasks ending over ~4 s, every third one failing.
ids=()
for i in $(seq 24); do
	if [ $((i % 3)) -eq 0 ]; then
		printf 'SELECT pg_sleep(%d * 0.15); SELECT 1/0;\n' "$i" >"$W/t$i.sql"
	else
		printf 'SELECT pg_sleep(%d * 0.15);\n' "$i" >"$W/t$i.sql"
	fi
	id=$(new_id)
	submit fast "$W/t$i.sql" "$id.sql" || t_fail "submit task $i"
	ids+=("$id")
done

# 400 readers, each on a random task, starting at a random moment in the
# first 4 s, interrupted (SIGINT, default action: Ctrl-C) after a random
# 0.05..3 s unless answered first.
N=400
for r in $(seq $N); do
	id=${ids[$((RANDOM % ${#ids[@]}))]}
	echo "$id" >"$W/out/$r.id"
	(
		sleep "$((RANDOM % 40)).$((RANDOM % 10))e-1"
		timeout -s INT "$((RANDOM % 3)).$((5 + RANDOM % 95))" \
			perl -e '$SIG{INT} = "DEFAULT"; exec "cat", @ARGV' \
			"$MNT/tasks/$id/wait" >"$W/out/$r.out" 2>"$W/out/$r.err"
		echo $? >"$W/out/$r.st"
	) &
done
for id in "${ids[@]}"; do
	task_wait "$id" 60 >/dev/null || t_fail "task $id ended"
done
wait_until 30 bash -c "[ \$(ls '$W/out' | grep -c '\\.st\$') -eq $N ]"
t_is "$(ls "$W/out" | grep -c '\.st$')" "$N" "all $N readers ended"

bad=0 answered=0 interrupted=0
declare -A want=()
while read -r id st; do want[$id]=$st; done < <(psql_ref -d pgqfs_ctl -tA -F ' ' -c \
	"SELECT id, state FROM pgqfs.task")
for r in $(seq $N); do
	id=$(cat "$W/out/$r.id")
	st=$(cat "$W/out/$r.st" 2>/dev/null)
	out=$(cat "$W/out/$r.out" 2>/dev/null)
	if [ "$st" = 0 ] && [ "$out" = "${want[$id]}" ]; then
		answered=$((answered + 1))
	elif [ "$st" = 124 ] && { [ -z "$out" ] || [ "$out" = "${want[$id]}" ]; }; then
		interrupted=$((interrupted + 1))
	else
		bad=$((bad + 1))
		[ $bad -le 5 ] && t_diag "reader $r on task $id: status '$st', got '$out'" \
			"(want '${want[$id]}'), stderr: $(cat "$W/out/$r.err")"
	fi
done
t_diag "$answered answered, $interrupted interrupted"
t_is "$bad" 0 "every reader got its task's state or died of SIGINT"
t_ok "some readers were answered" test "$answered" -gt 0
t_ok "some readers were interrupted" test "$interrupted" -gt 0
t_ok "stats: nobody waiting" wait_until 5 grep -qx 'waiting 0' "$MNT/stats"
t_ok "the daemon is alive" test -d "$MNT/queue"
if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "${PGQFS_LOG[main]}"; then
	t_fail "no sanitizer report in the daemon's log"
	t_diag_file "${PGQFS_LOG[main]}" 60
else
	t_pass "no sanitizer report in the daemon's log"
fi

# SIGTERM with readers parked.  read(2) itself, not cat or os.read: those
# retry a read that returns EINTR, and the retry finds the mount gone.
cat >"$W/rd.py" <<'PY'
import ctypes, errno, os, sys
libc = ctypes.CDLL(None, use_errno=True)
fd = os.open(sys.argv[1], os.O_RDONLY)
buf = ctypes.create_string_buffer(64)
n = libc.read(fd, buf, 64)
print(errno.errorcode[ctypes.get_errno()] if n < 0 else buf.raw[:n].decode().strip())
PY
echo "SELECT pg_sleep(60);" >"$W/long.sql"
echo "SELECT 'never';" >"$W/queued.sql"
long=$(new_id)
submit one "$W/long.sql" "$long.sql"
queued=$(new_id)
submit one "$W/queued.sql" "$queued.sql"
t_ok "a task runs in pool one" wait_file_content "$MNT/tasks/$long/state" running 10
t_is "$(cat "$MNT/tasks/$queued/state")" queued "the next one is queued behind it"
pids=()
for r in 1 2 3; do
	python3 "$W/rd.py" "$MNT/tasks/$queued/wait" >"$W/q$r.out" 2>&1 &
	pids+=($!)
	python3 "$W/rd.py" "$MNT/tasks/$long/wait" >"$W/l$r.out" 2>&1 &
	pids+=($!)
done
t_ok "six readers parked" wait_until 10 grep -qx 'waiting 6' "$MNT/stats"
pgqfs_stop
wait "${pids[@]}"
for r in 1 2 3; do
	t_is "$(cat "$W/q$r.out")" EINTR "reader $r on the queued task got EINTR"
	t_is "$(cat "$W/l$r.out")" failed "reader $r on the task cancelled in the drain got 'failed'"
done

t_done
