-- A cluster's snapshot schedule: a spec with "snapshots": {"every": "6h"}
-- gets a snapshot job when none is queued or under way and none was
-- submitted within that time (kube/spec.h).  esaasd's engine calls
-- esaas_jobs_queue_scheduled() every snapshots.schedule_interval_seconds;
-- replicas that call it at once queue each job once: the lock is taken
-- before the statement that reads the jobs, which then sees the other's.

CREATE INDEX jobs_cluster_kind_created ON jobs (cluster_id, kind, created_at DESC);

CREATE FUNCTION esaas_jobs_queue_scheduled() RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM pg_advisory_xact_lock(hashtextextended('esaas_jobs_queue_scheduled', 0));
	WITH due AS (
		SELECT c.tenant_id, c.name, c.id, c.spec
		FROM clusters c,
		     LATERAL regexp_match(c.spec -> 'snapshots' ->> 'every', '^([0-9]+)([mhd])$') AS m
		WHERE c.deleted_at IS NULL
		  AND c.observed ->> 'phase' = 'ready'
		  AND m IS NOT NULL
		  AND NOT EXISTS (
			SELECT 1 FROM jobs j
			WHERE j.cluster_id = c.id AND j.kind = 'snapshot'
			  AND (j.status IN ('queued', 'running', 'waiting', 'cancelling', 'paused')
			       OR j.created_at > now() - (m[1] || CASE m[2] WHEN 'm' THEN ' minutes'
			                                                   WHEN 'h' THEN ' hours'
			                                                   ELSE ' days' END)::interval))
	),
	ins AS (
		INSERT INTO jobs (tenant_id, cluster, cluster_id, kind, params, status, state,
		                  submitted_by)
		SELECT tenant_id, name, id, 'snapshot',
		       jsonb_build_object('spec', spec, 'scheduled', true), 'queued',
		       'snapshot_repository', 'schedule'
		FROM due
		RETURNING id, state, status
	),
	ev AS (
		INSERT INTO job_events (job_id, to_state, outcome, status, attempt, actor, detail)
		SELECT id, state, 'submitted', status, 1, 'schedule',
		       'submitted by the cluster''s snapshot schedule'
		FROM ins
	)
	SELECT count(*) INTO n FROM ins;
	IF n > 0 THEN
		PERFORM pg_notify('esaas_jobs', '');
	END IF;
	RETURN n;
END
$$;
