-- Maintenance windows.  A cluster (or, by default, every cluster of a
-- tenant) may say when disruptive work may run: weekly windows in a time
-- zone, {"time_zone": "Europe/Berlin", "windows": [{"day": "sat", "start":
-- "02:00", "duration": "4h"}]}.  A disruptive job (a rolling restart, a
-- static configuration change, a plugin change) submitted outside a window
-- stays queued until the next one opens; one still running when its window
-- closes stops at its next safe boundary (as a pause stops it) and goes on
-- when the next one opens.  Urgent work skips the windows, with a reason.
--
-- The windows are computed here, where the time zone rules are whole
-- (daylight saving time included), never in C.

ALTER TABLE clusters ADD COLUMN maintenance jsonb;
ALTER TABLE tenants ADD COLUMN maintenance jsonb;

-- windowed: the job obeys its cluster's windows (disruptive, not urgent).
-- window_held: it stopped at a safe boundary because its window closed;
-- status 'waiting', due when the next one opens.  urgent_reason: why it
-- was let run outside the windows.
ALTER TABLE jobs ADD COLUMN windowed boolean NOT NULL DEFAULT false,
	ADD COLUMN window_held boolean NOT NULL DEFAULT false,
	ADD COLUMN urgent_reason text,
	ADD CONSTRAINT jobs_window_held_waits CHECK (NOT window_held OR windowed);

-- The windows' clock: now(), moved by the interval in
-- esaas_window_clock_shift when it has a row.  It has none in production:
-- a test writes one to stand just before a window opens or closes without
-- waiting for a weekday.  Every window computation reads the time through
-- this function, so a test runs the production path.
CREATE TABLE esaas_window_clock_shift (
	shift interval NOT NULL,
	one boolean PRIMARY KEY DEFAULT true CHECK (one)
);

CREATE FUNCTION esaas_window_clock() RETURNS timestamptz LANGUAGE sql STABLE AS $$
	SELECT now() + coalesce((SELECT shift FROM esaas_window_clock_shift), '0')
$$;

-- Where a set of windows stands now: open (inside one), closes_at (when
-- the one it is in ends, the latest if several overlap) and next_open (the
-- next start after now), in real time.  No windows (NULL, or an empty
-- list): always open.  Each window is tried in the week before, this one
-- and the next, in local time, then turned into an instant by the zone's
-- rules of that date.
CREATE FUNCTION esaas_window(m jsonb, OUT open boolean, OUT closes_at timestamptz,
			     OUT next_open timestamptz)
LANGUAGE sql STABLE AS $$
	WITH clock AS (SELECT esaas_window_clock() AS at),
	w AS (
		SELECT ((date_trunc('week', clock.at AT TIME ZONE (m->>'time_zone'))
			 + (k * 7 + array_position(ARRAY['mon', 'tue', 'wed', 'thu', 'fri', 'sat',
							  'sun'], x->>'day') - 1) * interval '1 day'
			 + (x->>'start')::time) AT TIME ZONE (m->>'time_zone')) AS s,
		       (x->>'duration')::interval AS d, clock.at
		FROM clock, jsonb_array_elements(CASE WHEN jsonb_typeof(m->'windows') = 'array'
						      THEN m->'windows' ELSE '[]' END) x,
		     generate_series(-1, 1) k
	)
	SELECT coalesce(bool_or(s <= at AND at < s + d), true),
	       max(s + d) FILTER (WHERE s <= at AND at < s + d) - esaas_window_clock() + now(),
	       min(s) FILTER (WHERE s > at) - esaas_window_clock() + now()
	FROM w
$$;

