-- Sites: a node belongs to a site; a job may carry the site whose routes
-- are cheapest for its number, and until site_until only nodes of that
-- site claim it (others do once the wait is over, or at once when the
-- site has no live active node). '' is no site and no preference.
ALTER TABLE nodes ADD COLUMN site text NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN site text NOT NULL DEFAULT '',
    ADD COLUMN site_until timestamptz;
