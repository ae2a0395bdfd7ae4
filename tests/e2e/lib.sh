# shellcheck shell=bash
# lib.sh: shared harness of the end-to-end tests (tests/e2e/NAME.sh).
#
# A test is run by meson as `bash tests/e2e/NAME.sh` with
#   PGQFS     the daemon binary under test
#   SRCDIR    <source>/tests
#   BUILDDIR  <build>/tests     (holds the shared pg-template; optional)
# It sources this file, prints TAP on stdout and exits non-zero on failure:
#
#   . "$SRCDIR/e2e/lib.sh"
#   pg_start                      # throwaway PostgreSQL cluster
#   pgqfs_start                   # daemon "main" mounted at $MNT
#   submit default job.sql        # cp job.sql $MNT/queue/default/
#   t_is "$(cat "$MNT/tasks/1/state")" done "task 1 is done"
#   t_done                        # stops daemons, prints the plan, exits
#
# Everything a test starts lives under one temp dir ($E2E_TMP) and is torn
# down by the EXIT trap, also on failure, on SIGINT/SIGTERM and when the
# whole-test timeout ($E2E_TIMEOUT seconds, default 240) fires.  KEEP=1 keeps
# the temp dir (and prints its path) for a post-mortem.
#
# The library uses `set -u -o pipefail` but not `set -e`: a failed check is a
# `not ok` line, not the end of the test.  Use t_bail to stop at once.

set -u -o pipefail

# Tests must not depend on the caller's locale or libpq environment: the
# reference psql and the daemon both connect with exactly what we export.
export LC_ALL=C
unset PGSERVICE PGSERVICEFILE PGOPTIONS PGTZ PGDATESTYLE PGCLIENTENCODING \
	PGPASSWORD PGPASSFILE PGSSLMODE PGAPPNAME PGCONNECT_TIMEOUT \
	PGHOSTADDR PGTARGETSESSIONATTRS 2>/dev/null || true

SRCDIR=${SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
BUILDDIR=${BUILDDIR:-}
PGQFS=${PGQFS:-}
E2E_TIMEOUT=${E2E_TIMEOUT:-240}

# Daemons started by pgqfs_start, by NAME (default "main").
declare -A PGQFS_PID=()		# NAME -> pid of the running daemon
declare -A PGQFS_MNT=()		# NAME -> its mountpoint
declare -A PGQFS_LOG=()		# NAME -> its log (stdout and stderr)
MNT=				# mountpoint of the first daemon started

# ---------------------------------------------------------------- TAP

_T_N=0			# test points printed so far
_T_FAILED=0		# how many of them were `not ok`
_T_DONE=0		# t_done printed the plan

# t_diag TEXT...: TAP diagnostics, one "# " line per line of each TEXT.
t_diag() {
	printf '%s\n' "$@" | sed -e 's/\r/\\r/g' -e 's/^/# /'
}

# t_diag_file FILE [MAXLINES]: the last MAXLINES (default 200) lines of FILE
# as diagnostics.
t_diag_file() {
	[ -e "$1" ] || { t_diag "($1 does not exist)"; return 0; }
	tail -n "${2:-200}" -- "$1" | sed -e 's/\r/\\r/g' -e 's/^/# /'
}

# t_pass DESC / t_fail DESC: an unconditional test point.
t_pass() {
	_T_N=$((_T_N + 1))
	printf 'ok %d - %s\n' "$_T_N" "$*"
}
t_fail() {
	_T_N=$((_T_N + 1))
	_T_FAILED=$((_T_FAILED + 1))
	printf 'not ok %d - %s\n' "$_T_N" "$*"
	return 1
}

# t_ok DESC CMD [ARGS...]: ok when CMD exits 0; its output goes to stderr.
# Returns CMD's verdict (0 or 1).
t_ok() {
	local desc=$1 rc
	shift
	"$@" >&2
	rc=$?
	if [ "$rc" -eq 0 ]; then
		t_pass "$desc"
	else
		t_fail "$desc"
		t_diag "  command: $*" "  exit status: $rc"
	fi
	return "$rc"
}

# t_is GOT WANT DESC: string equality.
t_is() {
	if [ "$1" == "$2" ]; then
		t_pass "$3"
	else
		t_fail "$3"
		t_diag "  got:  '$1'"
		t_diag "  want: '$2'"
		return 1
	fi
}

# t_like GOT ERE DESC: GOT matches the extended regular expression ERE.
t_like() {
	# Not grep -q: it may exit before printf has written all, and
	# pipefail would count printf's SIGPIPE as a mismatch.
	local z=
	# A pattern with a newline matches across lines: the text is one
	# record (grep -z), ending in the newline $(...) took off.
	case $2 in *$'\n'*) z=-z ;; esac
	if { if [ -n "$z" ]; then printf '%s\n' "$1"; else printf '%s' "$1"; fi; } |
		grep -E $z -- "$2" >/dev/null; then
		t_pass "$3"
	else
		t_fail "$3"
		t_diag "  got:  '$1'"
		t_diag "  want match of: $2"
		return 1
	fi
}

# t_cmp WANT_FILE GOT_FILE DESC: byte-for-byte equality; on mismatch prints
# sizes, the first differing byte and a unified diff (first 80 lines) with
# CR shown as \r.
t_cmp() {
	local want=$1 got=$2 desc=$3
	if cmp -s -- "$want" "$got"; then
		t_pass "$desc"
		return 0
	fi
	t_fail "$desc"
	if [ ! -e "$got" ]; then
		t_diag "  $got: $(stat -c %s -- "$got" 2>&1)"
		return 1
	fi
	t_diag "  want: $want ($(stat -c %s -- "$want") bytes)"
	t_diag "  got:  $got ($(stat -c %s -- "$got") bytes)"
	t_diag "  $(cmp -- "$want" "$got" 2>&1 | head -n 1)"
	diff -u -a -- "$want" "$got" 2>&1 | head -n 80 |
		sed -e 's/\r/\\r/g' -e 's/^/# /'
	return 1
}

