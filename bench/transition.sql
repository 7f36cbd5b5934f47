-- One transition as the engine writes it, for pgbench: TRANSITION_SQL from
-- storage/jobrun.c with its parameters filled in.  bench_engine refuses to
-- run pgbench when this text (white space aside) no longer matches the
-- engine's, once these are turned back into parameters:
--   $1  the lease owner       'bench/pgbench'
--   $2  the batch             the JSON literal: one job going from s1 to s2
--   $3  the lease, seconds    :lease_s
--   $4  the kinds to claim    '{test_noop}'
--   $5  how many to claim     :claim (0: the transition alone, as one written
--                             with nothing to claim)
--
-- Each client moves its own job row (id = client_id + 1) and counts the
-- row's version in :v (pgbench -D v=0), so that the fencing condition
-- matches every time: every transaction updates one row, inserts one event
-- and commits, as one transition written alone would.
\set id :client_id + 1
\set lease_s 30
\set claim 0
WITH t AS (SELECT * FROM jsonb_to_recordset('[{"id": :id, "epoch": 1, "version": :v,

  "status": "running", "state": "s2", "attempt": 1,

  "context": {"runs": {"s1": 1}, "trace": ["s1"]}, "error": null, "observation": null,

  "failed_state": null, "ending": null, "delay_ms": 0, "release": false, "entered": true, "pause": false,

  "ev_from": "s1", "ev_outcome": "next", "ev_attempt": 1, "ev_detail": null,

  "ev_started_us": 1700000000000000, "ev_duration_ms": 0}]'::jsonb) AS x(
  id bigint, epoch bigint, version bigint, status text, state text, attempt integer,
  context jsonb, error text, observation text, failed_state text, ending text,
  delay_ms bigint, release boolean, entered boolean, pause boolean, ev_from text,
  ev_outcome text, ev_attempt integer, ev_detail text, ev_started_us bigint,
  ev_duration_ms bigint)),
pz AS (SELECT t.id, k.paused_by, k.paused_reason FROM t JOIN jobs j ON j.id = t.id
  JOIN clusters k ON k.id = j.cluster_id
  WHERE t.pause AND k.paused_at IS NOT NULL FOR SHARE OF k),
wz AS (SELECT x.id, x.next_open FROM (SELECT t.id,
  esaas_window_held_until(j.cluster_id) AS next_open
  FROM t JOIN jobs j ON j.id = t.id WHERE t.pause AND j.windowed
  AND NOT EXISTS (SELECT 1 FROM pz WHERE pz.id = t.id)) x
  WHERE x.next_open IS NOT NULL),
u AS (UPDATE jobs j SET
  status = CASE WHEN pz.id IS NOT NULL AND NOT j.cancel_requested THEN 'paused'
  WHEN wz.id IS NOT NULL AND NOT j.cancel_requested THEN 'waiting'
  WHEN t.status = 'waiting' AND j.cancel_requested AND t.ending IS NULL
  THEN 'cancelling' ELSE t.status END,
  state = t.state, attempt = t.attempt, context = t.context, error = t.error,
  observation = CASE WHEN pz.id IS NOT NULL AND NOT j.cancel_requested
  THEN format('paused before %s, as %s asked: %s', t.state, pz.paused_by,
  pz.paused_reason)
  WHEN wz.id IS NOT NULL AND NOT j.cancel_requested
  THEN format('waits for the maintenance window opening at %s: its window closed, so it stopped at a safe boundary, before %s',
  esaas_window_opening_text(j.cluster_id, wz.next_open), t.state)
  ELSE t.observation END,
  window_held = wz.id IS NOT NULL AND NOT j.cancel_requested,
  failed_state = t.failed_state, ending = t.ending,
  next_run_at = CASE WHEN t.status = 'waiting' AND j.cancel_requested AND t.ending IS NULL
  THEN now() WHEN wz.id IS NOT NULL AND NOT j.cancel_requested THEN wz.next_open
  ELSE now() + t.delay_ms * interval '1 millisecond' END,
  state_entered_at = CASE WHEN wz.id IS NOT NULL AND NOT j.cancel_requested THEN NULL
  WHEN t.entered THEN now() ELSE j.state_entered_at END,
  lease_owner = CASE WHEN t.release OR (pz.id IS NOT NULL AND NOT j.cancel_requested)
  OR (wz.id IS NOT NULL AND NOT j.cancel_requested) THEN NULL
  ELSE j.lease_owner END,
  lease_expires_at = CASE WHEN t.release
  OR (pz.id IS NOT NULL AND NOT j.cancel_requested)
  OR (wz.id IS NOT NULL AND NOT j.cancel_requested) THEN NULL
  ELSE now() + :lease_s * interval '1 second' END,
  finished_at = CASE WHEN t.status IN ('succeeded', 'failed', 'cancelled') THEN now() END,
  version = j.version + 1, updated_at = now()
  FROM t LEFT JOIN pz ON pz.id = t.id LEFT JOIN wz ON wz.id = t.id
  WHERE j.id = t.id AND j.lease_owner = 'bench/pgbench' AND j.lease_epoch = t.epoch
  AND j.version = t.version
  RETURNING j.id, j.status, j.cancel_requested, t.release, t.delay_ms,
  j.status = 'paused' AS paused, pz.paused_by, pz.paused_reason,
  j.window_held AS held, wz.next_open, j.cluster_id),
