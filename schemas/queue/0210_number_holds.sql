-- The per-number call limit moves onto the job row. A row per call in
-- number_slots cost an insert (two index entries) at every claim and a
-- delete at every completion, the larger part of the slot work. A sending job now holds slot number_slot of its number
-- (call_number, normalised as the limit counts it) in columns the claim
-- writes anyway; the unique index is the limit. Every statement that
-- moves a job out of sending (completion, failure, takeover) clears the
-- hold in the same row write, so a dead node's holds go with its jobs.
ALTER TABLE jobs
    ADD COLUMN call_number text,
    ADD COLUMN number_slot integer;

CREATE UNIQUE INDEX jobs_number_slot ON jobs (call_number, number_slot)
    WHERE number_slot IS NOT NULL;

-- Calls in progress keep their holds across the upgrade.
UPDATE jobs j SET call_number = n.number, number_slot = n.slot
FROM number_slots n
WHERE n.job_id = j.id AND n.token = j.token AND j.state = 'sending';

-- number_slots stays while servers of the previous release run beside
-- the new ones in a rolling upgrade (they still write it); a later
-- release drops it. Until every server runs this one, the old and the
-- new servers each keep the limit among themselves, so a number may get
-- one call from each side.