# t_file_is FILE CONTENT DESC: FILE holds exactly CONTENT (bytes; use $'..'
# for a trailing newline).
t_file_is() {
	local want
	want=$(mktemp "$E2E_TMP/want.XXXXXX")
	printf '%s' "$2" >"$want"
	t_cmp "$want" "$1" "$3"
	local rc=$?
	rm -f -- "$want"
	return $rc
}

# t_skip DESC REASON
t_skip() {
	_T_N=$((_T_N + 1))
	printf 'ok %d - %s # SKIP %s\n' "$_T_N" "$1" "$2"
}

# t_done: stops daemons still running (checking that they exit cleanly),
# prints the plan and exits: 0 when every test point passed, else 1.
t_done() {
	local name
	for name in "${!PGQFS_PID[@]}"; do
		pgqfs_stop "$name"
	done
	printf '1..%d\n' "$_T_N"
	_T_DONE=1
	[ "$_T_FAILED" -eq 0 ] || exit 1
	exit 0
}

# t_bail REASON: a failed test point, then stop the test (cleanup runs).
t_bail() {
	t_fail "$*"
	t_done
}

# ---------------------------------------------------------------- binaries

if [ -x /usr/lib/postgresql/15/bin/postgres ]; then
	PG_BINDIR=/usr/lib/postgresql/15/bin
else
	PG_BINDIR=$(pg_config --bindir 2>/dev/null)
fi
# The reference psql.  Not /usr/bin/psql: Debian's wrapper is a Perl script
# that costs ~50 ms per start.
PSQL=$PG_BINDIR/psql

# ---------------------------------------------------------------- temp dir

E2E_TMP=$(mktemp -d "${TMPDIR:-/tmp}/pgqfs-e2e.XXXXXX") || {
	echo 'Bail out! cannot create a temp dir'
	exit 1
}
# The postgres OS user must be able to traverse it when we run as root.
chmod 755 "$E2E_TMP"
mkdir -p "$E2E_TMP/pids"

# ---------------------------------------------------------------- timeout

_e2e_descendants() {
	local p
	for p in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$p"
		_e2e_descendants "$p"
	done
}