done_before AS (SELECT j.id, j.status, j.cancel_requested, j.window_held
  FROM jobs j JOIN t ON j.id = t.id
  WHERE j.version = t.version + 1 AND j.lease_epoch = t.epoch
  AND (j.lease_owner = 'bench/pgbench' OR j.lease_owner IS NULL)),
rep AS (SELECT t.id AS job_id, l.id AS ev_id FROM t JOIN u ON u.id = t.id
  CROSS JOIN LATERAL (SELECT x.* FROM job_events x WHERE x.job_id = t.id
  ORDER BY x.id DESC LIMIT 1) l
  WHERE t.ev_outcome = 'wait' AND l.outcome = 'wait' AND l.actor = 'engine'
  AND l.from_state IS NOT DISTINCT FROM t.ev_from AND l.to_state = t.state
  AND l.status = u.status AND l.attempt = t.ev_attempt
  AND l.detail IS NOT DISTINCT FROM t.ev_detail),
ru AS (UPDATE job_events x SET polls = x.polls + 1, last_at = now()
  FROM rep WHERE x.id = rep.ev_id RETURNING x.id),
e AS (INSERT INTO job_events (job_id, started_at, from_state, to_state, outcome, status,
  attempt, actor, worker, detail, duration_ms, reason)
  SELECT x.job_id, x.started_at, x.from_state, x.to_state, x.outcome, x.status,
  x.attempt, 'engine', 'bench/pgbench', x.detail, x.duration_ms, x.reason FROM (
  SELECT t.id AS job_id, to_timestamp(t.ev_started_us / 1000000.0) AS started_at,
  t.ev_from AS from_state, t.state AS to_state, t.ev_outcome AS outcome,
  CASE WHEN u.paused OR u.held THEN t.status ELSE u.status END AS status,
  t.ev_attempt AS attempt, t.ev_detail AS detail, t.ev_duration_ms AS duration_ms,
  NULL::text AS reason, 0 AS ord
  FROM t JOIN u ON u.id = t.id
  WHERE NOT EXISTS (SELECT 1 FROM rep WHERE rep.job_id = t.id)
  UNION ALL SELECT t.id, now(), t.state, t.state, 'paused', 'paused', 1,
  format('paused at a safe boundary, before %s, as %s asked: %s; resume goes on from there', t.state, u.paused_by, u.paused_reason), 0, u.paused_reason, 1
  FROM t JOIN u ON u.id = t.id WHERE u.paused
  UNION ALL SELECT t.id, now(), t.state, t.state, 'window_closed', 'waiting', 1,
  format('its maintenance window closed: stopped at a safe boundary, before %s; it goes on when the next window opens, at %s', t.state,
  esaas_window_opening_text(u.cluster_id, u.next_open)),
  0, NULL, 1
  FROM t JOIN u ON u.id = t.id WHERE u.held) x ORDER BY x.job_id, x.ord),
cl AS (UPDATE clusters c SET
  observed = CASE WHEN f.fin THEN t.context->'observed' ELSE c.observed END,
  updated_at = now(),
  spec = CASE WHEN f.fin THEN coalesce(t.context->'spec', c.spec) ELSE c.spec END,
  deleted_at = CASE WHEN f.fin AND t.context->>'cluster_deleted' = 'true' THEN now()
  ELSE c.deleted_at END,
  es_security = CASE WHEN f.fin AND t.context->>'cluster_deleted' = 'true' THEN NULL
  ELSE coalesce(c.es_security, t.context->'es_security') END
  FROM t JOIN u ON u.id = t.id JOIN jobs j ON j.id = t.id
  CROSS JOIN LATERAL (SELECT u.status IN ('succeeded', 'failed', 'cancelled')
  AND t.context ? 'observed' AS fin) f
  WHERE (f.fin OR (t.context ? 'es_security' AND c.es_security IS NULL))
  AND c.tenant_id = j.tenant_id AND c.name = j.cluster AND c.deleted_at IS NULL),
