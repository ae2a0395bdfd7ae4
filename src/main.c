/*
 * pgqfs: mounts a FUSE filesystem that is a job queue for PostgreSQL.
 *
 * Start-up order: configuration, control database (schema, instance),
 * mount, daemonise, executor thread, FUSE loop.  Shutdown runs it
 * backwards; every step frees what it made.
 *
 * SIGTERM and SIGINT drain the daemon, then stop it, but not the way
 * libfuse's own handlers would (ending the FUSE loop at once): nothing
 * new is claimed while running tasks get shutdown_grace to finish, with
 * the mount still answering (their readers are answered as they end); a
 * second signal cuts the grace short.  Then the filesystem's
 * notifier may be waiting in the kernel for a directory lock that a create
 * holds until it is answered, and once the loop has ended nobody answers
 * it, while the notifier's write keeps /dev/fuse open so that the kernel
 * never fails it either.  So a stopper thread takes the signals (they are
 * blocked everywhere else), first stops the notifier, with the loop still
 * serving, and only then ends the loop.
 */
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
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

/*
 * FUSE worker threads.  A request waiting for the control database holds
 * one, and while all are busy libfuse reads nothing more, not even the
 * kernel's INTERRUPT for a waiting request (Ctrl-C then waits for the
 * deadline).  Look-ups in one directory run at once (fs_io.c): 64 leaves
 * room for a burst of them beside the store's 16 connections.
 */
#define FUSE_MAX_THREADS 64

struct options {
	char *config;
	int help;
	int version;
	char *first_arg;	/* the first non-option argument, held back */
	int n_args;		/* non-option arguments seen */
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

/*
 * `pgqfs CONFIG MOUNTPOINT` is how mount.fuse3 calls a filesystem (the
 * fstab's source first): with two non-option arguments the first is the
 * configuration.  The first is held back until we know; the second stays
 * for fuse_parse_cmdline().
 */
static int opt_proc(void *data, const char *arg, int key, struct fuse_args *outargs)
{
	struct options *o = data;

	(void)outargs;
	if (key != FUSE_OPT_KEY_NONOPT)
		return 1;
	if (++o->n_args > 1)
		return 1;
	o->first_arg = strdup(arg);
	return o->first_arg ? 0 : -1;
}

/*
 * Tells systemd (Type=notify) how the service is: "READY=1" once mounted,
 * "STOPPING=1" when it drains.  The protocol is one datagram on the socket
 * $NOTIFY_SOCKET names (sd_notify(3)); without it, nothing.
 */
static void service_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t n = path ? strlen(path) : 0;
	int fd;

	if (n < 2 || n >= sizeof(sa.sun_path) || (path[0] != '/' && path[0] != '@'))
		return;
	memcpy(sa.sun_path, path, n);
	if (sa.sun_path[0] == '@')
		sa.sun_path[0] = '\0';	/* an abstract socket */
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return;
	if (sendto(fd, state, strlen(state), MSG_NOSIGNAL, (struct sockaddr *)&sa,
		   (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n)) < 0)
		log_warn("cannot notify systemd (%s): %s", state, strerror(errno));
	close(fd);
}

/* Interrupts the FUSE loop's wait once the session is marked exited. */
static void on_wake_signal(int sig)
{
	(void)sig;
}

/*
 * The stop signals (SIGTERM, SIGINT, SIGHUP) are blocked in every thread
 * from before the mount on, and taken by this thread with sigwait(): no
 * handler runs in a thread that happens to be in a system call.
 */
struct stopper {
	sigset_t signals;
	struct fuse_session *se;
	struct fs *fs;
	struct executor *exec;
	struct store *store;
	/* Every configuration read, the running one last: a reload keeps the
	 * old ones, which retired pools and request threads may still use,
	 * until exit. */
	struct config **cfgs;
	size_t n_cfgs;
	uint64_t grace_ms;
	bool drained;		/* the stopper drained the executor */
	pthread_t loop_thread;	/* the one in fuse_session_loop*() */
	pthread_t thread;
	bool started;
	atomic_bool loop_done;	/* the loop has returned: nothing to stop */
};

/*
 * Claims nothing more and waits until no task runs here, shutdown_grace at
 * most, or a second stop signal, or (loop_done non-NULL) the loop's end.
 * The caller has the stop signals blocked.
 */
