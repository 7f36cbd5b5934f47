-- Authentication and tenancy: API tokens, per-tenant quotas, and the audit
-- trail of changes to tenants, quotas and tokens.

-- An API token is esaas_<id>_<secret>; only the SHA-256 of the secret is
-- kept.  Tokens are revoked, never deleted, so the audit trail and the
-- list keep their names.
CREATE TABLE api_tokens (
	id text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
	tenant_id text NOT NULL REFERENCES tenants (id),
	role text NOT NULL CHECK (role IN ('viewer', 'member', 'oncall', 'admin')),
	secret_hash bytea NOT NULL CHECK (length(secret_hash) = 32),
	description text,
	created_at timestamptz NOT NULL DEFAULT now(),
	created_by text NOT NULL,
	expires_at timestamptz,
	revoked_at timestamptz,
	revoked_by text,
	last_used_at timestamptz,
	CHECK ((revoked_at IS NULL) = (revoked_by IS NULL))
);

CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at);

-- What a tenant may have.  A NULL column is no limit; no row is no limits.
CREATE TABLE tenant_quotas (
	tenant_id text PRIMARY KEY REFERENCES tenants (id),
	clusters integer CHECK (clusters >= 0),
	nodes integer CHECK (nodes >= 0),
	cpu_millis bigint CHECK (cpu_millis >= 0),
	memory_bytes bigint CHECK (memory_bytes >= 0),
	disk_bytes bigint CHECK (disk_bytes >= 0),
	updated_at timestamptz NOT NULL DEFAULT now(),
	updated_by text NOT NULL
);

-- Append-only: who changed which tenant, quota or token, and how.
CREATE TABLE audit_log (
	id bigserial PRIMARY KEY,
	at timestamptz NOT NULL DEFAULT now(),
	actor text NOT NULL,
	action text NOT NULL,
	tenant_id text,
	detail jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