rz AS (UPDATE jobs j SET status = 'waiting', next_run_at = now(), state_entered_at = NULL,
  observation = NULL, version = j.version + 1, updated_at = now(),
  window_held = j.windowed AND NOT esaas_cluster_window_open(j.cluster_id)
  FROM clusters k WHERE j.status = 'paused' AND k.id = j.cluster_id
  AND k.paused_at IS NULL AND j.kind = ANY('{test_noop}'::text[]) AND :claim::int > 0
  AND NOT EXISTS (SELECT 1 FROM t WHERE t.id = j.id) RETURNING j.id),
n AS (SELECT pg_notify('esaas_jobs', '') WHERE EXISTS (SELECT 1 FROM u
  WHERE u.status IN ('succeeded', 'failed', 'cancelled', 'cancelling')
  OR (u.release AND u.delay_ms = 0)) OR EXISTS (SELECT 1 FROM rz)),
c AS (SELECT j.id, j.lease_owner AS prev_owner FROM jobs j
  WHERE j.status IN ('queued', 'running', 'waiting', 'cancelling')
  AND j.next_run_at <= now()
  AND (j.lease_owner IS NULL OR j.lease_expires_at < now())
  AND j.kind = ANY('{test_noop}'::text[])
  AND NOT EXISTS (SELECT 1 FROM t WHERE t.id = j.id)
  AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.tenant_id = j.tenant_id
  AND p.cluster = j.cluster AND p.id <> j.id
  AND p.status IN ('running', 'waiting', 'cancelling'))
  AND NOT EXISTS (SELECT 1 FROM jobs p WHERE p.cluster_id = j.cluster_id
  AND p.id <> j.id AND p.status = 'paused')
  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM jobs p
  WHERE p.tenant_id = j.tenant_id AND p.cluster = j.cluster
  AND p.status = 'queued' AND p.queue_seq < j.queue_seq))
  AND NOT (j.status = 'queued' AND EXISTS (SELECT 1 FROM clusters k
  WHERE k.id = j.cluster_id AND k.paused_at IS NOT NULL))
  AND NOT (j.windowed AND (j.status = 'queued'
  OR (j.status = 'waiting' AND j.window_held))
  AND NOT esaas_cluster_window_open(j.cluster_id))
  AND NOT (j.window_held AND j.status = 'waiting' AND EXISTS (SELECT 1 FROM clusters k
  WHERE k.id = j.cluster_id AND k.paused_at IS NOT NULL))
  ORDER BY j.next_run_at, j.queue_seq LIMIT :claim FOR UPDATE OF j SKIP LOCKED),
cl_u AS (UPDATE jobs j SET lease_owner = 'bench/pgbench', lease_epoch = j.lease_epoch + 1,
  lease_expires_at = now() + :lease_s * interval '1 second',
  status = CASE WHEN j.status IN ('queued', 'waiting') THEN 'running' ELSE j.status END,
  started_at = coalesce(j.started_at, clock_timestamp()),
  state_entered_at = coalesce(j.state_entered_at, now()), window_held = false,
  updated_at = now()
  FROM c WHERE j.id = c.id AND j.id = ANY (ARRAY(SELECT id FROM c))
  RETURNING j.id, j.lease_epoch, j.version, j.tenant_id, j.cluster, j.kind, j.state,
  j.status, j.attempt, j.params, j.context, j.error, j.failed_state, j.observation,
  j.ending, j.cancel_requested,
  (extract(epoch FROM now() - j.state_entered_at) * 1000)::bigint AS elapsed_ms,
  c.prev_owner, j.cluster_id,
  (SELECT k.namespace FROM clusters k WHERE k.id = j.cluster_id) AS namespace,
  (SELECT k.es_security FROM clusters k WHERE k.id = j.cluster_id) AS es_security) SELECT 'c', cl_u.*, 0::bigint FROM cl_u UNION ALL SELECT 'w', u.id, NULL, NULL, NULL, NULL, NULL, NULL, u.status, NULL, NULL,
  NULL, NULL, NULL, CASE WHEN u.held THEN 't' END, NULL, u.cancel_requested,
  NULL, NULL, NULL, NULL, NULL, (SELECT count(*) FROM n) FROM u UNION ALL SELECT 'w', id, NULL, NULL, NULL, NULL, NULL, NULL, status, NULL, NULL, NULL,
  NULL, NULL, CASE WHEN window_held THEN 't' END, NULL, cancel_requested,
  NULL, NULL, NULL, NULL, NULL, 0
  FROM done_before;
\set v :v + 1
