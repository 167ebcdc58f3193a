-- The archive relay leases a batch of outbox rows (claimed_until) and
-- publishes it to NATS with no transaction open; a relay that dies
-- mid-batch leaves its rows to the others once the lease has passed.
ALTER TABLE outbox ADD COLUMN claimed_until timestamptz;
