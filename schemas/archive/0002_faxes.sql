-- Every completed outbound fax and every received fax, written by the
-- archiver from the JetStream stream. record_key is unique across all
-- queue databases (source/key), so a record delivered twice, or by two
-- archivers, is one row; version (the outbox id) makes a later record win.
CREATE TABLE faxes (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_key        text NOT NULL UNIQUE,
    source            text NOT NULL,
    version           bigint NOT NULL,
    direction         text NOT NULL CHECK (direction IN ('outbound', 'inbound')),
    result            text NOT NULL,
    reason            text NOT NULL DEFAULT '',
    class             text NOT NULL DEFAULT '',
    local_number      text NOT NULL DEFAULT '',
    remote_number     text NOT NULL DEFAULT '',
    remote_station_id text NOT NULL DEFAULT '',
    header            text NOT NULL DEFAULT '',
    pages             integer NOT NULL DEFAULT 0,
    pages_total       integer NOT NULL DEFAULT 0,
    attempts          integer NOT NULL DEFAULT 0,
    gateway           text NOT NULL DEFAULT '',
    node_id           text NOT NULL DEFAULT '',
    submitter         text NOT NULL DEFAULT '',
    job_id            bigint,
    submitted_at      timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz NOT NULL,
    duration_ms       bigint NOT NULL DEFAULT 0,
    document          text NOT NULL DEFAULT '',
    document_sha256   text NOT NULL DEFAULT '',
    routing           text NOT NULL DEFAULT '',
    routed_to         text NOT NULL DEFAULT '',
    metadata          jsonb NOT NULL DEFAULT '{}',
    record            jsonb NOT NULL,
    archived_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX faxes_finished ON faxes (finished_at DESC, id DESC);
CREATE INDEX faxes_remote ON faxes (remote_number);
CREATE INDEX faxes_local ON faxes (local_number);
CREATE INDEX faxes_submitter ON faxes (submitter, finished_at DESC);
CREATE INDEX faxes_unrouted ON faxes (finished_at DESC) WHERE routing = 'unrouted';

-- Documents, content-addressed: one copy however many faxes carry it.
CREATE TABLE documents (
    sha256       text PRIMARY KEY,
    content_type text NOT NULL,
    size         bigint NOT NULL,
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);
