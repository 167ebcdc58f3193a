-- Broadcasts: one submission to many recipients. Every recipient is an
-- ordinary job that names its broadcast; the broadcast row keeps what the
-- jobs share and the moment the last of them went final.
CREATE TABLE broadcasts (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text UNIQUE,
    request_hash    bytea NOT NULL,
    submitter       text NOT NULL DEFAULT '',
    callback_url    text NOT NULL DEFAULT '',
    metadata        jsonb NOT NULL DEFAULT '{}',
    recipients      integer NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    -- Set once, by the transaction whose job was the last to go final;
    -- done_job is that job: its completion notice carries the broadcast's.
    done_at         timestamptz,
    done_job        bigint
);
CREATE INDEX broadcasts_submitter ON broadcasts (submitter, id);

ALTER TABLE jobs ADD COLUMN broadcast_id bigint REFERENCES broadcasts (id);
CREATE INDEX jobs_broadcast ON jobs (broadcast_id, id) WHERE broadcast_id IS NOT NULL;

-- Decides in the database which job closed its broadcast: the broadcast
-- row is locked first, so of two jobs going final at once the second
-- waits, then (a new snapshot per statement) sees the first one final.
CREATE FUNCTION broadcast_job_final() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM broadcasts WHERE id = NEW.broadcast_id AND done_at IS NULL FOR UPDATE;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    UPDATE broadcasts SET done_at = now(), done_job = NEW.id
    WHERE id = NEW.broadcast_id AND done_at IS NULL
      AND NOT EXISTS (SELECT 1 FROM jobs WHERE broadcast_id = NEW.broadcast_id AND state IN ('pending', 'sending'));
    RETURN NULL;
END $$;
CREATE TRIGGER broadcast_job_final AFTER UPDATE OF state ON jobs
    FOR EACH ROW
    WHEN (NEW.broadcast_id IS NOT NULL AND NEW.state IN ('sent', 'failed', 'cancelled')
          AND OLD.state IN ('pending', 'sending'))
    EXECUTE FUNCTION broadcast_job_final();