-- The windows that hold a cluster's work: its own, else its tenant's.
CREATE FUNCTION esaas_cluster_maintenance(cluster bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT coalesce(c.maintenance, t.maintenance) FROM clusters c
	JOIN tenants t ON t.id = c.tenant_id WHERE c.id = cluster
$$;

-- Until when a windowed job of this cluster is held: NULL while a window
-- is open (or there is none), else the next opening.  PL/pgSQL, so that
-- the claim's statement, which calls it, plans as quickly as before: the
-- planner never inlines it, and it runs only for windowed jobs.
CREATE FUNCTION esaas_window_held_until(cluster bigint) RETURNS timestamptz
LANGUAGE plpgsql STABLE AS $$
DECLARE
	w record;
BEGIN
	SELECT * INTO w FROM esaas_window(esaas_cluster_maintenance(cluster));
	IF w.open IS NOT FALSE THEN
		RETURN NULL;
	END IF;
	RETURN coalesce(w.next_open, now());
END
$$;

-- Whether a windowed job of this cluster may run now.
CREATE FUNCTION esaas_cluster_window_open(cluster bigint) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	RETURN esaas_window_held_until(cluster) IS NULL;
END
$$;

-- A windowed job as the API shows it: {"open", "closes_at", "next_open",
-- "time_zone"} while it is queued or held, else NULL.
CREATE FUNCTION esaas_job_window(cluster bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('open', w.open, 'closes_at', esaas_ts(w.closes_at),
				  'next_open', esaas_ts(w.next_open),
				  'time_zone', m->>'time_zone')
	FROM (SELECT esaas_cluster_maintenance(cluster) AS m) mm,
	     LATERAL esaas_window(mm.m) w
$$;

-- An opening as people read it: "2026-12-12T01:00:00.000Z (Sat 02:00
-- Europe/Berlin)", the instant in UTC and the windows' local time.
CREATE FUNCTION esaas_window_opening_text(cluster bigint, at timestamptz) RETURNS text
LANGUAGE sql STABLE AS $$
	SELECT format('%s (%s %s)', esaas_ts(at),
		      to_char((at + (esaas_window_clock() - now())) AT TIME ZONE (m->>'time_zone'),
			      'Dy HH24:MI'),
		      m->>'time_zone')
	FROM (SELECT esaas_cluster_maintenance(cluster) AS m) mm
$$;

-- When a windowed job of this cluster may run, and what it says while it
-- waits: (now, NULL) while a window is open, else the next opening and
-- "waits for the maintenance window opening at ...".
CREATE FUNCTION esaas_window_wait(cluster bigint, OUT due timestamptz, OUT observation text)
LANGUAGE sql STABLE AS $$
	SELECT CASE WHEN w.open THEN now() ELSE coalesce(w.next_open, now()) END,
	       CASE WHEN NOT w.open THEN format('waits for the maintenance window opening at %s',
						esaas_window_opening_text(cluster, w.next_open)) END
	FROM esaas_window(esaas_cluster_maintenance(cluster)) w
$$;

-- Give a set of windows' held or queued windowed jobs their due time and
-- what they wait for again, after the windows changed: due now when open
-- (the claim decides), else at the next opening.  The jobs of one
-- cluster, or of every cluster of a tenant that has no windows of its own.
CREATE FUNCTION esaas_window_replan(for_tenant text, for_cluster bigint) RETURNS integer
LANGUAGE sql VOLATILE AS $$
	WITH u AS (
		UPDATE jobs j SET next_run_at = w.due,
				  observation = w.observation
					|| CASE WHEN j.window_held
						THEN format(': its window closed, so it stopped at'
							    ' a safe boundary, before %s', j.state)
						ELSE '' END,
				  updated_at = now()
		FROM clusters c, LATERAL esaas_window_wait(c.id) w
		WHERE j.cluster_id = c.id AND c.tenant_id = for_tenant
		  AND (c.id = for_cluster OR (for_cluster IS NULL AND c.maintenance IS NULL))
		  AND j.windowed AND (j.status = 'queued' OR (j.status = 'waiting' AND j.window_held))
		RETURNING j.id
	)
	SELECT count(*)::integer FROM u
$$;

-- A set of windows' time zone must be one PostgreSQL knows by name (the
-- rest of the shape is checked by the API): SQLSTATE EW001 otherwise.
CREATE FUNCTION esaas_maintenance_check(m jsonb) RETURNS boolean
LANGUAGE plpgsql STABLE AS $$
BEGIN
	IF m IS NOT NULL AND NOT EXISTS (SELECT 1 FROM pg_timezone_names
					 WHERE name = m->>'time_zone') THEN
		RAISE EXCEPTION USING ERRCODE = 'EW001',
			MESSAGE = format('maintenance.time_zone: %s is not a time zone name such as Europe/Berlin or UTC',
					 m->>'time_zone');
	END IF;
	RETURN true;
END
$$;

-- A cluster's windows as the API shows them: the windows that hold its
-- work ("windows": {"time_zone", "windows"} or null), where they come from
-- ("source": "cluster", "tenant" or null for none), and where they stand
-- now ("open", "closes_at", "next_open").
CREATE FUNCTION esaas_cluster_maintenance_json(cluster bigint) RETURNS jsonb
LANGUAGE sql STABLE AS $$
	SELECT jsonb_build_object('windows', coalesce(c.maintenance, t.maintenance),
				  'source', CASE WHEN c.maintenance IS NOT NULL THEN 'cluster'
					    WHEN t.maintenance IS NOT NULL THEN 'tenant' END,
				  'open', w.open, 'closes_at', esaas_ts(w.closes_at),
				  'next_open', esaas_ts(w.next_open))
	FROM clusters c JOIN tenants t ON t.id = c.tenant_id,
	     LATERAL esaas_window(coalesce(c.maintenance, t.maintenance)) w
	WHERE c.id = cluster
$$;

-- Set (m) or clear (NULL) the windows of a live cluster, or with cluster
-- NULL the default of a tenant's clusters that have none of their own;
-- then give their held and queued windowed jobs their due time again, an
-- audit_log row, and the workers woken.  NULL when there is no such
-- cluster or tenant.  Several statements, each seeing the one before: the
-- jobs are planned by the windows just written.
CREATE FUNCTION esaas_maintenance_set(tenant text, cluster text, actor text, m jsonb)
RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
	cid bigint;
	n integer;
BEGIN
	PERFORM esaas_maintenance_check(m);
	IF cluster IS NULL THEN
		UPDATE tenants SET maintenance = m WHERE id = tenant;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
	ELSE
		UPDATE clusters SET maintenance = m, updated_at = now()
		 WHERE tenant_id = tenant AND name = cluster AND deleted_at IS NULL
		RETURNING id INTO cid;
		IF NOT FOUND THEN
			RETURN NULL;
		END IF;
	END IF;
	n := esaas_window_replan(tenant, cid);
	INSERT INTO audit_log (actor, action, tenant_id, detail)
	VALUES (actor, CASE WHEN cluster IS NULL THEN 'tenant.maintenance'
			    ELSE 'cluster.maintenance' END, tenant,
		jsonb_build_object('cluster', cluster, 'maintenance', m, 'replanned', n));
	PERFORM pg_notify('esaas_jobs', '');
	RETURN jsonb_build_object('tenant', tenant, 'cluster', cluster, 'replanned', n,
				  'maintenance', CASE WHEN cid IS NOT NULL
						 THEN esaas_cluster_maintenance_json(cid)
						 ELSE jsonb_build_object('windows', m) END);
END
$$;
