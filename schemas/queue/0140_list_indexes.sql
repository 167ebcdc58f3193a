-- Indexes for the job listing (GET /v1/faxes): one per filter, each in the
-- listing's order (newest first) behind its equality column, so that a
-- page is read from the front of one index however many jobs there are.
-- Without them a rare filter value (a submitter with no jobs, a number
-- faxed once, the sent jobs under a pending backlog) walked the whole
-- table.
CREATE INDEX jobs_list_created ON jobs (created_at DESC, id DESC);
CREATE INDEX jobs_list_state ON jobs (state, created_at DESC, id DESC);
CREATE INDEX jobs_list_destination ON jobs (destination, created_at DESC, id DESC);
CREATE INDEX jobs_list_submitter ON jobs (submitter, created_at DESC, id DESC);
