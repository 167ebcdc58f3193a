package queue_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/faxd/faxd/queue"
	"github.com/jackc/pgx/v5/pgxpool"
)

// BenchmarkClaimSlots: claim, call slot and completion per job with the
// cluster-wide counters on (a slot on a 30-channel gateway and the
// per-number limit of 1 taken per job and freed by its completion),
// against the same loop without them, in the same run. jobs/s is the
// figure to compare. slots=claim takes the slot within the claim
// statement (ClaimWithSlot, what the channels do), falling back to
// AcquireSlot when it got none; slots=separate is the earlier form, one
// AcquireSlot statement after each claim.
func BenchmarkClaimSlots(b *testing.B) {
	d := newBenchDB(b)
	ctx := context.Background()
	hint := queue.SlotHint{Gateway: "gw", GatewayLimit: 30, NumberLimit: 1}
	for _, mode := range []string{"off", "claim", "separate"} {
		slots := mode != "off"
		for _, workers := range []int{4, 16} {
			b.Run(fmt.Sprintf("slots=%s/workers=%d", mode, workers), func(b *testing.B) {
				d.reset(b)
				if _, err := d.pool.Exec(ctx, `
					INSERT INTO jobs (request_hash, max_attempts, destination, document, pages_total)
					SELECT '\x00', 5, (4930000000 + g)::text, 'spool/doc.tiff', 2 FROM generate_series(1, $1) g`, b.N); err != nil {
					b.Fatal(err)
				}
				// The gateway's slot rows, as a server has them from its
				// first call on (the slow path creates them). Left to the
				// first calls, 16 workers all took the slow path at once,
				// which opened a connection each: the pool then spread the
				// statements over 16 backends (2 without slots), each one
				// cold, at twice the database CPU per job.
				if _, err := d.pool.Exec(ctx, `INSERT INTO gateway_slots (gateway, slot) SELECT 'gw', generate_series(1, 30) WHERE $1`, slots); err != nil {
					b.Fatal(err)
				}
				node, err := d.q.Register(ctx, queue.NodeInfo{ID: "bench", Capacity: workers}, queue.NodeConfig{TTL: time.Hour})
				if err != nil {
					b.Fatal(err)
				}
				cpu0 := postgresCPU()
				b.ResetTimer()
				var done, inClaim atomic.Int64
				var wg sync.WaitGroup
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						claim := func() ([]queue.Job, error) { return d.q.Claim(ctx, node.Lease(), 1) }
						if mode == "claim" {
							claim = func() ([]queue.Job, error) { return d.q.ClaimWithSlot(ctx, node.Lease(), 1, hint) }
						}
						jobs, err := claim()
						for err == nil && len(jobs) > 0 {
							j := jobs[0]
							if slots && j.SlotGateway != "gw" {
								var v queue.SlotVerdict
								v, err = d.q.AcquireSlot(ctx, queue.SlotRequest{JobID: j.ID, Token: j.Token, Gateway: "gw", GatewayLimit: 30, Number: j.Destination, NumberLimit: 1})
								if err == nil && v != queue.SlotAcquired {
									err = fmt.Errorf("job %d: %v", j.ID, v)
								}
								if err != nil {
									break
								}
							}
							if mode == "claim" {
								_, jobs, err = d.q.CompleteAndClaimWithSlot(ctx, j.ID, j.Token, queue.Result{Pages: 2}, node.Lease(), 1, hint)
							} else {
								_, jobs, err = d.q.CompleteAndClaim(ctx, j.ID, j.Token, queue.Result{Pages: 2}, node.Lease(), 1)
							}
							if err == nil {
								done.Add(1)
							}
							if err == nil && len(jobs) > 0 && jobs[0].SlotGateway == "gw" {
								inClaim.Add(1)
							}
						}
						if err != nil {
							b.Error(err)
						}
					}()
				}
				wg.Wait()
				b.StopTimer()
				if done.Load() != int64(b.N) {
					b.Fatalf("completed %d of %d", done.Load(), b.N)
				}
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "jobs/s")
				if cpu := postgresCPU() - cpu0; cpu > 0 {
					b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "pg-cpu-µs/job")
				}
				if mode == "claim" {
					// How often the claim's own slot sufficed.
					b.ReportMetric(float64(inClaim.Load())/float64(b.N), "slot-in-claim/op")
				}
			})
		}
	}
}

