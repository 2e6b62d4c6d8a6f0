package main

import (
	"context"
	"flag"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"casino"
	"casino/adminui"
	"casino/api"
	"casino/observe"
)

// uiConfig holds the settings of the frontend-admin UI. Env first, flags
// override.
type uiConfig struct {
	// SecureCookie: auto (Secure + __Host- when the request came over HTTPS,
	// directly or per X-Forwarded-Proto), always, or never.
	SecureCookie string
	// BackendTimeout bounds each call to the backend API.
	BackendTimeout time.Duration
	// ReadyTimeout bounds the backend probe of the frontend-admin's /api/ready.
	ReadyTimeout time.Duration
}

func bindUIFlags(fs *flag.FlagSet, env *Env, c *uiConfig) {
	stringSetting(fs, env, &c.SecureCookie, "ui-secure-cookie", "CASINO_UI_SECURE_COOKIE", adminui.SecureAuto,
		"session cookie Secure/__Host-: auto (when served over HTTPS), always or never")
	durationSetting(fs, env, &c.BackendTimeout, "ui-backend-timeout", "CASINO_UI_BACKEND_TIMEOUT", 15*time.Second, "timeout of each UI call to the backend API")
	durationSetting(fs, env, &c.ReadyTimeout, "ui-ready-timeout", "CASINO_UI_READY_TIMEOUT", 2*time.Second, "how long the frontend-admin's /api/ready waits for the backend")
}

func (c *uiConfig) validate(fs *flag.FlagSet) error {
	switch c.SecureCookie {
	case adminui.SecureAuto, adminui.SecureAlways, adminui.SecureNever:
	default:
		return usageErrorf("invalid %s %q: must be auto, always or never", settingName(fs, "ui-secure-cookie", "CASINO_UI_SECURE_COOKIE"), c.SecureCookie)
	}
	if c.BackendTimeout <= 0 {
		return usageErrorf("invalid %s: must be a positive duration like 15s", settingName(fs, "ui-backend-timeout", "CASINO_UI_BACKEND_TIMEOUT"))
	}
	if c.ReadyTimeout <= 0 {
		return usageErrorf("invalid %s: must be a positive duration like 2s", settingName(fs, "ui-ready-timeout", "CASINO_UI_READY_TIMEOUT"))
	}
	return nil
}

func (c *uiConfig) redacted() map[string]any {
	return map[string]any{
		"ui_secure_cookie":   c.SecureCookie,
		"ui_backend_timeout": c.BackendTimeout.String(),
		"ui_ready_timeout":   c.ReadyTimeout.String(),
	}
}

// newFrontend returns the handler of the frontend-admin role. With backend
// non-nil (role all) it also serves the API under /api/ and /metrics.
//
// Both roles run the same adminui.Client; only its transport differs: HTTP to
// --backend-url in split mode, the in-process API handler in role all.
func newFrontend(ctx context.Context, env *Env, cfg *Config, logger *slog.Logger, reg *prometheus.Registry, backend *api.Server) (http.Handler, func(), error) {
	var client *adminui.Client
	var err error
	if backend == nil {
		client, err = adminui.NewClient(cfg.BackendURL, backendTransport())
	} else {
		client, err = adminui.NewClient("http://backend.in-process", adminui.HandlerTransport(backend))
	}
	if err != nil {
		return nil, nil, usageErrorf("%s", err)
	}
	client.SetTimeout(cfg.UI.BackendTimeout)
	ui, err := adminui.New(adminui.Config{
		Client:       client,
		Logger:       logger,
		Build:        casino.Build(),
		SecureCookie: cfg.UI.SecureCookie,
	})
	if err != nil {
		return nil, nil, err
	}
	metrics := observe.NewMetrics(reg)

	if backend != nil {
		return roleAll{backend: backend, ui: observe.Middleware(logger, metrics, cfg.proxies, ui)}, backend.SetDraining, nil
	}

	p := &uiProbes{client: client, build: casino.Build(), timeout: cfg.UI.ReadyTimeout, started: time.Now()}
	mux := http.NewServeMux()
	probe := func(pattern string, h http.HandlerFunc) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			observe.SetRoute(r.Context(), pattern)
			h(w, r)
		})
	}
	probe("GET /api/health", p.health)
	probe("GET /api/ready", p.ready)
	probe("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP)
	probe("/api/", func(w http.ResponseWriter, r *http.Request) {
		api.Error(w, r, casino.Errorf(casino.ENOTFOUND, "This is the frontend-admin; only /api/health and /api/ready are served here, the API is on the backend."))
	})
	mux.Handle("/", ui)
	return observe.Middleware(logger, metrics, cfg.proxies, mux), func() { p.draining.Store(true) }, nil
}

// roleAll sends /api, /api/... and /metrics to the backend and every other
// path to the console. It is the ServeMux {"/api/", "/metrics", "/"} minus
// the mux's pattern matching, which cost a visible share of a probe's CPU:
// "/api" and unclean paths under /api/ reach the backend's own mux, which
// redirects them as the outer mux did.
type roleAll struct{ backend, ui http.Handler }

func (h roleAll) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; p == "/metrics" || p == "/api" || strings.HasPrefix(p, "/api/") {
		h.backend.ServeHTTP(w, r)
		return
	}
	h.ui.ServeHTTP(w, r)
}

// backendTransport is the HTTP transport to the backend: short connect and
// header timeouts, so an unreachable backend turns into the "backend
// unavailable" page quickly instead of hanging the browser.
func backendTransport() http.RoundTripper {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: 3 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.ResponseHeaderTimeout = 15 * time.Second
	t.MaxIdleConnsPerHost = 32
	// The frontend reaches the backend directly (a cluster Service, a
	// compose network); an HTTP(S)_PROXY meant for the outside world must
	// not capture it.
	t.Proxy = nil
	return t
}

// uiProbes are the frontend-admin role's own /api/health and /api/ready.
type uiProbes struct {
	client   *adminui.Client
	build    casino.BuildInfo
	timeout  time.Duration
	started  time.Time
	draining atomic.Bool
}

// health is liveness: the process serves HTTP. It never calls the backend.
func (p *uiProbes) health(w http.ResponseWriter, r *http.Request) {
	api.JSON(w, http.StatusOK, map[string]any{
		"status":         "pass",
		"role":           RoleFrontendAdmin,
		"version":        p.build.Version,
		"uptime_seconds": int64(time.Since(p.started).Seconds()),
	})
}

// ready is readiness: the backend answers its /api/health within the ready
// timeout, and the process is not draining.
func (p *uiProbes) ready(w http.ResponseWriter, r *http.Request) {
	body := api.ReadyBody{Status: "pass", Checks: map[string]api.CheckResult{}}
	if p.draining.Load() {
		body.Status = "fail"
		body.Checks["shutdown"] = api.CheckResult{Status: "fail", Message: "server is shutting down"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.timeout)
	defer cancel()
	start := time.Now()
	err := p.client.Health(ctx)
	c := api.CheckResult{Status: "pass", DurationMS: float64(time.Since(start).Microseconds()) / 1000}
	if err != nil {
		c.Status, body.Status = "fail", "fail"
		c.Message = "backend unreachable"
		if ctx.Err() == context.DeadlineExceeded {
			c.Message = "backend did not answer within " + p.timeout.String()
		}
	}
	body.Checks["backend"] = c
	status := http.StatusOK
	if body.Status != "pass" {
		status = http.StatusServiceUnavailable
	}
	api.JSON(w, status, body)
}
