package adminui

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/observe"
)

// newTestUI serves the UI in front of backend (in-process, through
// HandlerTransport, the role-all path).
func newTestUI(t *testing.T, backend http.Handler) *httptest.Server {
	t.Helper()
	c, err := NewClient("http://backend.test", HandlerTransport(backend))
	if err != nil {
		t.Fatal(err)
	}
	return newTestUIClient(t, c)
}

func newTestUIClient(t *testing.T, c *Client) *httptest.Server {
	t.Helper()
	u, err := New(Config{Client: c, Build: casino.BuildInfo{Version: "9.9.9", Commit: "c0ffee"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	return srv
}

// noFollow is an HTTP client that shows redirects instead of following them.
var noFollow = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type resp struct {
	*http.Response
	body string
}

func do(t *testing.T, method, u string, form url.Values, hdr map[string]string, cookies ...*http.Cookie) resp {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	for _, c := range cookies {
		req.AddCookie(c)
	}
	r, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return resp{r, string(b)}
}

// sameOrigin are the headers a browser sends with a form post of our own page.
var sameOrigin = map[string]string{"Sec-Fetch-Site": "same-origin"}

func login(t *testing.T, base, email, password string) *http.Cookie {
	t.Helper()
	r := do(t, "POST", base+"/login", url.Values{"email": {email}, "password": {password}}, sameOrigin)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("login %s: status %d, want 303\n%s", email, r.StatusCode, r.body)
	}
	for _, c := range r.Cookies() {
		if c.Name == cookieName {
			return c
		}
	}
	t.Fatalf("login %s: no %s cookie in %v", email, cookieName, r.Header["Set-Cookie"])
	return nil
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	srv := newTestUI(t, newFakeAPI())
	for _, p := range []string{"/login", "/static/app.css", "/tenants", "/nope"} {
		r := do(t, "GET", srv.URL+p, nil, nil)
		csp := r.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'self'", "script-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: CSP %q lacks %q", p, csp, want)
			}
		}
		if strings.Contains(csp, "unsafe-inline") {
			t.Errorf("GET %s: CSP allows unsafe-inline: %q", p, csp)
		}
		if got := r.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("GET %s: X-Content-Type-Options = %q, want nosniff", p, got)
		}
		if got := r.Header.Get("Referrer-Policy"); got == "" {
			t.Errorf("GET %s: no Referrer-Policy", p)
		}
	}
}

func TestTemplatesHaveNoInlineScriptOrExternalURL(t *testing.T) {
	t.Parallel()
	entries, _ := templateFS.ReadDir("templates")
	for _, e := range entries {
		b, _ := templateFS.ReadFile("templates/" + e.Name())
		s := strings.ToLower(string(b))
		for _, bad := range []string{"<script>", "<script ", "style=", "onclick", "onload", "http://", "https://", "//fonts", "cdn"} {
			if strings.Contains(s, bad) {
				t.Errorf("%s contains %q", e.Name(), bad)
			}
		}
	}
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	srv := newTestUI(t, fake)
	tests := []struct {
		name       string
		setup      func()
		email, pw  string
		wantStatus int
		wantText   string
	}{
		{"wrong password", func() {}, "admin@casino.com", "nope", 401, "Wrong email or password."},
		{"empty", func() {}, "", "", 400, "Enter your email and password."},
		{"throttled", func() { fake.throttle = 90 * time.Second }, "admin@casino.com", "owner-pass", 429, "Try again in 2 minutes"},
		{"freeze", func() { fake.throttle = 0; fake.freeze = true }, "ta@acme.test", "ta-pass", 503, "frozen"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.setup()
			r := do(t, "POST", srv.URL+"/login", url.Values{"email": {tt.email}, "password": {tt.pw}}, sameOrigin)
			if r.StatusCode != tt.wantStatus {
				t.Errorf("status = %d, want %d", r.StatusCode, tt.wantStatus)
			}
			if !strings.Contains(r.body, tt.wantText) || !strings.Contains(r.body, `id="login-error"`) {
				t.Errorf("body lacks inline error %q:\n%s", tt.wantText, r.body)
			}
			if len(r.Cookies()) != 0 {
				t.Errorf("failed login set cookies: %v", r.Header["Set-Cookie"])
			}
		})
	}
}

