-- API tokens. The secret is shown once at creation; only its SHA-256 is
-- kept. A token reads faxd_<id>_<secret>: the id finds the row, the hash
-- proves the secret.
CREATE TABLE api_tokens (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role         text NOT NULL CHECK (role IN ('submitter', 'admin')),
    hash         bytea NOT NULL CHECK (octet_length(hash) = 32),
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX api_tokens_name ON api_tokens (name);
