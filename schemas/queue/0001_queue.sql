-- The outbound queue: jobs, their transition history, the nodes that hold
-- them, and the transactional outbox for the archive.

-- Fencing tokens only grow: every claim draws a new one.
CREATE SEQUENCE queue_fencing_seq;
-- Every registration of a node (process start) is a new incarnation; jobs
-- claimed under an older incarnation are orphans.
CREATE SEQUENCE node_incarnation_seq;

-- One row per faxd node: its lease (renewed by one write per heartbeat) and
-- its capacity. Doubles as cluster membership.
CREATE TABLE nodes (
    node_id          text PRIMARY KEY,
    incarnation      bigint NOT NULL,
    address          text NOT NULL DEFAULT '',
    role             text NOT NULL DEFAULT 'active',
    started_at       timestamptz NOT NULL DEFAULT now(),
    last_heartbeat   timestamptz NOT NULL DEFAULT now(),
    lease_expires_at timestamptz NOT NULL,
    capacity         integer NOT NULL DEFAULT 0 CHECK (capacity >= 0),
    free_channels    integer NOT NULL DEFAULT 0 CHECK (free_channels >= 0),
    metadata         jsonb NOT NULL DEFAULT '{}'
);

CREATE TABLE jobs (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key  text,
    -- Hash of the submitted request: the same key with another request is
    -- a conflict, not a duplicate.
    request_hash     bytea NOT NULL,
    state            text NOT NULL DEFAULT 'pending'
                     CHECK (state IN ('pending', 'sending', 'sent', 'failed', 'cancelled')),
    priority         smallint NOT NULL DEFAULT 0,
    -- Earliest time the job may be claimed: send_after, then back-off.
    run_at           timestamptz NOT NULL DEFAULT now(),
    attempts         integer NOT NULL DEFAULT 0,
    max_attempts     integer NOT NULL CHECK (max_attempts > 0),
    takeovers        integer NOT NULL DEFAULT 0,
    retry_policy     jsonb,
    destination      text NOT NULL,
    caller_id        text NOT NULL DEFAULT '',
    header           text NOT NULL DEFAULT '',
    document         text NOT NULL,
    callback_url     text NOT NULL DEFAULT '',
    submitter        text NOT NULL DEFAULT '',
    metadata         jsonb NOT NULL DEFAULT '{}',
    pages_total      integer NOT NULL DEFAULT 0,
    pages_confirmed  integer NOT NULL DEFAULT 0 CHECK (pages_confirmed >= 0),
    -- Holder of a sending job and the fencing token of its claim.
    node_id          text,
    node_incarnation bigint,
    token            bigint,
    claimed_at       timestamptz,
    cancel_requested boolean NOT NULL DEFAULT false,
    last_class       text NOT NULL DEFAULT '',
    last_reason      text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz,
    -- A sending job always has a holder; a pending one never has.
    CHECK (state <> 'sending' OR (token IS NOT NULL AND node_id IS NOT NULL)),
    CHECK (state <> 'pending' OR token IS NULL)
);

-- Partial: jobs without a key cost no index entry.
CREATE UNIQUE INDEX jobs_idempotency_key ON jobs (idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, id) WHERE state = 'pending';
CREATE INDEX jobs_sending ON jobs (node_id) WHERE state = 'sending';
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE state IN ('sent', 'failed', 'cancelled');

-- Every transition, with time, node and reason.
CREATE TABLE job_history (
    -- No primary key: rows are only ever read by job, through the index
    -- below, and one index less is cheaper on the hot path.
    id         bigint GENERATED ALWAYS AS IDENTITY,
    job_id     bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL DEFAULT now(),
    from_state text,
    to_state   text NOT NULL,
    node_id    text NOT NULL DEFAULT '',
    token      bigint,
    class      text NOT NULL DEFAULT '',
    reason     text NOT NULL DEFAULT '',
    pages      integer NOT NULL DEFAULT 0
);
CREATE INDEX job_history_job ON job_history (job_id, id);

-- Transactional outbox: a finished job's final record is written here in
-- the same transaction as its last transition; a relay publishes it.
CREATE TABLE outbox (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    topic        text NOT NULL,
    key          text NOT NULL,
    payload      jsonb NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
-- The relay reads in id order from its last position; the primary key
-- serves that.
