/* Unit tests of src/config.c: real files under /tmp, exact messages. */
#include "config.h"

#include <errno.h>
#include <ini.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"
#include "tap.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define KiB (UINT64_C(1) << 10)
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)
#define SEC UINT64_C(1000)
#define MIN (60 * SEC)
#define HOUR (60 * MIN)
#define DAY (24 * HOUR)

/* The longest line inih takes: its buffer "must be 3 more than the longest
 * line". */
#define MAX_LINE ((size_t)ini_max_line - 3)

static const char design_example[] =
	"[pgqfs]\n"
	"control = host=/var/run/postgresql dbname=pgqfs   ; conninfo of the control database\n"
	"schema = pgqfs\n"
	"workers = 32            ; 0 = no global cap\n"
	"max_task_bytes = 16MiB\n"
	"retention = 7d          ; finished tasks older than this are removed\n"
	"\n"
	"[target main]\n"
	"conninfo = dbname=app   ; libpq conninfo; PG* environment, service file and .pgpass apply\n"
	"max_workers = 8\n"
	"\n"
	"[pool default]\n"
	"target = main\n"
	"max_workers = 4\n";

/* Writes `len` bytes to a new file under /tmp; returns its malloc'ed name. */
static char *write_file(const char *content, size_t len)
{
	char *path = strdup("/tmp/pgqfs-test-config-XXXXXX.conf");
	int fd;

	if (!path) {
		perror("strdup");
		exit(2);
	}
	fd = mkstemps(path, 5);
	if (fd < 0 || write(fd, content, len) != (ssize_t)len || close(fd) < 0) {
		perror(path);
		exit(2);
	}
	return path;
}

static char *write_conf(const char *content)
{
	return write_file(content, strlen(content));
}

static void remove_file(char *path)
{
	(void)unlink(path);
	free(path);
}

/* Loads `content`; the caller destroys the result. */
static struct config *load_ok(const char *content, const char *name)
{
	struct config *cfg = NULL;
	char err[512] = "";
	char *path = write_conf(content);
	int r;

	r = config_load(path, &cfg, err, sizeof(err));
	if (!tap_ok(r == 0 && cfg, "%s: loads", name))
		printf("#   r = %d, err = '%s'\n", r, err);
	remove_file(path);
	return r == 0 ? cfg : NULL;
}

/* Line number of the first line of `content` that contains `marker`. */
static int line_of(const char *content, const char *marker)
{
	const char *hit = strstr(content, marker);
	const char *s;
	int line = 1;

	if (!hit) {
		printf("# marker '%s' not in the test's file\n", marker);
		exit(2);
	}
	for (s = content; s < hit; s++)
		line += *s == '\n';
	return line;
}

/*
 * Loads `len` bytes of `content` and checks that it fails with `want_r` and
 * exactly "PATH:LINE: msg", LINE being that of the first line containing
 * `at`, or "PATH: msg" when `at` is NULL.
 */
static void expect_error_len(const char *name, const char *content, size_t len,
			     const char *at, const char *msg, int want_r)
{
	struct config *cfg = NULL;
	char err[512] = "", want[1024];
	char *path = write_file(content, len);
	int r;

	if (at)
		snprintf(want, sizeof(want), "%s:%d: %s", path,
			 line_of(content, at), msg);
	else
		snprintf(want, sizeof(want), "%s: %s", path, msg);
	r = config_load(path, &cfg, err, sizeof(err));
	if (!tap_ok(r == want_r && !cfg, "%s: returns %d", name, want_r))
		printf("#   got %d\n", r);
	tap_is_str(err, want, name);
	config_destroy(cfg);
	remove_file(path);
}

static void expect_error(const char *name, const char *content, const char *at,
			 const char *msg)
{
	expect_error_len(name, content, strlen(content), at, msg, -EINVAL);
}

static void test_design_example(const char *content, const char *name)
{
	struct config *cfg = load_ok(content, name);
	const struct config_target *t;
	const struct config_pool *p;

	if (!cfg)
		return;
	tap_ok(cfg->path && strncmp(cfg->path, "/tmp/pgqfs-test-config-", 23) == 0,
	       "%s: path is the file's", name);
	tap_is_str(cfg->control, "host=/var/run/postgresql dbname=pgqfs",
		   "control, inline comment stripped");
	tap_is_str(cfg->schema, "pgqfs", "schema");
	tap_ok(cfg->workers == 32, "workers = 32");
	tap_ok(cfg->max_task_bytes == 16 * MiB, "max_task_bytes = 16MiB");
	tap_ok(cfg->retention_ms == 7 * DAY, "retention = 7d");
	tap_ok(cfg->n_targets == 1, "one target");
	tap_ok(cfg->n_pools == 1, "one pool");
	if (cfg->n_targets == 1 && cfg->n_pools == 1) {
		t = &cfg->targets[0];
		tap_is_str(t->name, "main", "target name");
		tap_is_str(t->conninfo, "dbname=app", "target conninfo");
		tap_ok(t->max_workers == 8, "target max_workers = 8");
		p = &cfg->pools[0];
		tap_is_str(p->name, "default", "pool name");
		tap_ok(p->target == 0, "pool's target is main");
		tap_ok(p->max_workers == 4, "pool max_workers = 4");
		tap_ok(!p->public, "pool not public");
		tap_ok(p->run_as == RUN_AS_TARGET, "pool runs as the target's role");
		tap_ok(config_find_pool(cfg, "default") == p, "find_pool(default)");
	}
	tap_ok(config_find_pool(cfg, "nope") == NULL, "find_pool(nope) = NULL");
	tap_ok(config_find_pool(cfg, "Default") == NULL,
	       "find_pool is case-sensitive");
	config_destroy(cfg);
}

