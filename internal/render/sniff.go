package render

import (
	"bytes"
	"mime"
	"strings"
	"unicode/utf8"
)

// Kind is a document type recognised by its content.
type Kind int

const (
	KindUnknown Kind = iota
	KindPDF
	KindPostScript
	KindTIFF
	KindPNG
	KindJPEG
	KindGIF
	KindText
	// Office documents and HTML, rendered through LibreOffice (office.go).
	KindDOCX
	KindXLSX
	KindODT
	KindODS
	KindRTF
	KindHTML
)

var kindNames = [...]string{"unknown", "PDF", "PostScript", "TIFF", "PNG", "JPEG", "GIF", "text",
	"DOCX", "XLSX", "ODT", "ODS", "RTF", "HTML"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// MIMEType is the canonical media type of the kind.
func (k Kind) MIMEType() string {
	switch k {
	case KindPDF:
		return "application/pdf"
	case KindPostScript:
		return "application/postscript"
	case KindTIFF:
		return "image/tiff"
	case KindPNG:
		return "image/png"
	case KindJPEG:
		return "image/jpeg"
	case KindGIF:
		return "image/gif"
	case KindText:
		return "text/plain"
	case KindDOCX:
		return "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
	case KindXLSX:
		return "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
	case KindODT:
		return "application/vnd.oasis.opendocument.text"
	case KindODS:
		return "application/vnd.oasis.opendocument.spreadsheet"
	case KindRTF:
		return "application/rtf"
	case KindHTML:
		return "text/html"
	}
	return "application/octet-stream"
}

// sniffLen bounds how far into a file the magic numbers may sit; PDF allows
// junk before "%PDF-" and readers look in the first kilobyte.
const sniffLen = 1024

// Sniff decides the document type from its content alone.
func Sniff(data []byte) Kind {
	switch {
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return KindPNG
	case bytes.HasPrefix(data, []byte("\xff\xd8\xff")):
		return KindJPEG
	case bytes.HasPrefix(data, []byte("GIF87a")), bytes.HasPrefix(data, []byte("GIF89a")):
		return KindGIF
	case bytes.HasPrefix(data, []byte("II*\x00")), bytes.HasPrefix(data, []byte("MM\x00*")):
		return KindTIFF
	case bytes.HasPrefix(data, []byte("%!")), bytes.HasPrefix(data, []byte("\x04%!")),
		bytes.HasPrefix(data, []byte("\xc5\xd0\xd3\xc6")): // DOS EPS binary header
		return KindPostScript
	}
	if bytes.HasPrefix(data, []byte("%PDF-")) {
		return KindPDF
	}
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) {
		if k := sniffZip(data); k != KindUnknown {
			return k
		}
	}
	if bytes.HasPrefix(data, []byte("{\\rtf")) {
		return KindRTF
	}
	text := isText(data)
	// A binary PDF with junk before its header is still a PDF; a text file
	// that merely mentions "%PDF-" is text.
	if !text && bytes.Contains(data[:min(len(data), sniffLen)], []byte("%PDF-")) {
		return KindPDF
	}
	if text {
		if looksHTML(data) {
			return KindHTML
		}
		return KindText
	}
	return KindUnknown
}

// isText accepts valid UTF-8 without control characters other than the
// ones a text page layout understands.
func isText(data []byte) bool {
	if len(data) == 0 || !utf8.Valid(data) {
		return false
	}
	for _, c := range data {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' {
			return false
		}
		if c == 0x7f {
			return false
		}
	}
	return true
}

// declaredKinds maps media types, including the common non-standard ones
// mail clients and browsers send, to kinds.
var declaredKinds = map[string]Kind{
	"application/pdf":          KindPDF,
	"application/x-pdf":        KindPDF,
	"application/postscript":   KindPostScript,
	"application/x-postscript": KindPostScript,
	"application/eps":          KindPostScript,
	"image/x-eps":              KindPostScript,
	"image/tiff":               KindTIFF,
	"image/tiff-fx":            KindTIFF,
	"image/png":                KindPNG,
	"image/jpeg":               KindJPEG,
	"image/pjpeg":              KindJPEG,
	"image/jpg":                KindJPEG,
	"image/gif":                KindGIF,
	"text/plain":               KindText,

	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": KindDOCX,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":       KindXLSX,
	"application/vnd.oasis.opendocument.text":                                 KindODT,
	"application/vnd.oasis.opendocument.spreadsheet":                          KindODS,
	"application/rtf":       KindRTF,
	"text/rtf":              KindRTF,
	"application/x-rtf":     KindRTF,
	"text/html":             KindHTML,
	"application/xhtml+xml": KindHTML,
}

// refineKind settles what sniffing cannot: HTML is text, and the
// declared type says which one the sender meant.
func refineKind(sniffed Kind, contentType string) Kind {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return sniffed
	}
	switch {
	case sniffed == KindHTML && declaredKinds[mt] == KindText:
		return KindText // a text file about HTML, printed as written
	case sniffed == KindText && declaredKinds[mt] == KindHTML:
		return KindHTML // a fragment without <html>
	}
	return sniffed
}

// checkDeclared rejects a declared type that names a different kind than
// the content, and content that is not something we render.
func checkDeclared(sniffed Kind, contentType string) error {
	if sniffed == KindUnknown {
		return newError(KindUnknown, ErrUnknownType,
			"the content is not PDF, PostScript, TIFF, PNG, JPEG, GIF, UTF-8 text, HTML, DOCX, XLSX, ODT, ODS or RTF")
	}
	ct := strings.TrimSpace(contentType)
	if ct == "" {
		return nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return wrapError(sniffed, ErrTypeMismatch, err, "the declared type %q cannot be parsed", ct)
	}
	if mt == "application/octet-stream" || mt == "binary/octet-stream" {
		return nil
	}
	declared, ok := declaredKinds[mt]
	if !ok {
		return newError(sniffed, ErrUnknownType, "the declared type %s is not supported", mt)
	}
	if declared != sniffed {
		return newError(sniffed, ErrTypeMismatch, "declared as %s but the content is %s", mt, sniffed)
	}
	if cs, ok := params["charset"]; ok && (declared == KindText || declared == KindHTML) {
		switch strings.ToLower(cs) {
		case "utf-8", "utf8", "us-ascii":
		default:
			return newError(KindText, ErrUnknownType, "text in charset %q is not supported; send UTF-8", cs)
		}
	}
	return nil
}
