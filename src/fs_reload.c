/* A reloaded configuration, as the filesystem takes it (SIGHUP). */
#include "fs_internal.h"

#include <string.h>

#include "log.h"

/*
 * Pools are numbered by their place in the configuration (their inodes
 * and the staged files' keys hold that number), so a file whose pools
 * keep their places and only gains pools at the end is taken as it is;
 * any other change of the pool list waits for a restart.
 */
void fs_reload(struct fs *fs, const struct config *cfg)
{
	const struct config *cur = fs->cfg;
	bool same = cfg->n_pools >= cur->n_pools;

	for (size_t i = 0; same && i < cur->n_pools; i++)
		same = strcmp(cfg->pools[i].name, cur->pools[i].name) == 0;
	if (!same) {
		log_warn("reload: the mount keeps its pools (%zu) until a restart: pools were "
			 "removed or reordered", cur->n_pools);
		return;
	}
	__atomic_store_n(&fs->cfg, cfg, __ATOMIC_RELEASE);
}
