-- Call traces: for each outbound attempt and each received call, the SIP
-- steps and the T.30 frames in and out, so that an administrator can see
-- why a call failed without a debugger. Bounded in size per call; kept as
-- long as the queue keeps jobs (queue.purge_after).
CREATE TABLE call_traces (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    direction    text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    -- Outbound: the job and its attempt number. Inbound: the received
    -- fax's archive key.
    job_id       bigint REFERENCES jobs (id) ON DELETE CASCADE,
    attempt      integer,
    received_key text,
    node_id      text NOT NULL,
    call_id      text NOT NULL DEFAULT '',
    gateway      text NOT NULL DEFAULT '',
    started_at   timestamptz NOT NULL,
    ended_at     timestamptz NOT NULL,
    result       text NOT NULL DEFAULT '',
    events       jsonb NOT NULL,
    -- Events left out because the trace reached its bound.
    dropped      integer NOT NULL DEFAULT 0,
    CHECK ((direction = 'outbound' AND job_id IS NOT NULL AND attempt IS NOT NULL)
        OR (direction = 'inbound' AND received_key IS NOT NULL))
);
CREATE INDEX call_traces_job ON call_traces (job_id, attempt, id) WHERE job_id IS NOT NULL;
CREATE INDEX call_traces_received ON call_traces (received_key, id) WHERE received_key IS NOT NULL;
CREATE INDEX call_traces_ended ON call_traces (ended_at);
