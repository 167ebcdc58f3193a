-- Indexes for the archive search (GET /v1/archive, GET /v1/received): one
-- per filter, each in the search's order (newest first) behind its
-- equality columns, so that a page is read from the front of one index
-- however large the archive. They replace the single-column number
-- indexes, whose matches had to be sorted, and the submitter index, which
-- left a rare result for a busy submitter to a scan of all its faxes.
DROP INDEX faxes_remote;
DROP INDEX faxes_local;
DROP INDEX faxes_submitter;
DROP INDEX faxes_unrouted;
CREATE INDEX faxes_remote ON faxes (remote_number, finished_at DESC, id DESC);
CREATE INDEX faxes_local ON faxes (local_number, finished_at DESC, id DESC);
CREATE INDEX faxes_submitter ON faxes (submitter, finished_at DESC, id DESC);
CREATE INDEX faxes_submitter_result ON faxes (submitter, result, finished_at DESC, id DESC);
CREATE INDEX faxes_result ON faxes (result, finished_at DESC, id DESC);
CREATE INDEX faxes_direction ON faxes (direction, finished_at DESC, id DESC);
CREATE INDEX faxes_routing ON faxes (routing, direction, finished_at DESC, id DESC);
