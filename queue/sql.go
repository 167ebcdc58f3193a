package queue

// Every SQL statement of the queue lives here. The hot paths (enqueue,
// claim, complete) are single statements: the state change, its history
// entry and, for final states, the outbox record are written together by
// data-modifying CTEs, in one round trip and one implicit transaction.

// jobCols is the column list scanned by scanJob, in order.
const jobCols = `id, coalesce(idempotency_key, ''), state, priority, run_at, attempts, max_attempts,
	takeovers, retry_policy, destination, caller_id, header, document, callback_url, submitter,
	metadata, pages_total, pages_confirmed, coalesce(node_id, ''), coalesce(token, 0), claimed_at,
	cancel_requested, last_class, last_reason, created_at, updated_at, finished_at`

const outboxTopicFinished = "queue.job.finished"

// outboxTopicDeleted carries a deleted job's tombstone to the archive
// (archive.TopicJobDeleted); notices do not follow it.
const outboxTopicDeleted = "queue.job.deleted"

// outboxPayload is a finished job's record in the outbox, over the job
// columns of the row source it is selected from: what the archive keeps
// (archive.jobRow) and what the submitter's notice reads (the record is
// decoded as a Job: idempotency key, callback URL), plus the fencing
// token. Not the whole row: the request hash, retry policy, run_at and
// holder incarnation mean nothing once the job is over, and every byte is
// written to the WAL.
const outboxPayload = `jsonb_build_object('id', id, 'idempotency_key', idempotency_key, 'state', state,
	'priority', priority, 'destination', destination, 'caller_id', caller_id, 'header', header,
	'document', document, 'callback_url', callback_url, 'submitter', submitter, 'metadata', metadata,
	'pages_total', pages_total, 'pages_confirmed', pages_confirmed, 'attempts', attempts,
	'max_attempts', max_attempts, 'takeovers', takeovers, 'node_id', node_id, 'token', token,
	'last_class', last_class, 'last_reason', last_reason, 'created_at', created_at,
	'claimed_at', claimed_at, 'finished_at', finished_at, 'updated_at', updated_at)`

// outboxWakeAfterCommit, as a condition of an outbox insert, tells the
// outbox trigger (migration 0050) that this transaction wakes the relay
// itself after commit (Queue.outbox), so that the commit does not take
// PostgreSQL's notification lock. An uncorrelated sub-select is a one-time
// filter: it runs even when no row is inserted, and the statement trigger
// fires after it.
const outboxWakeAfterCommit = `(SELECT set_config('faxd.outbox_wake', 'after_commit', true)) IS NOT NULL`

const sqlEnqueue = `
WITH ins AS (
	INSERT INTO jobs (idempotency_key, request_hash, priority, run_at, max_attempts, retry_policy,
		destination, caller_id, header, document, callback_url, submitter, metadata, pages_total,
		site, site_until, deadline, resent_from)
	VALUES (NULLIF($1, ''), $2, $3, coalesce($4, now()), $5, $6, $7, $8, $9, $10, $11, $12, $13, $14,
		$15, CASE WHEN $15 <> '' THEN coalesce($4, now()) + $16::float8 * interval '1 second' END,
		coalesce($17, now() + $18 * interval '1 microsecond'), $19)
	ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
	RETURNING *
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, reason)
	SELECT id, NULL, 'pending', 'enqueued' FROM ins
)
SELECT ` + jobCols + ` FROM ins`

const sqlByKey = `SELECT ` + jobCols + `, request_hash FROM jobs WHERE idempotency_key = $1`

const sqlGet = `SELECT ` + jobCols + ` FROM jobs WHERE id = $1`

const sqlHistory = `
SELECT at, coalesce(from_state, ''), to_state, node_id, coalesce(token, 0), class, reason, pages
FROM job_history WHERE job_id = $1 ORDER BY id`

// sqlNotifyReady wakes idle workers (see notifier).
const sqlNotifyReady = `SELECT pg_notify('` + channelReady + `', '')`

// sqlOps is the hot path: one statement completes a batch of sending jobs
// and claims pending ones, for any mix of Complete, Claim and
// CompleteAndClaim calls (group commit, see ops.go).
//
// $1 ids, $2 tokens, $3 pages, $4 reasons: the completions (each marks
// its job sent only while its token holds); $5 wants: how many jobs each
// completion's caller claims next, counted only when the completion
// succeeded, so a stale token neither completes nor claims; $6 plain
// claims; $7 node and $8 incarnation: the claiming lease, which must be
// live in the database for any claim.
//
// Written so that PostgreSQL can keep one generic plan for it instead of
// planning every execution (planning cost more than running it): every
// parameter whose value would change an estimate (the arrays, the limit)
// is read through a sub-select, which the planner cannot see into, so
// custom and generic plans cost the same and the generic one is kept. The
// rows to update are found through the primary key (id = ANY), never by a
// join whose shape depends on a row estimate. The state test of the
// completions is written "IS TRUE" so that it does not match the
// predicate of the partial index jobs_sending: a bitmap scan of that index
// reads every dead entry left by earlier completions (bitmap scans never
// mark them dead), which made each statement slower the longer a busy
// queue ran.
const sqlOpsDone = `
WITH i AS (
	SELECT * FROM unnest((SELECT $1::bigint[]), (SELECT $2::bigint[]), (SELECT $3::int[]),
		(SELECT $4::text[]), (SELECT $5::int[])) AS i(id, token, pages, reason, want)
), done AS (
	UPDATE jobs j SET state = 'sent', pages_confirmed = GREATEST(j.pages_confirmed, i.pages),
		last_class = '', last_reason = i.reason, finished_at = now(), updated_at = now(), number_slot = NULL
	FROM i
	WHERE j.id = ANY ((SELECT $1::bigint[])::bigint[]) AND j.id = i.id AND j.token = i.token
	  AND (j.state = 'sending') IS TRUE
	RETURNING j.*, i.want
`

