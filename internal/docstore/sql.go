package docstore

// sqlPinSet pins an existing set: $1 ref.
const sqlPinSet = `
UPDATE docstore_sets SET pins = pins + 1, pinned_at = now() WHERE ref = $1 RETURNING true`

// sqlLockBlob keeps a blob from being deleted until the transaction ends
// (a foreign key check takes the same lock).
const sqlLockBlob = `SELECT 1 FROM docstore_blobs WHERE sha256 = $1 FOR KEY SHARE`

const sqlInsertBlob = `
INSERT INTO docstore_blobs (sha256, content_type, size, data) VALUES ($1, $2, $3, $4)
ON CONFLICT (sha256) DO NOTHING`

const sqlInsertSet = `
INSERT INTO docstore_sets (ref, pages, page_count, pins, pinned_at) VALUES ($1, $2, $3, 1, now())
ON CONFLICT (ref) DO NOTHING`

const sqlInsertSource = `
INSERT INTO docstore_set_sources (set_ref, position, sha256, filename, content_type)
VALUES ($1, $2, $3, $4, $5)`

// sqlUnpin: $1 ref. Returns the pins left and whether a job names the set.
// inUse is true while set $1 must be kept: a job names it, or an outbox
// row names it that the relay has not yet published (so the archive has no
// copy yet; a received fax's pages are such a set).
const inUse = `(EXISTS (SELECT 1 FROM jobs WHERE document = $1)
	OR EXISTS (SELECT 1 FROM outbox WHERE published_at IS NULL AND payload->>'document' = $1))`

const sqlUnpin = `
UPDATE docstore_sets SET pins = GREATEST(pins - 1, 0) WHERE ref = $1
RETURNING pins, ` + inUse

const sqlLockSet = `
SELECT ` + inUse + ` FROM docstore_sets WHERE ref = $1 FOR UPDATE`

// sqlDeleteSet deletes a set (its sources cascade) and returns the blobs
// it used.
const sqlDeleteSet = `
WITH src AS (
	SELECT sha256 FROM docstore_set_sources WHERE set_ref = $1
), del AS (
	DELETE FROM docstore_sets WHERE ref = $1 RETURNING pages
)
SELECT pages FROM del UNION SELECT sha256 FROM src`

// sqlDeleteBlobIfUnused deletes a blob no set uses; a blob a concurrent
// submission has locked is skipped (it is about to be used).
const sqlDeleteBlobIfUnused = `
DELETE FROM docstore_blobs WHERE sha256 IN (
	SELECT d.sha256 FROM docstore_blobs d
	WHERE d.sha256 = $1
	  AND NOT EXISTS (SELECT 1 FROM docstore_sets s WHERE s.pages = d.sha256)
	  AND NOT EXISTS (SELECT 1 FROM docstore_set_sources x WHERE x.sha256 = d.sha256)
	FOR UPDATE SKIP LOCKED)`

const sqlGetSet = `
SELECT s.pages, s.page_count, s.created_at, d.size
FROM docstore_sets s JOIN docstore_blobs d ON d.sha256 = s.pages WHERE s.ref = $1`

const sqlGetSources = `
SELECT x.filename, x.content_type, x.sha256, d.size
FROM docstore_set_sources x JOIN docstore_blobs d ON d.sha256 = x.sha256
WHERE x.set_ref = $1 ORDER BY x.position`

const sqlGetBlob = `SELECT data, content_type FROM docstore_blobs WHERE sha256 = $1`

// sqlGCSets lists candidate sets: no job names them and they are not
// pinned, or pinned longer than $1 seconds ago. sqlGCLock re-checks each
// under its lock, outbox rows included.
const sqlGCSets = `
SELECT s.ref FROM docstore_sets s
WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.document = s.ref)
  AND (s.pins = 0 OR s.pinned_at IS NULL OR s.pinned_at < now() - $1::float8 * interval '1 second')`

const sqlGCLock = `
SELECT pins, pinned_at, ` + inUse + `
FROM docstore_sets WHERE ref = $1 FOR UPDATE`

const sqlGCBlobs = `
DELETE FROM docstore_blobs WHERE sha256 IN (
	SELECT d.sha256 FROM docstore_blobs d
	WHERE NOT EXISTS (SELECT 1 FROM docstore_sets s WHERE s.pages = d.sha256)
	  AND NOT EXISTS (SELECT 1 FROM docstore_set_sources x WHERE x.sha256 = d.sha256)
	FOR UPDATE SKIP LOCKED)`
