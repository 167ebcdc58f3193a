-- Fast failure detection: a node may tie its liveness to a database
-- session. It then holds a session-level advisory lock keyed by its
-- incarnation on a dedicated connection; when its process dies, the
-- session ends and the lock goes at once, and the others take its jobs
-- over without waiting for the lease (queue/node.go, sqlTakeOver).
-- liveness says the incarnation holds such a lock: a node without one
-- (lease only) must never look dead merely because no lock is held.
ALTER TABLE nodes ADD COLUMN liveness boolean NOT NULL DEFAULT false;