// sqlOpsFreeGW: a finished call's gateway slot goes with its completion.
// (With slots, sqlOpsSlots hands it to a job the statement claims.)
const sqlOpsFreeGW = `
), freegw AS (
	UPDATE gateway_slots g SET job_id = NULL, token = NULL
	FROM done WHERE g.job_id = done.id AND g.token = done.token`

// claimNext: the CTEs of the claiming lease and of the pending jobs it
// claims, locked, each with its fencing token. node and inc are the
// lease's parameters, limit how many jobs to claim (a sub-select, see
// sqlOps).
func claimNext(node, inc, limit string) string {
	return `lease AS (
	SELECT me.site FROM nodes me
	WHERE me.node_id = ` + node + ` AND me.incarnation = ` + inc + ` AND me.lease_expires_at > now()
	  -- Balancing: claim only with the most free channels of the site.
	  AND (NOT me.balance OR me.free_channels >= (SELECT max(o.free_channels) FROM nodes o
		WHERE o.balance AND o.site = me.site AND o.role = 'active' AND o.lease_expires_at > now()))
), next AS (
	-- Tokens are drawn in claim order.
	SELECT id, nextval('queue_fencing_seq') AS token, destination FROM (
		SELECT id, destination FROM jobs
		WHERE state = 'pending' AND run_at <= now() AND EXISTS (SELECT 1 FROM lease)
		  AND (jobs.site = '' OR jobs.site = (SELECT site FROM lease) OR jobs.site_until <= now()
			OR NOT EXISTS (SELECT 1 FROM nodes n WHERE n.site = jobs.site AND n.role = 'active' AND n.lease_expires_at > now()))
		ORDER BY priority DESC, run_at, id
		LIMIT ` + limit + `
		FOR UPDATE SKIP LOCKED) n`
}

// claimUpdate moves the claimed jobs (rows of src: id, token, and the
// number columns) to sending under the lease node/inc. Without call
// slots a claim holds no number (a hold left from an earlier claim is
// cleared).
func claimUpdate(node, inc, src, number, numberSlot string) string {
	return `
), claimed AS (
	UPDATE jobs j SET state = 'sending', attempts = j.attempts + 1, node_id = ` + node + `,
		node_incarnation = ` + inc + `, token = ` + src + `.token, claimed_at = now(), updated_at = now(),
		call_number = ` + number + `, number_slot = ` + numberSlot + `
	FROM ` + src + `
	WHERE j.id = ANY (ARRAY(SELECT id FROM ` + src + `)) AND j.id = ` + src + `.id
	RETURNING j.*`
}

// opsTail: the history of the statement's completions and claims, and
// the completions' results for the archive.
const opsTail = `
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, node_id, token, reason, pages)
	SELECT id, 'sending', 'sent', node_id, token, last_reason, pages_confirmed FROM done
	UNION ALL
	SELECT id, 'pending', 'sending', node_id, token, 'claimed, attempt ' || attempts, pages_confirmed
	FROM claimed
), outbox AS (
	INSERT INTO outbox (topic, key, payload)
	SELECT '` + outboxTopicFinished + `', id::text, ` + outboxPayload + ` FROM done
	WHERE ` + outboxWakeAfterCommit + `
)`

// claimTail: the history of a statement's claims.
const claimTail = `
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, node_id, token, reason, pages)
	SELECT id, 'pending', 'sending', node_id, token, 'claimed, attempt ' || attempts, pages_confirmed
	FROM claimed
)`

const opsLimit = `(SELECT $6::int + coalesce(sum(want), 0) FROM done)`

var sqlOpsBody = sqlOpsDone + sqlOpsFreeGW + `
), ` + claimNext("$7", "$8", opsLimit) + claimUpdate("$7", "$8", "next", "NULL", "NULL") + opsTail

var sqlOps = sqlOpsBody + `
SELECT ` + jobCols + `, false, false FROM done
UNION ALL
SELECT ` + jobCols + `, true, false FROM claimed`

// sqlClaim is sqlOps without completions, for a batch of plain claims
// (a worker idle or just started): a lighter plan on the path from enqueue
// to dispatch. $1 claims, $2 node, $3 incarnation; same rows as sqlOps,
// and the same care for the generic plan.
var sqlClaimBody = `
WITH ` + claimNext("$2", "$3", "(SELECT $1::int)") + claimUpdate("$2", "$3", "next", "NULL", "NULL") + claimTail

var sqlClaim = sqlClaimBody + `
SELECT ` + jobCols + `, true, false FROM claimed`

const sqlLeaseLive = `
SELECT EXISTS (SELECT 1 FROM nodes WHERE node_id = $1 AND incarnation = $2 AND lease_expires_at > now())`

// sqlProgress: $1 id, $2 token, $3 pages. Confirmed pages only grow.
const sqlProgress = `
UPDATE jobs SET pages_confirmed = GREATEST(pages_confirmed, $3), updated_at = now()
WHERE id = $1 AND token = $2 AND state = 'sending'
RETURNING cancel_requested`

