package sim

import (
	"math/rand/v2"
	"testing"

	"github.com/faxd/faxd/t38/bilevel"
	"github.com/faxd/faxd/t38/t30"
)

// BenchmarkCall measures one simulated call (full A4 fine page, ECM, MMR,
// redundancy 3): the CPU cost of our T.30 + T.38 + UDPTL stack per fax,
// without the line time.
func BenchmarkCall(b *testing.B) {
	for _, ecm := range []bool{false, true} {
		name := map[bool]string{false: "non-ECM-MR", true: "ECM-MMR"}[ecm]
		b.Run(name, func(b *testing.B) {
			rng := rand.New(rand.NewPCG(1, 1))
			ps := []*bilevel.Image{synthPage(rng, bilevel.WidthA4, 2287, t30.ResFine)}
			c := baseCall(1, ps, ecm)
			c.Redundancy = 3
			var line float64
			for b.Loop() {
				o, err := Run(c)
				if err != nil || !o.Tx.OK() {
					b.Fatal(err, o.Tx)
				}
				line = o.Elapsed.Seconds()
			}
			b.ReportMetric(line, "line-s/call")
		})
	}
}
