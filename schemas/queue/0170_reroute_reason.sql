-- Why a person rerouted a received fax: the console and the API require
-- it, so that the reroute record and the audit log say why. Rows from
-- before carry ''.
ALTER TABLE reroutes ADD COLUMN reason text NOT NULL DEFAULT '';