// sqlHolderTransition moves a sending job held by token $2 out of sending.
// $1 id, $2 token, $3 new state, $4 delay in seconds (pending only),
// $5 attempts refund (0 or 1), $6 pages confirmed, $7 class, $8 reason.
// A job going back to pending loses its holder; a final one keeps it for
// the record and is written to the outbox.
const sqlHolderTransition = `
WITH old AS (
	SELECT id, node_id, token FROM jobs
	WHERE id = $1 AND token = $2 AND state = 'sending'
	FOR UPDATE
), upd AS (
	UPDATE jobs j SET
		state = $3,
		run_at = CASE WHEN $3 = 'pending' THEN now() + $4::float8 * interval '1 second' ELSE j.run_at END,
		attempts = GREATEST(j.attempts - $5, 0),
		pages_confirmed = GREATEST(j.pages_confirmed, $6),
		last_class = $7,
		last_reason = $8,
		node_id = CASE WHEN $3 = 'pending' THEN NULL ELSE j.node_id END,
		node_incarnation = CASE WHEN $3 = 'pending' THEN NULL ELSE j.node_incarnation END,
		token = CASE WHEN $3 = 'pending' THEN NULL ELSE j.token END,
		finished_at = CASE WHEN $3 IN ('sent', 'failed', 'cancelled') THEN now() END,
		updated_at = now(), number_slot = NULL
	FROM old WHERE j.id = old.id
	RETURNING j.*
), freegw AS (
	-- The claim ends: its call slots go with it.
	UPDATE gateway_slots g SET job_id = NULL, token = NULL
	FROM old WHERE g.job_id = old.id AND g.token = old.token
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, node_id, token, class, reason, pages)
	SELECT upd.id, 'sending', upd.state, old.node_id, old.token, $7, $8, upd.pages_confirmed
	FROM upd JOIN old ON old.id = upd.id
), outbox AS (
	INSERT INTO outbox (topic, key, payload)
	SELECT '` + outboxTopicFinished + `', id::text, ` + outboxPayload + ` FROM upd
	WHERE ` + outboxWakeAfterCommit + ` AND upd.state IN ('sent', 'failed', 'cancelled')
)
SELECT ` + jobCols + ` FROM upd`

// sqlDiagnose explains why a holder write matched no row.
const sqlDiagnose = `SELECT state, token FROM jobs WHERE id = $1`

// sqlFailLock reads what Fail needs to decide, locking the row.
const sqlFailLock = `
SELECT state, token, attempts, max_attempts, retry_policy, cancel_requested, destination
FROM jobs WHERE id = $1 FOR UPDATE`

// sqlResite gives a job going back to pending the site now preferred for
// its number: $1 id, $2 site (empty: none), $3 the site wait in seconds,
// counted from the retry's run_at.
const sqlResite = `
UPDATE jobs SET site = $2, site_until = CASE WHEN $2 <> '' THEN run_at + $3::float8 * interval '1 second' END
WHERE id = $1 AND state = 'pending' AND (site, site_until) IS DISTINCT FROM
	($2, CASE WHEN $2 <> '' THEN run_at + $3::float8 * interval '1 second' END)`

const sqlCancelLock = `SELECT state, cancel_requested FROM jobs WHERE id = $1 FOR UPDATE`

// sqlCancelPending: $1 id, $2 reason.
const sqlCancelPending = `
WITH upd AS (
	UPDATE jobs SET state = 'cancelled', last_reason = $2, finished_at = now(), updated_at = now()
	WHERE id = $1 AND state = 'pending'
	RETURNING *
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, reason, pages)
	SELECT id, 'pending', 'cancelled', $2, pages_confirmed FROM upd
), outbox AS (
	INSERT INTO outbox (topic, key, payload)
	SELECT '` + outboxTopicFinished + `', id::text, ` + outboxPayload + ` FROM upd
	WHERE ` + outboxWakeAfterCommit + `
)
SELECT ` + jobCols + ` FROM upd`

// sqlRetryNow makes a pending job due now (never later than it was).
// $1 id, $2 reason for the history.
const sqlRetryNow = `
WITH upd AS (
	UPDATE jobs SET run_at = LEAST(run_at, now()), updated_at = now()
	WHERE id = $1 AND state = 'pending'
	RETURNING *
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, reason, pages)
	SELECT id, 'pending', 'pending', $2, pages_confirmed FROM upd
)
SELECT ` + jobCols + ` FROM upd`

// sqlCancelSending flags a sending job and tells its holder at once.
const sqlCancelSending = `
WITH upd AS (
	UPDATE jobs SET cancel_requested = true, updated_at = now()
	WHERE id = $1 AND state = 'sending'
	RETURNING *
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, node_id, token, reason, pages)
	SELECT id, 'sending', 'sending', node_id, token, 'cancel requested: ' || $2, pages_confirmed FROM upd
), notify AS (
	SELECT pg_notify('` + channelCancel + `', id::text) FROM upd
)
SELECT ` + jobCols + `, (SELECT count(*) FROM notify) FROM upd`

