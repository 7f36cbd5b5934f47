-- Pause and resume.  A cluster is paused by a person with a reason
-- (POST /api/v1/clusters/{name}/pause): its job in progress stops at its
-- next safe boundary with status 'paused', and its queued jobs wait, until
-- someone resumes it.  The pause is the cluster's (paused_at, paused_by,
-- paused_reason), so that it holds for a cluster with no job running, and
-- survives any restart of esaasd; a job's 'paused' status is what the
-- engine made of it at the boundary.

ALTER TABLE clusters ADD COLUMN paused_at timestamptz,
	ADD COLUMN paused_by text,
	ADD COLUMN paused_reason text,
	ADD CONSTRAINT clusters_pause_whole CHECK ((paused_at IS NULL) = (paused_reason IS NULL)
						   AND (paused_at IS NULL) = (paused_by IS NULL));

ALTER TABLE jobs DROP CONSTRAINT jobs_status_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_status_check
	CHECK (status IN ('queued', 'running', 'waiting', 'cancelling', 'paused', 'succeeded',
			  'failed', 'cancelled'));

-- A paused job is in progress: the jobs queued behind it wait for it as for
-- a running one, so the claim's "is another job of this cluster in
-- progress?" counts it, and its index must too.
CREATE INDEX jobs_cluster_in_progress_2 ON jobs (tenant_id, cluster)
	WHERE status IN ('running', 'waiting', 'cancelling', 'paused');
DROP INDEX jobs_cluster_in_progress;
ALTER INDEX jobs_cluster_in_progress_2 RENAME TO jobs_cluster_in_progress;

-- The claim also wakes a paused job whose cluster is no longer paused (a
-- resume that raced the job's own pause): few rows, found by this index.
CREATE INDEX jobs_paused ON jobs (cluster_id) WHERE status = 'paused';

-- A paused job's spec is still to come: the quota and the base of later
-- operations count it as they count a running one's.
CREATE OR REPLACE FUNCTION esaas_tenant_usage(tenant text, cluster text DEFAULT NULL,
				   spec jsonb DEFAULT NULL) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	WITH specs AS (
		SELECT c.name, c.spec FROM clusters c
		 WHERE c.tenant_id = tenant AND c.deleted_at IS NULL
		UNION ALL
		SELECT j.cluster, esaas_job_spec(j.params) FROM jobs j JOIN clusters c
		    ON c.tenant_id = j.tenant_id AND c.name = j.cluster AND c.deleted_at IS NULL
		 WHERE j.tenant_id = tenant AND j.params ? 'spec'
		   AND j.created_at >= c.created_at
		   AND (j.status IN ('queued', 'running', 'waiting', 'cancelling',
				     'paused')
			OR (j.status IN ('failed', 'cancelled')
			    AND NOT EXISTS (SELECT 1 FROM jobs s
					    WHERE s.tenant_id = j.tenant_id AND s.cluster = j.cluster
					      AND s.status = 'succeeded' AND s.params ? 'spec'
					      AND s.finished_at > j.finished_at)))
		UNION ALL
		SELECT cluster, spec WHERE cluster IS NOT NULL AND spec IS NOT NULL
	), per_cluster AS (
		SELECT name, m, max((esaas_spec_usage(s.spec)->>m)::numeric) AS v
		FROM specs s, unnest(esaas_quota_measures()) AS m
		GROUP BY name, m
	)
	SELECT coalesce(jsonb_object_agg(m, total), '{}'::jsonb)
	FROM (SELECT m, sum(v) AS total FROM per_cluster GROUP BY m
	      UNION ALL
	      SELECT m, 0 FROM unnest(esaas_quota_measures()) AS m
	      WHERE NOT EXISTS (SELECT 1 FROM per_cluster)) t
$$;


CREATE OR REPLACE FUNCTION esaas_spec_base_check(tenant text, cluster text, base jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	target jsonb;
BEGIN
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'esaas_spec_base_check needs READ COMMITTED, not %',
			current_setting('transaction_isolation');
	END IF;
	SELECT coalesce((SELECT esaas_job_spec(a.params) FROM jobs a
			 WHERE a.tenant_id = c.tenant_id AND a.cluster = c.name
			   AND a.created_at >= c.created_at
			   AND a.status IN ('queued', 'running', 'waiting', 'cancelling',
					      'paused')
			   AND a.params ? 'spec'
			 ORDER BY a.queue_seq DESC LIMIT 1), c.spec)
	  INTO target
	  FROM clusters c WHERE c.tenant_id = tenant AND c.name = cluster AND c.deleted_at IS NULL;
	-- No live cluster: the job is queued as before, and fails on its own.
	IF NOT FOUND THEN
		RETURN true;
	END IF;
	IF target IS DISTINCT FROM base THEN
		RAISE EXCEPTION USING ERRCODE = 'ES001',
			MESSAGE = 'the cluster''s spec changed since this request was planned';
	END IF;
	RETURN true;
END
$$;
