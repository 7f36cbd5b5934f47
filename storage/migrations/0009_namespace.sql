-- A cluster's namespace is stored with it, and is unique among live
-- clusters: esaas applies with force, so two clusters sharing one would be
-- one tenant's cluster taken over by another.  New clusters get theirs
-- from render_namespace() (kube/render.c); those made before keep the one
-- they have, es-<tenant>-<cluster>, with their data under it.

ALTER TABLE clusters ADD COLUMN namespace text;

UPDATE clusters SET namespace = 'es-' || tenant_id || '-' || name;

-- Two live clusters that already share a namespace (tenant "a" with "b-c",
-- tenant "a-b" with "c") cannot both keep it, and which one owns what is
-- in it is for a person to find out: the migration stops, naming them.
DO $$
DECLARE
	clash record;
BEGIN
	SELECT namespace, string_agg(tenant_id || '/' || name || ' (id ' || id || ')', ', '
				     ORDER BY id) AS clusters
	  INTO clash FROM clusters WHERE deleted_at IS NULL
	 GROUP BY namespace HAVING count(*) > 1 ORDER BY namespace LIMIT 1;
	IF FOUND THEN
		RAISE EXCEPTION 'live clusters % share the namespace %: delete one of them (UPDATE '
			'clusters SET deleted_at = now() WHERE id = ...) once you know which cluster '
			'the namespace holds, then start esaasd again', clash.clusters, clash.namespace;
	END IF;
END
$$;

ALTER TABLE clusters ALTER COLUMN namespace SET NOT NULL;

CREATE UNIQUE INDEX clusters_live_namespace ON clusters (namespace) WHERE deleted_at IS NULL;
-- A create also refuses a namespace that another cluster, deleted since, had:
-- its data may still be on the hosts, under <root>/<namespace>.
CREATE INDEX clusters_namespace ON clusters (namespace);

-- Every job knows its cluster's row, and through it the namespace and the id
-- its objects are labelled with (engine: step_namespace(), step_cluster_id()).
-- A job of a test build's generic submission may have none.
ALTER TABLE jobs ADD COLUMN cluster_id bigint REFERENCES clusters (id);

-- A job belongs to the newest cluster of its name created before it (a
-- cluster's jobs are those submitted since its creation).
UPDATE jobs j SET cluster_id = (SELECT c.id FROM clusters c
				 WHERE c.tenant_id = j.tenant_id AND c.name = j.cluster
				   AND c.created_at <= j.created_at
				 ORDER BY c.created_at DESC, c.id DESC LIMIT 1);
