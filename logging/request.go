package logging

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"
)

// Handler is casino's slog handler: slog's JSON handler with the contract's
// envelope, plus WriteRequest, an allocation-light path for the one line per
// HTTP request that the hot path writes. Both share one writer lock, so
// lines never interleave.
type Handler struct {
	slog.Handler
	out   *lockedWriter
	level slog.Leveler
}

type lockedWriter struct {
	mu    sync.Mutex
	w     io.Writer
	async *asyncWriter // w, when it is one: it queues each Write whole under its own lock
}

func newLockedWriter(w io.Writer) *lockedWriter {
	l := &lockedWriter{w: w}
	l.async, _ = w.(*asyncWriter)
	return l
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	if l.async != nil {
		return l.async.Write(p)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// WithAttrs keeps the fast path reachable from derived loggers.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{Handler: h.Handler.WithAttrs(attrs), out: h.out, level: h.level}
}

// WithGroup keeps the fast path reachable from derived loggers.
func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{Handler: h.Handler.WithGroup(name), out: h.out, level: h.level}
}

// Request is one request log line (event=request).
type Request struct {
	// Time is the line's ts: when the answer was done (zero: now).
	Time       time.Time
	ID         string
	ClientID   string // the client's own X-Request-ID, when not ID
	Method     string
	Route      string
	Path       string
	StatusCode int
	Duration   time.Duration
	Bytes      int64
	RemoteIP   string
	UserAgent  string
	TenantID   int64
	UserID     int64
	Error      string
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// WriteRequest writes r as one JSON line: info level, error for 5xx. It
// produces the same fields as logging through slog would.
func (h *Handler) WriteRequest(ctx context.Context, r *Request) {
	level := slog.LevelInfo
	if r.StatusCode >= 500 {
		level = slog.LevelError
	}
	if !h.Enabled(ctx, level) {
		return
	}
	bp := bufPool.Get().(*[]byte)
	b := (*bp)[:0]
	b = append(b, `{"ts":"`...)
	ts := r.Time
	if ts.IsZero() {
		ts = time.Now()
	}
	b = appendTimestamp(b, ts)
	if level == slog.LevelError {
		b = append(b, `","level":"error","event":"request","request_id":`...)
	} else {
		b = append(b, `","level":"info","event":"request","request_id":`...)
	}
	b = appendString(b, r.ID)
	if r.ClientID != "" {
		b = append(b, `,"client_request_id":`...)
		b = appendString(b, r.ClientID)
	}
	b = append(b, `,"method":`...)
	b = appendString(b, r.Method)
	b = append(b, `,"route":`...)
	b = appendString(b, r.Route)
	b = append(b, `,"path":`...)
	b = appendString(b, r.Path)
	b = append(b, `,"status_code":`...)
	b = strconv.AppendInt(b, int64(r.StatusCode), 10)
	b = append(b, `,"duration_ms":`...)
	b = strconv.AppendFloat(b, float64(r.Duration.Microseconds())/1000, 'f', -1, 64)
	b = append(b, `,"bytes":`...)
	b = strconv.AppendInt(b, r.Bytes, 10)
	b = append(b, `,"remote_ip":`...)
	b = appendString(b, r.RemoteIP)
	b = append(b, `,"user_agent":`...)
	b = appendString(b, r.UserAgent)
	if r.TenantID != 0 {
		b = append(b, `,"tenant_id":`...)
		b = strconv.AppendInt(b, r.TenantID, 10)
	}
	if r.UserID != 0 {
		b = append(b, `,"user_id":`...)
		b = strconv.AppendInt(b, r.UserID, 10)
	}
	if r.Error != "" {
		b = append(b, `,"error":`...)
		b = appendString(b, r.Error)
	}
	b = append(b, "}\n"...)
	h.out.Write(b)
	*bp = b
	bufPool.Put(bp)
}

const hexDigits = "0123456789abcdef"

// AppendJSONString appends s as a JSON string. With marshal it writes
// exactly what json.Marshal writes: quotes, backslashes and control
// characters escaped, invalid UTF-8 as \ufffd, U+2028/U+2029 escaped, and <,
// > and & as \u003c, \u003e and \u0026. Without, the same less the HTML
// escaping, which the log line (like slog's JSON handler) does not do.
func AppendJSONString(b []byte, s string, marshal bool) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && (!marshal || c != '<' && c != '>' && c != '&') {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

func appendString(b []byte, s string) []byte { return AppendJSONString(b, s, false) }
