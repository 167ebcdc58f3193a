-- The document store keeps a set while an outbox row that names it is not
-- yet published (the archive has no copy yet); this finds those rows.
CREATE INDEX outbox_unpublished_document ON outbox ((payload->>'document')) WHERE published_at IS NULL;
