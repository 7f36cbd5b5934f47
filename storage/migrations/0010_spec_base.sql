-- A spec operation (scale, config, plugins, Kibana) is planned in esaasd
-- against the spec its cluster is to have once the jobs queued before it
-- are done (the newest unfinished job's spec, or the cluster's own), read
-- before the submission takes the cluster's lock.  Two operations read at
-- once start from the same base, and the second one queued would carry a
-- spec without the first one's change.  This check runs under the
-- cluster's lock (SUBMIT_SQL, storage/jobs.c) and raises SQLSTATE ES001
-- when the spec the cluster is to have is no longer base: the caller
-- plans again against the new one, or refuses with 409.
--
-- What it reads takes a snapshot after the lock was granted (a VOLATILE
-- function's statements each take one), so a submission that committed
-- while this one waited for the lock is seen.
CREATE FUNCTION esaas_spec_base_check(tenant text, cluster text, base jsonb) RETURNS boolean
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
			   AND a.status IN ('queued', 'running', 'waiting', 'cancelling')
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