func TestThrottleForwardsRetryAfter(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	fake.throttle = 30 * time.Second
	srv := newTestUI(t, fake)
	r := do(t, "POST", srv.URL+"/login", url.Values{"email": {"a@b.c"}, "password": {"x"}}, sameOrigin)
	if got := r.Header.Get("Retry-After"); got != "30" {
		t.Errorf("Retry-After = %q, want 30", got)
	}
	if !strings.Contains(r.body, "Try again in 30 seconds") {
		t.Errorf("body lacks the retry time:\n%s", r.body)
	}
}

func TestSessionCookie(t *testing.T) {
	t.Parallel()
	srv := newTestUI(t, newFakeAPI())
	r := do(t, "POST", srv.URL+"/login", url.Values{"email": {"admin@casino.com"}, "password": {"owner-pass"}}, sameOrigin)
	sc := r.Header.Get("Set-Cookie")
	for _, want := range []string{cookieName + "=", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(sc, "Secure") {
		t.Errorf("plain-HTTP cookie is Secure, browsers would drop it: %q", sc)
	}
	// Behind a TLS-terminating proxy: __Host- and Secure.
	h := map[string]string{"Sec-Fetch-Site": "same-origin", "X-Forwarded-Proto": "https"}
	r = do(t, "POST", srv.URL+"/login", url.Values{"email": {"admin@casino.com"}, "password": {"owner-pass"}}, h)
	sc = r.Header.Get("Set-Cookie")
	for _, want := range []string{"__Host-casino_session=", "Secure", "HttpOnly", "SameSite=Strict", "Path=/"} {
		if !strings.Contains(sc, want) {
			t.Errorf("HTTPS Set-Cookie %q lacks %q", sc, want)
		}
	}
	if strings.Contains(strings.ToLower(sc), "domain=") {
		t.Errorf("__Host- cookie must not have a Domain: %q", sc)
	}
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	srv := newTestUI(t, fake)
	c := login(t, srv.URL, "admin@casino.com", "owner-pass")
	before := fake.mutationCount()
	for name, hdr := range map[string]map[string]string{
		"sec-fetch-site": {"Sec-Fetch-Site": "cross-site"},
		"origin":         {"Origin": "http://evil.example"},
	} {
		for _, path := range []string{"/tenants", "/logout", "/login", "/tenants/1/status"} {
			r := do(t, "POST", srv.URL+path, url.Values{"name": {"Evil"}, "slug": {"evil"}, "status": {"suspended"}, "email": {"a@b.c"}, "password": {"x"}}, hdr, c)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("%s: cross-origin POST %s: status %d, want 403", name, path, r.StatusCode)
			}
		}
	}
	if n := fake.mutationCount(); n != before {
		t.Errorf("cross-origin posts reached the backend: %d mutations", n-before)
	}
	// The same post from our own origin works.
	r := do(t, "POST", srv.URL+"/tenants", url.Values{"name": {"Good"}, "slug": {"good"}}, map[string]string{"Origin": srv.URL}, c)
	if r.StatusCode != http.StatusSeeOther {
		t.Errorf("same-origin create: status %d, want 303\n%s", r.StatusCode, r.body)
	}
}

