// Package dsp holds the signal-processing primitives the PSK/QAM soft modems
// (V.29, V.17) are built from: a tabulated carrier, root raised cosine
// pulse shaping, an interpolating matched filter with
// Gardner symbol-timing recovery, a fractionally spaced LMS equaliser, a
// second-order carrier loop, a power meter with AGC, and the self-
// synchronising scrambler of V.29/V.17.
//
// Every type is a plain state machine: no goroutines, no clock, no
// allocation after construction. Samples are 8 kHz; complex baseband values
// are complex64 because the modems run on many channels at once.
package dsp
