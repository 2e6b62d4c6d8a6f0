package adminui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"casino"
	"casino/observe"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Cookie settings of the session cookie. Over HTTPS the cookie is named with
// the __Host- prefix, which browsers accept only with Secure, Path=/ and no
// Domain, so no sibling subdomain can plant or read it.
const (
	cookieName       = "casino_session"
	secureCookieName = "__Host-casino_session"
)

// SecureCookie modes of Config.SecureCookie.
const (
	SecureAuto   = "auto"   // Secure and __Host- when the request came over HTTPS (TLS, or X-Forwarded-Proto: https)
	SecureAlways = "always" // always Secure and __Host- (the console sits behind a TLS-terminating proxy)
	SecureNever  = "never"  // never (plain-HTTP development only)
)

// Config holds the dependencies of the UI.
type Config struct {
	// Client talks to the backend API, over HTTP or in-process.
	Client *Client
	Logger *slog.Logger
	// Build describes this console's binary, shown beside the backend's on
	// Settings → Versions (in split mode the two can differ).
	Build casino.BuildInfo
	// SecureCookie is SecureAuto (default), SecureAlways or SecureNever.
	SecureCookie string
}

// UI is the frontend-admin's http.Handler: the HTML pages and their static
// files. It does not serve /api/; the caller mounts probes and the API.
type UI struct {
	cfg     Config
	c       *Client
	log     *slog.Logger
	mux     *http.ServeMux
	handler http.Handler
	pages   map[string]*template.Template
	assetV  string // content hash appended to static URLs, for caching
}

// New returns the UI with every route mounted.
func New(cfg Config) (*UI, error) {
	if cfg.Client == nil {
		return nil, errors.New("adminui: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	switch cfg.SecureCookie {
	case "":
		cfg.SecureCookie = SecureAuto
	case SecureAuto, SecureAlways, SecureNever:
	default:
		return nil, errors.New("adminui: SecureCookie must be auto, always or never")
	}
	u := &UI{cfg: cfg, c: cfg.Client, log: cfg.Logger, mux: http.NewServeMux()}
	if err := u.parseTemplates(); err != nil {
		return nil, err
	}
	h := sha256.New()
	fs.WalkDir(staticFS, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			b, _ := staticFS.ReadFile(p)
			h.Write(b)
		}
		return nil
	})
	u.assetV = hex.EncodeToString(h.Sum(nil))[:12]
	u.routes()

	// Every state-changing request must come from our own origin: browsers
	// send Sec-Fetch-Site (or Origin) with every POST, and a cross-origin
	// form post is refused before any handler runs. SameSite=Strict on the
	// cookie is the second line.
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.route(r, "csrf_refused")
		u.renderError(w, r, nil, http.StatusForbidden, "Request refused",
			"This form was submitted from another site, so it was refused. If you meant to do this, open the console directly and try again.")
	}))
	u.handler = securityHeaders(cop.Handler(u.mux))
	return u, nil
}

// ServeHTTP implements http.Handler.
func (u *UI) ServeHTTP(w http.ResponseWriter, r *http.Request) { u.handler.ServeHTTP(w, r) }

// CSP allows only this origin's own files: no inline script or style, no
// frames of anyone, forms only to ourselves.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"

// securityHeaders sets the headers every UI answer carries.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		h.Set("Cross-Origin-Resource-Policy", "same-origin")
		h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			// Pages show tenant data to a logged-in user: never store them.
			h.Set("Cache-Control", "no-store")
		}
		next.ServeHTTP(w, r)
	})
}

// route records the route pattern for logs and metrics (observe.SetRoute).
func (u *UI) route(r *http.Request, pattern string) { observe.SetRoute(r.Context(), pattern) }

// handle mounts h at pattern, recording the pattern as the route.
func (u *UI) handle(pattern string, h http.HandlerFunc) {
	u.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		u.route(r, pattern)
		h(w, r)
	})
}

// requestID is the id of r, for error pages: observe.Middleware's, "" when
// the UI is served without it.
func (u *UI) requestID(r *http.Request) string { return observe.RequestID(r.Context()) }

// secure reports whether r arrived over HTTPS (directly or via a proxy).
func (u *UI) secure(r *http.Request) bool {
	switch u.cfg.SecureCookie {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	return r.TLS != nil || strings.EqualFold(r.Header.Get("X-Forwarded-Proto"), "https")
}

func (u *UI) cookieName(r *http.Request) string {
	if u.secure(r) {
		return secureCookieName
	}
	return cookieName
}

// token returns the session token of r, "" when there is none.
func (u *UI) token(r *http.Request) string {
	c, err := r.Cookie(u.cookieName(r))
	if err != nil {
		return ""
	}
	return c.Value
}

func (u *UI) setSession(w http.ResponseWriter, r *http.Request, t Token) {
	maxAge := t.ExpiresIn
	if maxAge <= 0 {
		maxAge = int((30 * time.Minute).Seconds())
	}
	http.SetCookie(w, &http.Cookie{
		Name: u.cookieName(r), Value: t.AccessToken, Path: "/", MaxAge: maxAge,
		HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

func (u *UI) clearSession(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{
		Name: u.cookieName(r), Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: u.secure(r), SameSite: http.SameSiteStrictMode,
	})
}

// safeNext returns p when it is a local path of this console, else "".
func safeNext(p string) string {
	if p == "" || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsAny(p, "\\\r\n") {
		return ""
	}
	if uu, err := url.Parse(p); err != nil || uu.Host != "" || uu.Scheme != "" {
		return ""
	}
	if p == "/login" || strings.HasPrefix(p, "/login?") || strings.HasPrefix(p, "/static/") {
		return ""
	}
	return p
}

// redirect answers 303 See Other, so a POST becomes a GET.
func redirect(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// toLogin clears the session and sends the user to the login page with a
// message key (see loginMessages).
func (u *UI) toLogin(w http.ResponseWriter, r *http.Request, msg string) {
	u.clearSession(w, r)
	q := url.Values{}
	if msg != "" {
		q.Set("m", msg)
	}
	if r.Method == http.MethodGet {
		if next := safeNext(r.URL.RequestURI()); next != "" && next != "/" {
			q.Set("next", next)
		}
	}
	to := "/login"
	if len(q) > 0 {
		to += "?" + q.Encode()
	}
	redirect(w, r, to)
}