func TestGetNeverMutates(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	srv := newTestUI(t, fake)
	c := login(t, srv.URL, "admin@casino.com", "owner-pass")
	before := fake.mutationCount()
	for _, p := range []string{"/", "/tenants", "/tenants/1", "/settings", "/settings/versions", "/audit?action=tenant.create", "/logout", "/tenants/1/status?status=suspended"} {
		do(t, "GET", srv.URL+p, nil, nil, c)
	}
	if n := fake.mutationCount(); n != before {
		t.Errorf("GET requests caused %d backend mutations: %v", n-before, fake.mutations[before:])
	}
	// GET /logout is not a route: the token still works.
	if r := do(t, "GET", srv.URL+"/tenants", nil, nil, c); r.StatusCode != 200 {
		t.Errorf("after GET /logout, /tenants: status %d, want 200", r.StatusCode)
	}
}

func TestPagesRender(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	srv := newTestUI(t, fake)
	owner := login(t, srv.URL, "admin@casino.com", "owner-pass")
	for _, tt := range []struct{ path, want string }{
		{"/tenants", `id="tenants"`},
		{"/tenants", "Acme Casino"},
		{"/tenants", `id="create-tenant"`},
		{"/tenants/1", "ta@acme.test"},
		{"/settings", "max_bet"},
		{"/settings/versions", `id="versions"`},
		{"/settings/versions", `<dd id="current-version">1.2.3</dd>`},
		{"/audit", "tenant.create"},
		{"/tenants", "Maintenance mode is ON"},
	} {
		if tt.want == "Maintenance mode is ON" {
			fake.maintenance = true
		}
		r := do(t, "GET", srv.URL+tt.path, nil, nil, owner)
		if r.StatusCode != 200 || !strings.Contains(r.body, tt.want) {
			t.Errorf("GET %s: status %d, want 200 with %q\n%s", tt.path, r.StatusCode, tt.want, r.body)
		}
	}
	fake.maintenance = false
	ta := login(t, srv.URL, "ta@acme.test", "ta-pass")
	r := do(t, "GET", srv.URL+"/tenants", nil, nil, ta)
	if strings.Contains(r.body, `id="create-tenant"`) || strings.Contains(r.body, "Suspend") {
		t.Errorf("tenant admin sees owner controls")
	}
}

func TestRevokedTokenGoesToLogin(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	srv := newTestUI(t, fake)
	c := login(t, srv.URL, "admin@casino.com", "owner-pass")
	r := do(t, "POST", srv.URL+"/logout", nil, sameOrigin, c)
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login?m=loggedout") {
		t.Fatalf("logout: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// The old cookie, replayed: the backend refuses the token.
	r = do(t, "GET", srv.URL+"/settings/versions", nil, nil, c)
	loc := r.Header.Get("Location")
	if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/login?") || !strings.Contains(loc, "m=expired") {
		t.Fatalf("old cookie: %d %q, want 303 to /login?m=expired", r.StatusCode, loc)
	}
	r = do(t, "GET", srv.URL+loc, nil, nil)
	if !strings.Contains(r.body, "expired or was revoked") {
		t.Errorf("login page lacks the expiry message:\n%s", r.body)
	}
}

func TestBackendUnavailable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	c, err := NewClient(dead, nil)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestUIClient(t, c)
	for _, tt := range []struct {
		method, path string
		form         url.Values
		cookie       *http.Cookie
	}{
		{"GET", "/tenants", nil, &http.Cookie{Name: cookieName, Value: "x"}},
		{"POST", "/login", url.Values{"email": {"a@b.c"}, "password": {"x"}}, nil},
	} {
		var cs []*http.Cookie
		if tt.cookie != nil {
			cs = append(cs, tt.cookie)
		}
		r := do(t, tt.method, srv.URL+tt.path, tt.form, sameOrigin, cs...)
		if r.StatusCode != http.StatusServiceUnavailable {
			t.Errorf("%s %s: status %d, want 503", tt.method, tt.path, r.StatusCode)
		}
		if !strings.Contains(r.body, "Backend unavailable") {
			t.Errorf("%s %s: body lacks 'Backend unavailable':\n%s", tt.method, tt.path, r.body)
		}
		for _, leak := range []string{"dial tcp", "connection refused", "goroutine", ln.Addr().String()} {
			if strings.Contains(r.body, leak) {
				t.Errorf("%s %s: body leaks %q", tt.method, tt.path, leak)
			}
		}
	}
	// The login page itself needs no backend.
	if r := do(t, "GET", srv.URL+"/login", nil, nil); r.StatusCode != 200 {
		t.Errorf("GET /login with the backend down: %d", r.StatusCode)
	}
}

