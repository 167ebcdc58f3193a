-- User accounts for people (the web console and the API): a name, a role,
-- an argon2id password hash; their browser sessions; the mailboxes whose
-- received faxes each user may see; failed logins, counted here so that
-- throttling holds across every node; and API tokens that act as a user.

CREATE TABLE users (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$'),
    role          text NOT NULL CHECK (role IN ('admin', 'operator', 'user')),
    -- PHC string: $argon2id$v=19$m=...,t=...,p=...$salt$hash
    password_hash text NOT NULL,
    disabled      boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Only the SHA-256 of a session's cookie value is kept.
CREATE TABLE user_sessions (
    token_hash   bytea PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id      bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL,
    last_seen_at timestamptz NOT NULL,
    -- The absolute end; the idle end is last_seen_at plus the idle timeout.
    expires_at   timestamptz NOT NULL
);
CREATE INDEX user_sessions_user ON user_sessions (user_id);
CREATE INDEX user_sessions_expires ON user_sessions (expires_at);

-- Mailboxes (inbound rules' destination.mailbox) granted to a user.
CREATE TABLE user_grants (
    user_id    bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    mailbox    text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (user_id, mailbox)
);
CREATE INDEX user_grants_mailbox ON user_grants (mailbox);

-- One row per failed login, by account name and by client address; rows
-- older than the throttle window are deleted as new ones arrive.
CREATE TABLE login_failures (
    kind text NOT NULL CHECK (kind IN ('name', 'addr')),
    key  text NOT NULL,
    at   timestamptz NOT NULL
);
CREATE INDEX login_failures_key ON login_failures (kind, key, at);
CREATE INDEX login_failures_at ON login_failures (at);

-- A token that belongs to a user acts with that user's role and identity.
ALTER TABLE api_tokens ADD COLUMN user_id bigint REFERENCES users (id) ON DELETE CASCADE;
CREATE INDEX api_tokens_user ON api_tokens (user_id) WHERE user_id IS NOT NULL;
