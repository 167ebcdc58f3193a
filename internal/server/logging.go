package server

import (
	"io"
	"log/slog"

	"github.com/faxd/faxd/internal/config"
)

// NewLogger is the process logger: the log section's format and level,
// with the node attribute attached here, once, for every line. Packages
// below add their own attributes (component, call_id, ...) but never the
// node again: a key repeated in one line (node=a node=a, or twice in one
// JSON object) is rejected by many log pipelines.
func NewLogger(cfg config.Config, w io.Writer) *slog.Logger {
	return cfg.Log.NewLogger(w).With("node", cfg.Node.ID)
}