func TestSafeNext(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/tenants/1":           "/tenants/1",
		"//evil.example/x":     "",
		"https://evil.example": "",
		"/\\evil.example":      "",
		"/login":               "",
		"":                     "",
		"tenants":              "",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// The console's backend calls carry the request id and client address that
// observe.Middleware decided for the console request.
func TestForwardsRequestMeta(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	c, _ := NewClient("http://backend.test", HandlerTransport(fake))
	u, err := New(Config{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	proxies := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	srv := httptest.NewServer(observe.Middleware(nil, nil, proxies, u))
	defer srv.Close()
	hdr := map[string]string{"X-Request-ID": "req-123", "X-Forwarded-For": "203.0.113.9"}
	for k, v := range sameOrigin {
		hdr[k] = v
	}
	do(t, "POST", srv.URL+"/login", url.Values{"email": {"admin@casino.com"}, "password": {"owner-pass"}}, hdr)
	fake.mu.Lock()
	defer fake.mu.Unlock()
	last := fake.calls[len(fake.calls)-1]
	if got := last.Header.Get("X-Request-ID"); got != "req-123" {
		t.Errorf("X-Request-ID = %q, want req-123", got)
	}
	if got := last.RemoteAddr; !strings.HasPrefix(got, "203.0.113.9:") {
		t.Errorf("in-process RemoteAddr = %q, want the client's IP", got)
	}
}

func TestAuditChanges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name          string
		before, after string
		want          []Change
	}{
		{"create", ``, `{"id":1,"name":"Acme","slug":"acme","created_at":"x"}`, []Change{{Key: "name", After: "Acme"}, {Key: "slug", After: "acme"}}},
		{"update", `{"name":"Acme","status":"active","updated_at":"1"}`, `{"name":"Acme","status":"suspended","updated_at":"2"}`, []Change{{Key: "status", Before: "active", After: "suspended", HasBefore: true}}},
		{"scalar", `5`, `7`, []Change{{Key: "value", Before: "5", After: "7", HasBefore: true}}},
		{"nothing", ``, ``, nil},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := AuditEvent{Before: json.RawMessage(tt.before), After: json.RawMessage(tt.after)}.Changes()
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Changes() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// The console knows the login freeze by its error code, not by words in the
// message: a signed-in admin refused with login_frozen goes to the login page
// with the freeze note; another 503 that happens to say "freeze" does not.
func TestFreezeRecognisedByCode(t *testing.T) {
	t.Parallel()
	fake := newFakeAPI()
	srv := newTestUI(t, fake)
	cookie := login(t, srv.URL, "ta@acme.test", "ta-pass")
	for _, tt := range []struct {
		code, msg string
		frozen    bool
	}{
		{"login_frozen", "Admin logins are suspended for now.", true},
		{"unavailable", "Maintenance: we freeze deploys and the admins are frozen out.", false},
	} {
		fake.mu.Lock()
		fake.capsErr = [2]string{tt.code, tt.msg}
		fake.mu.Unlock()
		r := do(t, "GET", srv.URL+"/tenants", nil, nil, cookie)
		toFrozen := r.StatusCode == http.StatusSeeOther && strings.Contains(r.Header.Get("Location"), "m=frozen")
		if toFrozen != tt.frozen {
			t.Errorf("503 %s %q: status %d, Location %q; sent to the freeze note = %v, want %v", tt.code, tt.msg, r.StatusCode, r.Header.Get("Location"), toFrozen, tt.frozen)
		}
	}
}
