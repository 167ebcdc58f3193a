package v17_test

import (
	"fmt"

	"github.com/faxd/faxd/t38/modem/v17"
)

// A transmitter feeding a receiver: bits in, audio across, bits and events
// out.
func Example() {
	tx, _ := v17.NewTx(14400, false)
	rx, _ := v17.NewRx(14400)
	sent := make([]byte, 14400)
	for i := range sent {
		sent[i] = byte(i*7/3) & 1
	}
	tx.Write(sent)
	tx.Close()

	frame := make([]int16, 160) // 20 ms
	var got []byte
	buf := make([]byte, 512)
	for done := false; !done; {
		n := tx.Read(frame)
		done = n < len(frame)
		rx.Write(frame[:n])
		for k := rx.ReadBits(buf); k > 0; k = rx.ReadBits(buf) {
			got = append(got, buf[:k]...)
		}
		for ev, ok := rx.PollEvent(); ok; ev, ok = rx.PollEvent() {
			fmt.Println(ev.Kind)
		}
	}
	rx.Write(make([]int16, 800)) // silence: the carrier drops
	for ev, ok := rx.PollEvent(); ok; ev, ok = rx.PollEvent() {
		fmt.Println(ev.Kind)
	}
	same := len(got) >= len(sent)
	for i := 0; same && i < len(sent); i++ {
		same = got[i] == sent[i]
	}
	fmt.Println("all bits received:", same)
	// Output:
	// carrier-up
	// training-done
	// carrier-down
	// all bits received: true
}