# The watchdog cannot rely on the ALRM trap alone: bash runs a trap only
# after the foreground command returns, and that command may be a read
# blocked on a hung mount.  So on timeout it signals the test shell, kills
# the daemons (which aborts their FUSE connections, failing blocked
# readers with ENOTCONN) and then every other process the test started.
# Its stdout is /dev/null so that an orphaned sleep cannot hold meson's
# pipe open.
_e2e_watchdog() {
	local s p me=$BASHPID
	trap 'kill "$s" 2>/dev/null; exit 0' TERM
	sleep "$E2E_TIMEOUT" &
	s=$!
	# A sleep that did not end by itself was signalled with the whole
	# process group (meson's timeout): the test shell is stopping anyway.
	wait "$s" || exit 0
	kill -ALRM "$_E2E_SHELL" 2>/dev/null || exit 0
	for p in "$E2E_TMP"/pids/*.pid; do
		[ -e "$p" ] && kill -KILL "$(cat "$p")"
	done
	sleep 0.2
	for p in $(_e2e_descendants "$_E2E_SHELL"); do
		[ "$p" = "$me" ] || kill -TERM "$p"
	done
	exit 0
}

_e2e_on_timeout() {
	trap - ALRM
	t_fail "timeout: the test did not finish within ${E2E_TIMEOUT}s"
	printf '1..%d\n' "$_T_N"
	_T_DONE=1
	exit 1
}

_E2E_SHELL=$$
trap _e2e_on_timeout ALRM
_e2e_watchdog </dev/null >/dev/null 2>&1 &
_E2E_WATCHDOG=$!

# ---------------------------------------------------------------- cleanup

_e2e_is_mounted() {
	awk -v m="$1" '$5 == m { found = 1 } END { exit !found }' \
		/proc/self/mountinfo
}

_e2e_alive() {
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

_e2e_cleanup() {
	local rc=$? name pid i
	trap - EXIT ALRM INT TERM
	kill "$_E2E_WATCHDOG" 2>/dev/null
	if [ "$_T_DONE" -eq 0 ]; then
		t_fail "test script ended before t_done (exit status $rc)"
		printf '1..%d\n' "$_T_N"
		rc=1
	fi
	[ "$_T_FAILED" -eq 0 ] || rc=1

	for name in "${!PGQFS_MNT[@]}"; do
		_e2e_is_mounted "${PGQFS_MNT[$name]}" &&
			fusermount3 -uz "${PGQFS_MNT[$name]}" 2>/dev/null
	done
	for name in "${!PGQFS_PID[@]}"; do
		kill -TERM "${PGQFS_PID[$name]}" 2>/dev/null
	done
	# Postgres first: meson follows its SIGTERM with a SIGKILL 0.5 s later.
	pg_stop
	for name in "${!PGQFS_PID[@]}"; do
		pid=${PGQFS_PID[$name]}
		for ((i = 0; i < 50; i++)); do
			_e2e_alive "$pid" || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		_pgqfs_forget "$name"
	done
	# The test's other helpers (proxies, listeners): the reaper would find
	# their pid files gone with the temp dir.
	for pid in "$E2E_TMP"/pids/*.pid; do
		[ -e "$pid" ] && kill -KILL "$(cat "$pid")" 2>/dev/null
	done

	if [ "$rc" -ne 0 ]; then
		for name in "${!PGQFS_LOG[@]}"; do
			t_diag "---- pgqfs $name: ${PGQFS_LOG[$name]} (last 200 lines)"
			t_diag_file "${PGQFS_LOG[$name]}" 200
		done
		if [ -n "${PG_DIR:-}" ] && [ -e "$PG_DIR/postgres.log" ]; then
			t_diag "---- postgres log (last 40 lines)"
			t_diag_file "$PG_DIR/postgres.log" 40
		fi
	fi
	if [ "${KEEP:-0}" = 1 ]; then
		t_diag "KEEP=1: kept $E2E_TMP"
	else
		rm -rf -- "$E2E_TMP"
	fi
	exit "$rc"
}

trap _e2e_cleanup EXIT
# A trap runs only once the foreground command returns: under meson, whose
# timeout signals the whole process group, that is at once.
trap 'exit 130' INT
trap 'exit 143' TERM

# The reaper, in a session of its own, outlives a test shell killed with
# SIGKILL (meson does that 0.5 s after its SIGTERM) and then does what the
# EXIT trap could not: kill the daemons, unmount, stop Postgres (which
# pg_ctl detached from our process group), remove the temp dir.  After a
# normal exit it finds nothing left to do.
# shellcheck disable=SC2016 # the script expands its own arguments
setsid bash -c '
	t=$1 keep=$2
	tail --pid="$3" -f /dev/null
	for p in "$t"/pids/*.pid; do [ -e "$p" ] && kill -KILL "$(cat "$p")"; done
	for m in "$t"/mnt-*; do fusermount3 -uz "$m"; done
	[ -f "$t/pg-frozen" ] && xargs kill -CONT <"$t/pg-frozen"
	if [ -f "$t/pg/data/postmaster.pid" ]; then
		if [ "$(id -u)" -eq 0 ]; then
			runuser -u postgres -- "$4/pg_ctl" -D "$t/pg/data" -m immediate -w stop
		else
			"$4/pg_ctl" -D "$t/pg/data" -m immediate -w stop
		fi
	fi
	[ "$keep" = 1 ] || rm -rf -- "$t"
' pgqfs-e2e-reaper "$E2E_TMP" "${KEEP:-0}" "$$" "$PG_BINDIR" \
	</dev/null >/dev/null 2>&1 &

# ---------------------------------------------------------------- PostgreSQL


# psql_ref ARGS...: the reference psql, without ~/.psqlrc.
psql_ref() {
	"$PSQL" -X "$@"
}

# _pg_as CMD...: run CMD as the cluster's owner (postgres when we are root).
_pg_as() {
	if [ "$(id -u)" -eq 0 ]; then
		(cd "$PG_DIR" && runuser -u postgres -- "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

_PG_INITDB_OPTS=(-A trust --nosync -U postgres -E UTF8 --locale=C)

# _pg_template: copies a pristine initdb'd data directory to $PG_DIR/data.
# One template per build dir ($BUILDDIR/pg-template), made under flock by
# the first test that needs it; a stamp records the initdb version and
# options so that a changed installation rebuilds it.
_pg_template() {
	local tmpl stamp want_stamp lock fd
	[ -n "$BUILDDIR" ] && mkdir -p "$BUILDDIR" 2>/dev/null &&
		[ -w "$BUILDDIR" ] || return 1
	tmpl=$BUILDDIR/pg-template
	stamp=$BUILDDIR/pg-template.stamp
	lock=$BUILDDIR/pg-template.lock
	want_stamp="$("$PG_BINDIR/initdb" --version) ${_PG_INITDB_OPTS[*]} owner=$(id -u)"
	{ exec {fd}>>"$lock"; } 2>/dev/null || return 1
	if ! flock -w 120 "$fd"; then
		exec {fd}>&-
		t_diag "cannot lock $lock"
		return 1
	fi
	if [ ! -f "$tmpl/PG_VERSION" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$want_stamp" ]; then
		rm -rf -- "$tmpl" "$stamp" "$PG_DIR/template"
		if ! _pg_as "$PG_BINDIR/initdb" "${_PG_INITDB_OPTS[@]}" -D "$PG_DIR/template" \
			>"$PG_DIR/initdb.log" 2>&1 ||
			! cp -a -- "$PG_DIR/template" "$tmpl.new.$$" ||
			! mv -T -- "$tmpl.new.$$" "$tmpl"; then
			rm -rf -- "$tmpl.new.$$"
			exec {fd}>&-
			return 1
		fi
		printf '%s' "$want_stamp" >"$stamp"
		rm -rf -- "$PG_DIR/template"
	fi
	cp -a -- "$tmpl" "$PG_DIR/data"
	local rc=$?
	exec {fd}>&-
	return $rc
}

# pg_start: starts a throwaway cluster and creates the databases app and
# pgqfs_ctl.  Exports PGHOST PGPORT PGUSER PGDATABASE (for psql_ref) and sets
#   PG_CONNINFO     "host=... port=... user=postgres" (add dbname=...)
#   PGQFS_CONTROL   conninfo of the control database pgqfs_ctl
#   PGQFS_TARGET    conninfo of the target database app
#   PG_DIR          the cluster's dir (data/, run/, postgres.log)
# With listen_addresses='' the port only names the socket file in our own
# socket dir, so any port is free; a random one keeps logs readable.
pg_start() {
	PG_DIR=$E2E_TMP/pg
	mkdir -p "$PG_DIR/run"
	[ "$(id -u)" -eq 0 ] && chown -R postgres: "$PG_DIR"
	if ! _pg_template; then
		t_diag "pg_start: no template from ${BUILDDIR:-(no BUILDDIR)}, running initdb"
		rm -rf -- "$PG_DIR/data"
		if ! _pg_as "$PG_BINDIR/initdb" "${_PG_INITDB_OPTS[@]}" -D "$PG_DIR/data" \
			>"$PG_DIR/initdb.log" 2>&1; then
			t_diag_file "$PG_DIR/initdb.log" 40
			t_bail "pg_start: initdb failed"
		fi
	fi
	PGPORT=$((20000 + RANDOM % 30000))
	export PGHOST=$PG_DIR/run PGPORT PGUSER=postgres PGDATABASE=postgres
	PG_CONNINFO="host=$PGHOST port=$PGPORT user=postgres"
	PGQFS_CONTROL="$PG_CONNINFO dbname=pgqfs_ctl"
	PGQFS_TARGET="$PG_CONNINFO dbname=app"
	_PG_STARTED=1
	if ! _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
		-w -t 60 -s start \
		-o "-k '$PGHOST' -p $PGPORT -c listen_addresses='' -c fsync=off -c max_connections=300" \
		>/dev/null; then
		t_diag_file "$PG_DIR/postgres.log" 40
		t_bail "pg_start: postgres did not start"
	fi
	if ! psql_ref -q -v ON_ERROR_STOP=1 -c 'CREATE DATABASE app' \
		-c 'CREATE DATABASE pgqfs_ctl' >/dev/null; then
		t_bail "pg_start: cannot create databases"
	fi
}

# pg_restart [MODE]: a restart of the cluster, fast unless MODE says (every
# session is ended).
pg_restart() {
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" \
		-m "${1:-fast}" -w -t 60 -s restart >/dev/null
}

# pg_stop: immediate shutdown (a no-op when no cluster runs).
pg_stop() {
	[ "${_PG_STARTED:-0}" = 1 ] || return 0
	_PG_STARTED=0
	pg_thaw
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w -s stop \
		>/dev/null 2>&1
}

# ---------------------------------------------------------------- faults
#
# Faults injected into the real cluster.  Each undoes itself in the EXIT
# trap (pg_stop thaws a frozen server; the reaper does too).

# pg_postmaster_pid: the postmaster's pid.
pg_postmaster_pid() {
	head -n 1 "$PG_DIR/data/postmaster.pid"
}

# pg_freeze [all]: SIGSTOP the postmaster (new connections hang in the
# kernel's accept queue); with "all", every backend too (the server stops
# answering on connections it already has).  pg_thaw undoes it.
pg_freeze() {
	local pm p
	pm=$(pg_postmaster_pid) || return 1
	echo "$pm" >"$E2E_TMP/pg-frozen"
	if [ "${1:-}" = all ]; then
		for p in $(ps -o pid= --ppid "$pm"); do echo "$p"; done >>"$E2E_TMP/pg-frozen"
	fi
	xargs kill -STOP <"$E2E_TMP/pg-frozen"
}

pg_thaw() {
	[ -f "$E2E_TMP/pg-frozen" ] || return 0
	xargs kill -CONT <"$E2E_TMP/pg-frozen" 2>/dev/null
	rm -f -- "$E2E_TMP/pg-frozen"
}

# pg_hba_reject DB: new connections to database DB are rejected (pg_hba.conf
# "reject" first, then a reload) and its existing sessions are ended, so a
# daemon is shut out of it.  pg_hba_restore undoes it.
pg_hba_reject() {
	local hba=$PG_DIR/data/pg_hba.conf
	[ -f "$hba.orig" ] || cp -p -- "$hba" "$hba.orig"
	{ printf 'local %s all reject\n' "$1"; cat -- "$hba.orig"; } >"$hba"
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
	sleep 0.2
	psql_ref -qAt -c "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE datname = '$1' AND pid <> pg_backend_pid()" >/dev/null
}

pg_hba_restore() {
	local hba=$PG_DIR/data/pg_hba.conf
	[ -f "$hba.orig" ] || return 0
	mv -f -- "$hba.orig" "$hba"
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
}

# tcp_blackhole: starts a TCP listener on 127.0.0.1 that accepts connections
# and never answers; sets BLACKHOLE_PORT.  It ends with the test.
tcp_blackhole() {
	local f=$E2E_TMP/blackhole.port
	python3 -c '
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held = []
end = time.time() + 600
while time.time() < end:
    s.settimeout(1)
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
' "$f" </dev/null >/dev/null 2>&1 &
	echo $! >"$E2E_TMP/pids/blackhole.pid"
	wait_until 10 test -s "$f" || t_bail "tcp_blackhole: listener did not start"
	BLACKHOLE_PORT=$(cat "$f")
}

# tcp_proxy NAME [DELAY] [PORT]: a TCP listener on 127.0.0.1 (on PORT, or
# any free port) forwarding to the cluster's Unix socket; sets PROXY_PORT
# and PROXY_PID.  SIGSTOP of
# PROXY_PID makes the server look hung to every connection through it, the
# cancels too, while the control database (on the socket) stays up.  With
# DELAY (seconds), what the server sends reaches the client that much
# later; what the client sends goes at once.
tcp_proxy() {
	local f=$E2E_TMP/$1.port
	rm -f -- "$f"
	python3 -c '
import os, socket, sys, threading, time
delay = float(sys.argv[3])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[4])))
s.listen(64)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1]))
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
def pipe(a, b, wait):
    try:
        while True:
            d = a.recv(65536)
            if not d:
                break
            if wait:
                time.sleep(wait)
            b.sendall(d)
    except OSError:
        pass
    for x in (a, b):
        try:
            x.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
while True:
    c = s.accept()[0]
    u = socket.socket(socket.AF_UNIX)
    try:
        u.connect(sys.argv[2])
    except OSError:
        c.close()
        continue
    threading.Thread(target=pipe, args=(c, u, 0), daemon=True).start()
    threading.Thread(target=pipe, args=(u, c, delay), daemon=True).start()
' "$f" "$PGHOST/.s.PGSQL.$PGPORT" "${2:-0}" "${3:-0}" </dev/null >/dev/null 2>&1 &
	PROXY_PID=$!
	echo "$PROXY_PID" >"$E2E_TMP/pids/$1.pid"
	wait_until 10 test -s "$f" || t_bail "tcp_proxy: listener did not start"
	PROXY_PORT=$(cat "$f")
}

# ---------------------------------------------------------------- pgqfs

PGQFS_START_TIMEOUT=${PGQFS_START_TIMEOUT:-10}
PGQFS_STOP_TIMEOUT=${PGQFS_STOP_TIMEOUT:-10}

# pgqfs_default_config NAME: the default configuration on stdout: control
# database pgqfs_ctl, target main = database app, pools default (4 workers)
# and fast (8 workers).
pgqfs_default_config() {
	cat <<EOF
[pgqfs]
control = $PGQFS_CONTROL
schema = pgqfs
workers = 0
max_task_bytes = 16MiB
retention = 7d
# Tests stop daemons with tasks running: a short drain (drain.sh tests it).
shutdown_grace = ${PGQFS_SHUTDOWN_GRACE:-2s}

[target main]
conninfo = $PGQFS_TARGET
max_workers = 16

[pool default]
target = main
max_workers = 4

[pool fast]
target = main
max_workers = 8
EOF
}

# Pieces of a configuration for a test's own pgqfs_config:
#   config_pgqfs WORKERS          [pgqfs]: the test's control database,
#                                 workers = WORKERS, shutdown_grace 2s
#   config_target NAME MAX        [target NAME] on the test's app database
#   config_pool NAME TARGET MAX   [pool NAME]
config_pgqfs() {
	printf '[pgqfs]\ncontrol = %s\nschema = pgqfs\nworkers = %s\nshutdown_grace = 2s\n\n' \
		"$PGQFS_CONTROL" "$1"
}
config_target() {
	printf '[target %s]\nconninfo = %s\nmax_workers = %s\n\n' "$1" "$PGQFS_TARGET" "$2"
}
config_pool() {
	printf '[pool %s]\ntarget = %s\nmax_workers = %s\n\n' "$1" "$2" "$3"
}

# pgqfs_config NAME: what pgqfs_start NAME writes to its config file.  A test
# supplies its own configuration by redefining this function after sourcing
# lib.sh, e.g.
#   pgqfs_config() { pgqfs_default_config "$@"; printf '[pool slow]\ntarget = main\nmax_workers = 1\n'; }
pgqfs_config() {
	pgqfs_default_config "$@"
}

# pgqfs_start [NAME [EXTRA-ARGS...]]: writes $E2E_TMP/NAME.conf, mounts
# $E2E_TMP/mnt-NAME with `$PGQFS -f -c CONF EXTRA-ARGS MNT` (output to
# $E2E_TMP/NAME.log) and waits until MNT/queue exists.  NAME defaults to
# main.  Prints one test point; returns non-zero when the daemon did not
# come up.  Starting a stopped NAME again reuses its mountpoint and log.
pgqfs_start() {
	local name=${1:-main} conf mnt log pid i
	[ $# -gt 0 ] && shift
	if [ -z "$PGQFS" ] || [ ! -x "$PGQFS" ]; then
		t_bail "PGQFS is not set to an executable: '$PGQFS'"
	fi
	conf=$E2E_TMP/$name.conf
	mnt=$E2E_TMP/mnt-$name
	log=$E2E_TMP/$name.log
	mkdir -p "$mnt"
	pgqfs_config "$name" >"$conf"
	printf '==== %s: %s -f -c %s %s %s\n' "$(date -u +%FT%TZ)" "$PGQFS" "$conf" \
		"$*" "$mnt" >>"$log"
	"$PGQFS" -f -c "$conf" "$@" "$mnt" </dev/null >>"$log" 2>&1 &
	pid=$!
	echo "$pid" >"$E2E_TMP/pids/$name.pid"
	PGQFS_PID[$name]=$pid
	PGQFS_MNT[$name]=$mnt
	PGQFS_LOG[$name]=$log
	[ -n "$MNT" ] || MNT=$mnt
	for ((i = 0; i < PGQFS_START_TIMEOUT * 20; i++)); do
		if ! _e2e_alive "$pid"; then
			wait "$pid"
			t_fail "pgqfs $name started (it exited with status $?)"
			t_diag_file "$log" 40
			_pgqfs_forget "$name"
			return 1
		fi
		# mountinfo first: stat on a mount whose daemon does not answer
		# would block.
		if _e2e_is_mounted "$mnt" && timeout 5 test -d "$mnt/queue"; then
			t_pass "pgqfs $name mounted at $mnt"
			return 0
		fi
		sleep 0.05
	done
	t_fail "pgqfs $name mounted within ${PGQFS_START_TIMEOUT}s"
	t_diag_file "$log" 40
	return 1
}

_pgqfs_forget() {
	unset "PGQFS_PID[$1]"
	rm -f -- "$E2E_TMP/pids/$1.pid"
}

# pgqfs_stop [NAME]: SIGTERM, wait up to $PGQFS_STOP_TIMEOUT s; test points:
# the daemon exited with status 0, its mount is gone, and its log shows no
# sanitizer report.
pgqfs_stop() {
	local name=${1:-main} pid mnt i st
	pid=${PGQFS_PID[$name]:-}
	[ -n "$pid" ] || { t_fail "pgqfs_stop $name: not running"; return 1; }
	mnt=${PGQFS_MNT[$name]}
	kill -TERM "$pid" 2>/dev/null
	for ((i = 0; i < PGQFS_STOP_TIMEOUT * 20; i++)); do
		_e2e_alive "$pid" || break
		sleep 0.05
	done
	if _e2e_alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
		t_fail "pgqfs $name exited within ${PGQFS_STOP_TIMEOUT}s of SIGTERM"
	else
		wait "$pid"
		st=$?
		t_is "$st" 0 "pgqfs $name exited with status 0 on SIGTERM"
	fi
	_pgqfs_forget "$name"
	if _e2e_is_mounted "$mnt"; then
		t_fail "pgqfs $name: $mnt unmounted"
		fusermount3 -uz "$mnt" 2>/dev/null
	else
		t_pass "pgqfs $name: $mnt unmounted"
	fi
	if grep -Eq 'AddressSanitizer|LeakSanitizer|runtime error:' "${PGQFS_LOG[$name]}"; then
		t_fail "pgqfs $name: no sanitizer report in its log"
	else
		t_pass "pgqfs $name: no sanitizer report in its log"
	fi
}

# pgqfs_kill9 [NAME]: SIGKILL the daemon (no clean shutdown) and lazily
# unmount its dead mount so that pgqfs_start NAME can mount it again.
pgqfs_kill9() {
	local name=${1:-main} pid
	pid=${PGQFS_PID[$name]:-}
	[ -n "$pid" ] || return 1
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	_pgqfs_forget "$name"
	fusermount3 -uz "${PGQFS_MNT[$name]}" 2>/dev/null
	return 0
}

# t_stats_match [NAME] DESC: the totals and per-pool counts in NAME's stats
# file are those the control database holds (counted here with SQL, the
# reference), for every pool of the configuration and every other pool
# that has tasks.  Call it when no task is changing state.
t_stats_match() {
	local m want got
	m=$(mnt "${2:-main}")
	want=$(psql_ref -d pgqfs_ctl -tA -F ' ' -c "
		WITH c AS (SELECT pool, CASE state WHEN 'staged' THEN 'queued' ELSE state END AS state
		             FROM pgqfs.task),
		  w(word, ord) AS (VALUES ('queued', 1), ('running', 2), ('done', 3), ('failed', 4), ('cancelled', 5))
		SELECT w.word, (SELECT count(*) FROM c WHERE c.state = w.word) FROM w ORDER BY w.ord")
	want=$want$'\n'$(for p in $(ls "$m/queue") $(psql_ref -d pgqfs_ctl -tAc "SELECT DISTINCT pool FROM pgqfs.task ORDER BY 1"); do
		echo "$p"; done | LC_ALL=C sort -u | while read -r p; do
		for w in queued running done failed cancelled; do
			echo "pool.$p.$w $(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pgqfs.task WHERE pool = '$p' AND CASE state WHEN 'staged' THEN 'queued' ELSE state END = '$w'")"
		done
	done)
	got=$(grep -v -e '^since_start' -e '^waiting' -e '^staged ' "$m/stats")
	t_is "$got" "$want" "$1"
}

# mnt NAME: the mountpoint of daemon NAME.
mnt() {
	printf '%s\n' "${PGQFS_MNT[${1:-main}]}"
}

# ---------------------------------------------------------------- helpers

now_ms() { echo $(($(date +%s%N) / 1000000)); }
# iso_ms ISO-TIME: milliseconds since the epoch; fails on an empty time
# (date would read "" as midnight).
iso_ms() { [ -n "$1" ] && date -u -d "$1" +%s%3N; }
# info_of ID KEY: the value of KEY in the task's info (empty when absent).
info_of() { sed -n "s/^$2=//p" "$MNT/tasks/$1/info"; }
# t_info ID ERE DESC: a line of the task's info is exactly ERE (t_like
# cannot anchor lines: grep reads a newline in a pattern as "or").
t_info() {
	if grep -Ex -- "$2" "$MNT/tasks/$1/info" >/dev/null; then
		t_pass "$3"
	else
		t_fail "$3"
		t_diag "  want a line: $2" "  info of task $1:"
		t_diag_file "$MNT/tasks/$1/info"
	fi
}
# write_step_py: the path of a python script (readable by every user)
# that runs "open(O_WRONLY), write DATA, close" on PATH DATA and prints
# ok, or the step that failed and its errno name (open:EACCES, ...).
write_step_py() {
	local d=$E2E_TMP/bin
	if [ ! -f "$d/write_step.py" ]; then
		mkdir -p "$d"
		chmod 755 "$E2E_TMP" "$d"
		cat >"$d/write_step.py" <<'PY'
import errno, os, sys
path, data = sys.argv[1], sys.argv[2].encode()
step = 'open'
try:
    fd = os.open(path, os.O_WRONLY)
    step = 'write'
    n = os.write(fd, data)
    step = 'close'
    os.close(fd)
    print('ok' if n == len(data) else 'short:%d' % n)
except OSError as e:
    print('%s:%s' % (step, errno.errorcode.get(e.errno, e.errno)))
PY
		chmod 644 "$d/write_step.py"
	fi
	printf '%s\n' "$d/write_step.py"
}

# wait_until TIMEOUT CMD [ARGS...]: polls CMD every 50 ms until it exits 0
# (return 0) or TIMEOUT seconds passed (return 1).
wait_until() {
	local timeout=$1 end
	shift
	end=$(($(date +%s%N) + timeout * 1000000000))
	until "$@"; do
		[ "$(date +%s%N)" -lt "$end" ] || return 1
		sleep 0.05
	done
}

_e2e_content_is() {
	[ "$(cat -- "$1" 2>/dev/null)" == "$2" ]
}

# wait_file_content FILE WANT [TIMEOUT=10]: waits until $(cat FILE) equals
# WANT (trailing newlines ignored, as with $(...)).  On timeout prints what
# the file held as a diagnostic and returns 1.
wait_file_content() {
	wait_until "${3:-10}" _e2e_content_is "$1" "$2" && return 0
	t_diag "wait_file_content $1: want '$2', have '$(cat -- "$1" 2>&1)'"
	return 1
}

# submit POOL FILE [NAME]: cp FILE to $MNT/queue/POOL/NAME (default: FILE's
# basename) and return cp's exit status.  For another daemon:
#   MNT=$(mnt b) submit default x.sql
submit() {
	cp -- "$2" "$MNT/queue/$1/${3:-$(basename -- "$2")}"
}

# write_files DIR PREFIX N: one process writes DIR/PREFIX-1.sql ..
# PREFIX-N.sql ("SELECT i AS i;" each) with open, write, close and no fork
# per file, failing on the first error from open or close.
write_files() {
	perl -e 'my ($d, $p, $n) = @ARGV;
		for my $i (1 .. $n) {
			open(my $f, ">", "$d/$p-$i.sql") or die "$p-$i: $!";
			print $f "SELECT $i AS i;\n";
			close($f) or die "close $p-$i: $!";
		}' "$1" "$2" "$3"
}

# session_open NAME DB: a psql session of the test's own on DB, fed through a
# FIFO, for locks held across steps of a test: session_send NAME SQL sends
# it a line, session_close NAME ends it (and waits for it).  Its output goes
# to $E2E_TMP/NAME.out.
session_open() {
	local in=$E2E_TMP/$1.in
	rm -f -- "$in"
	mkfifo -- "$in" || return 1
	(
		# Other sessions' pipes are closed here: each must see its EOF
		# when the test closes it, whatever was opened after it.
		for v in ${!_SESSION_FD_@}; do eval "exec ${!v}>&-" 2>/dev/null; done
		psql_ref -d "$2" -qAtX <"$in" >"$E2E_TMP/$1.out" 2>&1
	) &
	printf -v "_SESSION_PID_$1" '%s' "$!"
	eval "exec {_SESSION_FD_$1}>\"\$in\""
}
session_send() {
	local fd=_SESSION_FD_$1
	printf '%s\n' "$2" >&"${!fd}"
}
session_close() {
	local fd=_SESSION_FD_$1 pid=_SESSION_PID_$1
	eval "exec {$fd}>&-"
	wait "${!pid}"
}
# advisory_held KEY: whether some session holds advisory lock KEY (on app).
advisory_held() {
	[ "$(psql_ref -d app -tAc "SELECT count(*) FROM pg_locks
		WHERE locktype = 'advisory' AND objid = $1 AND granted")" -ge 1 ]
}

# executor_terminate: ends the executor's control session (every daemon's
# of the cluster: start one daemon), checking that there was one.
executor_terminate() {
	t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(pg_terminate_backend(pid))
		FROM pg_stat_activity WHERE application_name = 'pgqfs executor'")" 1 \
		"the executor's control connection is terminated"
}

# executor_linger LOG [INSTANCE=1 [keep]]: the executor's control session
# (of instance INSTANCE) ends while its old session seems to linger: a
# session of ours waits for the instance's advisory lock (shared) and gets
# it the moment the executor's session ends, as a session the server has
# not seen end would hold it.  Waits for the daemon (logging to LOG) to
# register a new instance, then lets the lock go, or with "keep" leaves
# it held by session holdINSTANCE (session_close holdINSTANCE lets go).
executor_linger() {
	local inst=${2:-1} before
	before=$(grep -Ec 'reconnected to the control database as instance [0-9]+$' "$1")
	session_open "hold$inst" pgqfs_ctl
	session_send "hold$inst" "SELECT 'held', pg_advisory_lock_shared(hashtext('pgqfs'), $inst);"
	_linger_waiting() {
		[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND objid = $inst AND NOT granted")" -ge 1 ]
	}
	t_ok "a session of ours waits for instance $inst's lock" wait_until 10 _linger_waiting
	executor_terminate
	_linger_new() {
		[ "$(grep -Ec 'reconnected to the control database as instance [0-9]+$' "$1")" -gt "$before" ]
	}
	t_ok "the daemon registers a new instance" wait_until 15 _linger_new "$1"
	[ "${3:-}" = keep ] || session_close "hold$inst"
}

# ran_tables: a database ref beside app, each with a table ran (tag text),
# for tasks that record that they ran (app) and their psql reference (ref).
ran_tables() {
	psql_ref -q -c 'CREATE DATABASE ref' >/dev/null || t_bail "cannot create database ref"
	for db in app ref; do
		psql_ref -d "$db" -q -c 'CREATE TABLE ran (tag text)' >/dev/null ||
			t_bail "cannot create table ran in $db"
	done
}

# ran_ended TAG ID: task ID has inserted TAG into app's ran and its
# session no longer carries its name: it ended on its target.
ran_ended() {
	[ "$(psql_ref -d app -tAc "SELECT count(*) FROM ran WHERE tag = '$1'")" = 1 ] &&
		[ "$(psql_ref -d app -tAc "SELECT count(*) FROM pg_stat_activity
			WHERE application_name = 'pgqfs task $2'")" = 0 ]
}

# tally_lock SESSION: session SESSION holds the control schema's tally
# table, so every progress batch waits on it (claims do not touch it).
tally_lock() {
	session_open "$1" pgqfs_ctl
	session_send "$1" "BEGIN; LOCK TABLE pgqfs.tally IN EXCLUSIVE MODE; SELECT 'locked';"
	t_ok "a session holds the tally table" wait_until 10 grep -q locked "$E2E_TMP/$1.out"
}

# executor_stuck: the executor's control session waits on a lock.
executor_stuck() {
	[ "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) FROM pg_stat_activity
		WHERE application_name = 'pgqfs executor' AND wait_event_type = 'Lock'")" = 1 ]
}

# role_daemons: a cluster and two daemons on one control database, a
# reaching it as its own role (pgqd), so that its new connections can be
# refused (role_refuse) while b's and ours are not (role_allow lets them
# in again).  Sets A (a's mount), INST (a's instance), W (a work
# directory) and W/whole.ref, psql's result of open_writer's whole file.
# It defines the test's pgqfs_config.
role_daemons() {
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
	INST=$(psql_ref -d pgqfs_ctl -tAc "SELECT id FROM pgqfs.instance
		WHERE pid = ${PGQFS_PID[a]}")
	[ -n "$INST" ] || t_bail "daemon a's instance is not registered"
	open_writer_whole "$W/whole.sql"
	psql_ref -d app -X -q --csv -v ON_ERROR_STOP=1 -f "$W/whole.sql" >"$W/whole.ref"
}
role_refuse() {
	local hba=$PG_DIR/data/pg_hba.conf
	[ -f "$hba.orig" ] || cp -p -- "$hba" "$hba.orig"
	{ printf 'local pgqfs_ctl pgqd reject\n'; cat -- "$hba.orig"; } >"$hba"
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
	_role_refused() { ! psql_ref -d pgqfs_ctl -U pgqd -tAc "SELECT 1" >/dev/null 2>&1; }
	t_ok "new connections of a's role are refused" wait_until 10 _role_refused
}
role_allow() {
	local hba=$PG_DIR/data/pg_hba.conf
	cp -p -- "$hba.orig" "$hba"
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -s reload >/dev/null
}

# recover_now: runs a recovery in the control database at once, as a
# daemon's would (no instance of its own); prints how many staged tasks it
# queued.
recover_now() {
	psql_ref -d pgqfs_ctl -qtAc "SET search_path = pgqfs; SELECT requeued FROM recover(0)"
}

# open_writer PATH GO OUT: starts, in the background (its pid in
# WRITER_PID), a writer that writes and fsyncs a first statement to PATH,
# creates OUT.ready, waits for the file GO, writes a second statement and
# closes; OUT gets "closed" or "error ERRNO".  open_writer_whole FILE
# writes both statements to FILE, as a reference.
open_writer() {
	python3 - "$@" <<'PY' &
import os, sys, time
os.closerange(3, 1024)	# sessions' pipes, inherited: they must see EOF
path, go, out = sys.argv[1:4]
fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
os.write(fd, b"SELECT 1 AS first;\n")
os.fsync(fd)
open(out + ".ready", "w").close()
while not os.path.exists(go):
    time.sleep(0.02)
try:
    os.write(fd, b"SELECT 2 AS second;\n")
    os.close(fd)
    how = "closed"
except OSError as e:
    how = "error %d" % e.errno
with open(out, "w") as f:
    f.write(how + "\n")
PY
	WRITER_PID=$!
}
# writer_finish NAME GO OUT REF: lets the last open_writer go on (GO) and
# checks that it closed its file, that task NAME then ran once, whole, with
# the result REF (psql's), as it is read through $MNT.
writer_finish() {
	local name=$1 id
	touch "$2"
	wait "$WRITER_PID"
	t_is "$(cat "$3")" closed "$name: the writer finishes and closes it"
	id=$(psql_ref -d pgqfs_ctl -tAc "SELECT id FROM pgqfs.task WHERE name = '$name'")
	t_is "$(task_wait "$id" 20)" done "$name: it runs"
	t_cmp "$4" "$MNT/tasks/$id/result" "$name: the whole file ran, as psql runs it"
	t_is "$(psql_ref -d pgqfs_ctl -tAc "SELECT count(*) || ' ' || max(attempt)
		FROM pgqfs.task WHERE name = '$name'")" "1 1" "$name: one task, run once"
}
open_writer_whole() {
	printf 'SELECT 1 AS first;\nSELECT 2 AS second;\n' >"$1"
}

# new_id: reserve a task id on $MNT.
new_id() {
	cat -- "$MNT/new-id"
}

# task_wait ID [TIMEOUT=60]: prints the task's final state (the `wait`
# file); fails when it does not finish within TIMEOUT seconds.
task_wait() {
	timeout "${2:-60}" cat -- "$MNT/tasks/$1/wait"
}

# all_in STATE ID...: whether every task ID is in STATE now.
all_in() {
	local want=$1 id
	shift
	for id; do
		[ "$(cat -- "$MNT/tasks/$id/state")" = "$want" ] || return 1
	done
}

# ms_before A B: whether time A (ms since the epoch) came before time B;
# false when either is unset or 0 (a time iso_ms could not read).
ms_before() {
	[ -n "$1" ] && [ -n "$2" ] && [ "$1" -gt 0 ] && [ "$1" -lt "$2" ]
}
