package secretbox

import (
	"context"
	"fmt"
	"regexp"

	"github.com/jackc/pgx/v5"
)

// Column is a text column holding secrets, and the column that identifies
// its rows. The packages that own the tables name them; the names are
// constants, never input.
type Column struct {
	Table, Key, Value string
}

func (c Column) String() string { return c.Table + "." + c.Value }

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

func (c Column) check() error {
	for _, s := range []string{c.Table, c.Key, c.Value} {
		if !identRE.MatchString(s) {
			return fmt.Errorf("secretbox: %q is not a plain SQL identifier", s)
		}
	}
	return nil
}

// DB is what Reseal and Census need: a pool or a transaction.
type DB interface {
	Begin(context.Context) (pgx.Tx, error)
	Query(context.Context, string, ...any) (pgx.Rows, error)
}

// Failure is a row whose value could not be opened.
type Failure struct {
	Column Column
	Row    string
	Err    error
}

// ResealResult counts what Reseal did to one column.
type ResealResult struct {
	Column   Column
	Sealed   int // plaintexts now sealed
	Rotated  int // values moved from an older key to the active one
	Failures []Failure
}

// Reseal rewrites the column's values under the active key: plaintexts
// always; with rotate also values under older keys, and it checks that
// values under the active key open. A value that does not open is left
// as it is and reported; the others are still rewritten. It runs in one
// transaction per column.
func Reseal(ctx context.Context, db DB, k *Keyring, c Column, rotate bool) (ResealResult, error) {
	res := ResealResult{Column: c}
	if err := c.check(); err != nil {
		return res, err
	}
	if k == nil {
		return res, ErrNoKey
	}
	err := pgx.BeginFunc(ctx, db, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, fmt.Sprintf(`SELECT %s::text, %s FROM %s WHERE %s <> '' FOR UPDATE`, c.Key, c.Value, c.Table, c.Value))
		if err != nil {
			return err
		}
		type row struct{ key, val string }
		all, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (row, error) {
			var x row
			err := r.Scan(&x.key, &x.val)
			return x, err
		})
		if err != nil {
			return err
		}
		for _, x := range all {
			plain := !IsSealed(x.val)
			if !plain && !rotate {
				continue
			}
			pt, err := k.Open(x.val)
			if err != nil {
				res.Failures = append(res.Failures, Failure{Column: c, Row: x.key, Err: err})
				continue
			}
			if !plain && KeyID(x.val) == k.active {
				continue // checked: it opens; no need to rewrite
			}
			sealed, err := k.Seal(pt)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, fmt.Sprintf(`UPDATE %s SET %s = $1 WHERE %s::text = $2 AND %s = $3`, c.Table, c.Value, c.Key, c.Value),
				sealed, x.key, x.val); err != nil {
				return err
			}
			if plain {
				res.Sealed++
			} else {
				res.Rotated++
			}
		}
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("secretbox: reseal %s: %w", c, err)
	}
	return res, nil
}

// Census counts a column's non-empty values by the key id that sealed
// them; "" counts plaintexts.
func Census(ctx context.Context, db DB, c Column) (map[string]int, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE %s <> ''`, c.Value, c.Table, c.Value))
	if err != nil {
		return nil, fmt.Errorf("secretbox: census %s: %w", c, err)
	}
	vals, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("secretbox: census %s: %w", c, err)
	}
	out := map[string]int{}
	for _, v := range vals {
		out[KeyID(v)]++
	}
	return out, nil
}
