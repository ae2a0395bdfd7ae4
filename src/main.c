/*
 * pgqfs: mounts a FUSE filesystem that is a job queue for PostgreSQL.
 *
 * Start-up order: configuration, control database (schema, instance),
 * mount, daemonise, executor thread, FUSE loop.  Shutdown runs it
 * backwards; every step frees what it made.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "executor.h"
#include "fs.h"
#include "log.h"
#include "store.h"

#ifndef PGQFS_VERSION
#define PGQFS_VERSION "0.1.0"
#endif
#ifndef PGQFS_CONFIG
#define PGQFS_CONFIG "/etc/pgqfs/pgqfs.conf"
#endif

struct options {
	char *config;
	int help;
	int version;
};

static const struct fuse_opt option_spec[] = {
	{ "-c %s", offsetof(struct options, config), 0 },
	{ "--config=%s", offsetof(struct options, config), 0 },
	{ "-h", offsetof(struct options, help), 1 },
	{ "--help", offsetof(struct options, help), 1 },
	{ "-V", offsetof(struct options, version), 1 },
	{ "--version", offsetof(struct options, version), 1 },
	FUSE_OPT_END
};

static void usage(const char *prog)
{
	printf("usage: %s [-c FILE] [-f] [-d] [-s] [-o OPTIONS] MOUNTPOINT\n"
	       "\n"
	       "Mounts a job queue for PostgreSQL at MOUNTPOINT: copy NAME.sql into\n"
	       "MOUNTPOINT/queue/POOL/ to run it; read tasks/ID/ for its outcome.\n"
	       "\n"
	       "    -c FILE, --config=FILE  configuration (default " PGQFS_CONFIG ")\n"
	       "    -f                      stay in the foreground, log to stderr\n"
	       "    -d                      debug: foreground, log every FUSE request\n"
	       "    -s                      one FUSE thread\n"
	       "    -o OPTIONS              FUSE mount options (allow_other, auto_unmount, ...)\n"
	       "    -V, --version           print the version\n"
	       "\n"
	       "See pgqfs(8).\n", prog);
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options opts = { 0 };
	struct fuse_cmdline_opts fopts = { 0 };
	struct config *cfg = NULL;
	struct store *store = NULL;
	struct fs *fs = NULL;
	struct executor *exec = NULL;
	struct fuse_session *se = NULL;
	struct fuse_loop_config *loop = NULL;
	PGconn *control = NULL;
	int64_t instance = 0;
	char err[512];
	int ret = 1, r;
	bool mounted = false, handlers = false;

	/* Few malloc arenas: FUSE threads come and go, and an arena per
	 * thread keeps memory a large listing used long after. */
	mallopt(M_ARENA_MAX, 2);
	if (fuse_opt_parse(&args, &opts, option_spec, NULL) < 0)
		return 1;
	if (opts.help) {
		usage(argv[0]);
		ret = 0;
		goto out_args;
	}
	if (opts.version) {
		printf("pgqfs %s (libfuse %s)\n", PGQFS_VERSION, fuse_pkgversion());
		ret = 0;
		goto out_args;
	}
	if (fuse_parse_cmdline(&args, &fopts) != 0)
		goto out_args;
	if (!fopts.mountpoint) {
		fprintf(stderr, "pgqfs: no mount point given (try --help)\n");
		goto out_args;
	}
	log_set_debug(fopts.debug);
	r = config_load(opts.config ? opts.config : PGQFS_CONFIG, &cfg, err,
			sizeof(err));
	if (r < 0) {
		fprintf(stderr, "pgqfs: %s\n", err);
		goto out_cfg;
	}
	/* Task files carry their submitter's owner and mode: let the kernel
	 * enforce them, which matters with -o allow_other. */
	if (fuse_opt_add_arg(&args, "-odefault_permissions") != 0)
		goto out_cfg;

	control = store_connect(cfg, "pgqfs executor");
	if (!control)
		goto out_cfg;
	if (store_migrate(control, cfg) < 0 || store_register(control, cfg, &instance) < 0)
		goto out_cfg;
	if (store_create(cfg, &store) < 0)
		goto out_cfg;
	store_set_instance(store, instance);
	/* Writers that start at once should not wait for backends. */
	store_warm(store, 4);
	r = fs_create(cfg, store, &fs);
	if (r < 0) {
		log_error("cannot set up the filesystem: %s", r == -E2BIG ?
			  "more than 192 pools" : strerror(-r));
		goto out_cfg;
	}
	r = executor_create(cfg, store, control, instance, fs_tasks_finished, fs, &exec);
	if (r < 0) {
		log_error("cannot start the executor: %s", strerror(-r));
		goto out_cfg;
	}
	control = NULL;		/* the executor owns it now */
	fs_set_executor(fs, exec);

	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!se)
		goto out_cfg;
	fs_set_session(fs, se);
	if (fuse_set_signal_handlers(se) != 0)
		goto out_cfg;
	handlers = true;
	if (fuse_session_mount(se, fopts.mountpoint) != 0)
		goto out_cfg;
	mounted = true;
	log_info("instance %lld mounted %s (control schema %s, %zu pools)", (long long)instance,
		 fopts.mountpoint, cfg->schema, cfg->n_pools);
	/* Fork before any thread exists. */
	if (fuse_daemonize(fopts.foreground) != 0)
		goto out_cfg;
	if (!fopts.foreground)
		log_use_syslog(true);
	r = executor_start(exec);
	if (r < 0) {
		log_error("cannot start the executor: %s", strerror(-r));
		goto out_cfg;
	}
	if (fopts.singlethread) {
		r = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop)
			goto out_cfg;
		fuse_loop_cfg_set_clone_fd(loop, (unsigned int)fopts.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, 32);
		fuse_loop_cfg_set_idle_threads(loop, fopts.max_idle_threads == UINT_MAX ?
					       16 : fopts.max_idle_threads);
		r = fuse_session_loop_mt(se, loop);
	}
	/* A positive value is the signal that ended the loop: a clean stop. */
	ret = r < 0 ? 1 : 0;
	log_info("stopping");

out_cfg:
	executor_stop(exec);
	if (fs)
		fs_set_session(fs, NULL);
	fs_release_waiters(fs);
	if (mounted)
		fuse_session_unmount(se);
	if (handlers)
		fuse_remove_signal_handlers(se);
	if (se)
		fuse_session_destroy(se);
	fuse_loop_cfg_destroy(loop);
	executor_destroy(exec);
	fs_destroy(fs);
	store_destroy(store);
	PQfinish(control);
	config_destroy(cfg);
	free(fopts.mountpoint);
out_args:
	free(opts.config);
	fuse_opt_free_args(&args);
	return ret;
}
