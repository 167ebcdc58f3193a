package archive

// Every SQL statement of the archive lives here.

const recordCols = `id, record_key, source, version, direction, result, reason, class,
	local_number, remote_number, remote_station_id, header, pages, pages_total, attempts,
	gateway, node_id, submitter, job_id, submitted_at, started_at, finished_at, duration_ms,
	document, document_sha256, routing, routed_to, metadata, archived_at,
	deleted_at, deleted_by, delete_reason`

const sqlSelect = `SELECT ` + recordCols + ` FROM faxes`

// sqlUpsert inserts a record, or replaces an older version of it; an equal
// or newer version already there wins (the WHERE makes it a no-op).
const sqlUpsert = `
INSERT INTO faxes (record_key, source, version, direction, result, reason, class,
	local_number, remote_number, remote_station_id, header, pages, pages_total, attempts,
	gateway, node_id, submitter, job_id, submitted_at, started_at, finished_at, duration_ms,
	document, document_sha256, routing, routed_to, metadata, record)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20,
	$21, $22, $23, $24, $25, $26, $27, $28)
ON CONFLICT (record_key) DO UPDATE SET
	version = EXCLUDED.version, direction = EXCLUDED.direction, result = EXCLUDED.result,
	reason = EXCLUDED.reason, class = EXCLUDED.class, local_number = EXCLUDED.local_number,
	remote_number = EXCLUDED.remote_number, remote_station_id = EXCLUDED.remote_station_id,
	header = EXCLUDED.header, pages = EXCLUDED.pages, pages_total = EXCLUDED.pages_total,
	attempts = EXCLUDED.attempts, gateway = EXCLUDED.gateway, node_id = EXCLUDED.node_id,
	submitter = EXCLUDED.submitter, job_id = EXCLUDED.job_id, submitted_at = EXCLUDED.submitted_at,
	started_at = EXCLUDED.started_at, finished_at = EXCLUDED.finished_at,
	duration_ms = EXCLUDED.duration_ms,
	-- A deleted fax's document never comes back with a newer version.
	document = CASE WHEN faxes.deleted_at IS NULL THEN EXCLUDED.document ELSE '' END,
	document_sha256 = CASE WHEN faxes.deleted_at IS NULL THEN EXCLUDED.document_sha256 ELSE '' END,
	routing = EXCLUDED.routing,
	routed_to = EXCLUDED.routed_to, metadata = EXCLUDED.metadata, record = EXCLUDED.record,
	archived_at = now()
WHERE faxes.version < EXCLUDED.version`

const sqlPutDocument = `
INSERT INTO documents (sha256, content_type, size, data) VALUES ($1, $2, $3, $4)
ON CONFLICT (sha256) DO NOTHING`

const sqlGetDocument = `SELECT content_type, data FROM documents WHERE sha256 = $1`

// sqlPurge deletes a batch of old faxes. $1 age in seconds, $2 batch size.
const sqlPurge = `
DELETE FROM faxes WHERE id IN (
	SELECT id FROM faxes WHERE finished_at < now() - $1::float8 * interval '1 second'
	ORDER BY finished_at LIMIT $2)`

const sqlPurgeDocuments = `
DELETE FROM documents d WHERE NOT EXISTS (SELECT 1 FROM faxes f WHERE f.document_sha256 = d.sha256)`

// Relay statements run on the queue database, where the outbox lives.

// sqlOutboxClaim leases the oldest unpublished, unleased rows for $2
// microseconds and commits at once: the relay publishes them with no
// transaction open. SKIP LOCKED and the lease let the relays of several
// nodes share the work. $1 batch size.
const sqlOutboxClaim = `
UPDATE outbox SET claimed_until = clock_timestamp() + $2 * interval '1 microsecond'
WHERE id IN (SELECT id FROM outbox
	WHERE published_at IS NULL AND (claimed_until IS NULL OR claimed_until <= clock_timestamp())
	ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED)
RETURNING id, topic, key, payload`

const sqlOutboxPublished = `UPDATE outbox SET published_at = now(), claimed_until = NULL WHERE id = ANY($1)`

// sqlOutboxRelease gives back the rows a failed batch did not publish.
const sqlOutboxRelease = `UPDATE outbox SET claimed_until = NULL WHERE id = ANY($1) AND published_at IS NULL`

const sqlOutboxPending = `SELECT count(*) FROM outbox WHERE published_at IS NULL`

// sqlSourceID names the queue database: a physical replica promoted at the
// DR site keeps the system identifier, so record keys stay the same.
const sqlSourceID = `SELECT system_identifier::text || '/' || current_database() FROM pg_control_system()`

const sqlOutboxInsert = `INSERT INTO outbox (topic, key, payload) VALUES ($1, $2, $3)`

const sqlSetRouting = `UPDATE faxes SET routing = $2, routed_to = $3 WHERE record_key = $1`

// sqlOutboxOldest is the age of the oldest unpublished outbox row, through
// the partial index on unpublished rows.
const sqlOutboxOldest = `SELECT coalesce(extract(epoch FROM now() - min(created_at)), 0)::float8 FROM outbox WHERE published_at IS NULL`

// sqlTombstone clears a record's document and keeps the deletion; it
// returns the document's hash as it was. $1 key, $2 version, $3 at,
// $4 by, $5 reason.
const sqlTombstone = `
WITH old AS (
	SELECT id, document_sha256 FROM faxes WHERE record_key = $1 AND version < $2 FOR UPDATE
)
UPDATE faxes f SET document = '', document_sha256 = '', version = $2,
	deleted_at = $3, deleted_by = $4, delete_reason = $5, archived_at = now()
FROM old WHERE f.id = old.id
RETURNING old.document_sha256`

// sqlTombstoneRecord is sqlTombstone for a record deleted by its key
// alone (a received fax): the first deletion wins, whatever the versions
// (the deleting server's outbox may not be the one that wrote the record).
// $1 key, $2 at, $3 by, $4 reason.
const sqlTombstoneRecord = `
WITH old AS (
	SELECT id, document_sha256 FROM faxes WHERE record_key = $1 AND deleted_at IS NULL FOR UPDATE
)
UPDATE faxes f SET document = '', document_sha256 = '',
	deleted_at = $2, deleted_by = $3, delete_reason = $4, archived_at = now()
FROM old WHERE f.id = old.id
RETURNING old.document_sha256`

const sqlRecordExists = `SELECT EXISTS (SELECT 1 FROM faxes WHERE record_key = $1)`

const sqlDeleteDocumentIfUnused = `
DELETE FROM documents d WHERE d.sha256 = $1
  AND NOT EXISTS (SELECT 1 FROM faxes f WHERE f.document_sha256 = d.sha256)`