// sqlTakeOver returns the sending jobs of nodes whose lease expired,
// whose incarnation was replaced, or whose liveness session ended (the
// process died: its advisory lock is gone) to pending, or to a final state when
// their cancel was requested or they have been orphaned too often.
// $1 taker node, $2 max takeovers. SKIP LOCKED makes concurrent takers
// split the work instead of doing it twice.
const sqlTakeOver = `
WITH held AS MATERIALIZED (` + sqlLivenessLocks + `
), dead AS (
	SELECT j.id, j.node_id, j.token,
		CASE WHEN n.node_id IS NULL THEN 'node gone'
			WHEN n.incarnation <> j.node_incarnation THEN 'node restarted'
			WHEN n.lease_expires_at <= now() THEN 'node lease expired'
			ELSE 'node process gone' END AS why
	FROM jobs j LEFT JOIN nodes n ON n.node_id = j.node_id
	WHERE j.state = 'sending'
	  AND (n.node_id IS NULL OR n.incarnation <> j.node_incarnation OR n.lease_expires_at <= now()
		OR (n.liveness AND NOT EXISTS (SELECT 1 FROM held WHERE held.incarnation = n.incarnation)))
	FOR UPDATE OF j SKIP LOCKED
), upd AS (
	UPDATE jobs j SET
		state = CASE WHEN j.cancel_requested THEN 'cancelled'
			WHEN j.takeovers >= $2 THEN 'failed' ELSE 'pending' END,
		takeovers = j.takeovers + 1,
		attempts = GREATEST(j.attempts - 1, 0),
		number_slot = NULL,
		-- Precedence: the job goes before every due pending job of its
		-- priority, so that a backlog does not delay the resumption of a
		-- half-sent fax. It keeps its own run_at when that is earlier.
		run_at = LEAST(j.run_at, now(), (SELECT min(p.run_at) - interval '1 microsecond' FROM jobs p
			WHERE p.state = 'pending' AND p.priority = j.priority AND p.run_at <= now())),
		last_reason = CASE WHEN j.cancel_requested THEN 'cancelled; holder ' || dead.why
			WHEN j.takeovers >= $2 THEN 'orphaned ' || (j.takeovers + 1) || ' times; last: ' || dead.why
			ELSE j.last_reason END,
		node_id = CASE WHEN j.cancel_requested OR j.takeovers >= $2 THEN j.node_id END,
		node_incarnation = CASE WHEN j.cancel_requested OR j.takeovers >= $2 THEN j.node_incarnation END,
		token = CASE WHEN j.cancel_requested OR j.takeovers >= $2 THEN j.token END,
		finished_at = CASE WHEN j.cancel_requested OR j.takeovers >= $2 THEN now() END,
		updated_at = now()
	FROM dead WHERE j.id = dead.id AND j.state = 'sending'
	RETURNING j.*
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, node_id, token, reason, pages)
	SELECT upd.id, 'sending', upd.state, $1, dead.token,
		'taken over from ' || dead.node_id || ': ' || dead.why, upd.pages_confirmed
	FROM upd JOIN dead ON dead.id = upd.id
), outbox AS (
	INSERT INTO outbox (topic, key, payload)
	SELECT '` + outboxTopicFinished + `', id::text, ` + outboxPayload + ` FROM upd
	WHERE ` + outboxWakeAfterCommit + ` AND upd.state IN ('failed', 'cancelled')
)
SELECT ` + jobCols + ` FROM upd`

// sqlPurge deletes a batch of finished jobs and their history (no foreign
// key cascades it: migration 0050) and returns how many jobs went.
// $1 age in seconds, $2 batch size.
const sqlPurge = `
WITH gone AS (
	DELETE FROM jobs WHERE id IN (
		SELECT id FROM jobs
		WHERE state IN ('sent', 'failed', 'cancelled')
		  AND finished_at < now() - $1::float8 * interval '1 second'
		ORDER BY finished_at
		LIMIT $2
		FOR UPDATE SKIP LOCKED)
	RETURNING id
), hist AS (
	DELETE FROM job_history h USING gone WHERE h.job_id = gone.id
)
SELECT count(*) FROM gone`

// sqlPurgeOutbox deletes published outbox rows of the same age.
const sqlPurgeOutbox = `
DELETE FROM outbox WHERE published_at < now() - $1::float8 * interval '1 second'`

// Node leases.

// sqlRegister: $1 node, $2 address, $3 role, $4 ttl seconds, $5 capacity,
// $6 free, $7 metadata, $8 incarnation (NULL: draw one; set: the
// liveness session already holds its lock), $9 site, $10 balance, $11
// SIP contact, $12 free inbound. A new incarnation orphans the previous
// one's jobs.
const sqlRegister = `
INSERT INTO nodes (node_id, incarnation, address, role, started_at, last_heartbeat,
	lease_expires_at, capacity, free_channels, metadata, liveness, site, balance, sip_contact, free_inbound)
VALUES ($1, coalesce($8::bigint, nextval('node_incarnation_seq')), $2, $3, now(), now(),
	now() + $4::float8 * interval '1 second', $5, $6, $7, $8::bigint IS NOT NULL, $9, $10, $11, $12)
ON CONFLICT (node_id) DO UPDATE SET
	incarnation = EXCLUDED.incarnation, address = EXCLUDED.address, role = EXCLUDED.role,
	started_at = now(), last_heartbeat = now(), lease_expires_at = EXCLUDED.lease_expires_at,
	capacity = EXCLUDED.capacity, free_channels = EXCLUDED.free_channels,
	metadata = EXCLUDED.metadata, liveness = EXCLUDED.liveness, site = EXCLUDED.site,
	balance = EXCLUDED.balance,
	sip_contact = EXCLUDED.sip_contact, free_inbound = EXCLUDED.free_inbound
RETURNING incarnation`

// Liveness sessions. A node's liveness session holds the advisory lock
// ("faxd" = 1717663844, incarnation) for as long as it lives; PostgreSQL
// drops it the moment the session ends, which for a killed process is at
// once (the kernel closes its socket). The two-key form keeps the lock
// apart from faxd's single-key advisory locks (migrations, maintenance).
// sqlLivenessLock draws an incarnation and locks it on this session.
const sqlLivenessLock = `
SELECT v, CASE WHEN v <= 2147483647 THEN pg_try_advisory_lock(` + livenessLockClassSQL + `, v::int) ELSE false END
FROM (SELECT nextval('node_incarnation_seq') AS v) s`

// sqlLivenessHeld: $1 incarnation; does this session still hold its lock?
const sqlLivenessHeld = `
SELECT EXISTS (SELECT 1 FROM (` + sqlLivenessLocks + `) l WHERE l.pid = pg_backend_pid() AND l.incarnation = $1)`

// sqlLivenessLocks lists the liveness locks held in this database: one
// read of PostgreSQL's lock table, shared by every row of a statement.
const sqlLivenessLocks = `
	SELECT objid::bigint AS incarnation, pid FROM pg_locks
	WHERE locktype = 'advisory' AND classid = ` + livenessLockClassSQL + ` AND objsubid = 2 AND granted
	  AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`

