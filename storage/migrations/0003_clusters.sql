-- A deleted cluster keeps its row (its spec and history stay readable), so
-- its name must be free again for a new cluster: only live clusters are
-- unique by name.

ALTER TABLE clusters DROP CONSTRAINT clusters_tenant_id_name_key;

CREATE UNIQUE INDEX clusters_live_name ON clusters (tenant_id, name)
	WHERE deleted_at IS NULL;

-- A cluster's page shows its newest jobs, whatever their status.
CREATE INDEX jobs_cluster_history ON jobs (tenant_id, cluster, id DESC);
