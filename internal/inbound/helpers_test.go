package inbound_test

import (
	"encoding/base64"
	"log/slog"
)

func base64Decode(dst, src []byte) (int, error) { return base64.StdEncoding.Decode(dst, src) }

var quiet = slog.New(slog.DiscardHandler)
