-- Inbound routing and notifications: the caller condition on inbound rules,
-- the durable delivery log that every node's notify worker drains, the
-- mailboxes, where each received fax was routed, and the reroute audit.

-- An optional condition on the caller's number, in the same match language
-- as the dialled number; an empty caller_kind matches every caller.
ALTER TABLE inbound_rules
    ADD COLUMN caller_kind  text NOT NULL DEFAULT ''
        CHECK (caller_kind IN ('', 'exact', 'prefix', 'pattern')),
    ADD COLUMN caller_match text NOT NULL DEFAULT '';

-- One outgoing email or webhook call. Workers claim due rows with
-- FOR UPDATE SKIP LOCKED, so each row is worked by one node at a time.
CREATE TABLE deliveries (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('email', 'webhook')),
    -- What happened: fax.received, fax.completed, server.down, ...
    event           text NOT NULL,
    -- Comma-separated addresses for email, the URL for a webhook.
    target          text NOT NULL,
    subject         text NOT NULL DEFAULT '',
    -- The plain-text mail body (email only).
    body            text NOT NULL DEFAULT '',
    -- The event's details, rendered into the mail text or webhook body.
    payload         jsonb NOT NULL DEFAULT '{}',
    -- The fax whose PDF goes with the delivery ('' for none).
    payload_ref     text NOT NULL DEFAULT '',
    attach          boolean NOT NULL DEFAULT false,
    -- HMAC key for the webhook signature; never logged or returned.
    secret          text NOT NULL DEFAULT '',
    -- Sent to receivers so they can drop a repeat; also stops two nodes
    -- that saw the same event from enqueueing it twice.
    idempotency_key text NOT NULL UNIQUE,
    attempts        integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts    integer NOT NULL CHECK (max_attempts > 0),
    next_attempt_at timestamptz NOT NULL DEFAULT now(),
    state           text NOT NULL DEFAULT 'pending'
                    CHECK (state IN ('pending', 'delivered', 'failed')),
    last_error      text NOT NULL DEFAULT '',
    -- Node that made the last attempt.
    node_id         text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz
);
CREATE INDEX deliveries_due ON deliveries (next_attempt_at, id) WHERE state = 'pending';
CREATE INDEX deliveries_payload_ref ON deliveries (payload_ref) WHERE payload_ref <> '';

-- Received faxes filed into a named mailbox, listed through the API.
CREATE TABLE mailbox_entries (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    mailbox    text NOT NULL,
    fax_ref    text NOT NULL,
    read       boolean NOT NULL DEFAULT false,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (mailbox, fax_ref)
);

-- Where each received fax went: the rule that matched, or unrouted.
-- A reroute moves the row to its new destination.
CREATE TABLE inbound_dispositions (
    fax_ref     text PRIMARY KEY,
    rule_id     bigint,
    -- 'unrouted' or kind:target, the form the reroute audit uses.
    destination text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX inbound_dispositions_unrouted ON inbound_dispositions (created_at)
    WHERE destination = 'unrouted';

-- The administrators' reroutes of received faxes.
CREATE TABLE reroutes (
    id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    fax_ref          text NOT NULL,
    actor            text NOT NULL,
    from_destination text NOT NULL,
    to_destination   text NOT NULL,
    delivery_id      bigint REFERENCES deliveries (id) ON DELETE SET NULL,
    outcome          text NOT NULL DEFAULT 'pending'
                     CHECK (outcome IN ('pending', 'delivered', 'failed')),
    error            text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL DEFAULT now(),
    finished_at      timestamptz
);
CREATE INDEX reroutes_fax ON reroutes (fax_ref, id);
CREATE INDEX reroutes_delivery ON reroutes (delivery_id) WHERE delivery_id IS NOT NULL;

-- A reroute's outcome follows its delivery in the same transaction that
-- finishes the delivery, so the audit never disagrees with the log.
CREATE FUNCTION reroutes_follow_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE reroutes
       SET outcome = NEW.state,
           error = CASE WHEN NEW.state = 'failed' THEN NEW.last_error ELSE '' END,
           finished_at = NEW.finished_at
     WHERE delivery_id = NEW.id;
    RETURN NULL;
END $$;
CREATE TRIGGER reroutes_follow_delivery AFTER UPDATE OF state ON deliveries
    FOR EACH ROW WHEN (NEW.state IS DISTINCT FROM OLD.state)
    EXECUTE FUNCTION reroutes_follow_delivery();
