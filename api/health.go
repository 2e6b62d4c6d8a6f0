package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"casino"
	"casino/logging"
	"casino/redact"
)

// handleHealth is liveness: the process serves HTTP. It never touches the
// database, so a database outage does not get the pod restarted.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = healthContentType
	h["Cache-Control"] = noStore
	w.Write(s.healthBody)
}

// Header values shared by the hot probe handlers (set directly: the keys are
// already canonical).
var (
	healthContentType = []string{"application/health+json"}
	jsonContentType   = []string{"application/json"}
	noStore           = []string{"no-store"}
)

// CheckResult is one named check of /api/ready. Unauthenticated callers
// get Status only; the owner's GET /api/v1/admin/ready and the log get the
// rest, which may name the database's user, host and port.
type CheckResult struct {
	Status     string  `json:"status"`
	DurationMS float64 `json:"duration_ms,omitempty"`
	Message    string  `json:"message,omitempty"`
	Current    *int    `json:"current,omitempty"`
	Expected   *int    `json:"expected,omitempty"`
}

// ReadyBody is the body of /api/ready.
type ReadyBody struct {
	Status string                 `json:"status"`
	Checks map[string]CheckResult `json:"checks"`
}

// handleReady is readiness: 200 only while the database answers a ping
// within the ready timeout and its schema is the one this binary expects,
// and the server is not draining for shutdown. Anyone may ask, so it
// answers each check's name and pass/fail only; a failing check's details
// go to the log (event ready_check_failed) and to GET /api/v1/admin/ready.
func (s *Server) handleReady(w http.ResponseWriter, r *http.Request) {
	body := s.readiness(r)
	status := http.StatusOK
	if body.Status != "pass" {
		status = http.StatusServiceUnavailable
		s.logReadyFailures(r, body)
	}
	public := ReadyBody{Status: body.Status, Checks: make(map[string]CheckResult, len(body.Checks))}
	for name, c := range body.Checks {
		public.Checks[name] = CheckResult{Status: c.Status}
	}
	JSON(w, status, public)
}

// handleAdminReady is the owner's view of readiness, with every detail.
// It answers 200 with the checks whatever their verdict: the call itself
// succeeded.
func (s *Server) handleAdminReady(w http.ResponseWriter, r *http.Request) {
	if err := require(r.Context(), casino.CapAdminStatus); err != nil {
		Error(w, r, err)
		return
	}
	JSON(w, http.StatusOK, s.readiness(r))
}

// logReadyFailures writes one warning per failing check with its detail.
func (s *Server) logReadyFailures(r *http.Request, body ReadyBody) {
	for name, c := range body.Checks {
		if c.Status == "fail" {
			s.log.LogAttrs(r.Context(), slog.LevelWarn, "ready_check_failed", slog.String("check", name), slog.String(logging.FieldError, redact.String(c.Message)))
		}
	}
}

// readiness runs the checks of /api/ready.
func (s *Server) readiness(r *http.Request) ReadyBody {
	body := ReadyBody{Status: "pass", Checks: map[string]CheckResult{}}
	fail := func(name string, c CheckResult) {
		c.Status = "fail"
		body.Status = "fail"
		body.Checks[name] = c
	}
	if s.draining.Load() {
		fail("shutdown", CheckResult{Message: "server is shutting down"})
	}
	if s.cfg.Store != nil {
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.ReadyTimeout)
		defer cancel()
		start := time.Now()
		err := s.cfg.Store.Ping(ctx)
		ms := float64(time.Since(start).Microseconds()) / 1000
		if err != nil {
			fail("database", CheckResult{DurationMS: ms, Message: "database does not answer: " + pingReason(ctx, err)})
			fail("schema", CheckResult{Message: "not checked: database unavailable"})
		} else {
			body.Checks["database"] = CheckResult{Status: "pass", DurationMS: ms}
			start = time.Now()
			cur, err := s.cfg.Store.SchemaVersion(ctx)
			want := s.cfg.Store.LatestSchemaVersion()
			c := CheckResult{DurationMS: float64(time.Since(start).Microseconds()) / 1000, Current: &cur, Expected: &want}
			switch {
			case err != nil:
				c.Current = nil
				c.Message = "schema version unreadable: " + pingReason(ctx, err)
				fail("schema", c)
			case cur != want:
				c.Message = "schema version differs from this binary's"
				fail("schema", c)
			default:
				c.Status = "pass"
				body.Checks["schema"] = c
			}
		}
	}
	return body
}

// pingReason is a short, credential-free reason for a failed check.
func pingReason(ctx context.Context, err error) string {
	if ctx.Err() == context.DeadlineExceeded {
		return "timed out"
	}
	msg := err.Error()
	if len(msg) > 200 {
		msg = msg[:200]
	}
	return msg
}

// VersionBody is the body of /api/version.
type VersionBody struct {
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	BuildTime     string `json:"build_time"`
	GoVersion     string `json:"go_version"`
	SchemaVersion int    `json:"schema_version"`
	Database      string `json:"database"`
}

// handleVersion reports the build and the schema it expects. schema_version
// is the binary's (what it migrates to), so it answers even while the
// database is down.
func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.Write(s.versionBody)
}

// precompute renders the bodies of /api/health and /api/version, which do not
// change while the process runs.
func (s *Server) precompute() {
	health, _ := json.Marshal(map[string]string{"status": "pass", "version": s.cfg.Build.Version})
	s.healthBody = append(health, '\n')
	b := VersionBody{
		Version:   s.cfg.Build.Version,
		Commit:    s.cfg.Build.Commit,
		BuildTime: s.cfg.Build.BuildTime,
		GoVersion: s.cfg.Build.GoVersion,
		Database:  "none",
	}
	if s.cfg.Store != nil {
		b.SchemaVersion = s.cfg.Store.LatestSchemaVersion()
		b.Database = s.cfg.Store.Engine()
	}
	version, _ := json.Marshal(b)
	s.versionBody = append(version, '\n')
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}