const livenessLockClassSQL = "1717663844"

// sqlRenew: one write per node and heartbeat. An expired lease is never
// revived: the node has fenced itself and must register again.
// $1 node, $2 incarnation, $3 ttl seconds, $4 free channels, $5 SIP
// contact, $6 free inbound channels.
const sqlRenew = `
UPDATE nodes SET last_heartbeat = now(),
	lease_expires_at = now() + $3::float8 * interval '1 second', free_channels = $4,
	sip_contact = $5, free_inbound = $6
WHERE node_id = $1 AND incarnation = $2 AND lease_expires_at > now()`

// sqlDeregister ends a lease at once.
const sqlDeregister = `
UPDATE nodes SET lease_expires_at = now(), free_channels = 0, free_inbound = 0
WHERE node_id = $1 AND incarnation = $2`

const sqlNodes = `
WITH held AS MATERIALIZED (` + sqlLivenessLocks + `
)
SELECT node_id, incarnation, address, role, started_at, last_heartbeat, lease_expires_at,
	capacity, free_channels, lease_expires_at > now(), liveness,
	liveness AND NOT EXISTS (SELECT 1 FROM held WHERE held.incarnation = nodes.incarnation), site
FROM nodes ORDER BY node_id`

// Notification channels.
const (
	channelReady  = "faxd_queue_ready"  // a job became claimable now
	channelCancel = "faxd_queue_cancel" // payload: the id of a job whose cancel was requested
	channelOutbox = "faxd_outbox"       // outbox rows were committed (the archive relay listens)
)

// sqlNotifyOutbox wakes the archive relay after the queue committed
// outbox rows (see outboxWakeAfterCommit).
const sqlNotifyOutbox = `SELECT pg_notify('` + channelOutbox + `', '')`

// sqlSlotAcquire takes a free slot of the gateway (a fixed row, locked
// with SKIP LOCKED so that concurrent acquirers never wait on each other)
// and a slot of the number (held on the job's row, see claimWithSlots),
// both or neither, for a claim that still holds its job. $1 job, $2
// token, $3 gateway, $4 its limit, $5 number, $6 its limit (0: none).
// Returns whether the claim holds the job, whether the slot was taken,
// and whether each limit had room.
var sqlSlotAcquire = `
WITH held AS (
	SELECT EXISTS (SELECT 1 FROM jobs WHERE id = $1 AND token = $2 AND state = 'sending') AS ok
), gw AS (
	SELECT slot FROM gateway_slots
	WHERE gateway = $3 AND slot <= $4::int AND job_id IS NULL AND in_call IS NULL AND $4::int > 0 AND (SELECT ok FROM held)
	ORDER BY slot LIMIT 1
	FOR UPDATE SKIP LOCKED
), num AS (
	SELECT CASE WHEN $6::int > 0 THEN (SELECT s FROM generate_series(1, $6::int) s
		WHERE NOT EXISTS (` + numberHeld("$5", "s") + ` AND h.id <> $1) LIMIT 1) END AS slot
), nupd AS (
	UPDATE jobs j SET call_number = $5, number_slot = num.slot
	FROM num WHERE j.id = $1 AND j.token = $2 AND j.state = 'sending'
	  AND $6::int > 0 AND num.slot IS NOT NULL
	  AND ($4::int = 0 OR EXISTS (SELECT 1 FROM gw))
	RETURNING 1
), gupd AS (
	UPDATE gateway_slots g SET job_id = $1, token = $2
	FROM gw WHERE g.gateway = $3 AND g.slot = gw.slot
	  AND ($6::int = 0 OR EXISTS (SELECT 1 FROM nupd))
	RETURNING 1
)
SELECT held.ok,
	held.ok AND ($4::int = 0 OR EXISTS (SELECT 1 FROM gupd)) AND ($6::int = 0 OR EXISTS (SELECT 1 FROM nupd)),
	($4::int = 0 OR EXISTS (SELECT 1 FROM gw)),
	($6::int = 0 OR (SELECT slot FROM num) IS NOT NULL)
FROM held`

// sqlSlotFreeLocked: does gateway $1 have a free slot within its limit
// $2 as of now, locked or not?
const sqlSlotFreeLocked = `
SELECT EXISTS (SELECT 1 FROM gateway_slots WHERE gateway = $1 AND slot <= $2::int AND job_id IS NULL AND in_call IS NULL)`

// sqlSlotRelease frees a claim's slots. $1 job, $2 token.
const sqlSlotRelease = `
WITH g AS (
	UPDATE gateway_slots SET job_id = NULL, token = NULL WHERE job_id = $1 AND token = $2
), n AS (
	UPDATE jobs SET number_slot = NULL WHERE id = $1 AND token = $2 AND number_slot IS NOT NULL
)
SELECT 1`

// slotLive is true while the slot row s belongs to a claim that holds a
// sending job under a live lease of the incarnation that claimed it.
const slotLive = `EXISTS (
	SELECT 1 FROM jobs j JOIN nodes n ON n.node_id = j.node_id AND n.incarnation = j.node_incarnation
	WHERE j.id = s.job_id AND j.token = s.token AND j.state = 'sending' AND n.lease_expires_at > now())`

