/* A reloaded configuration, as the filesystem takes it (SIGHUP). */
#include "fs_internal.h"

#include <string.h>

#include "log.h"

/*
 * New pools get slots (queue/NAME and pools/NAME appear), pools that left
 * are marked gone (their directories disappear; a writer's open file in
 * one still submits, as it would have a moment earlier).  The kernel may
 * hold entries for both, a removed pool's for an hour: the notifier makes
 * it forget them.
 */
void fs_reload(struct fs *fs, const struct config *cfg)
{
	size_t n = pool_slots(fs);

	for (size_t i = 0; i < n; i++)
		if (pool_live(fs, i) && !config_find_pool(cfg, pool_name(fs, i))) {
			atomic_store(&fs->slots[i].live, false);
			pthread_mutex_lock(&fs->lock);
			inval_entry_add(fs, INO_QUEUE, pool_name(fs, i));
			inval_entry_add(fs, INO_POOLS, pool_name(fs, i));
			pthread_mutex_unlock(&fs->lock);
		}
	for (size_t i = 0; i < cfg->n_pools; i++) {
		const char *name = cfg->pools[i].name;
		bool had = false;

		for (size_t j = 0; j < pool_slots(fs); j++)
			had |= pool_live(fs, j) && strcmp(pool_name(fs, j), name) == 0;
		if (had)
			continue;
		if (pool_slot_add(fs, name) < 0) {
			log_error("reload: the mount cannot show pool %s: more than %d pools "
				  "since start (or out of memory)", LOG_ESCAPE(name), MAX_POOLS);
			continue;
		}
		/* A lookup of the name before may have left a negative entry. */
		pthread_mutex_lock(&fs->lock);
		inval_entry_add(fs, INO_QUEUE, name);
		inval_entry_add(fs, INO_POOLS, name);
		pthread_mutex_unlock(&fs->lock);
	}
	atomic_store(&fs->cfg, cfg);
}
