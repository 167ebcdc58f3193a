-- Deleting a finished fax removes its documents and leaves a tombstone on
-- the job: who deleted it, when and why.
ALTER TABLE jobs ADD COLUMN deleted_at timestamptz;
ALTER TABLE jobs ADD COLUMN deleted_by text;
ALTER TABLE jobs ADD COLUMN delete_reason text;