// postgresCPU sums the CPU time of every running postgres process (Linux
// /proc, clock ticks of 10 ms): the database's share of a benchmark, which
// a shared machine disturbs far less than the throughput. 0 elsewhere.
func postgresCPU() time.Duration {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	var ticks int64
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		s := string(b)
		open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
		if open < 0 || end < open || s[open+1:end] != "postgres" {
			continue
		}
		// utime and stime are the 12th and 13th fields after the name.
		if f := strings.Fields(s[end+1:]); len(f) > 12 {
			u, _ := strconv.ParseInt(f[11], 10, 64)
			st, _ := strconv.ParseInt(f[12], 10, 64)
			ticks += u + st
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// BenchmarkSlotStatement: the database's cost of the hot statement with
// call slots (gateway of 30 channels, 1 call per number) against the same
// statement without, with k completions and k claims per statement: the
// statement's own cost, without the workers, the batching or the Go side.
// Each form runs on a connection of its own, the forms taking turns
// statement by statement from one backlog, so that a shared machine's load
// falls on all of them alike; each reports its backend's CPU time per job
// (from /proc/<pid>/schedstat, Linux) and the slot forms their ratio to
// the form without. At 1 job the general form (what a batch of several
// jobs runs) is measured too, against the one-job form the channels use.
func BenchmarkSlotStatement(b *testing.B) {
	d := newBenchDB(b)
	ctx := context.Background()
	node, err := d.q.Register(ctx, queue.NodeInfo{ID: "bench", Capacity: 16}, queue.NodeConfig{TTL: time.Hour})
	if err != nil {
		b.Fatal(err)
	}
	l := node.Lease()
	hint := queue.SlotHint{Gateway: "gw", GatewayLimit: 30, NumberLimit: 1}
	type form struct {
		name  string
		sql   string
		slots bool
		conn  *pgxpool.Conn
		pid   int
		cpu   int64
		ids   []int64
		toks  []int64
	}
	for _, k := range []int{1, 16} {
		b.Run(fmt.Sprintf("jobs=%d", k), func(b *testing.B) {
			forms := []*form{
				{name: "off", sql: queue.HotStatement(k, k, queue.SlotHint{})},
				{name: "slots", sql: queue.HotStatement(k, k, hint), slots: true},
			}
			if k == 1 {
				forms = append(forms, &form{name: "general", sql: queue.SQLOpsSlots, slots: true})
			}
			d.reset(b)
			for _, sql := range []string{`INSERT INTO jobs (request_hash, max_attempts, destination, document, pages_total)
				SELECT '\x00', 5, (4930000000 + g)::text, 'spool/doc.tiff', 2 FROM generate_series(1, $1) g`,
				`INSERT INTO gateway_slots (gateway, slot) SELECT 'gw', generate_series(1, 30) WHERE $1 > 0`} {
				if _, err := d.pool.Exec(ctx, sql, len(forms)*(b.N+2*k)); err != nil {
					b.Fatal(err)
				}
			}
			for _, f := range forms {
				js, err := d.q.Claim(ctx, l, k)
				if err != nil || len(js) != k {
					b.Fatalf("claim: %d jobs, %v", len(js), err)
				}
				for _, j := range js {
					f.ids, f.toks = append(f.ids, j.ID), append(f.toks, j.Token)
				}
				if f.conn, err = d.pool.Acquire(ctx); err != nil {
					b.Fatal(err)
				}
				defer f.conn.Release()
				if err := f.conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&f.pid); err != nil {
					b.Fatal(err)
				}
			}
			pages, reasons, wants := make([]int32, k), make([]string, k), make([]int32, k)
			for i := range wants {
				wants[i] = 1
			}
			b.ResetTimer()
			for n := 0; n < b.N; n += k {
				for _, f := range forms {
					args := []any{f.ids, f.toks, pages, reasons, wants, int32(0), l.NodeID, l.Incarnation}
					if f.slots {
						args = append(args, hint.Gateway, hint.GatewayLimit, hint.NumberLimit)
					}
					cpu0 := backendCPU(f.pid)
					rows, err := f.conn.Query(ctx, f.sql, args...)
					if err != nil {
						b.Fatal(err)
					}
					f.ids, f.toks = f.ids[:0], f.toks[:0]
					slotted := 0
					for rows.Next() {
						v, err := rows.Values()
						if err != nil {
							b.Fatal(err)
						}
						// The last two columns: claimed, slots taken; id
						// and token are the 1st and 20th of jobCols.
						if v[len(v)-2].(bool) {
							f.ids, f.toks = append(f.ids, v[0].(int64)), append(f.toks, v[19].(int64))
							if v[len(v)-1].(bool) {
								slotted++
							}
						}
					}
					rows.Close()
					if err := rows.Err(); err != nil || len(f.ids) != k || f.slots && slotted != k {
						b.Fatalf("%s: %d claimed, %d with slots, %v", f.name, len(f.ids), slotted, err)
					}
					f.cpu += backendCPU(f.pid) - cpu0
				}
			}
			b.StopTimer()
			for _, f := range forms {
				b.ReportMetric(float64(f.cpu)/1000/float64(b.N), f.name+"-µs/job")
				if f.slots && f.cpu > 0 {
					b.ReportMetric(float64(forms[0].cpu)/float64(f.cpu), f.name+"-ratio")
				}
			}
		})
	}
}

// backendCPU is the CPU time of process pid so far, in ns (Linux
// schedstat; 0 elsewhere).
func backendCPU(pid int) int64 {
	bs, err := os.ReadFile(fmt.Sprintf("/proc/%d/schedstat", pid))
	if err != nil {
		return 0
	}
	f := strings.Fields(string(bs))
	if len(f) == 0 {
		return 0
	}
	ns, _ := strconv.ParseInt(f[0], 10, 64)
	return ns
}
