-- Inbound calls hold gateway slots too: a gateway's max_channels counts
-- the calls it carries in both directions, so the channels an inbound
-- fax occupies are not offered to outbound ones. An inbound holder is
-- the node incarnation that answered the call (in_node, in_incarnation)
-- and the call's SIP Call-ID; its slot is stale once that incarnation's
-- lease has expired. A slot has at most one holder.
ALTER TABLE gateway_slots
    ADD COLUMN in_node text,
    ADD COLUMN in_incarnation bigint,
    ADD COLUMN in_call text,
    ADD CONSTRAINT gateway_slots_one_holder CHECK (job_id IS NULL OR in_call IS NULL);
