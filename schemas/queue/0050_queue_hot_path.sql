-- A lighter hot path for the outbound queue (claim and complete).

-- job_history loses its foreign key to jobs. The key cost every history
-- insert a trigger, a query and a row lock on the job, two per job, and
-- bought nothing: history rows are only written by the statements that
-- change the job, from the job rows they just wrote, and Purge deletes a
-- job's history together with the job.
ALTER TABLE job_history DROP CONSTRAINT job_history_job_id_fkey;

-- The outbox wake-up. NOTIFY in a writing transaction takes a cluster-wide
-- lock at commit that serialises every notifying commit (through the WAL
-- flush when synchronous_commit is on). The queue's statements mark their
-- transaction with faxd.outbox_wake = 'after_commit' and send the
-- notification themselves once committed, merged; every other writer
-- (archive.Emit) is woken by the trigger as before.
CREATE OR REPLACE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('faxd.outbox_wake', true) IS DISTINCT FROM 'after_commit' THEN
        PERFORM pg_notify('faxd_outbox', '');
    END IF;
    RETURN NULL;
END $$;