// sqlSlotSweep frees the stale slots of a gateway and a number, and makes
// sure the gateway has its slot rows 1..limit (created on first use, and
// when max_channels grows). $1 gateway, $2 its limit, $3 number. Every
// statement that moves a job out of sending ends its number hold; a hold
// left on a job that is not sending is stale all the same.
const sqlSlotSweep = `
WITH ensure AS (
	INSERT INTO gateway_slots (gateway, slot)
	SELECT $1, generate_series(1, $2::int) WHERE $2::int > 0
	ON CONFLICT DO NOTHING
	RETURNING 1
), g AS (
	UPDATE gateway_slots s SET job_id = NULL, token = NULL
	WHERE s.gateway = $1 AND s.job_id IS NOT NULL AND NOT ` + slotLive + `
	RETURNING 1
), gin AS (
	-- Inbound holders: stale once the answering incarnation's lease expired.
	UPDATE gateway_slots s SET in_node = NULL, in_incarnation = NULL, in_call = NULL
	WHERE s.gateway = $1 AND s.in_call IS NOT NULL AND NOT EXISTS (
		SELECT 1 FROM nodes n WHERE n.node_id = s.in_node AND n.incarnation = s.in_incarnation AND n.lease_expires_at > now())
	RETURNING 1
), n AS (
	UPDATE jobs SET number_slot = NULL
	WHERE call_number = $3 AND number_slot IS NOT NULL AND state <> 'sending'
	RETURNING 1
)
SELECT (SELECT count(*) FROM g) + (SELECT count(*) FROM gin) + (SELECT count(*) FROM n), (SELECT count(*) FROM ensure)`

const sqlSlotsInUse = `
SELECT gateway, count(*) FROM gateway_slots WHERE job_id IS NOT NULL OR in_call IS NOT NULL GROUP BY gateway ORDER BY gateway`

// sqlInboundSlot takes a free slot of gateway $1 (limit $2) for inbound
// call $5 answered by node $3 incarnation $4, whose lease must be live.
const sqlInboundSlot = `
WITH free AS (
	SELECT slot FROM gateway_slots
	WHERE gateway = $1 AND slot <= $2::int AND job_id IS NULL AND in_call IS NULL
	  AND EXISTS (SELECT 1 FROM nodes WHERE node_id = $3 AND incarnation = $4 AND lease_expires_at > now())
	ORDER BY slot LIMIT 1
	FOR UPDATE SKIP LOCKED
)
UPDATE gateway_slots g SET in_node = $3, in_incarnation = $4, in_call = $5
FROM free WHERE g.gateway = $1 AND g.slot = free.slot
RETURNING g.slot`

// sqlInboundRelease frees inbound call $2's slot on gateway $1.
const sqlInboundRelease = `
UPDATE gateway_slots SET in_node = NULL, in_incarnation = NULL, in_call = NULL WHERE gateway = $1 AND in_call = $2`

const sqlNumberSlotsInUse = `SELECT count(*) FROM jobs WHERE call_number = $1 AND number_slot IS NOT NULL`

// sqlOverflowTarget: $1 the asking node. Another node that can answer an
// inbound call now, as far as its last heartbeat says: active, lease
// live, process there (liveness session held, when it has one), a SIP
// contact and a free inbound channel, at the asking node's site (a
// gateway reaches its own site's nodes; unset sites are one site); the
// most free first.
const sqlOverflowTarget = `
WITH held AS MATERIALIZED (` + sqlLivenessLocks + `
)
SELECT node_id, sip_contact FROM nodes
WHERE node_id <> $1 AND role = 'active' AND lease_expires_at > now()
  AND free_inbound > 0 AND sip_contact <> ''
  AND site = coalesce((SELECT site FROM nodes WHERE node_id = $1), '')
  AND (NOT liveness OR EXISTS (SELECT 1 FROM held WHERE held.incarnation = nodes.incarnation))
ORDER BY free_inbound DESC, node_id
LIMIT 1`

// sqlDepth counts the jobs not yet final, each part through its partial
// index (jobs_ready, jobs_sending), so it stays cheap however many final
// jobs the table keeps.
const sqlDepth = `
SELECT (SELECT count(*) FROM jobs WHERE state = 'pending' AND run_at <= now()),
       (SELECT count(*) FROM jobs WHERE state = 'pending' AND run_at > now()),
       (SELECT count(*) FROM jobs WHERE state = 'sending'),
       (SELECT coalesce(extract(epoch FROM now() - min(run_at)), 0)::float8
          FROM jobs WHERE state = 'pending' AND run_at <= now())`

// sqlCounts counts every job by state, and those that finished since $1
// (the jobs_finished index bounds that part).
const sqlCounts = `
SELECT state, count(*), count(*) FILTER (WHERE finished_at >= $1) FROM jobs GROUP BY state`

// Job controls (controls.go).

// sqlRetryLate: would a retry after $2 seconds start at or after job $1's
// deadline?
const sqlRetryLate = `
SELECT coalesce(now() + $2::float8 * interval '1 second' >= deadline, false) FROM jobs WHERE id = $1`

// sqlExpireDeadlines gives up a batch ($1) of pending jobs whose deadline
// has passed: failed, with history and outbox record, as any final state.
const sqlExpireDeadlines = `
WITH exp AS (
	SELECT id FROM jobs
	WHERE state = 'pending' AND deadline IS NOT NULL AND deadline <= now()
	ORDER BY deadline LIMIT $1
	FOR UPDATE SKIP LOCKED
), upd AS (
	UPDATE jobs j SET state = 'failed', last_reason = '` + DeadlinePassed + `', finished_at = now(), updated_at = now()
	FROM exp WHERE j.id = exp.id
	RETURNING j.*
), hist AS (
	INSERT INTO job_history (job_id, from_state, to_state, reason, pages)
	SELECT id, 'pending', 'failed', last_reason, pages_confirmed FROM upd
), outbox AS (
	INSERT INTO outbox (topic, key, payload)
	SELECT '` + outboxTopicFinished + `', id::text, ` + outboxPayload + ` FROM upd
	WHERE ` + outboxWakeAfterCommit + `
)
SELECT ` + jobCols + ` FROM upd`

