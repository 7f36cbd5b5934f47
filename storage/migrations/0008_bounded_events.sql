-- A job's history stays bounded.
--
-- A wait that sees nothing new (the same state, attempt and detail as the
-- job's last event) no longer appends a row per poll: the engine counts it
-- on that last event instead, so one row tells when the observation was
-- first made (at), when last (last_at) and how many polls saw it (polls).
-- Every other event still appends.
--
-- Finished jobs' events are removed after engine.events_retention_days by
-- esaas_prune_job_events(), in bounded batches, each its own short
-- transaction.  The trigger that keeps the history append-only lets
-- exactly these two changes through and refuses any other.

ALTER TABLE job_events ADD COLUMN polls integer NOT NULL DEFAULT 1 CHECK (polls >= 1);
ALTER TABLE job_events ADD COLUMN last_at timestamptz;

-- The retention's scan: finished jobs, oldest first.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;

CREATE OR REPLACE FUNCTION job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	IF TG_OP = 'UPDATE' THEN
		IF NEW.polls > OLD.polls AND NEW.last_at IS NOT NULL
		   AND (NEW.id, NEW.job_id, NEW.at, NEW.started_at, NEW.from_state, NEW.to_state,
			NEW.outcome, NEW.status, NEW.attempt, NEW.actor, NEW.worker, NEW.detail,
			NEW.duration_ms, NEW.reason)
		   IS NOT DISTINCT FROM
		       (OLD.id, OLD.job_id, OLD.at, OLD.started_at, OLD.from_state, OLD.to_state,
			OLD.outcome, OLD.status, OLD.attempt, OLD.actor, OLD.worker, OLD.detail,
			OLD.duration_ms, OLD.reason) THEN
			RETURN NEW;
		END IF;
		RAISE EXCEPTION 'job_events is append-only: only a repeated wait''s polls and last_at may change';
	END IF;
	IF current_setting('esaas.pruning_events', true) = 'on'
	   AND EXISTS (SELECT 1 FROM jobs j WHERE j.id = OLD.job_id AND j.finished_at IS NOT NULL) THEN
		RETURN OLD;
	END IF;
	RAISE EXCEPTION 'job_events is append-only: only the retention of finished jobs removes events';
END;
$$;

-- Remove at most batch events of jobs finished more than keep_days days
-- ago; returns how many went.  Rows another pruner holds are skipped, so
-- replicas pruning at once neither wait for each other nor collide.
CREATE FUNCTION esaas_prune_job_events(keep_days integer, batch integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
	n bigint;
BEGIN
	PERFORM set_config('esaas.pruning_events', 'on', true);
	WITH doomed AS (
		SELECT e.id FROM jobs j JOIN job_events e ON e.job_id = j.id
		WHERE j.finished_at < now() - keep_days * interval '1 day'
		LIMIT batch
		FOR UPDATE OF e SKIP LOCKED)
	DELETE FROM job_events e USING doomed WHERE e.id = doomed.id;
	GET DIAGNOSTICS n = ROW_COUNT;
	PERFORM set_config('esaas.pruning_events', 'off', true);
	RETURN n;
END;
$$;
