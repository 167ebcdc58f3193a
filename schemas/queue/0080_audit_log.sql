-- Token expiry and the audit log of configuration changes.

-- NULL: the token does not expire.
ALTER TABLE api_tokens ADD COLUMN expires_at timestamptz;

-- One row per change made through the API, faxctl or the faxd command
-- line, written in the transaction that makes the change. before and
-- after are the object as the API shows it, secrets masked.
CREATE TABLE audit_log (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          timestamptz NOT NULL DEFAULT now(),
    -- The token that made the change (NULL: the faxd command line).
    actor_id    bigint,
    actor       text NOT NULL,
    action      text NOT NULL,
    object_type text NOT NULL,
    object_id   text NOT NULL DEFAULT '',
    before      jsonb,
    after       jsonb,
    -- The client's address, or "local" for the command line.
    remote_addr text NOT NULL DEFAULT '',
    detail      text NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_at ON audit_log (at, id);
CREATE INDEX audit_log_actor ON audit_log (actor, id);
CREATE INDEX audit_log_object ON audit_log (object_type, object_id, id);

-- A reroute's entry in the audit log (its own trail stays in reroutes).
ALTER TABLE reroutes ADD COLUMN audit_id bigint REFERENCES audit_log (id) ON DELETE SET NULL;