static void drain(struct executor *exec, struct fs *fs, uint64_t grace_ms,
		  const sigset_t *signals, atomic_bool *loop_done)
{
	struct timespec now, end;
	size_t n;

	if (executor_drained(exec))
		return;
	log_info("draining: no new task starts here; running tasks have %llu ms to finish",
		 (unsigned long long)grace_ms);
	executor_drain(exec);
	/* Files claimed with their staging and still open have not started:
	 * their claims go back, so that their releases queue them. */
	n = fs_unhold_all(fs);
	if (n)
		log_info("draining: %zu files still open, claimed as they were stored, gave "
			 "their claims back", n);
	clock_gettime(CLOCK_MONOTONIC, &end);
	end.tv_sec += (time_t)(grace_ms / 1000);
	end.tv_nsec += (long)(grace_ms % 1000) * 1000000L;
	if (end.tv_nsec >= 1000000000L) {
		end.tv_sec++;
		end.tv_nsec -= 1000000000L;
	}
	for (;;) {
		struct timespec tick = { 0, 50 * 1000 * 1000 };
		int sig;

		if (executor_drained(exec) || (loop_done && atomic_load(loop_done)))
			return;
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec)) {
			log_warn("shutdown_grace ran out: cancelling the tasks still running");
			return;
		}
		sig = sigtimedwait(signals, NULL, &tick);
		if (sig == SIGHUP) {
			log_info("SIGHUP while draining: ignored");
		} else if (sig > 0) {
			log_warn("%s again: cancelling the tasks still running", strsignal(sig));
			return;
		}
	}
}

/*
 * SIGHUP: reads the configuration file again into a fresh configuration
 * and, only if it is whole and keeps the control database and schema,
 * hands it to the store, the filesystem and the executor.  A pool's
 * max_workers the file changed is the latest change, so it is written to
 * the control database for every daemon (as a write to pools/ would be).
 */
static void reload(struct stopper *st)
{
	const struct config *cur = st->cfgs[st->n_cfgs - 1];
	struct config *cfg = NULL, **v;
	char err[512];

	if (config_load(cur->path, &cfg, err, sizeof(err)) < 0) {
		log_error("SIGHUP: %s; the running configuration stays", err);
		return;
	}
	if (strcmp(cfg->control, cur->control) != 0 || strcmp(cfg->schema, cur->schema) != 0) {
		log_error("SIGHUP: %s: control and schema cannot change while pgqfs runs "
			  "(restart it); the running configuration stays", LOG_ESCAPE(cfg->path));
		config_destroy(cfg);
		return;
	}
	v = realloc(st->cfgs, (st->n_cfgs + 1) * sizeof(*v));
	if (!v) {
		log_error("SIGHUP: out of memory; the running configuration stays");
		config_destroy(cfg);
		return;
	}
	st->cfgs = v;
	st->cfgs[st->n_cfgs++] = cfg;
	for (size_t i = 0; i < cfg->n_pools; i++)
		for (size_t j = 0; j < cur->n_pools; j++)
			if (strcmp(cfg->pools[i].name, cur->pools[j].name) == 0 &&
			    cfg->pools[i].max_workers != cur->pools[j].max_workers &&
			    store_set_pool(st->store, cfg->pools[i].name, cfg->pools[i].max_workers,
					   -1, 0) < 0)
				log_error("SIGHUP: pool %s: cannot record max_workers %d: %s",
					  LOG_ESCAPE(cfg->pools[i].name), cfg->pools[i].max_workers,
					  store_last_error());
	store_set_config(st->store, cfg);
	fs_reload(st->fs, cfg);
	executor_reload(st->exec, cfg);
	st->grace_ms = cfg->shutdown_grace_ms;
	log_info("SIGHUP: %s reloaded: %zu pools on %zu targets", LOG_ESCAPE(cfg->path),
		 cfg->n_pools, cfg->n_targets);
}

static void *stopper_main(void *arg)
{
	struct stopper *st = arg;
	int sig;

	for (;;) {
		if (sigwait(&st->signals, &sig) != 0 || atomic_load(&st->loop_done))
			return NULL;	/* the loop ended by itself (unmount) */
		if (sig != SIGHUP)
			break;
		reload(st);
	}
	log_info("%s: stopping", strsignal(sig));
	service_notify("STOPPING=1");
	drain(st->exec, st->fs, st->grace_ms, &st->signals, &st->loop_done);
	st->drained = true;
	fs_set_session(st->fs, NULL);	/* the notifier, while requests are answered */
	fuse_session_exit(st->se);
	/* Again until it returns: a signal that came just before the loop
	 * began to wait would be lost. */
	while (!atomic_load(&st->loop_done)) {
		struct timespec ts = { 0, 50 * 1000 * 1000 };

		pthread_kill(st->loop_thread, SIGUSR1);
		nanosleep(&ts, NULL);
	}
	return NULL;
}

/* Blocks the stop signals (the stopper takes them), sets the others up. */
static int set_up_signals(sigset_t *ret_stop)
{
	struct sigaction wake = { .sa_handler = on_wake_signal };
	struct sigaction ignore = { .sa_handler = SIG_IGN };

	sigemptyset(ret_stop);
	sigaddset(ret_stop, SIGTERM);
	sigaddset(ret_stop, SIGINT);
	sigaddset(ret_stop, SIGHUP);
	/* No SA_RESTART: the loop's wait must return on SIGUSR1. */
	sigemptyset(&wake.sa_mask);
	sigemptyset(&ignore.sa_mask);
	if (sigaction(SIGUSR1, &wake, NULL) < 0 || sigaction(SIGPIPE, &ignore, NULL) < 0)
		return -errno;
	return -pthread_sigmask(SIG_BLOCK, ret_stop, NULL);
}

