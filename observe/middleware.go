package observe

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
	"unsafe"

	"casino/logging"
)

// nosniff is the shared header value; handlers never append to it (Header.Set
// replaces the slice), so one slice serves every request.
var nosniff = []string{"nosniff"}

// Middleware wraps next with what every answer gets: a request id, echoed
// back as X-Request-Id,
// X-Content-Type-Options: nosniff, panic recovery (a JSON 500 naming the
// request id), one request log line and the request metrics. trusted lists
// the proxies whose X-Forwarded-For decides the client address. m may be nil
// (no metrics).
func Middleware(logger *slog.Logger, m *Metrics, trusted []netip.Prefix, next http.Handler) http.Handler {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &Info{RemoteIP: clientIP(r, trusted)} // one allocation for all per-request state
		// A valid X-Request-ID becomes the request's id only from a party
		// casino trusts: the console calling in-process (its request is
		// in the context) or a trusted proxy (the console in split mode, a
		// load balancer). A client's own id is kept apart, in the log line
		// and in audit rows as client_request_id.
		if in := headerValue(r.Header, "X-Request-Id"); validRequestID(in) {
			if From(r.Context()) != nil || trustedPeer(r, trusted) {
				info.ID = in
			} else {
				info.ClientRequestID = in
			}
		}
		if info.ID == "" {
			newRequestID(&info.idBuf)
			// The string shares info's bytes, which are never written again.
			info.ID = unsafe.String(&info.idBuf[0], len(info.idBuf))
		}
		info.idHdr[0] = info.ID
		h := w.Header()
		h["X-Request-Id"] = info.idHdr[:] // canonical keys, no re-canonicalising on the hot path
		h["X-Content-Type-Options"] = nosniff
		info.ctx = infoCtx{Context: r.Context(), info: info}
		r = r.WithContext(&info.ctx)
		sw := &info.sw
		sw.ResponseWriter = w

		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				info.Err = fmt.Errorf("panic: %v", p)
				if !sw.wrote {
					internalError(sw, info.ID)
				}
			}
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			end := time.Now()
			elapsed := end.Sub(start)
			route := info.Route
			if route == "" {
				route = Unmatched
			}
			if m != nil {
				m.observe(r.Method, route, status, elapsed)
			}
			rec := logging.Request{
				Time:       end,
				ID:         info.ID,
				ClientID:   info.ClientRequestID,
				Method:     r.Method,
				Route:      route,
				Path:       r.URL.Path,
				StatusCode: status,
				Duration:   elapsed,
				Bytes:      sw.bytes,
				RemoteIP:   info.RemoteIP,
				UserAgent:  headerValue(r.Header, "User-Agent"),
				TenantID:   info.TenantID,
				UserID:     info.UserID,
			}
			if info.Err != nil {
				rec.Error = info.Err.Error()
			}
			if h, ok := logger.Handler().(*logging.Handler); ok {
				h.WriteRequest(r.Context(), &rec)
			} else {
				logRequestSlog(r.Context(), logger, &rec)
			}
		}()
		next.ServeHTTP(sw, r)
	})
}

// headerValue is Header.Get for a key already in canonical form: Get would
// canonicalise it again on every request (and allocate for a key such as
// X-Request-ID that is not).
func headerValue(h http.Header, canonicalKey string) string {
	if v := h[canonicalKey]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// internalError answers a panicked request with the API's error shape
// (api.ErrorBody): code internal, a generic message and the request id.
func internalError(w http.ResponseWriter, id string) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusInternalServerError)
	fmt.Fprintf(w, `{"error":{"code":"internal","message":"Internal error."},"request_id":%q}`+"\n", id) // id is [A-Za-z0-9._-] only
}

// logRequestSlog writes the request line through any slog handler (the
// fast path of logging.Handler writes the same fields).
func logRequestSlog(ctx context.Context, logger *slog.Logger, r *logging.Request) {
	level := slog.LevelInfo
	if r.StatusCode >= 500 {
		level = slog.LevelError
	}
	attrs := []slog.Attr{
		slog.String(logging.FieldRequestID, r.ID),
		slog.String(logging.FieldMethod, r.Method),
		slog.String(logging.FieldRoute, r.Route),
		slog.String(logging.FieldPath, r.Path),
		slog.Int(logging.FieldStatusCode, r.StatusCode),
		slog.Float64(logging.FieldDurationMS, float64(r.Duration.Microseconds())/1000),
		slog.Int64(logging.FieldBytes, r.Bytes),
		slog.String(logging.FieldRemoteIP, r.RemoteIP),
		slog.String(logging.FieldUserAgent, r.UserAgent),
	}
	if r.TenantID != 0 {
		attrs = append(attrs, slog.Int64(logging.FieldTenantID, r.TenantID))
	}
	if r.ClientID != "" {
		attrs = append(attrs, slog.String(logging.FieldClientRequestID, r.ClientID))
	}
	if r.UserID != 0 {
		attrs = append(attrs, slog.Int64(logging.FieldUserID, r.UserID))
	}
	if r.Error != "" {
		attrs = append(attrs, slog.String(logging.FieldError, r.Error))
	}
	logger.LogAttrs(ctx, level, logging.EventRequest, attrs...)
}

// statusWriter records the status and the bytes written.
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if !w.wrote {
		w.status, w.wrote = http.StatusOK, true
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
