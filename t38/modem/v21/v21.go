// Package v21 is the ITU-T V.21 300 bit/s FSK modem, the channel T.30
// sends its control frames on: a phase-continuous transmitter and a
// non-coherent receiver with carrier detection and bit-timing recovery.
//
// Both work on 8 kHz linear 16-bit samples and neither does I/O, reads a
// clock or starts a goroutine: the transmitter turns bits into samples, the
// receiver turns samples into bits and carrier events. Framing is the
// hdlc package's business.
package v21

import (
	"fmt"
	"math"
)

// SampleRate is the only sample rate the modem works at.
const SampleRate = 8000

// BitRate is V.21's signalling rate.
const BitRate = 300

// Channel is one of V.21's two frequency pairs. T.30 uses channel 2 in both
// directions, one at a time.
type Channel uint8

const (
	Channel1 Channel = 1 // mark 980 Hz, space 1180 Hz
	Channel2 Channel = 2 // mark 1650 Hz, space 1850 Hz
)

// Frequencies returns the mark (binary 1) and space (binary 0) frequencies
// of the channel in Hz.
func (c Channel) Frequencies() (mark, space float64, err error) {
	switch c {
	case Channel1:
		return 980, 1180, nil
	case Channel2:
		return 1650, 1850, nil
	}
	return 0, 0, fmt.Errorf("v21: channel %d: there are channels 1 and 2", c)
}

// Levels in dBm0. A full-scale sine (peak 32767) is +3.14 dBm0, the A-law
// maximum, which is also the reference spandsp uses.
const (
	maxSineDBm0 = 3.14

	// DefaultTxLevel is a typical fax transmit level.
	DefaultTxLevel = -13.0
	// DefaultOnLevel and DefaultOffLevel are the receiver's carrier
	// thresholds: it turns on above about -43 dBm0 and off below -48 dBm0,
	// the T.30 receiver sensitivity with hysteresis.
	DefaultOnLevel  = -43.0
	DefaultOffLevel = -48.0
)

// Amplitude is the peak of a sine at level dBm0.
func Amplitude(dBm0 float64) float64 {
	return 32767 * math.Pow(10, (dBm0-maxSineDBm0)/20)
}

// PowerDBm0 converts a mean square of 16-bit samples to dBm0.
func PowerDBm0(meanSquare float64) float64 {
	if meanSquare <= 0 {
		return math.Inf(-1)
	}
	return 10*math.Log10(meanSquare/(32767.0*32767.0/2)) + maxSineDBm0
}

// meanSquare is the inverse of PowerDBm0.
func meanSquare(dBm0 float64) float64 {
	a := Amplitude(dBm0)
	return a * a / 2
}
