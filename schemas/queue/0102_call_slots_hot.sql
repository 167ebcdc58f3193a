-- Call slots, second form: inserting and deleting a row per call piled dead
-- versions onto the few keys of a busy gateway, and every acquirer read
-- through them. A gateway's slots are now fixed rows (gateway, 1..limit)
-- whose holder columns are updated in place (no indexed column changes,
-- so the updates are HOT and the page prunes itself), taken with FOR
-- UPDATE SKIP LOCKED; the per-number limit keeps one row per call, spread
-- over as many keys as there are numbers. Rows are held by job and
-- fencing token as before; a holder whose claim has ended is stale and
-- swept by the next acquirer that finds the limit reached.
DROP TABLE call_slots;

CREATE TABLE gateway_slots (
    gateway text NOT NULL,
    slot    integer NOT NULL CHECK (slot > 0),
    job_id  bigint,
    token   bigint,
    PRIMARY KEY (gateway, slot)
) WITH (fillfactor = 50);

CREATE TABLE number_slots (
    number text NOT NULL,
    slot   integer NOT NULL CHECK (slot > 0),
    job_id bigint NOT NULL,
    token  bigint NOT NULL,
    PRIMARY KEY (number, slot)
);
CREATE INDEX number_slots_job ON number_slots (job_id);
