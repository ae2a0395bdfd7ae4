#!/usr/bin/env bash
# Nobody can exhaust the daemon: bytes held for files not yet submitted are
# capped per uid (EDQUOT) and in total (ENOSPC) and given back on rm and on
# submission; names over 255 bytes get ENAMETOOLONG; new-id reservations per
# uid are capped (EDQUOT); two descriptors of one open file writing and
# flushing at once store exactly what was written (the flush copies under
# the lock: a sanitizer build catches it reading a freed buffer); open
# listings are capped per uid (EMFILE).
. "$SRCDIR/e2e/lib.sh"

[ "$(id -u)" -eq 0 ] || { t_skip "limits" "needs root to act as two users"; t_done; }
id nobody >/dev/null 2>&1 || { t_skip "limits" "no user nobody"; t_done; }

# The caps go in the [pgqfs] section, before the first target.
pgqfs_config() {
	pgqfs_default_config "$@" | sed -e 's/^max_task_bytes = .*/max_task_bytes = 512KiB\
max_pending_bytes_per_user = 1MiB\
max_pending_bytes = 1536KiB\
max_reserved_ids_per_user = 3/'
}
as_nobody() { runuser -u nobody -- "$@"; }

# py_write PATH KIB: creates PATH and writes KIB KiB of SQL to it; prints
# "ok" or the errno's name (and leaves the file as far as it got).
py_write() {
	python3 - "$1" "$2" <<'PY'
import errno, os, sys
path, kib = sys.argv[1], int(sys.argv[2])
chunk = (b"SELECT 1;" + b" " * 1014 + b"\n")
try:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
except OSError as e:
    print(errno.errorcode[e.errno]); sys.exit(0)
res = "ok"
try:
    for _ in range(kib):
        os.write(fd, chunk)
except OSError as e:
    res = errno.errorcode[e.errno]
try:
    os.close(fd)
except OSError as e:
    res = res if res != "ok" else "close:" + errno.errorcode[e.errno]
print(res)
PY
}

pg_start
pgqfs_start main -o allow_other || t_bail "daemon did not start"
chmod 755 "$E2E_TMP"
Q=$MNT/queue/default
LOG=${PGQFS_LOG[main]}

# ---- per-user cap
for f in a b c d; do
	t_is "$(py_write "$Q/.$f" 256)" ok "root's dot file .$f of 256 KiB fits its 1 MiB"
done
t_is "$(py_write "$Q/.e" 256)" EDQUOT "the next write past max_pending_bytes_per_user gets EDQUOT"
t_ok "and a log line says why" grep -q 'max_pending_bytes_per_user is 1048576' "$LOG"
rm -f "$Q/.e"
rm -f "$Q/.a"
t_is "$(py_write "$Q/.e" 256)" ok "after rm of one, the memory is given back: the write succeeds"

# ---- total cap, two users (root holds 1 MiB: .b .c .d .e)
t_is "$(as_nobody bash -c "$(declare -f py_write); py_write '$Q/.x' 256")" ok "nobody's first 256 KiB fits"
t_is "$(as_nobody bash -c "$(declare -f py_write); py_write '$Q/.y' 256")" ok "nobody's second fits (1.5 MiB in all)"
t_is "$(as_nobody bash -c "$(declare -f py_write); py_write '$Q/.z' 256")" ENOSPC \
	"nobody's third exceeds max_pending_bytes: ENOSPC"
t_ok "and a log line says why" grep -q 'max_pending_bytes is 1572864' "$LOG"
as_nobody rm -f "$Q/.z"

# ---- a submission gives the memory back
t_ok "root submits .b by renaming it" mv "$Q/.b" "$Q/b.sql"
t_is "$(as_nobody bash -c "$(declare -f py_write); py_write '$Q/.z' 256")" ok \
	"after the submission the memory is given back: nobody's write succeeds"
# (Functions: wait_until runs its command again; test "$(...)" would not.)
b_done() { [ "$(psql_ref -d pgqfs_ctl -tAc "SELECT state FROM pgqfs.task WHERE name = 'b.sql'")" = done ]; }
wait_until 30 b_done
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT state, length(query) FROM pgqfs.task WHERE name = 'b.sql'")" \
	"done|262144" "the renamed file ran whole"

# ---- a file cut short by the cap never runs (root holds .c .d .e: 768 KiB)
as_nobody rm -f "$Q"/.x "$Q"/.y "$Q"/.z
t_is "$(py_write "$Q/cut.sql" 400)" EDQUOT "a .sql file growing past the cap gets EDQUOT"
sleep 1
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE name = 'cut.sql'")" 0 \
	"and nothing of it is queued"
