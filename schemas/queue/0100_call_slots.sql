-- Cluster-wide call limits: one row per outbound call in progress, held by
-- the job and the fencing token of the claim that placed it. A gateway's
-- max_channels and the per-number limit hold across every node because
-- each call must own a numbered slot (1..limit) under a unique key; a
-- dead node's rows are stale once its job was taken over (the token
-- changed) or its lease expired, and the next acquirer sweeps them, so
-- nothing is counted twice and nothing waits for a TTL.
CREATE TABLE call_slots (
    job_id       bigint NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    token        bigint NOT NULL,
    gateway      text NOT NULL,
    -- NULL: the gateway has no channel limit (NULLs never conflict).
    gateway_slot integer CHECK (gateway_slot > 0),
    number       text NOT NULL,
    -- NULL: no per-number limit.
    number_slot  integer CHECK (number_slot > 0),
    acquired_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (job_id, token),
    UNIQUE (gateway, gateway_slot),
    UNIQUE (number, number_slot)
);
