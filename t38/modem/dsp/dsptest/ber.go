package dsptest

import (
	"fmt"
	"strings"
)

// BER is the bit error rate of got against want; bits never delivered
// count as errors, so a receiver that fails to train scores 0.5 or worse.
func BER(want, got []byte) float64 {
	if len(want) == 0 {
		return 0
	}
	e, n := BitErrors(want, got)
	return float64(e+len(want)-n) / float64(len(want))
}

// BERPoint is one step of an SNR sweep.
type BERPoint struct {
	SNRDB      float64
	Ours, Peer float64
}

// SweepBER adds noise at SNRs from lo to hi dB (step dB apart) to signal
// and runs both demodulators on each noisy copy, the same copy for both.
// It stops once both have reached BER ≤ target.
func SweepBER(signal []int16, want []byte, lo, hi, step, target float64, ours, peer func([]int16) []byte) []BERPoint {
	var pts []BERPoint
	oursDone, peerDone := false, false
	for snr := lo; snr <= hi+1e-9; snr += step {
		noisy := Channel{SNRDB: snr, Seed: uint64(snr*10) + 1}.Apply(signal)
		p := BERPoint{SNRDB: snr, Ours: -1, Peer: -1}
		if !oursDone {
			p.Ours = BER(want, ours(noisy))
			oursDone = p.Ours <= target
		}
		if !peerDone {
			p.Peer = BER(want, peer(noisy))
			peerDone = p.Peer <= target
		}
		pts = append(pts, p)
		if oursDone && peerDone {
			break
		}
	}
	return pts
}

// Threshold returns the lowest swept SNR at which each receiver reached
// BER ≤ target (NaN-free: -1 when it never did).
func Threshold(pts []BERPoint, target float64) (ours, peer float64) {
	ours, peer = -1, -1
	for _, p := range pts {
		if ours < 0 && p.Ours >= 0 && p.Ours <= target {
			ours = p.SNRDB
		}
		if peer < 0 && p.Peer >= 0 && p.Peer <= target {
			peer = p.SNRDB
		}
	}
	return ours, peer
}

// FormatBER renders a sweep as a table.
func FormatBER(pts []BERPoint) string {
	var b strings.Builder
	b.WriteString("SNR dB   ours        spandsp\n")
	f := func(v float64) string {
		if v < 0 {
			return "-"
		}
		return fmt.Sprintf("%.2e", v)
	}
	for i, p := range pts {
		// Rows where neither receiver delivers anything useful are
		// folded into the last of them.
		if i+1 < len(pts) && p.Ours >= 0.5 && p.Peer >= 0.5 && pts[i+1].Ours >= 0.5 && pts[i+1].Peer >= 0.5 {
			continue
		}
		fmt.Fprintf(&b, "%6.1f   %-10s  %-10s\n", p.SNRDB, f(p.Ours), f(p.Peer))
	}
	return b.String()
}