static void test_indented_example(void)
{
	struct buf b = { 0 };
	const char *s;

	/* As DESIGN.md shows it: inih alone would read every indented line as
	 * a continuation of the key before it. */
	for (s = design_example; *s; s++) {
		if ((s == design_example || s[-1] == '\n') && *s != '\n' &&
		    buf_puts(&b, "    ") < 0)
			exit(2);
		if (buf_putc(&b, *s) < 0)
			exit(2);
	}
	test_design_example(buf_cstr(&b), "indented DESIGN example");
	buf_finish(&b);
}

#define PGQFS_ONLY "[pgqfs]\ncontrol = dbname=pgqfs\n"
#define TARGET_POOL "[target t]\nconninfo = dbname=app\n[pool p]\ntarget = t\n"

static void test_defaults(void)
{
	struct config *cfg = load_ok(
		"[pgqfs]\n"
		"control = dbname=pgqfs\n"
		"[target t]\n"
		"conninfo = dbname=app\n"
		"[pool p]\n"
		"target = t\n", "minimal file");

	if (!cfg)
		return;
	tap_is_str(cfg->schema, "pgqfs", "default schema");
	tap_ok(cfg->workers == 32, "default workers 32");
	tap_ok(cfg->max_task_bytes == 16 * MiB, "default max_task_bytes 16MiB");
	tap_ok(cfg->retention_ms == 7 * DAY, "default retention 7d");
	tap_ok(cfg->targets[0].max_workers == 8, "default target max_workers 8");
	tap_ok(cfg->pools[0].max_workers == 8,
	       "pool max_workers defaults to the target's");
	tap_ok(!cfg->pools[0].public, "default public = no");
	tap_ok(cfg->pools[0].run_as == RUN_AS_TARGET, "default run_as = target");
	tap_ok(cfg->max_pending_bytes_per_user == 64 * MiB,
	       "default max_pending_bytes_per_user 64MiB");
	tap_ok(cfg->max_pending_bytes == 256 * MiB,
	       "default max_pending_bytes 256MiB");
	tap_ok(cfg->max_reserved_ids_per_user == 1000,
	       "default max_reserved_ids_per_user 1000");
	tap_ok(cfg->request_timeout_ms == 10 * SEC, "default request_timeout 10s");
	tap_ok(cfg->connect_timeout_ms == 10 * SEC, "default connect_timeout 10s");
	tap_ok(cfg->max_result_bytes == GiB, "default max_result_bytes 1GiB");
	tap_ok(cfg->pools[0].max_result_bytes == GiB,
	       "pool max_result_bytes defaults to [pgqfs]'s");
	config_destroy(cfg);
}

/* The caps that keep users from exhausting the daemon, and the deadlines. */
static void test_limits(void)
{
	struct config *cfg;

	cfg = load_ok("[pgqfs]\n"
		      "control = dbname=pgqfs\n"
		      "max_pending_bytes_per_user = 16MiB\n"
		      "max_pending_bytes = 16MiB\n"
		      "max_reserved_ids_per_user = 1\n"
		      "request_timeout = 1ms\n"
		      "connect_timeout = 1s\n"
		      "max_result_bytes = 0\n"
		      "[target t]\nconninfo = dbname=app\n"
		      "[pool inherits]\ntarget = t\n"
		      "[pool own]\ntarget = t\nmax_result_bytes = 100kB\n"
		      "[pool capped]\ntarget = t\nmax_result_bytes = 1\n",
		      "limits at their lower bounds");
	if (cfg) {
		tap_ok(cfg->max_pending_bytes_per_user == 16 * MiB &&
		       cfg->max_pending_bytes == 16 * MiB,
		       "per-user cap = total cap = max_task_bytes is allowed");
		tap_ok(cfg->max_reserved_ids_per_user == 1,
		       "max_reserved_ids_per_user = 1");
		tap_ok(cfg->request_timeout_ms == 1, "request_timeout = 1ms");
		tap_ok(cfg->connect_timeout_ms == SEC, "connect_timeout = 1s");
		tap_ok(cfg->max_result_bytes == 0, "max_result_bytes = 0 (no cap)");
		tap_ok(cfg->pools[0].max_result_bytes == 0,
		       "a pool inherits [pgqfs]'s max_result_bytes");
		tap_ok(cfg->pools[1].max_result_bytes == 100000,
		       "a pool's own max_result_bytes wins");
		tap_ok(cfg->pools[2].max_result_bytes == 1, "max_result_bytes = 1");
		config_destroy(cfg);
	}

	cfg = load_ok("[pool p]\ntarget = t\nmax_result_bytes = 0\n"
		      "[pool q]\ntarget = t\n"
		      "[target t]\nconninfo = dbname=app\n"
		      "[pgqfs]\ncontrol = dbname=pgqfs\n"
		      "request_timeout = 1h\nconnect_timeout = 60m\n"
		      "max_result_bytes = 2TiB\n",
		      "limits at their upper bounds, [pgqfs] last");
	if (cfg) {
		tap_ok(cfg->request_timeout_ms == HOUR &&
		       cfg->connect_timeout_ms == HOUR, "timeouts of 1h");
		tap_ok(cfg->max_result_bytes == 2048 * GiB &&
		       cfg->pools[0].max_result_bytes == 0,
		       "a pool's 0 (no cap) beats [pgqfs]'s 2TiB");
		tap_ok(cfg->pools[1].max_result_bytes == 2048 * GiB,
		       "a pool before [pgqfs] inherits its max_result_bytes");
		config_destroy(cfg);
	}

	/* Caps not set follow the ones that were. */
	cfg = load_ok(PGQFS_ONLY "max_task_bytes = 1GiB\n" TARGET_POOL,
		      "max_task_bytes = 1GiB alone");
	if (cfg) {
		tap_ok(cfg->max_pending_bytes_per_user == GiB &&
		       cfg->max_pending_bytes == GiB,
		       "the pending caps rise to max_task_bytes");
		config_destroy(cfg);
	}
	cfg = load_ok(PGQFS_ONLY "max_pending_bytes_per_user = 1GiB\n" TARGET_POOL,
		      "max_pending_bytes_per_user = 1GiB alone");
	if (cfg) {
		tap_ok(cfg->max_pending_bytes == GiB,
		       "max_pending_bytes rises to the per-user cap");
		config_destroy(cfg);
	}
	cfg = load_ok(PGQFS_ONLY "max_pending_bytes = 20MiB\n" TARGET_POOL,
		      "max_pending_bytes = 20MiB alone");
	if (cfg) {
		tap_ok(cfg->max_pending_bytes_per_user == 20 * MiB &&
		       cfg->max_pending_bytes == 20 * MiB,
		       "the per-user cap falls to max_pending_bytes");
		config_destroy(cfg);
	}
	cfg = load_ok(PGQFS_ONLY "max_pending_bytes_per_user = 1MiB\n"
		      "max_task_bytes = 1MiB\nmax_pending_bytes = 2MiB\n" TARGET_POOL,
		      "small pending caps");
	if (cfg) {
		tap_ok(cfg->max_pending_bytes_per_user == MiB &&
		       cfg->max_pending_bytes == 2 * MiB && cfg->max_task_bytes == MiB,
		       "small caps kept as set");
		config_destroy(cfg);
	}
}

