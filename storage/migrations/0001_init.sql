-- The first schema: tenants, clusters, jobs and their append-only history.

-- Timestamps leave the database as RFC 3339 in UTC, whatever TimeZone says.
CREATE FUNCTION esaas_ts(t timestamptz) RETURNS text LANGUAGE sql IMMUTABLE AS $$
	SELECT to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

CREATE TABLE tenants (
	id text PRIMARY KEY CHECK (id ~ '^[a-z0-9]([-a-z0-9]{0,38}[a-z0-9])?$'),
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL
);

INSERT INTO tenants (id, created_by) VALUES ('default', 'migration');

CREATE TABLE clusters (
	id bigserial PRIMARY KEY,
	tenant_id text NOT NULL REFERENCES tenants (id),
	name text NOT NULL,
	spec jsonb NOT NULL DEFAULT '{}',
	observed jsonb NOT NULL DEFAULT '{}',
	created_by text NOT NULL,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	deleted_at timestamptz,
	UNIQUE (tenant_id, name)
);

-- Jobs of one cluster run in queue_seq order; a replay takes a new number.
CREATE SEQUENCE jobs_queue_seq;

CREATE TABLE jobs (
	id bigserial PRIMARY KEY,
	tenant_id text NOT NULL REFERENCES tenants (id),
	cluster text NOT NULL,
	kind text NOT NULL,
	params jsonb NOT NULL DEFAULT '{}',
	context jsonb NOT NULL DEFAULT '{}',
	status text NOT NULL CHECK (status IN ('queued', 'running', 'waiting', 'cancelling',
					      'succeeded', 'failed', 'cancelled')),
	state text NOT NULL,
	attempt integer NOT NULL DEFAULT 1 CHECK (attempt >= 1),
	queue_seq bigint NOT NULL DEFAULT nextval('jobs_queue_seq'),
	next_run_at timestamptz NOT NULL DEFAULT now(),
	state_entered_at timestamptz,
	-- The lease: who runs the job now, until when, and which claim it is.
	lease_owner text,
	lease_expires_at timestamptz,
	lease_epoch bigint NOT NULL DEFAULT 0,
	-- Bumped by every transition; a repeated write of the same transition
	-- then matches no row instead of applying twice.
	version bigint NOT NULL DEFAULT 0,
	cancel_requested boolean NOT NULL DEFAULT false,
	-- Set while the cleanup chain runs: how the job will end.
	ending text CHECK (ending IN ('cancel', 'fail')),
	error text,
	failed_state text,
	observation text,
	submitted_by text NOT NULL,
	idempotency_key text,
	created_at timestamptz NOT NULL DEFAULT now(),
	updated_at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	finished_at timestamptz,
	CHECK ((lease_owner IS NULL) = (lease_expires_at IS NULL))
);

CREATE UNIQUE INDEX jobs_idempotency ON jobs (tenant_id, idempotency_key)
	WHERE idempotency_key IS NOT NULL;
-- The claim scans this: only jobs that are not finished.
CREATE INDEX jobs_runnable ON jobs (next_run_at, queue_seq)
	WHERE status IN ('queued', 'running', 'waiting', 'cancelling');
-- "Is an earlier job of this cluster still active?"
CREATE INDEX jobs_cluster_active ON jobs (tenant_id, cluster, queue_seq)
	WHERE status IN ('queued', 'running', 'waiting', 'cancelling');
CREATE INDEX jobs_lease_owner ON jobs (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX jobs_tenant_list ON jobs (tenant_id, id DESC);

CREATE TABLE job_events (
	id bigserial PRIMARY KEY,
	job_id bigint NOT NULL REFERENCES jobs (id),
	at timestamptz NOT NULL DEFAULT now(),
	started_at timestamptz,
	from_state text,
	to_state text,
	outcome text NOT NULL,
	status text NOT NULL,
	attempt integer NOT NULL,
	actor text NOT NULL,
	worker text,
	detail text,
	duration_ms bigint
);

CREATE INDEX job_events_job ON job_events (job_id, id);

-- The history is an audit trail: it only grows.
CREATE FUNCTION job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'job_events is append-only';
END;
$$;

CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE ON job_events
	FOR EACH ROW EXECUTE FUNCTION job_events_append_only();
