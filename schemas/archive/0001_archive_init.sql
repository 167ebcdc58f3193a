-- The archive database's first migration. Its tables (completed outbound
-- and received faxes) arrive with the archive package; this one records
-- the archive's identity so the two sets are distinguishable in a shared
-- database and a database migrated for the wrong role is noticed.
CREATE TABLE archive_meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);
INSERT INTO archive_meta (key, value) VALUES ('role', 'archive');