t_ok "cp of a file within the caps still works after that" bash -c \
	"echo 'SELECT 1;' >'$E2E_TMP/one.sql' && cp '$E2E_TMP/one.sql' '$Q/one.sql'"
rm -f "$Q"/.c "$Q"/.d "$Q"/.e
t_is "$(py_write "$Q/.full1" 512)$(py_write "$Q/.full2" 512)" okok \
	"once all is removed, root may hold its whole 1 MiB again"
rm -f "$Q/.full1" "$Q/.full2"

# ---- names
n255=$(printf 'n%.0s' $(seq 251)).sql
n256=$(printf 'n%.0s' $(seq 252)).sql
n4000=$(printf 'n%.0s' $(seq 3996)).sql
t_is "$(py_write "$Q/$n255" 1)" ok "a 255-byte name is accepted"
t_is "$(py_write "$Q/$n256" 1)" ENAMETOOLONG "a 256-byte name gets ENAMETOOLONG"
t_is "$(py_write "$Q/$n4000" 1)" ENAMETOOLONG "a 4000-byte name gets ENAMETOOLONG"
t_is "$(python3 -c "
import errno, os, sys
try: os.stat(sys.argv[1]); print('ok')
except OSError as e: print(errno.errorcode[e.errno])" "$Q/$n256")" ENAMETOOLONG "stat of a 256-byte name: ENAMETOOLONG"
py_write "$Q/.short" 1 >/dev/null
t_is "$(python3 -c "
import errno, os, sys
try: os.rename(sys.argv[1], sys.argv[2]); print('ok')
except OSError as e: print(errno.errorcode[e.errno])" "$Q/.short" "$Q/$n256")" ENAMETOOLONG \
	"a rename to a 256-byte name: ENAMETOOLONG"
rm -f "$Q/.short"
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE length(name) > 255")" 0 \
	"no task has a longer name"

# ---- reservations per uid
ids=
for i in 1 2 3; do
	ids="$ids $(as_nobody cat "$MNT/new-id")"
done
t_is "$(echo $ids | wc -w)" 3 "nobody reserves 3 ids (max_reserved_ids_per_user)"
t_is "$(as_nobody python3 -c "
import errno
try: open('$MNT/new-id').read(); print('ok')
except OSError as e: print(errno.errorcode[e.errno])")" EDQUOT "the 4th read of new-id gets EDQUOT"
t_ok "and a log line says why" grep -q 'max_reserved_ids_per_user (3)' "$LOG"
t_ok "root's reservations are counted apart" cat "$MNT/new-id"
echo 'SELECT 1;' >"$E2E_TMP/n.sql"
chmod 644 "$E2E_TMP/n.sql"
t_ok "nobody submits one of them" as_nobody cp "$E2E_TMP/n.sql" "$Q/$(echo $ids | cut -d' ' -f1).sql"
t_ok "then new-id gives nobody a fresh one" as_nobody cat "$MNT/new-id"

# ---- two descriptors of one open file: writes racing flushes
race_out=$(python3 - "$Q" <<'PY'
import os, sys, threading
q = sys.argv[1]
bad = 0
for n in range(30):
    path = "%s/race%d.sql" % (q, n)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    stop = False
    def flusher():
        while not stop:
            d = os.dup(fd)
            try:
                os.close(d)      # a FUSE flush of the same open file
            except OSError:
                pass
    t = threading.Thread(target=flusher)
    t.start()
    line = b"-- " + b"x" * 107 + b"\n"
    for i in range(3000):        # 333 KB, growing the buffer many times
        os.write(fd, line)
    os.write(fd, b"SELECT 1;\n")
    stop = True
    t.join()
    os.close(fd)
print("written")
PY
)
t_is "$race_out" written "30 files written while another descriptor flushed them"
races_done() { [ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE name LIKE 'race%' AND state = 'done'")" = 30 ]; }
wait_until 60 races_done
t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE name LIKE 'race%' AND state = 'done' AND length(query) = 333010")" \
	30 "every one ran, whole: no flush stored a stale copy last"
t_ok "the daemon is alive" test -d "$MNT/queue"

# Open listings are capped too: a snapshot of tasks/ with 5,000 members of
# a group is about 330 KiB, so a uid holds three open at once under its
# 1 MiB; the fourth open gets EMFILE, and closing them gives the room back.
{ echo '-- pgqfs: group=statements'; for _ in $(seq 5000); do echo 'SELECT 1;'; done; } >"$E2E_TMP/big-group.sql"
gid=$(new_id)
submit default "$E2E_TMP/big-group.sql" "$gid.sql" || t_fail "cp of a group of 5,000"
t_is "$(task_wait "$gid" 120)" done "the group of 5,000 ran"
listings=$(python3 - "$MNT/tasks" <<'PY'
import errno, os, sys
fds, got = [], "none refused"
for i in range(64):
    try:
        fds.append(os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY))
    except OSError as e:
        got = "%s after %d" % (errno.errorcode[e.errno], len(fds))
        break