static void usage(const char *prog)
{
	printf("usage: %s [-c FILE] [-f] [-d] [-s] [-o OPTIONS] MOUNTPOINT\n"
	       "       %s CONFIG MOUNTPOINT [-o OPTIONS]   (as mount.fuse3 calls it)\n"
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
	       "See pgqfs(8).\n", prog, prog);
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
	struct stopper stopper = { 0 };
	int ret = 1, r;
	bool mounted = false;

	/* Few malloc arenas: FUSE threads come and go, and an arena per
	 * thread keeps memory a large listing used long after. */
	mallopt(M_ARENA_MAX, 2);
	if (fuse_opt_parse(&args, &opts, option_spec, opt_proc) < 0)
		return 1;
	if (opts.n_args >= 2) {
		if (opts.config) {
			fprintf(stderr, "pgqfs: a configuration given twice (-c and %s)\n",
				opts.first_arg);
			goto out_args;
		}
		opts.config = opts.first_arg;
		opts.first_arg = NULL;
	} else if (opts.first_arg && fuse_opt_add_arg(&args, opts.first_arg) != 0) {
		goto out_args;
	}
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
	log_detect_journal();
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
	/* Parked wait readers missed the NOTIFYs sent while the control
	 * connection was down: look at their tasks again after a reconnect. */
	executor_set_reconnected(exec, fs_recheck_waiters, fs);
	fs_set_executor(fs, exec);

	se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), fs);
	if (!se)
		goto out_cfg;
	fs_set_session(fs, se);
	r = set_up_signals(&stopper.signals);
	if (r < 0) {
		log_error("cannot set up signals: %s", strerror(-r));
		goto out_cfg;
	}
	if (fuse_session_mount(se, fopts.mountpoint) != 0)
		goto out_cfg;
	mounted = true;
	r = fs_io_install(se);
	if (r < 0) {
		log_error("cannot set up the session's I/O: %s", strerror(-r));
		goto out_cfg;
	}
	log_info("instance %lld mounted %s (control schema %s, %zu pools)", (long long)instance,
		 LOG_ESCAPE(fopts.mountpoint), cfg->schema, cfg->n_pools);
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
	stopper.se = se;
	stopper.fs = fs;
	stopper.exec = exec;
	stopper.store = store;
	stopper.grace_ms = cfg->shutdown_grace_ms;
	stopper.cfgs = malloc(sizeof(*stopper.cfgs));
	if (!stopper.cfgs)
		goto out_cfg;
	stopper.cfgs[0] = cfg;
	stopper.n_cfgs = 1;
	stopper.loop_thread = pthread_self();
	r = pthread_create(&stopper.thread, NULL, stopper_main, &stopper);
	if (r != 0) {
		log_error("cannot start the stopper thread: %s", strerror(r));
		goto out_cfg;
	}
	stopper.started = true;
	service_notify("READY=1");
	if (fopts.singlethread) {
		r = fuse_session_loop(se);
	} else {
		loop = fuse_loop_cfg_create();
		if (!loop)
			goto out_cfg;
		fuse_loop_cfg_set_clone_fd(loop, (unsigned int)fopts.clone_fd);
		fuse_loop_cfg_set_max_threads(loop, FUSE_MAX_THREADS);
		fuse_loop_cfg_set_idle_threads(loop, fopts.max_idle_threads == UINT_MAX ?
					       16 : fopts.max_idle_threads);
		r = fuse_session_loop_mt(se, loop);
	}
	/* A stop by signal or by unmount is clean. */
	ret = r < 0 ? 1 : 0;
	log_info("stopping");

out_cfg:
	if (stopper.started) {
		/* No release comes any more: files still open keep no claim. */
		fs_unhold_all(fs);
		atomic_store(&stopper.loop_done, true);
		pthread_kill(stopper.thread, SIGTERM);	/* ends its sigwait() */
		pthread_join(stopper.thread, NULL);
		/* Unmounted (umount, fusermount -u): the tasks running here
		 * still finish, and are recorded. */
		if (!stopper.drained && ret == 0)
			drain(exec, fs, stopper.grace_ms, &stopper.signals, NULL);
	}
	executor_stop(exec);
	/* Claims the executor had to give back and could not (its control
	 * connection down): the store's own connections may still serve. */
	executor_unhold_rest(exec, store);
	if (fs)
		fs_set_session(fs, NULL);
	fs_release_waiters(fs);
	if (mounted)
		fuse_session_unmount(se);
	if (se)
		fuse_session_destroy(se);
	fuse_loop_cfg_destroy(loop);
	if (fs)
		fs_set_executor(fs, NULL);	/* fs_destroy() may still count waiters */
	executor_destroy(exec);
	fs_destroy(fs);
	store_destroy(store);
	PQfinish(control);
	/* The first is cfg. */
	for (size_t i = 1; i < stopper.n_cfgs; i++)
		config_destroy(stopper.cfgs[i]);
	free(stopper.cfgs);
	config_destroy(cfg);
	free(fopts.mountpoint);
out_args:
	free(opts.config);
	free(opts.first_arg);
	fuse_opt_free_args(&args);
	return ret;
}
