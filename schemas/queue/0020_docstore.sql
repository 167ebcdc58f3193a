-- Documents of submitted faxes, in the queue database so that any server
-- of the cluster can send a job and the API can return its pages.

-- Content-addressed blobs: the bytes are stored once per distinct content.
CREATE TABLE docstore_blobs (
    sha256       bytea PRIMARY KEY CHECK (octet_length(sha256) = 32),
    content_type text NOT NULL,
    size         bigint NOT NULL CHECK (size >= 0),
    data         bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- A document set is what a job's document column names: the prepared fax
-- pages (TIFF Class F) and the docstore_blobs they were rendered from. Its ref
-- is derived from the sources and the rendering options, so the same
-- submission always names the same set (idempotent resubmission).
-- pins counts submissions between storing the set and queueing the job:
-- garbage collection leaves a pinned set alone (until pinned_at is stale,
-- in case the submitting server died).
CREATE TABLE docstore_sets (
    ref        text PRIMARY KEY,
    pages      bytea NOT NULL REFERENCES docstore_blobs (sha256),
    page_count integer NOT NULL CHECK (page_count > 0),
    pins       integer NOT NULL DEFAULT 0 CHECK (pins >= 0),
    pinned_at  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX docstore_sets_pages ON docstore_sets (pages);

CREATE TABLE docstore_set_sources (
    set_ref      text NOT NULL REFERENCES docstore_sets (ref) ON DELETE CASCADE,
    position     integer NOT NULL CHECK (position >= 0),
    sha256       bytea NOT NULL REFERENCES docstore_blobs (sha256),
    filename     text NOT NULL DEFAULT '',
    content_type text NOT NULL,
    PRIMARY KEY (set_ref, position)
);
CREATE INDEX docstore_set_sources_blob ON docstore_set_sources (sha256);

-- Garbage collection asks which sets no job names any more.
CREATE INDEX jobs_document ON jobs (document);
