-- Job controls: a deadline after which an unsent fax is given up, and
-- resends (a finished fax sent again as a new job that names the old one).
ALTER TABLE jobs ADD COLUMN deadline timestamptz;
ALTER TABLE jobs ADD COLUMN resent_from bigint;
-- The expiry sweep reads only pending jobs that have a deadline.
CREATE INDEX jobs_deadline ON jobs (deadline) WHERE state = 'pending' AND deadline IS NOT NULL;
CREATE INDEX jobs_resent_from ON jobs (resent_from, id) WHERE resent_from IS NOT NULL;
