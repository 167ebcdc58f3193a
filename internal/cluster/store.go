package cluster

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrPrimaryTaken: another live standby already backs this primary
// (002: one standby per primary).
var ErrPrimaryTaken = errors.New("cluster: the primary already has a standby")

// StandbyStore keeps standby pairs, the automatic-failover choice and the
// standby event log in the queue database (schemas/queue/0070).
type StandbyStore struct{ pool *pgxpool.Pool }

// NewStandbyStore uses the queue database.
func NewStandbyStore(pool *pgxpool.Pool) *StandbyStore { return &StandbyStore{pool: pool} }

// Pair records standby as the one standby of primary. A standby recorded
// earlier for the same primary is replaced only when its node lease is
// not live (a decommissioned standby does not block its successor).
func (s *StandbyStore) Pair(ctx context.Context, standby, primary string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if primary != "" {
			var other string
			var live bool
			err := tx.QueryRow(ctx, `
				SELECT p.standby_id, coalesce(n.lease_expires_at > now(), false)
				FROM standby_pairs p LEFT JOIN nodes n ON n.node_id = p.standby_id
				WHERE p.primary_id = $1 AND p.standby_id <> $2
				FOR UPDATE OF p`, primary, standby).Scan(&other, &live)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
			case err != nil:
				return err
			case live:
				return fmt.Errorf("%w: %s backs %s and is live", ErrPrimaryTaken, other, primary)
			default:
				if _, err := tx.Exec(ctx, `UPDATE standby_pairs SET primary_id = '' WHERE standby_id = $1`, other); err != nil {
					return err
				}
			}
		}
		_, err := tx.Exec(ctx, `
			INSERT INTO standby_pairs (standby_id, primary_id) VALUES ($1, $2)
			ON CONFLICT (standby_id) DO UPDATE SET primary_id = EXCLUDED.primary_id`, standby, primary)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return fmt.Errorf("%w: %s", ErrPrimaryTaken, primary)
		}
		return err
	})
}

// Automatic implements Store.
func (s *StandbyStore) Automatic(ctx context.Context, node string) (bool, bool, error) {
	var auto *bool
	err := s.pool.QueryRow(ctx, `SELECT automatic FROM standby_pairs WHERE standby_id = $1`, node).Scan(&auto)
	if errors.Is(err, pgx.ErrNoRows) || (err == nil && auto == nil) {
		return false, false, nil
	}
	if err != nil {
		return false, false, fmt.Errorf("cluster: standby state: %w", err)
	}
	return *auto, true, nil
}

// SetAutomatic implements Store.
func (s *StandbyStore) SetAutomatic(ctx context.Context, node string, automatic bool, actor string) error {
	_, err := s.pool.Exec(ctx, `
		INSERT INTO standby_pairs (standby_id, automatic, changed_by, changed_at) VALUES ($1, $2, $3, now())
		ON CONFLICT (standby_id) DO UPDATE SET automatic = EXCLUDED.automatic,
			changed_by = EXCLUDED.changed_by, changed_at = now()`, node, automatic, actor)
	if err != nil {
		return fmt.Errorf("cluster: standby state: %w", err)
	}
	return nil
}

// Event implements Store.
func (s *StandbyStore) Event(ctx context.Context, node, event, detail, actor string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO standby_events (node_id, event, detail, actor) VALUES ($1, $2, $3, $4)`,
		node, event, detail, actor)
	return err
}

// StandbyEvent is one row of the standby event log.
type StandbyEvent struct {
	ID                  int64
	Node, Event, Detail string
	Actor               string
	At                  time.Time
}

// Events lists a node's standby events, oldest first.
func (s *StandbyStore) Events(ctx context.Context, node string) ([]StandbyEvent, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, node_id, event, detail, actor, at FROM standby_events WHERE node_id = $1 ORDER BY id`, node)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StandbyEvent, error) {
		var e StandbyEvent
		err := r.Scan(&e.ID, &e.Node, &e.Event, &e.Detail, &e.Actor, &e.At)
		return e, err
	})
}
