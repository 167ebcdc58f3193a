-- Inbound rules may also match the sender's station id (TSI) and say
-- whether they apply to faxes that brought pages, to calls that brought
-- none, or to both; and each reader's read marks on received faxes.

-- The TSI condition: case-insensitive exact, prefix or substring match; an
-- empty tsi_kind matches every sender. pages: 'some' (at least one page,
-- what every rule did before this column), 'none' (no page arrived) or
-- 'any'.
ALTER TABLE inbound_rules
    ADD COLUMN tsi_kind  text NOT NULL DEFAULT ''
        CHECK (tsi_kind IN ('', 'exact', 'prefix', 'contains')),
    ADD COLUMN tsi_match text NOT NULL DEFAULT '',
    ADD COLUMN pages     text NOT NULL DEFAULT 'some'
        CHECK (pages IN ('some', 'none', 'any'));

-- Who has read which received fax. A fax filed into a mailbox again after
-- it was read (a reroute) is unread again: read_at is compared with the
-- mailbox entry's updated_at.
CREATE TABLE received_reads (
    fax_ref text NOT NULL,
    reader  text NOT NULL,
    read_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (fax_ref, reader)
);
CREATE INDEX received_reads_read_at ON received_reads (read_at);
