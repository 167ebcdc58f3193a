package render

import (
	"mime"
	"strings"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
)

// fromCharset converts a text document declared in a charset other than
// UTF-8 (text/plain; charset=iso-8859-1) to UTF-8, so the renderer sees
// the characters the sender meant. Charset names are the WHATWG labels
// browsers use: ISO-8859-1 to -16, Windows-1250 to -1258, KOI8, Shift_JIS,
// GB18030, Big5, EUC-KR, UTF-16 and their aliases. An unknown charset is
// refused by name rather than guessed.
func fromCharset(data []byte, contentType string) ([]byte, string, error) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "text/") {
		return data, contentType, nil // checkDeclared reports these
	}
	cs, ok := params["charset"]
	if !ok {
		return data, contentType, nil
	}
	switch strings.ToLower(strings.TrimSpace(cs)) {
	case "utf-8", "utf8", "us-ascii", "ascii":
		return data, contentType, nil
	}
	if k := Sniff(data); k != KindUnknown && k != KindText && k != KindHTML {
		return data, contentType, nil // a picture called text: checkDeclared says so
	}
	enc, err := htmlindex.Get(cs)
	if err != nil || enc == encoding.Replacement {
		return nil, "", newError(KindText, ErrUnknownType,
			"text in charset %q cannot be read; send UTF-8, ISO-8859-1, ISO-8859-15, Windows-1252 or another standard charset", cs)
	}
	out, err := enc.NewDecoder().Bytes(data)
	if err != nil {
		return nil, "", wrapError(KindText, ErrCorrupt, err, "the text is not valid %s", cs)
	}
	return out, mt, nil
}
