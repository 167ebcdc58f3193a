package channel

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/faxd/faxd/queue"
	"github.com/faxd/faxd/t38/t30"
)

// end records how an attempt ended: the fax result res (nil when no T.38
// session ran) read together with why the call's context ended.
func (a *attempt) end(res *t30.Result) {
	cause := context.Cause(a.ctx)
	if res != nil && res.OK() {
		// A fax that got through wins over a cancel that came too late.
		a.complete(fmt.Sprintf("%d pages sent to %q [%s] over %s", a.confirmed, res.RemoteIdent, a.profile, a.media))
		return
	}
	switch {
	case errors.Is(cause, errLeaseLost), errors.Is(cause, errFenced):
		// Not ours any more (or soon not): write nothing. The job's
		// confirmed pages are in the queue; whoever takes it over resumes
		// from there.
		a.log.Warn("hung up", "reason", cause, "pages_confirmed", a.confirmed)
		a.outcome = fmt.Sprintf("abandoned: %v", cause)
		a.count("abandoned")
	case errors.Is(cause, errCancelRequested):
		a.setResult()
		ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
		defer cancel()
		if _, err := a.p.d.Queue.AckCancel(ctx, a.job.ID, a.job.Token, a.confirmed); err != nil {
			a.log.Warn("acknowledging cancel", "err", err)
		}
		a.log.Info("job cancelled", "pages_confirmed", a.confirmed)
		a.outcome = "cancelled"
		a.count("cancelled")
	case a.ctx.Err() != nil:
		a.release("node shut down during the call")
	case res == nil:
		a.release("attempt ended before the call")
	default:
		v := ClassifyT30(res.Reason)
		if v.Cancelled {
			a.release(res.Error())
			return
		}
		if ladderTrigger(res.Reason) {
			a.nextStep = min(a.step+1, maxLadderStep)
		}
		a.fail(v.Class, fmt.Sprintf("%s [%s] over %s", res.Error(), a.profile, a.media))
	}
}

func (a *attempt) complete(reason string) {
	a.outcome = "sent: " + reason
	a.setResult()
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if _, err := a.p.d.Queue.Complete(ctx, a.job.ID, a.job.Token, queue.Result{Pages: a.confirmed, Reason: reason}); err != nil {
		a.log.Error("completing job", "err", err)
		a.count("abandoned")
		return
	}
	a.log.Info("fax sent", "pages", a.confirmed, "remote_station_id", a.remoteID, "duration", time.Since(a.start).Round(time.Millisecond))
	a.count("sent")
}

func (a *attempt) fail(class queue.Class, reason string) {
	a.outcome = fmt.Sprintf("failed (%s): %s", class, reason)
	a.setResult()
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	j, err := a.p.d.Queue.Fail(ctx, a.job.ID, a.job.Token, queue.Failure{Class: class, Reason: reason, Pages: a.confirmed})
	if err != nil {
		a.log.Error("failing job", "class", class, "reason", reason, "err", err)
		a.count("abandoned")
		return
	}
	a.log.Info("attempt failed", "class", class, "reason", reason, "pages_confirmed", a.confirmed, "state", j.State)
	a.count(string(class))
}

func (a *attempt) release(reason string) {
	a.outcome = "released: " + reason
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if _, err := a.p.d.Queue.Release(ctx, a.job.ID, a.job.Token, reason); err != nil {
		a.log.Warn("releasing job", "err", err)
	}
	a.log.Info("job released", "reason", reason, "pages_confirmed", a.confirmed)
	a.count("released")
}

func (a *attempt) count(result string) {
	a.p.d.Metrics.Calls.WithLabelValues(Outbound, result).Inc()
}

// setResult writes the attempt's details under the job's metadata
// "result", where the archive picks them up from the final record.
func (a *attempt) setResult() {
	m := map[string]any{
		"gateway":           a.gateway,
		"remote_station_id": a.remoteID,
		"duration_ms":       time.Since(a.start).Milliseconds(),
		"node":              a.p.d.Node.ID(),
		"pages_confirmed":   a.confirmed,
		"pages_this_call":   len(a.stats),
	}
	if a.callID != "" {
		m["call_id"] = a.callID
	}
	if a.called {
		m["profile"] = a.profile.String()
	}
	if a.media != "" {
		m["media"] = a.media
	}
	if a.nextStep > 0 {
		m["ladder_next"] = a.nextStep
	}
	if n := len(a.stats); n > 0 {
		last := a.stats[n-1]
		m["bit_rate"] = last.BitRate
		m["ecm"] = last.ECM
		m["coding"] = last.Coding.String()
		m["resolution"] = last.Resolution.String()
	}
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if err := a.p.d.Queue.SetResult(ctx, a.job.ID, a.job.Token, m); err != nil {
		a.log.Warn("recording call details", "err", err)
	}
}

// releaseAfter hands the job back, claimable again after delay.
func (a *attempt) releaseAfter(delay time.Duration, reason string) {
	a.outcome = "released: " + reason
	ctx, cancel := context.WithTimeout(context.Background(), dbTimeout)
	defer cancel()
	if _, err := a.p.d.Queue.ReleaseAfter(ctx, a.job.ID, a.job.Token, delay, reason); err != nil {
		a.log.Warn("releasing job", "err", err)
	}
	a.log.Info("job released", "reason", reason, "retry_in", delay)
	a.count("released")
}