for fd in fds:
    os.close(fd)
try:
    os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY))
    again = "ok"
except OSError as e:
    again = errno.errorcode[e.errno]
print(got, again)
PY
)
t_like "$listings" '^EMFILE after [1-9] ' "open listings past the uid's cap get EMFILE ($listings)"
t_like "$listings" ' ok$' "and once closed, a listing opens again"
t_ok "the log says why" grep -q 'a listing refused (EMFILE)' "${PGQFS_LOG[main]}"

# sched_hold PREFIX CUT [PREFIX...]: holds schedule files open in
# schedules/default, 400 KiB written to each (then cut to CUT bytes, if
# CUT > 0); each PREFIX is a group of three, held together and closed
# before the next group.  Prints each file's result: ok or the errno.
sched_hold() {
	python3 - "$MNT/schedules/default" "$@" <<'PY'
import errno, os, sys
chunk = b"-- " + b"x" * 1020 + b"\n"
where, cut, res = sys.argv[1], int(sys.argv[3]), []
for group in [sys.argv[2]] + sys.argv[4:]:
    fds = []
    for i in range(3 if group != "after" else 1):
        fd = os.open(os.path.join(where, "%s%d.sql" % (group, i)),
                     os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        fds.append(fd)
        try:
            for _ in range(400):
                os.write(fd, chunk)
            if cut:
                os.ftruncate(fd, cut)
            res.append("ok")
        except OSError as e:
            res.append(errno.errorcode[e.errno])
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass		# no every= or cron=: refused, as it should be
print(" ".join(res))
PY
}
# Schedules being written are held in memory too, and charged the same:
# three held open by root, 400 KiB each, pass its 1 MiB on the third
# (EDQUOT, and a log line); once closed, the room is back.
t_is "$(sched_hold big 0 after)" "ok ok EDQUOT ok" \
	"schedule files held open count against the uid's cap; closed, they give it back"
t_ok "the log says why" grep -q 'schedules/default.*max_pending_bytes_per_user reached' "${PGQFS_LOG[main]}"
# A truncation gives the memory back with the charge: three held open,
# each written to 400 KiB then cut to one byte, fit the 1 MiB.
t_is "$(sched_hold cut 1)" "ok ok ok" "schedule files cut short after a write give their charge back"

# ---- what is held stays within the charge.  The charge follows a file's
# length; a cut that kept its buffer held more than it was charged, so that
# files written to 400 KiB and cut to a byte, 60 of them held open, took
# 24 MiB past a 1 MiB cap.  Now a cut shrinks the buffer, and growth is by
# a quarter at a time (not doubling).
# (Measured on a daemon built without ASan, whose allocator keeps what is
# freed.)  held_rss DIR PID N prints the files refused and the KiB grown.
held_rss() {
	python3 - "$1" "$2" "$3" <<'PY'
import os, sys
where, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
def rss():
    for line in open("/proc/%s/status" % pid):
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
chunk = b"SELECT 1;" + b" " * 1014 + b"\n"
before, fds, bad = rss(), [], 0
for i in range(n):
    fd = os.open(os.path.join(where, ".held%d" % i), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    fds.append(fd)
    try:
        for _ in range(400):
            os.write(fd, chunk)
        os.ftruncate(fd, 1)
    except OSError:
        bad += 1
grown = rss() - before
for fd in fds:
    os.close(fd)
print(bad, grown // 1024)
PY
}
if [ -x "${PGQFS_PLAIN:-}" ]; then
	PGQFS=$PGQFS_PLAIN pgqfs_start plain || t_bail "the daemon without ASan did not start"
	read -r bad grown < <(held_rss "$(mnt plain)/queue/default" "${PGQFS_PID[plain]}" 60)
	t_is "$bad" 0 "60 files written to 400 KiB, each cut to a byte and held open, pass the 1 MiB cap"
	t_ok "and the daemon holds about the cap for them (RSS grew ${grown} MiB, < 8)" \
		test "$grown" -lt 8
	rm -f "$(mnt plain)/queue/default"/.held*
	pgqfs_stop plain
else
	t_skip "memory held against the charge" "the build uses ASan; set PGQFS_PLAIN"
fi
pgqfs_stop main
t_done
