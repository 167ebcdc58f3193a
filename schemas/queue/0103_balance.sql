-- Load balancing: a node that balances claims only while it has at least
-- as many free channels as every other live active balancing node of its
-- site, so that new work goes to the emptiest servers first.
ALTER TABLE nodes ADD COLUMN balance boolean NOT NULL DEFAULT false;
