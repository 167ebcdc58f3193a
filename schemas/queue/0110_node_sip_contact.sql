-- Inbound overflow: a node that cannot answer a call (every inbound
-- channel busy, standby, draining) may redirect the caller with 302 to
-- another live node that can. Each node's heartbeat writes where it takes
-- SIP calls (a sip: URI without user part; empty: do not redirect here)
-- and how many inbound channels it has free (0 unless active).
ALTER TABLE nodes ADD COLUMN sip_contact text NOT NULL DEFAULT '';
ALTER TABLE nodes ADD COLUMN free_inbound integer NOT NULL DEFAULT 0 CHECK (free_inbound >= 0);
