// Package logging is casino's one logger: log/slog writing JSON lines whose
// envelope follows docs/ops/log_schema.md (ts, level, event, then fields).
// Field names used across packages are constants here so the contract has one
// spelling.
package logging

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"
)

// Envelope and request field names, as documented in docs/ops/log_schema.md.
const (
	FieldTS        = "ts"
	FieldLevel     = "level"
	FieldEvent     = "event"
	FieldRequestID = "request_id"
	// FieldClientRequestID is the X-Request-ID a client sent that was not
	// taken as the request's id (see observe.Middleware).
	FieldClientRequestID = "client_request_id"
	FieldMethod          = "method"
	FieldRoute           = "route"
	FieldPath            = "path"
	FieldStatusCode      = "status_code"
	FieldDurationMS      = "duration_ms"
	FieldBytes           = "bytes"
	FieldRemoteIP        = "remote_ip"
	FieldUserAgent       = "user_agent"
	FieldTenantID        = "tenant_id"
	FieldUserID          = "user_id"
	FieldError           = "error"
)

// Events.
const (
	EventRequest   = "request"
	EventStartup   = "startup"
	EventShutdown  = "shutdown"
	EventMigration = "migration"
)

// ParseLevel parses debug, info, warn or error.
func ParseLevel(s string) (slog.Level, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, nil
	case "info", "":
		return slog.LevelInfo, nil
	case "warn", "warning":
		return slog.LevelWarn, nil
	case "error":
		return slog.LevelError, nil
	}
	return 0, fmt.Errorf("unknown log level %q: use debug, info, warn or error", s)
}

// New returns a JSON logger writing to w. The slog message becomes the
// "event" field, the time becomes "ts" (RFC 3339, UTC) and the level is lower
// case.
func New(w io.Writer, level slog.Level) *slog.Logger {
	out := newLockedWriter(outputFor(w))
	h := slog.NewJSONHandler(out, &slog.HandlerOptions{
		Level: level,
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) > 0 {
				return a
			}
			switch a.Key {
			case slog.TimeKey:
				return slog.String(FieldTS, a.Value.Time().UTC().Format(time.RFC3339Nano))
			case slog.LevelKey:
				return slog.String(FieldLevel, strings.ToLower(a.Value.String()))
			case slog.MessageKey:
				return slog.String(FieldEvent, a.Value.String())
			}
			return a
		},
	})
	return slog.New(&Handler{Handler: h, out: out, level: level})
}

// Discard is a logger that writes nothing, for tests and tools.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// Event logs an event at info level.
func Event(ctx context.Context, l *slog.Logger, event string, attrs ...slog.Attr) {
	l.LogAttrs(ctx, slog.LevelInfo, event, attrs...)
}
