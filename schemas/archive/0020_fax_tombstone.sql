-- A fax deleted on its server: its document is removed from the archive
-- too, and the record keeps who deleted it, when and why.
ALTER TABLE faxes ADD COLUMN deleted_at timestamptz;
ALTER TABLE faxes ADD COLUMN deleted_by text NOT NULL DEFAULT '';
ALTER TABLE faxes ADD COLUMN delete_reason text NOT NULL DEFAULT '';
