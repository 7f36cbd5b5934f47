-- Watching every cluster: the last health observation of each, the history
-- of its changes, and how the esaasd replicas share the sweep.

-- The last observation, apart from the cluster row: it is rewritten on
-- every sweep, and a narrow row with room left on its page keeps those
-- updates HOT and the clusters table (its spec, its indexes) free of churn.
-- nodes, unassigned_shards and observed_at are from the last successful
-- read; status, error and checked_at from the last attempt.
CREATE TABLE cluster_health (
	cluster_id bigint PRIMARY KEY REFERENCES clusters (id),
	status text NOT NULL CHECK (status IN ('green', 'yellow', 'red', 'unreachable')),
	nodes integer,
	unassigned_shards integer,
	observed_at timestamptz,
	checked_at timestamptz NOT NULL,
	error text,
	changed_at timestamptz NOT NULL,
	checked_by text NOT NULL
) WITH (fillfactor = 50);

-- One row per change of status, with what explains it (for red: the
-- unassigned primaries and the allocation explanation of one of them).
CREATE TABLE cluster_health_history (
	id bigserial PRIMARY KEY,
	cluster_id bigint NOT NULL REFERENCES clusters (id),
	at timestamptz NOT NULL DEFAULT now(),
	status text NOT NULL,
	previous text,
	nodes integer,
	unassigned_shards integer,
	error text,
	detail jsonb,
	observed_by text NOT NULL
);

CREATE INDEX cluster_health_history_cluster ON cluster_health_history (cluster_id, id DESC);

-- The sweep is cut into a fixed number of shards (a cluster's is its id
-- modulo their count, 64: storage/health.h says so too); each is leased by
-- at most one esaasd at a time, and the epoch fences the writes of a
-- replica that lost its lease.
CREATE TABLE health_shards (
	shard integer PRIMARY KEY,
	owner text,
	lease_expires_at timestamptz,
	epoch bigint NOT NULL DEFAULT 0,
	CHECK ((owner IS NULL) = (lease_expires_at IS NULL))
);

INSERT INTO health_shards (shard) SELECT generate_series(0, 63);

-- The replicas that sweep, with their last heartbeat: how many are alive
-- decides each one's fair share of the shards.
CREATE TABLE health_sweepers (
	owner text PRIMARY KEY,
	seen_at timestamptz NOT NULL
);
