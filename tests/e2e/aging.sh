#!/usr/bin/env bash
# A mount does not keep what it has submitted: every file written keeps a
# `struct staged` in the daemon until the kernel forgets its inode, and the
# kernel keeps unused entries until memory runs short.  The daemon
# invalidates the entry of each file it submits, so the FORGETs come and
# stats' `staged` count drops back to the files still being written.
. "$SRCDIR/e2e/lib.sh"

WRITERS=4
PER=${AGING_PER_WRITER:-750}
N=$((WRITERS * PER))
pg_start
pgqfs_start || t_bail "daemon did not start"

staged() { awk '$1 == "staged" { print $2 }' "$MNT/stats"; }
submitted() { awk '$1 == "since_start.submitted" { print $2 }' "$MNT/stats"; }

t_is "$(staged)" 0 "a fresh mount holds no staged file"

# Three ways in: cp -t (create, write, close), a process that opens,
# writes and closes without a fork per file, and the rename protocol
# (a dot file renamed to its final name once complete).
mkdir -p "$E2E_TMP/src"
for i in $(seq "$PER"); do echo "SELECT $i AS i;" >"$E2E_TMP/src/cp-$i.sql"; done
cp_writer() {
	(cd "$E2E_TMP/src" && ls | xargs -n 100 cp -t "$MNT/queue/fast/")
}
perl_writer() {	# PREFIX
	write_files "$MNT/queue/fast" "$1" "$PER"
}
rename_writer() {
	perl -e 'my ($d, $n) = @ARGV;
		for my $i (1 .. $n) {
			open(my $f, ">", "$d/.mv-$i.tmp") or die "mv-$i: $!";
			print $f "SELECT $i AS i;\n";
			close($f) or die "close mv-$i: $!";
			rename("$d/.mv-$i.tmp", "$d/mv-$i.sql") or die "rename mv-$i: $!";
		}' "$MNT/queue/fast" "$PER"
}
cp_writer 2>"$E2E_TMP/w1.err" & p1=$!
perl_writer pa 2>"$E2E_TMP/w2.err" & p2=$!
perl_writer pb 2>"$E2E_TMP/w3.err" & p3=$!
rename_writer 2>"$E2E_TMP/w4.err" & p4=$!
wait "$p1" "$p2" "$p3" "$p4"	# not a bare wait: lib.sh has its own watchdog running
for w in 1 2 3 4; do
	[ -s "$E2E_TMP/w$w.err" ] && t_diag_file "$E2E_TMP/w$w.err" 5
done
t_ok "$N files written by $WRITERS writers without an error" \
	bash -c "! cat $E2E_TMP/w*.err | grep -q ."
all_submitted() { [ "$(submitted)" = "$N" ]; }
t_ok "all $N files are submitted" wait_until 60 all_submitted
t_diag "staged entries right after the last submission: $(staged)"

# The FORGETs follow the invalidations within moments; without them the
# count stays near $N for as long as the kernel has memory to spare.
none_staged() { [ "$(staged)" = 0 ]; }
t_ok "the kernel forgets every submitted file: staged drops back to 0" wait_until 30 none_staged
t_diag "staged entries now: $(staged)"

# A file still open is held, and let go once submitted.
exec 3>"$MNT/queue/fast/open.sql"
echo 'SELECT 42 AS open;' >&3
t_is "$(staged)" 1 "a file still being written is staged"
exec 3>&-
t_ok "once closed and submitted, it is let go too" wait_until 30 none_staged

# Names stay answerable after their entries were dropped.
all_done() { [ "$(awk '$1 == "done" { print $2 }' "$MNT/stats")" = "$((N + 1))" ]; }
t_ok "all $((N + 1)) tasks are done" wait_until 120 all_done
t_is "$(cat "$MNT"/done/*/info | grep -c '^name=')" "$((N + 1))" "one task per file"
t_is "$(cat "$MNT"/done/*/info | grep -c '^name=mv-')" "$PER" "renamed files ran under their final names"
t_is "$(ls "$MNT/queue/fast" | wc -l)" 0 "nothing is left in the queue"
t_ok "the log shows no error" bash -c "! grep -E 'ERROR|error:' '${PGQFS_LOG[main]}'"

# Stopped amid writers, while the notifier waits for directory locks that
# unanswered creates hold: the daemon still exits, and unmounts.
perl_writer late1 2>/dev/null & p1=$!
perl_writer late2 2>/dev/null & p2=$!
busy() { [ "$(submitted)" -ge $((N + 1 + 200)) ]; }
t_ok "writers are at work again" wait_until 30 busy
pgqfs_stop main
wait "$p1" "$p2"
t_done