// sqlControls: the deadline and resend links of the jobs $1.
const sqlControls = `
SELECT j.id, j.deadline, coalesce(j.resent_from, 0),
	coalesce((SELECT array_agg(r.id ORDER BY r.id) FROM jobs r WHERE r.resent_from = j.id), '{}')
FROM jobs j WHERE j.id = ANY ($1)`

// sqlGetForDelete locks the job a deletion tombstones.
const sqlGetForDelete = `SELECT ` + jobCols + ` FROM jobs WHERE id = $1 FOR UPDATE`

const sqlTombstone = `SELECT deleted_at, coalesce(deleted_by, ''), coalesce(delete_reason, '') FROM jobs WHERE id = $1`

// sqlMarkDeleted leaves the tombstone; clearing document lets the
// document store delete the set (no job names it any more).
const sqlMarkDeleted = `
UPDATE jobs SET deleted_at = now(), deleted_by = $2, delete_reason = $3, document = '', updated_at = now()
WHERE id = $1`

const sqlTombstones = `
SELECT id, deleted_at, coalesce(deleted_by, ''), coalesce(delete_reason, '')
FROM jobs WHERE id = ANY ($1) AND deleted_at IS NOT NULL`

// sqlOutboxDeleted hands the tombstone to the archive through the outbox,
// in the deleting transaction.
const sqlOutboxDeleted = `
INSERT INTO outbox (topic, key, payload)
SELECT '` + outboxTopicDeleted + `', id::text, jsonb_build_object('id', id, 'deleted_at', deleted_at,
	'deleted_by', deleted_by, 'delete_reason', delete_reason)
FROM jobs WHERE id = $1 AND ` + outboxWakeAfterCommit

// slotNumberSQL is slotNumber in SQL, over a claimed job's destination.
const slotNumberSQL = `regexp_replace(regexp_replace(destination, '^\s+|\s+$', '', 'g'), '^\+', '')`

// claimWithSlots is the claim part of the statements that also take a
// call slot for every job they claim, in the same round trip: a slot of
// the hinted gateway and a slot of the job's number, both or neither.
// node, inc and limit are as for claimNext; g, gl and nl are the
// parameters of the gateway, its limit and the number limit, each read
// through a sub-select so that the generic plan is kept (see sqlOps). The
// claim itself never depends on a slot: a job that got none is claimed
// all the same and its worker takes the slow path (AcquireSlot, which
// also sweeps stale slots and creates the gateway's rows).
//
// A number's slot is held on the claimed job's own row (call_number,
// number_slot, unique over the jobs that hold one), written by the claim's own
// update and given up when the job leaves sending: no row of its own to
// insert and delete per call. Two jobs to one number in a statement: the
// first gets the slot. Two statements that give one number's slot to two
// jobs at once: the second fails on the unique index and is run again
// (see runStatement), then sees the first's hold.
//
// With completions (handover), the gateway slots the statement's
// completions give up go straight to the jobs it claims, before any free
// slot is taken (SKIP LOCKED, as sqlSlotAcquire): in the statement's
// snapshot they are still taken, so without the handover a busy gateway
// looked full to the very statement that freed its slots, and a worker
// that completed and claimed in one statement fell back to the slow path.
// Each slot row is written once: handed over, freed, or taken.
func claimWithSlots(node, inc, limit, g, gl, nl string, handover bool) string {
	// mine: every gateway slot the statement's completions held; held:
	// those of the hinted gateway, numbered, to hand over first.
	held := `
), held AS (
	SELECT NULL::int AS slot, 0::bigint AS rn WHERE false`
	update := `
), gupd AS (
	UPDATE gateway_slots gs SET job_id = pair.id, token = pair.token
	FROM pair WHERE gs.gateway = ` + g + ` AND gs.slot = pair.gslot AND pair.slotted`
	if handover {
		held = `
), mine AS (
	SELECT gs.gateway, gs.slot FROM gateway_slots gs JOIN done ON gs.job_id = done.id AND gs.token = done.token
), held AS (
	SELECT slot, row_number() OVER (ORDER BY slot) AS rn FROM mine
	WHERE gateway = ` + g + ` AND slot <= ` + gl + `::int`
		update = `
), gupd AS (
	-- One write per slot row: each slot of the completions goes to its
	-- claimed job or is freed; a free slot goes to a claimed job.
	UPDATE gateway_slots gs SET job_id = a.id, token = a.token
	FROM (
		SELECT m.gateway, m.slot, p.id, p.token FROM mine m
		LEFT JOIN pair p ON m.gateway = ` + g + ` AND p.gslot = m.slot AND p.slotted
		UNION ALL
		SELECT ` + g + `, p.gslot, p.id, p.token FROM pair p
		WHERE p.slotted AND p.gslot NOT IN (SELECT slot FROM held)
	) a
	WHERE gs.gateway = a.gateway AND gs.slot = a.slot`
	}
	return claimNext(node, inc, limit) + `
), cj AS (
	SELECT id, token, number, row_number() OVER (ORDER BY id) AS rn,
		row_number() OVER (PARTITION BY number ORDER BY id) AS nrn
	FROM (SELECT id, token, ` + slotNumberSQL + ` AS number FROM next) n` + held + `
), gwfree AS (
	SELECT slot, (SELECT count(*) FROM held) + row_number() OVER (ORDER BY slot) AS rn FROM (
		SELECT slot FROM gateway_slots
		WHERE gateway = ` + g + ` AND slot <= ` + gl + `::int AND job_id IS NULL AND in_call IS NULL AND ` + gl + `::int > 0
		ORDER BY slot LIMIT (SELECT greatest(count(*) - (SELECT count(*) FROM held), 0) FROM cj)
		FOR UPDATE SKIP LOCKED) s
), numbered AS MATERIALIZED (
	-- Each claimed job with a gateway slot (none needed without a limit,
	-- handed-over ones first) and the first free slot of its number.
	SELECT cj.id, cj.token, cj.number, avail.slot AS gslot,
		CASE WHEN ` + nl + `::int = 0 OR cj.nrn > 1 THEN NULL
			WHEN ` + nl + `::int = 1 THEN (SELECT 1 WHERE NOT EXISTS (` + numberHeld("cj.number", "1") + `))
			ELSE (SELECT s FROM generate_series(1, ` + nl + `::int) s
				WHERE NOT EXISTS (` + numberHeld("cj.number", "s") + `) LIMIT 1) END AS nslot
	FROM cj LEFT JOIN (SELECT slot, rn FROM held UNION ALL SELECT slot, rn FROM gwfree) avail ON avail.rn = cj.rn
), pair AS (
	SELECT id, token, number, gslot, nslot,
		(` + gl + `::int = 0 OR gslot IS NOT NULL) AND (` + nl + `::int = 0 OR nslot IS NOT NULL) AS slotted
	FROM numbered` + claimUpdate(node, inc, "pair", "pair.number",
		"CASE WHEN pair.slotted AND "+nl+"::int > 0 THEN pair.nslot END") + `, pair.slotted` + update
}

