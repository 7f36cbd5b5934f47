-- On-call actions say why.  A cancel or a replay records its reason in a
-- column of its own, apart from the detail the engine writes, so that the
-- history shows who did what and why without parsing text.  Engine events
-- leave it NULL.  The API bounds its length (1 to 1000 characters); adding
-- a nullable column without a default rewrites nothing.

ALTER TABLE job_events ADD COLUMN reason text;
