// Package ifp encodes and decodes T.38 Internet Facsimile Protocol packets
// (IFPPacket) in ASN.1 aligned PER, bit-compatible with spandsp.
//
// Two syntaxes exist. Version 0 (T.38 1998) encodes Data-Field.field-type as
// a bare 3-bit enumeration; versions 1-3 (the 2002 corrected ASN.1) add an
// extension bit, which makes room for the V.34 field types. The same octet
// means different things in each, so callers must pass the negotiated
// T38FaxVersion; a packet does not reveal its syntax.
package ifp

import "fmt"

// Indicator is a t30-indicator value. Values above V17_14400LongTraining are
// ENUMERATED extension additions and exist only in versions 1-3.
type Indicator int

// t30-indicator values, numbered as in T.38 and spandsp.
const (
	NoSignal Indicator = iota
	CNG
	CED
	V21Preamble
	V27_2400Training
	V27_4800Training
	V29_7200Training
	V29_9600Training
	V17_7200ShortTraining
	V17_7200LongTraining
	V17_9600ShortTraining
	V17_9600LongTraining
	V17_12000ShortTraining
	V17_12000LongTraining
	V17_14400ShortTraining
	V17_14400LongTraining
	V8Ansam // first extension value
	V8Signal
	V34CntlChannel1200
	V34PriChannel
	V34CCRetrain
	V33_12000Training
	V33_14400Training
)

// MaxIndicator is the largest indicator this package knows.
const MaxIndicator = V33_14400Training

const firstExtIndicator = V8Ansam

var indicatorNames = [...]string{
	"no-signal", "cng", "ced", "v21-preamble",
	"v27-2400-training", "v27-4800-training", "v29-7200-training", "v29-9600-training",
	"v17-7200-short-training", "v17-7200-long-training",
	"v17-9600-short-training", "v17-9600-long-training",
	"v17-12000-short-training", "v17-12000-long-training",
	"v17-14400-short-training", "v17-14400-long-training",
	"v8-ansam", "v8-signal", "v34-cntl-channel-1200", "v34-pri-channel",
	"v34-CC-retrain", "v33-12000-training", "v33-14400-training",
}

func (i Indicator) String() string {
	if i >= 0 && int(i) < len(indicatorNames) {
		return indicatorNames[i]
	}
	return fmt.Sprintf("indicator(%d)", int(i))
}

// Valid reports whether i is a known indicator.
func (i Indicator) Valid() bool { return i >= 0 && i <= MaxIndicator }

// DataType is a t30-data value: the modulation the data was carried on.
type DataType int

// t30-data values, numbered as in T.38 and spandsp.
const (
	V21 DataType = iota
	V27_2400
	V27_4800
	V29_7200
	V29_9600
	V17_7200
	V17_9600
	V17_12000
	V17_14400
	V8 // first extension value
	V34PriRate
	V34CC1200
	V34PriCh
	V33_12000
	V33_14400
)

// MaxDataType is the largest data type this package knows.
const MaxDataType = V33_14400

const firstExtDataType = V8

var dataTypeNames = [...]string{
	"v21", "v27-2400", "v27-4800", "v29-7200", "v29-9600",
	"v17-7200", "v17-9600", "v17-12000", "v17-14400",
	"v8", "v34-pri-rate", "v34-CC-1200", "v34-pri-ch", "v33-12000", "v33-14400",
}

func (d DataType) String() string {
	if d >= 0 && int(d) < len(dataTypeNames) {
		return dataTypeNames[d]
	}
	return fmt.Sprintf("datatype(%d)", int(d))
}

// Valid reports whether d is a known data type.
func (d DataType) Valid() bool { return d >= 0 && d <= MaxDataType }

// FieldType is a Data-Field field-type value. CMMessage and later exist
// only in the corrected (version 1-3) syntax.
type FieldType int

// field-type values, numbered as in T.38 and spandsp.
const (
	HDLCData FieldType = iota
	HDLCSigEnd
	HDLCFCSOK
	HDLCFCSBad
	HDLCFCSOKSigEnd
	HDLCFCSBadSigEnd
	T4NonECMData
	T4NonECMSigEnd
	CMMessage // first extension value
	JMMessage
	CIMessage
	V34Rate
)

// MaxFieldType is the largest field type this package knows.
const MaxFieldType = V34Rate

const firstExtFieldType = CMMessage

var fieldTypeNames = [...]string{
	"hdlc-data", "hdlc-sig-end", "hdlc-fcs-OK", "hdlc-fcs-BAD",
	"hdlc-fcs-OK-sig-end", "hdlc-fcs-BAD-sig-end", "t4-non-ecm-data", "t4-non-ecm-sig-end",
	"cm-message", "jm-message", "ci-message", "v34rate",
}

func (f FieldType) String() string {
	if f >= 0 && int(f) < len(fieldTypeNames) {
		return fieldTypeNames[f]
	}
	return fmt.Sprintf("fieldtype(%d)", int(f))
}

// Valid reports whether f is a known field type.
func (f FieldType) Valid() bool { return f >= 0 && f <= MaxFieldType }