// claimOneWithSlot is claimWithSlots for a statement that claims at most
// one job, completes at most one and has a number limit of 0 or 1: the
// channel worker's usual statement, which takes the same slots. Pairing
// several jobs with several slots (window functions, their sorts, the
// slot series) costs a one-job statement more to set up than to run, so
// this plan has none of it: one scan finds the gateway slot, the
// completion's own slot first (handed over as in claimWithSlots), else
// the first free one, and one update writes every slot row once.
func claimOneWithSlot(node, inc, limit, g, gl, nl string, handover bool) string {
	own, done := "false", "NULL::bigint AS id, NULL::bigint AS token"
	if handover {
		own = "(gs.job_id, gs.token) = (SELECT id, token FROM done)"
		done = "(SELECT id FROM done), (SELECT token FROM done)"
	}
	return claimNext(node, inc, limit) + `
), gs AS (
	SELECT slot FROM gateway_slots gs
	WHERE gateway = ` + g + ` AND slot <= ` + gl + `::int AND ` + gl + `::int > 0 AND EXISTS (SELECT 1 FROM next)
	  AND (gs.job_id IS NULL AND gs.in_call IS NULL OR ` + own + `)
	ORDER BY gs.job_id IS NULL, slot LIMIT 1
	FOR UPDATE SKIP LOCKED
), pair AS (
	SELECT id, token, number, gslot, nslot,
		(` + gl + `::int = 0 OR gslot IS NOT NULL) AND (` + nl + `::int = 0 OR nslot IS NOT NULL) AS slotted
	FROM (SELECT id, token, number, (SELECT slot FROM gs) AS gslot,
			CASE WHEN ` + nl + `::int = 1 THEN (SELECT 1 WHERE NOT EXISTS (` + numberHeld("n.number", "1") + `)) END AS nslot
		FROM (SELECT id, token, ` + slotNumberSQL + ` AS number FROM next) n) p` + claimUpdate(node, inc, "pair", "pair.number",
		"CASE WHEN pair.slotted AND "+nl+"::int > 0 THEN pair.nslot END") + `, pair.slotted
), gupd AS (
	-- One write per slot row: the completion's slot goes to the claimed
	-- job or is freed; a free slot goes to the claimed job.
	UPDATE gateway_slots gs SET job_id = CASE WHEN gs.gateway = ` + g + ` AND gs.slot = a.gslot THEN a.id END,
		token = CASE WHEN gs.gateway = ` + g + ` AND gs.slot = a.gslot THEN a.token END
	FROM (SELECT d.done_id, d.done_token, p.id, p.token, p.gslot
		FROM (SELECT ` + done + `) d(done_id, done_token) LEFT JOIN pair p ON p.slotted) a
	WHERE gs.job_id = a.done_id AND gs.token = a.done_token OR gs.gateway = ` + g + ` AND gs.slot = a.gslot`
}

// numberHeld finds the job that holds slot s of number n (index
// jobs_number_slot).
func numberHeld(n, s string) string {
	return `SELECT 1 FROM jobs h WHERE h.call_number = ` + n + ` AND h.number_slot = ` + s
}

// The claim statements with slots: each claimed row's last column says
// whether its slots were taken.
var (
	sqlClaimSlots = `
WITH ` + claimWithSlots("$2", "$3", "(SELECT $1::int)", "(SELECT $4::text)", "(SELECT $5::int)", "(SELECT $6::int)", false) + claimTail + `
SELECT ` + jobCols + `, true, slotted FROM claimed`
	sqlOpsSlots = sqlOpsDone + `
), ` + claimWithSlots("$7", "$8", opsLimit, "(SELECT $9::text)", "(SELECT $10::int)", "(SELECT $11::int)", true) + opsTail + `
SELECT ` + jobCols + `, false, false FROM done
UNION ALL
SELECT ` + jobCols + `, true, slotted FROM claimed`
	sqlClaimSlot1 = `
WITH ` + claimOneWithSlot("$2", "$3", "(SELECT $1::int)", "(SELECT $4::text)", "(SELECT $5::int)", "(SELECT $6::int)", false) + claimTail + `
SELECT ` + jobCols + `, true, slotted FROM claimed`
	sqlOpsSlot1 = sqlOpsDone + `
), ` + claimOneWithSlot("$7", "$8", opsLimit, "(SELECT $9::text)", "(SELECT $10::int)", "(SELECT $11::int)", true) + opsTail + `
SELECT ` + jobCols + `, false, false FROM done
UNION ALL
SELECT ` + jobCols + `, true, slotted FROM claimed`
)
