-- What a tenant's clusters take, and the check of a submission against the
-- tenant's quota (tenant_quotas, 0006).

-- A Kubernetes quantity as a number: digits with an optional fraction, then
-- a suffix (n u m k M G T P E, Ki Mi Gi Ti Pi Ei) or an exponent (e3).  The
-- grammar of spec_parse_cpu() and spec_parse_bytes() in kube/spec.c; specs
-- are checked there before they are stored, so anything else counts 0.
CREATE FUNCTION esaas_quantity(q text) RETURNS numeric LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE
	m text[];
BEGIN
	m := regexp_match(q, '^([0-9]+(?:\.[0-9]+)?)(?:[eE]([-+]?[0-9]{1,2})|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?)$');
	IF m IS NULL THEN
		RETURN 0;
	END IF;
	IF m[2] IS NOT NULL THEN
		RETURN m[1]::numeric * power(10::numeric, m[2]::int);
	END IF;
	RETURN m[1]::numeric * CASE coalesce(m[3], '')
		WHEN '' THEN 1 WHEN 'n' THEN 0.000000001 WHEN 'u' THEN 0.000001 WHEN 'm' THEN 0.001
		WHEN 'k' THEN 1e3 WHEN 'M' THEN 1e6 WHEN 'G' THEN 1e9 WHEN 'T' THEN 1e12
		WHEN 'P' THEN 1e15 WHEN 'E' THEN 1e18
		WHEN 'Ki' THEN 1024::numeric WHEN 'Mi' THEN 1024::numeric ^ 2
		WHEN 'Gi' THEN 1024::numeric ^ 3 WHEN 'Ti' THEN 1024::numeric ^ 4
		WHEN 'Pi' THEN 1024::numeric ^ 5 WHEN 'Ei' THEN 1024::numeric ^ 6 END;
END
$$;

-- What one cluster spec takes: its Elasticsearch nodes, and their CPU,
-- memory and disk (disk is the data nodes'), as Kubernetes rounds them (up);
-- and Kibana's pods, at their limits in kube/render.c (1 CPU, 1Gi), which
-- count in CPU and memory but are not Elasticsearch nodes.
CREATE FUNCTION esaas_spec_usage(spec jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT jsonb_build_object(
		'clusters', 1,
		'nodes', sum(n),
		'cpu_millis', sum(n * ceil(esaas_quantity(r->>'cpu') * 1000)) + 1000 * k,
		'memory_bytes', sum(n * ceil(esaas_quantity(r->>'memory'))) + 1073741824 * k,
		'disk_bytes', sum(CASE WHEN role = 'data'
				  THEN n * ceil(esaas_quantity(r->>'disk')) ELSE 0 END))
	FROM (SELECT role, spec->role AS r,
		     coalesce((spec->role->>'replicas')::bigint, 0) AS n
	      FROM unnest(ARRAY['masters', 'data', 'clients']) AS role) roles,
	     (SELECT CASE WHEN jsonb_typeof(spec->'kibana'->'replicas') = 'number'
			  THEN (spec->'kibana'->>'replicas')::bigint ELSE 0 END AS k) kibana
	GROUP BY k
$$;

-- The spec a job leaves its cluster with, as far as quotas go: the spec it
-- was given (params.spec, the cluster's when it was submitted) with the
-- replicas a scale asks for (params.role and params.replicas).
CREATE FUNCTION esaas_job_spec(params jsonb) RETURNS jsonb LANGUAGE sql IMMUTABLE AS $$
	SELECT CASE WHEN params->>'role' IN ('masters', 'data', 'clients')
		     AND jsonb_typeof(params->'replicas') = 'number'
		     AND jsonb_typeof(params->'spec'->(params->>'role')) = 'object'
		THEN jsonb_set(params->'spec', ARRAY[params->>'role', 'replicas'], params->'replicas')
		ELSE params->'spec' END
$$;

-- The five measures a quota limits, in the order a refusal names them.
CREATE FUNCTION esaas_quota_measures() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
	SELECT ARRAY['clusters', 'nodes', 'cpu_millis', 'memory_bytes', 'disk_bytes']
$$;

-- A tenant's usage: over its live clusters, for each measure the most that
-- the cluster's spec or any of its unfinished jobs' specs takes (a queued
-- scale-up counts from the moment it is accepted).  A job that failed or
-- was cancelled may have left its pods (a scale-up stopped half-way): it
-- counts too, until a later job of the cluster succeeds.  With cluster and
-- spec given, as if a job with that spec were queued for that cluster too
-- (a new one when it does not exist).
CREATE FUNCTION esaas_tenant_usage(tenant text, cluster text DEFAULT NULL,
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
		   AND (j.status IN ('queued', 'running', 'waiting', 'cancelling')
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

-- The tenant's quota as JSON: a measure with no limit is null.
CREATE FUNCTION esaas_tenant_quota(tenant text) RETURNS jsonb LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('clusters', q.clusters, 'nodes', q.nodes,
				  'cpu_millis', q.cpu_millis, 'memory_bytes', q.memory_bytes,
				  'disk_bytes', q.disk_bytes)
	FROM (SELECT 1) one LEFT JOIN tenant_quotas q ON q.tenant_id = tenant
$$;

-- The check of a submission that would give cluster this spec.  Raises
-- SQLSTATE EQ001 when a measure would go past the tenant's limit and the
-- submission makes it grow; the message is JSON: {"measure", "usage",
-- "request", "limit"} (usage before the submission, request what it adds).
-- The statement that calls this fails as a whole, so nothing is queued.
--
-- Submissions of one tenant are serialised by a transaction lock taken
-- here, and what follows reads with a snapshot taken after it is granted
-- (a VOLATILE function's statements each take one), so two submissions
-- racing for the last unit of quota cannot both see it free.
CREATE FUNCTION esaas_quota_check(tenant text, cluster text, spec jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	quota jsonb;
	before jsonb;
	after jsonb;
	m text;
BEGIN
	-- Under REPEATABLE READ the reads below would keep the snapshot taken
	-- before the lock, and two submissions could both see the last unit.
	IF current_setting('transaction_isolation') <> 'read committed' THEN
		RAISE EXCEPTION 'esaas_quota_check needs READ COMMITTED, not %',
			current_setting('transaction_isolation');
	END IF;
	-- ':' is in no tenant's name, so this key is no cluster's lock key.
	PERFORM pg_advisory_xact_lock(hashtextextended('quota:' || tenant, 0));
	SELECT esaas_tenant_quota(tenant) INTO quota;
	IF NOT EXISTS (SELECT 1 FROM jsonb_each(quota) WHERE value <> 'null'::jsonb) THEN
		RETURN true;
	END IF;
	SELECT esaas_tenant_usage(tenant) INTO before;
	SELECT esaas_tenant_usage(tenant, cluster, spec) INTO after;
	FOREACH m IN ARRAY esaas_quota_measures() LOOP
		IF quota->m <> 'null'::jsonb
		   AND (after->>m)::numeric > (quota->>m)::numeric
		   AND (after->>m)::numeric > (before->>m)::numeric THEN
			RAISE EXCEPTION USING ERRCODE = 'EQ001',
				MESSAGE = jsonb_build_object('measure', m, 'usage', before->m,
					'request', (after->>m)::numeric - (before->>m)::numeric,
					'limit', quota->m)::text;
		END IF;
	END LOOP;
	RETURN true;
END
$$;