static void test_several(void)
{
	static const char name63[] =
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789A";
	struct config *cfg;
	char conf[2048];
	const struct config_pool *p;

	/* Pools before their targets, names past inih's 49-byte section
	 * limit that differ only at the end, spacing in headers, ':' as
	 * separator, '#' comments, values with '=' in them. */
	snprintf(conf, sizeof(conf),
		 "# comment\n"
		 "; comment\n"
		 "[pool  %sX]\n"
		 "target = b\n"
		 "public = yes\n"
		 "run_as = submitter\n"
		 "[ pool %sY ]   ; comment\n"
		 "target: a.1\n"
		 "max_workers = 2\n"
		 "public = OFF\n"
		 "[pool p-3]\n"
		 "target = b\n"
		 "public = 1\n"
		 "timeout = 90s\n"
		 "run_as = target\n"
		 "[pgqfs]\n"
		 "control = service=pgqfs\n"
		 "workers = 0\n"
		 "max_task_bytes = 1GiB\n"
		 "retention = 250ms\n"
		 "schema = my_queue2\n"
		 "[target a.1]\n"
		 "conninfo = host=h port=5433 options='-c statement_timeout=0'\n"
		 "[target b]\n"
		 "max_workers = 3\n"
		 "conninfo = dbname=b\n",
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789",
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789");
	cfg = load_ok(conf, "several targets and pools");
	if (!cfg)
		return;
	tap_ok(cfg->workers == 0, "workers = 0 (no cap)");
	tap_ok(cfg->max_task_bytes == GiB, "max_task_bytes = 1GiB");
	tap_ok(cfg->retention_ms == 250, "retention = 250ms");
	tap_is_str(cfg->schema, "my_queue2", "schema");
	tap_is_str(cfg->control, "service=pgqfs", "control");
	tap_ok(cfg->n_targets == 2 && cfg->n_pools == 3, "2 targets, 3 pools");
	if (cfg->n_targets != 2 || cfg->n_pools != 3) {
		config_destroy(cfg);
		return;
	}
	tap_is_str(cfg->targets[0].name, "a.1", "targets in file order");
	tap_is_str(cfg->targets[0].conninfo,
		   "host=h port=5433 options='-c statement_timeout=0'",
		   "conninfo keeps '=' and quotes");
	tap_ok(cfg->targets[1].max_workers == 3, "target b max_workers 3");
	tap_ok(strlen(cfg->pools[0].name) == 63 && cfg->pools[0].name[62] == 'X',
	       "63-character pool name kept whole");
	tap_ok(cfg->pools[0].target == 1 && cfg->pools[0].max_workers == 3 &&
	       cfg->pools[0].public,
	       "pool X: target b, max_workers from b, public");
	tap_ok(cfg->pools[1].target == 0 && cfg->pools[1].max_workers == 2 &&
	       !cfg->pools[1].public,
	       "pool Y ('[ pool NAME ]'): target a.1, max_workers 2, public OFF");
	p = config_find_pool(cfg, "p-3");
	tap_ok(p == &cfg->pools[2] && p->public && p->target == 1,
	       "find_pool(p-3), public = 1");
	tap_ok(p && p->timeout_ms == 90000, "pool timeout = 90s");
	tap_ok(cfg->pools[0].timeout_ms == 0, "pool timeout defaults to none");
	tap_ok(cfg->pools[0].run_as == RUN_AS_SUBMITTER, "pool X: run_as = submitter");
	tap_ok(cfg->pools[1].run_as == RUN_AS_TARGET, "pool Y: run_as defaults to target");
	tap_ok(p && p->run_as == RUN_AS_TARGET, "pool p-3: run_as = target");
	tap_ok(config_find_pool(cfg, name63) == NULL,
	       "a prefix of a pool name is not that pool");
	config_destroy(cfg);
}

static void test_crlf_bom(void)
{
	struct config *cfg = load_ok(
		"\xEF\xBB\xBF[pgqfs]\r\n"
		"control = dbname=pgqfs\r\n"
		"workers = 7\r\n"
		"[target t]\r\n"
		"conninfo = dbname=app\r\n"
		"[pool p]\r\n"
		"target = t", "CRLF, BOM, no final newline");

	if (!cfg)
		return;
	tap_ok(cfg->workers == 7 && strcmp(cfg->pools[0].name, "p") == 0 &&
	       strcmp(cfg->control, "dbname=pgqfs") == 0,
	       "CRLF file read right");
	config_destroy(cfg);
}

#define PGQFS "[pgqfs]\ncontrol = dbname=pgqfs\n"
#define TARGET "[target main]\nconninfo = dbname=app\n"
#define POOL "[pool default]\ntarget = main\n"

static void test_errors(void)
{
	static const struct {
		const char *name;
		const char *content;
		const char *at;		/* a text on the error line; NULL = none */
		const char *msg;
	} cases[] = {
		{ "unknown key", PGQFS TARGET POOL "max_worker = 4\n",
		  "max_worker", "unknown key 'max_worker' in [pool default]" },
		{ "keys are case-sensitive", "[pgqfs]\nControl = x\n" TARGET POOL,
		  "Control", "unknown key 'Control' in [pgqfs]" },
		{ "key of another section", PGQFS "conninfo = x\n" TARGET POOL,
		  "conninfo = x", "unknown key 'conninfo' in [pgqfs]" },
		{ "key before any section", "control = x\n" PGQFS TARGET POOL,
		  "control = x", "key 'control' before any [section]" },
		{ "workers abc", "[pgqfs]\ncontrol = x\nworkers = abc\n" TARGET POOL,
		  "workers", "bad value for workers: 'abc' (expected a whole number >= 0)" },
		{ "workers -1", PGQFS "workers = -1\n" TARGET POOL, "workers",
		  "bad value for workers: '-1' (expected a whole number >= 0)" },
		{ "workers overflow", PGQFS "workers = 2147483648\n" TARGET POOL,
		  "workers", "bad value for workers: '2147483648' (expected a whole number >= 0)" },
		{ "'#' after a value", PGQFS "workers = 32 # all\n" TARGET POOL,
		  "workers", "bad value for workers: '32 # all' (expected a whole number >= 0); inline comments start with ';', not '#'" },
		{ "max_task_bytes 0", PGQFS "max_task_bytes = 0\n" TARGET POOL,
		  "max_task_bytes", "bad value for max_task_bytes: '0' (must be at least 1 byte and at most 1GiB)" },
		{ "max_task_bytes 2GiB", PGQFS "max_task_bytes = 2GiB\n" TARGET POOL,
		  "max_task_bytes", "bad value for max_task_bytes: '2GiB' (must be at least 1 byte and at most 1GiB)" },
		{ "max_task_bytes 1GiB+1", PGQFS "max_task_bytes = 1073741825\n" TARGET POOL,
		  "max_task_bytes", "bad value for max_task_bytes: '1073741825' (must be at least 1 byte and at most 1GiB)" },
		{ "max_task_bytes fraction", PGQFS "max_task_bytes = 1.5MiB\n" TARGET POOL,
		  "max_task_bytes", "bad value for max_task_bytes: '1.5MiB' (expected a size such as 16MiB, 512KiB, 100kB or 4096)" },
		{ "retention 0", PGQFS "retention = 0d\n" TARGET POOL, "retention",
		  "bad value for retention: '0d' (must be more than 0)" },
		{ "retention days", PGQFS "retention = 7 days\n" TARGET POOL, "retention",
		  "bad value for retention: '7 days' (expected a duration such as 7d, 12h, 30m, 90s or 250ms)" },
		{ "conninfo libpq cannot parse", PGQFS "[target main]\nconninfo = host=db password secret\n" POOL,
		  "password secret", "bad value for conninfo: libpq cannot parse it as a connection string (its text is not shown: it may hold a password)" },
		{ "control libpq cannot parse", "[pgqfs]\ncontrol = dbname='unterminated\n" TARGET POOL,
		  "unterminated", "bad value for control: libpq cannot parse it as a connection string (its text is not shown: it may hold a password)" },
		{ "schema 58", PGQFS "schema = abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz012345\n" TARGET POOL, "schema",
		  "bad value for schema: 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz012345' (expected a lowercase SQL identifier of at most 57 characters: a-z, 0-9 and _, not starting with a digit)" },
		{ "schema", PGQFS "schema = Pg-Qfs\n" TARGET POOL, "schema",
		  "bad value for schema: 'Pg-Qfs' (expected a lowercase SQL identifier of at most 57 characters: a-z, 0-9 and _, not starting with a digit)" },
		{ "target max_workers 0", PGQFS TARGET "max_workers = 0\n" POOL,
		  "max_workers", "bad value for max_workers: '0' (expected a whole number >= 1)" },
		{ "pool max_workers 0", PGQFS TARGET POOL "max_workers = 0\n",
		  "max_workers", "bad value for max_workers: '0' (expected a whole number >= 1)" },
		{ "run_as user", PGQFS TARGET POOL "run_as = user\n", "run_as",
		  "bad value for run_as: 'user' (expected target or submitter)" },
		{ "run_as Submitter", PGQFS TARGET POOL "run_as = Submitter\n", "run_as",
		  "bad value for run_as: 'Submitter' (expected target or submitter)" },
		{ "run_as in a target", PGQFS TARGET "run_as = submitter\n" POOL, "run_as",
		  "unknown key 'run_as' in [target main]" },
		{ "pool timeout words", PGQFS TARGET POOL "timeout = 5 minutes\n", "timeout",
		  "bad value for timeout: '5 minutes' (expected a duration such as 30s, 10m or 2h (0: none))" },
		{ "max_pending_bytes_per_user 0", PGQFS "max_pending_bytes_per_user = 0\n" TARGET POOL,
		  "max_pending_bytes_per_user", "bad value for max_pending_bytes_per_user: '0' (must be at least 1 byte)" },
		{ "max_pending_bytes_per_user words", PGQFS "max_pending_bytes_per_user = lots\n" TARGET POOL,
		  "max_pending_bytes_per_user", "bad value for max_pending_bytes_per_user: 'lots' (expected a size such as 16MiB, 512KiB, 100kB or 4096)" },
		{ "max_pending_bytes 0", PGQFS "max_pending_bytes = 0MiB\n" TARGET POOL,
		  "max_pending_bytes", "bad value for max_pending_bytes: '0MiB' (must be at least 1 byte)" },
		{ "max_pending_bytes -1", PGQFS "max_pending_bytes = -1\n" TARGET POOL,
		  "max_pending_bytes", "bad value for max_pending_bytes: '-1' (expected a size such as 16MiB, 512KiB, 100kB or 4096)" },
		{ "per-user cap above the total", PGQFS "max_pending_bytes = 100MiB\n"
		  "max_pending_bytes_per_user = 200MiB\n" TARGET POOL, "max_pending_bytes =",
		  "max_pending_bytes (100MiB) is less than max_pending_bytes_per_user (200MiB): the total cap must be at least the per-user one" },
		{ "per-user cap below max_task_bytes", PGQFS "max_pending_bytes_per_user = 1000kB\n"
		  "max_task_bytes = 1MiB\n" TARGET POOL, "max_pending_bytes_per_user",
		  "max_pending_bytes_per_user (1000000) is less than max_task_bytes (1MiB): a file of max_task_bytes could never be written" },
		{ "per-user cap below default max_task_bytes", PGQFS "max_pending_bytes_per_user = 1MiB\n" TARGET POOL,
		  "max_pending_bytes_per_user",
		  "max_pending_bytes_per_user (1MiB) is less than max_task_bytes (16MiB): a file of max_task_bytes could never be written" },
		{ "total cap below max_task_bytes", PGQFS "max_task_bytes = 1GiB\nmax_pending_bytes = 512MiB\n" TARGET POOL,
		  "max_pending_bytes", "max_pending_bytes (512MiB) is less than max_task_bytes (1GiB): a file of max_task_bytes could never be written" },
		{ "total cap below default max_task_bytes", PGQFS "max_pending_bytes = 1536KiB\n" TARGET POOL,
		  "max_pending_bytes",
		  "max_pending_bytes (1536KiB) is less than max_task_bytes (16MiB): a file of max_task_bytes could never be written" },
		{ "max_reserved_ids_per_user 0", PGQFS "max_reserved_ids_per_user = 0\n" TARGET POOL,
		  "max_reserved_ids_per_user", "bad value for max_reserved_ids_per_user: '0' (expected a whole number >= 1)" },
		{ "max_reserved_ids_per_user size", PGQFS "max_reserved_ids_per_user = 1k\n" TARGET POOL,
		  "max_reserved_ids_per_user", "bad value for max_reserved_ids_per_user: '1k' (expected a whole number >= 1)" },
		{ "request_timeout 0", PGQFS "request_timeout = 0s\n" TARGET POOL,
		  "request_timeout", "bad value for request_timeout: '0s' (must be more than 0 and at most 1h)" },
		{ "request_timeout 61m", PGQFS "request_timeout = 61m\n" TARGET POOL,
		  "request_timeout", "bad value for request_timeout: '61m' (must be more than 0 and at most 1h)" },
		{ "request_timeout words", PGQFS "request_timeout = 10 seconds\n" TARGET POOL,
		  "request_timeout", "bad value for request_timeout: '10 seconds' (expected a duration such as 10s, 500ms or 1m)" },
		{ "connect_timeout 999ms", PGQFS "connect_timeout = 999ms\n" TARGET POOL,
		  "connect_timeout", "bad value for connect_timeout: '999ms' (must be at least 1s and at most 1h)" },
		{ "connect_timeout 0", PGQFS "connect_timeout = 0\n" TARGET POOL,
		  "connect_timeout", "bad value for connect_timeout: '0' (must be at least 1s and at most 1h)" },
		{ "connect_timeout 2h", PGQFS "connect_timeout = 2h\n" TARGET POOL,
		  "connect_timeout", "bad value for connect_timeout: '2h' (must be at least 1s and at most 1h)" },
		{ "max_result_bytes fraction", PGQFS "max_result_bytes = 0.5GiB\n" TARGET POOL,
		  "max_result_bytes", "bad value for max_result_bytes: '0.5GiB' (expected a size such as 16MiB, 512KiB, 100kB or 4096)" },
		{ "pool max_result_bytes with '#'", PGQFS TARGET POOL "max_result_bytes = 1GiB # cap\n",
		  "max_result_bytes", "bad value for max_result_bytes: '1GiB # cap' (expected a size such as 16MiB, 512KiB, 100kB or 4096); inline comments start with ';', not '#'" },
		{ "max_result_bytes past 1PiB", PGQFS "max_result_bytes = 2048TiB\n" TARGET POOL,
		  "max_result_bytes", "bad value for max_result_bytes: '2048TiB' (0 = no cap, at most 1PiB)" },
		{ "pool max_result_bytes twice", PGQFS TARGET POOL "max_result_bytes = 1\nmax_result_bytes = 2\n",
		  "max_result_bytes = 2", "'max_result_bytes' is set twice in [pool default] (first at line 7)" },
		{ "request_timeout in a pool", PGQFS TARGET POOL "request_timeout = 1s\n",
		  "request_timeout", "unknown key 'request_timeout' in [pool default]" },
		{ "public maybe", PGQFS TARGET POOL "public = maybe\n", "public",
		  "bad value for public: 'maybe' (expected yes/no, true/false, on/off or 1/0)" },
		{ "empty value", "[pgqfs]\ncontrol =\n" TARGET POOL, "control",
		  "empty value for control in [pgqfs]" },
		{ "empty value after comment strip", PGQFS "[target main]\nconninfo = ; later\n" POOL,
		  "; later", "empty value for conninfo in [target main]" },
		{ "key set twice in a target", PGQFS TARGET "conninfo = dbname=other\n" POOL,
		  "dbname=other", "'conninfo' is set twice in [target main] (first at line 4)" },
		{ "key set twice", PGQFS "workers = 1\nworkers = 2\n" TARGET POOL,
		  "workers = 2", "'workers' is set twice in [pgqfs] (first at line 3)" },
		{ "key set twice in a second [pgqfs]", PGQFS TARGET POOL "[pgqfs]\nworkers = 2\n",
		  "[pgqfs]\nworkers", "duplicate [pgqfs] (first at line 1)" },
		{ "duplicate pool", PGQFS TARGET POOL "[pool  default]\ntarget = main\n",
		  "[pool  default]", "duplicate [pool default] (first at line 5)" },
		{ "duplicate target", PGQFS TARGET "[target main]\n" POOL,
		  "[target main]\n[pool", "duplicate [target main] (first at line 3)" },
		{ "unknown section", PGQFS "[foo]\n" TARGET POOL, "[foo]",
		  "unknown section [foo] (expected [pgqfs], [target NAME] or [pool NAME])" },
		{ "sections are case-sensitive", PGQFS TARGET "[Pool default]\n",
		  "[Pool", "unknown section [Pool default] (expected [pgqfs], [target NAME] or [pool NAME])" },
		{ "pool without name", PGQFS TARGET "[pool]\ntarget = main\n",
		  "[pool]", "[pool] needs a name, as in [pool NAME]" },
		{ "empty pool without name", PGQFS TARGET POOL "[pool ]\n",
		  "[pool ]", "[pool] needs a name, as in [pool NAME]" },
		{ "target without name", PGQFS "[target]\n" POOL, "[target]",
		  "[target] needs a name, as in [target NAME]" },
		{ "pgqfs with a name", "[pgqfs main]\ncontrol = x\n" TARGET POOL,
		  "[pgqfs", "[pgqfs] takes no name" },
		{ "pool name with '/'", PGQFS TARGET "[pool a/b]\n", "[pool a/b]",
		  "bad pool name 'a/b' (expected 1-63 characters of A-Z a-z 0-9 _ . -, not starting with '.')" },
		{ "pool name with a space", PGQFS TARGET "[pool a b]\n", "[pool a b]",
		  "bad pool name 'a b' (expected 1-63 characters of A-Z a-z 0-9 _ . -, not starting with '.')" },
		{ "pool name '..'", PGQFS TARGET "[pool ..]\n", "[pool ..]",
		  "bad pool name '..' (expected 1-63 characters of A-Z a-z 0-9 _ . -, not starting with '.')" },
		{ "pool name '.x'", PGQFS TARGET "[pool .x]\n", "[pool .x]",
		  "bad pool name '.x' (expected 1-63 characters of A-Z a-z 0-9 _ . -, not starting with '.')" },
		{ "target name of 64", PGQFS "[target abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789AB]\n",
		  "[target", "bad target name 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz0123456789AB' (expected 1-63 characters of A-Z a-z 0-9 _ . -, not starting with '.')" },
		{ "unknown target", PGQFS TARGET "[pool x]\nmax_workers = 2\ntarget = nope\n"
		  "public = yes\n", "target = nope", "pool 'x' names unknown target 'nope'" },
		{ "missing control", "[pgqfs]\nworkers = 4\n" TARGET POOL, "[pgqfs]",
		  "missing required key 'control' in [pgqfs]" },
		{ "missing conninfo", PGQFS "[target main]\nmax_workers = 2\n" POOL,
		  "[target main]", "missing required key 'conninfo' in [target main]" },
		{ "missing pool target", PGQFS TARGET "[pool default]\n",
		  "[pool default]", "missing required key 'target' in [pool default]" },
		{ "no pool", PGQFS TARGET, NULL, "no [pool] section" },
		{ "no pgqfs", TARGET POOL, NULL, "no [pgqfs] section" },
		{ "empty file", "", NULL, "no [pgqfs] section" },
		{ "line without '='", PGQFS "workers 32\n" TARGET POOL, "workers 32",
		  "syntax error: expected 'key = value', '[section]' or a comment" },
		{ "'=' only in a comment", PGQFS "workers ; = 32\n" TARGET POOL, "workers ;",
		  "syntax error: expected 'key = value', '[section]' or a comment" },
		{ "unclosed '['", PGQFS "[target main\n" POOL, "[target main",
		  "missing ']' in section header" },
		{ "text after ']'", PGQFS "[target main] x\n" POOL, "[target main]",
		  "unexpected text after ']'" },
		{ "continuation line", PGQFS TARGET "  password=secret\n" POOL,
		  "password", "unknown key 'password' in [target main]" },
	};
	size_t i;

	for (i = 0; i < ARRAY_SIZE(cases); i++)
		expect_error(cases[i].name, cases[i].content, cases[i].at,
			     cases[i].msg);

	expect_error_len("NUL byte", PGQFS "work\0ers = 1\n" TARGET POOL,
			 sizeof(PGQFS "work\0ers = 1\n" TARGET POOL) - 1, "work",
			 "NUL byte in line (is this a text file?)", -EINVAL);
}

static void test_long_lines(void)
{
	static const char long_conninfo[] =
		"conninfo = host=db1.internal.example.com,db2.internal.example.com,db3.internal.example.com "
		"port=5432,5432,5432 dbname=app user=app_writer target_session_attrs=read-write "
		"sslmode=verify-full sslrootcert=/etc/pgqfs/root.crt connect_timeout=10\n";
	char msg[256], conf[1024], line[512];
	struct config *cfg;
	size_t n;

	printf("# inih's line buffer: %d bytes, so lines of up to %zu\n",
	       ini_max_line, MAX_LINE);
	snprintf(msg, sizeof(msg),
		 "line is longer than %zu bytes; put a long conninfo in a libpq service file (service=NAME)",
		 MAX_LINE);
	tap_ok(strlen(long_conninfo) - 1 > MAX_LINE, "the conninfo line is long");

	snprintf(conf, sizeof(conf), PGQFS "[target main]\n%s" POOL,
		 long_conninfo);
	expect_error("long conninfo", conf, "conninfo", msg);
	/* Errors are reported in file order: the long line, then the rest. */
	snprintf(conf, sizeof(conf), PGQFS "# a comment\n[target main]\n%sxyz\n" POOL,
		 long_conninfo);
	expect_error("long conninfo before a syntax error", conf, "conninfo", msg);

	/* Exactly the limit passes, whole; one more byte does not. */
	n = (size_t)snprintf(line, sizeof(line), "conninfo = dbname=");
	while (n < MAX_LINE)
		line[n++] = 'a';
	line[n] = '\0';
	snprintf(conf, sizeof(conf), PGQFS "[target main]\n%s\r\n" POOL, line);
	cfg = load_ok(conf, "line of the longest length inih takes, CRLF");
	tap_ok(cfg && strlen(cfg->targets[0].conninfo) == MAX_LINE - 11,
	       "its value is whole");
	config_destroy(cfg);

	snprintf(conf, sizeof(conf), PGQFS "[target main]\n%sa\n" POOL, line);
	expect_error("line one byte too long", conf, "conninfo", msg);
	snprintf(conf, sizeof(conf), PGQFS "[target main]\n;%s\n" POOL, line);
	expect_error("comment one byte too long", conf, "conninfo", msg);
}

static void test_files(void)
{
	struct config *cfg = (struct config *)&cfg;
	char err[512], want[600], small[8];
	const char *missing = "/tmp/pgqfs-test-config-does-not-exist.conf";
	char dir[] = "/tmp/pgqfs-test-config-XXXXXX";
	char *path;
	int r;

	r = config_load(missing, &cfg, err, sizeof(err));
	tap_ok(r == -ENOENT, "missing file: -ENOENT");
	tap_ok(cfg == (struct config *)&cfg, "missing file: *ret untouched");
	snprintf(want, sizeof(want), "%s: cannot open: %s", missing,
		 strerror(ENOENT));
	tap_is_str(err, want, "missing file: message");

	if (!mkdtemp(dir)) {
		perror("mkdtemp");
		exit(2);
	}
	cfg = NULL;
	r = config_load(dir, &cfg, err, sizeof(err));
	snprintf(want, sizeof(want), "%s: cannot read: %s", dir,
		 strerror(EISDIR));
	tap_ok(r == -EISDIR && !cfg, "directory: -EISDIR");
	tap_is_str(err, want, "directory: message");
	(void)rmdir(dir);

	path = write_conf(PGQFS);
	r = config_load(path, &cfg, small, sizeof(small));
	tap_ok(r == -EINVAL && strlen(small) == sizeof(small) - 1 &&
	       strncmp(small, path, sizeof(small) - 1) == 0,
	       "a short err buffer gets a truncated message");
	r = config_load(path, &cfg, NULL, 0);
	tap_ok(r == -EINVAL && !cfg, "no err buffer");
	remove_file(path);

	config_destroy(NULL);
	tap_ok(1, "config_destroy(NULL)");
}

static void test_example_file(void)
{
	static const char *const keys[] = {
		"control", "schema", "workers", "max_task_bytes", "retention",
		"max_pending_bytes_per_user", "max_pending_bytes",
		"max_reserved_ids_per_user", "request_timeout", "connect_timeout",
		"max_result_bytes", "conninfo", "max_workers", "target", "public",
		"timeout",
	};
	const char *srcdir = getenv("SRCDIR");
	struct config *cfg = NULL;
	char path[4096], err[512] = "", text[16384], key[64];
	FILE *f;
	size_t len, i;
	int r;

	snprintf(path, sizeof(path), "%s/../config/pgqfs.conf",
		 srcdir ? srcdir : "tests");
	r = config_load(path, &cfg, err, sizeof(err));
	if (!tap_ok(r == 0 && cfg, "config/pgqfs.conf loads"))
		printf("#   r = %d, err = '%s'\n", r, err);
	if (cfg) {
		tap_ok(strcmp(cfg->control, "host=/var/run/postgresql dbname=pgqfs") == 0 &&
		       strcmp(cfg->schema, "pgqfs") == 0 && cfg->workers == 32 &&
		       cfg->max_task_bytes == 16 * MiB &&
		       cfg->retention_ms == 7 * DAY && cfg->n_targets == 1 &&
		       cfg->targets[0].max_workers == 8 &&
		       strcmp(cfg->targets[0].conninfo, "dbname=app") == 0 &&
		       cfg->n_pools == 1 && cfg->pools[0].max_workers == 4 &&
		       !cfg->pools[0].public && config_find_pool(cfg, "default"),
		       "config/pgqfs.conf has DESIGN.md's values");
		tap_ok(cfg->max_pending_bytes_per_user == 64 * MiB &&
		       cfg->max_pending_bytes == 256 * MiB &&
		       cfg->max_reserved_ids_per_user == 1000 &&
		       cfg->request_timeout_ms == 10 * SEC &&
		       cfg->connect_timeout_ms == 10 * SEC &&
		       cfg->max_result_bytes == GiB &&
		       cfg->pools[0].max_result_bytes == GiB,
		       "config/pgqfs.conf's limits are the defaults");
		config_destroy(cfg);
	}

	/* Every key is documented there, as "KEY (" or set as "KEY =". */
	f = fopen(path, "r");
	len = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[len] = '\0';
	if (f)
		fclose(f);
	for (i = 0; i < ARRAY_SIZE(keys); i++) {
		snprintf(key, sizeof(key), "; %s (", keys[i]);
		tap_ok(strstr(text, key) != NULL,
		       "config/pgqfs.conf documents '%s'", keys[i]);
	}
}

static void test_sizes(void)
{
	static const struct {
		const char *s;
		uint64_t bytes;
	} good[] = {
		{ "0", 0 }, { "4096", 4096 }, { "1B", 1 }, { "100kB", 100000 },
		{ "10MB", 10000000 }, { "1GB", 1000000000 },
		{ "1TB", UINT64_C(1000000000000) }, { "512KiB", 512 * KiB },
		{ "16MiB", 16 * MiB }, { "1GiB", GiB }, { "2TiB", 2048 * GiB },
		{ "512K", 512 * KiB }, { "16M", 16 * MiB }, { "1G", GiB },
		{ "16 MiB", 16 * MiB }, { "007", 7 },
		{ "18446744073709551615", UINT64_MAX },
		{ "16777215T", UINT64_C(16777215) << 40 },
	};
	static const char *const bad[] = {
		"", " ", "MiB", "-1", "+1", "1.5MiB", "1,5M", "16mib", "16KB",
		"16MiBs", "16 ", " 16", "16 MiB x", "0x10", "1e3",
		"18446744073709551616", "16777216T", "17179869184G",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = 0;
		tap_ok(config_parse_size(good[i].s, &v) == 0 && v == good[i].bytes,
		       "size '%s' = %" PRIu64, good[i].s, good[i].bytes);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		tap_ok(config_parse_size(bad[i], &v) == -EINVAL && v == 42,
		       "size '%s' refused, result untouched", bad[i]);
	}
}

static void test_durations(void)
{
	static const struct {
		const char *s;
		uint64_t ms;
	} good[] = {
		{ "0", 0 }, { "90", 90 * SEC }, { "250ms", 250 }, { "30s", 30 * SEC },
		{ "5m", 5 * MIN }, { "5min", 5 * MIN }, { "2h", 2 * HOUR },
		{ "7d", 7 * DAY }, { "1w", 7 * DAY }, { "7 d", 7 * DAY },
		{ "18446744073709551615ms", UINT64_MAX },
		{ "18446744073709551s", UINT64_C(18446744073709551000) },
	};
	static const char *const bad[] = {
		"", "d", "-1s", "1.5h", "7days", "7D", "1y", "7d ", "1h30m",
		"5 ", "18446744073709552s", "18446744073709552",
		"18446744073709551616ms", "30500000000000w",
	};
	uint64_t v;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(good); i++) {
		v = 1;
		tap_ok(config_parse_duration(good[i].s, &v) == 0 && v == good[i].ms,
		       "duration '%s' = %" PRIu64 " ms", good[i].s, good[i].ms);
	}
	for (i = 0; i < ARRAY_SIZE(bad); i++) {
		v = 42;
		tap_ok(config_parse_duration(bad[i], &v) == -EINVAL && v == 42,
		       "duration '%s' refused, result untouched", bad[i]);
	}
}

/* 192 pools are accepted; the 193rd section is refused by name and line. */
static void test_many_pools(void)
{
	static char conf[16384];
	size_t len;
	struct config *cfg;

	len = (size_t)snprintf(conf, sizeof(conf), "[pgqfs]\ncontrol = dbname=q\n"
			       "[target t]\nconninfo = dbname=t\n");
	for (int i = 1; i <= 192; i++)
		len += (size_t)snprintf(conf + len, sizeof(conf) - len,
					"[pool p%d]\ntarget = t\n", i);
	cfg = load_ok(conf, "192 pools");
	tap_ok(cfg && cfg->n_pools == 192, "192 pools are accepted");
	config_destroy(cfg);
	snprintf(conf + len, sizeof(conf) - len, "[pool p193]\ntarget = t\n");
	expect_error("193 pools", conf, "[pool p193]", "more than 192 pools");
}

int main(void)
{
	test_design_example(design_example, "DESIGN.md example");
	test_indented_example();
	test_defaults();
	test_limits();
	test_several();
	test_crlf_bom();
	test_errors();
	test_long_lines();
	test_files();
	test_example_file();
	test_sizes();
	test_durations();
	test_many_pools();
	return tap_done();
}
