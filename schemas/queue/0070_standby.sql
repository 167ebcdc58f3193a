-- Active/standby disaster recovery (R17, R18), internal/cluster.

-- This database's identity. The standby's configuration sync compares
-- the primary's with its own (with current_database(), since a database
-- made from a template copies this row) and never copies a database onto
-- itself.
CREATE TABLE db_identity (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    id        uuid NOT NULL DEFAULT gen_random_uuid()
);
INSERT INTO db_identity DEFAULT VALUES;

-- One row per standby: the primary it backs (one standby per primary,
-- seed 002) and the administrator's automatic-failover choice, which
-- outlives restarts.
CREATE TABLE standby_pairs (
    standby_id text PRIMARY KEY,
    primary_id text NOT NULL DEFAULT '',
    automatic  boolean,
    changed_by text NOT NULL DEFAULT '',
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX standby_pairs_primary ON standby_pairs (primary_id) WHERE primary_id <> '';

-- What standbys did: promotions, step-downs, manual controls, syncs.
CREATE TABLE standby_events (
    id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at      timestamptz NOT NULL DEFAULT now(),
    node_id text NOT NULL,
    event   text NOT NULL,
    detail  text NOT NULL DEFAULT '',
    actor   text NOT NULL DEFAULT ''
);
CREATE INDEX standby_events_node ON standby_events (node_id, at);
