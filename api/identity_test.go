package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"casino"
	"casino/api"
	"casino/auth"
	"casino/internal/testdb"
	"casino/logging"
	"casino/sqlstore"
)

// testParams are cheap Argon2id parameters: tests only.
var testParams = auth.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const ownerEmail = "admin@casino.com"
const ownerPassword = "owner-password-0123456789"

// apiEnv is an API server over a fresh database with an owner.
type apiEnv struct {
	t    testing.TB
	db   *sqlstore.DB
	srv  *httptest.Server
	logs *bytes.Buffer
	// lockedLogs replaces logs where the test reads them while serving.
	lockedLogs *lockedBuffer
	// proofDir is the DR readiness's proof folder.
	proofDir string
}

type envOpt func(*auth.HasherConfig, *auth.ThrottleConfig)

func newAPIEnv(t testing.TB, engine sqlstore.Dialect, opts ...envOpt) *apiEnv {
	t.Helper()
	return newAPIEnvLogging(t, engine, nil, opts...)
}

// newAPIEnvLogging is newAPIEnv with the request log written to logOut
// instead of the env's buffer (nil: the buffer).
func newAPIEnvLogging(t testing.TB, engine sqlstore.Dialect, logOut io.Writer, opts ...envOpt) *apiEnv {
	t.Helper()
	return newAPIEnvDB(t, testdb.Open(t, engine), logOut, opts...)
}

// newAPIEnvDB is newAPIEnvLogging over a database the caller opened and
// migrated.
func newAPIEnvDB(t testing.TB, db *sqlstore.DB, logOut io.Writer, opts ...envOpt) *apiEnv {
	t.Helper()
	hc := auth.HasherConfig{Params: testParams, MaxConcurrent: 4, AllowWeakForTests: true}
	th := auth.DefaultThrottle
	for _, o := range opts {
		o(&hc, &th)
	}
	hasher, err := auth.NewHasher(hc)
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := auth.NewTokens(auth.NewKey(), 30*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	hash, _ := hasher.Hash(context.Background(), ownerPassword)
	if _, err := db.EnsureOwner(context.Background(), ownerEmail, hash); err != nil {
		t.Fatal(err)
	}
	logs := &bytes.Buffer{}
	if logOut == nil {
		logOut = logs
	}
	logger := logging.New(logOut, 0)
	readiness := newReadiness(t, db)
	s := api.NewServer(api.Config{
		Logger: logger, Build: casino.Build(), Store: db, Versions: db,
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Auth:           auth.NewService(db, hasher, tokens, th, logger),
		Hasher:         hasher, Tenants: db, Users: db, Settings: db, Audit: db, System: db, Data: db,
		DR: readiness,
	})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &apiEnv{t: t, db: db, srv: srv, logs: logs, proofDir: readiness.ProofDir}
}

// response is a decoded answer.
type response struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    []byte
}

func (r *response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Raw) }

// errCode returns error.code of an error body.
func (r *response) errCode() string {
	e, _ := r.Body["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

// call sends a request; body may be a string (sent verbatim) or a value
// (sent as JSON). ip, when set, is sent as X-Forwarded-For.
func (e *apiEnv) call(method, path, token string, body any, ip ...string) *response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	default:
		j, _ := json.Marshal(b)
		rd = bytes.NewReader(j)
	}
	req, _ := http.NewRequest(method, e.srv.URL+path, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if len(ip) > 0 {
		req.Header.Set("X-Forwarded-For", ip[0])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	if len(raw) > 0 {
		json.Unmarshal(raw, &out.Body)
	}
	return out
}

// login returns a token or fails the test.
func (e *apiEnv) login(email, password string) string {
	e.t.Helper()
	r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": password})
	if r.Status != 200 {
		e.t.Fatalf("login %s: %s", email, r)
	}
	tok, _ := r.Body["access_token"].(string)
	return tok
}

// createTenant creates a tenant as the owner and returns its id.
func (e *apiEnv) createTenant(owner, slug string) int64 {
	e.t.Helper()
	r := e.call("POST", "/api/v1/tenants", owner, map[string]string{"name": "Tenant " + slug, "slug": slug})
	if r.Status != 201 {
		e.t.Fatalf("create tenant %s: %s", slug, r)
	}
	return int64(r.Body["id"].(float64))
}

// createAdmin creates a tenant admin and returns a token for them.
func (e *apiEnv) createAdmin(owner string, tenant int64, email string) string {
	e.t.Helper()
	r := e.call("POST", fmt.Sprintf("/api/v1/tenants/%d/admins", tenant), owner, map[string]string{"email": email, "password": "tenant-admin-password-1"})
	if r.Status != 201 {
		e.t.Fatalf("create admin %s: %s", email, r)
	}
	return e.login(email, "tenant-admin-password-1")
}

func TestLoginCapabilitiesLogout(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": ownerEmail, "password": ownerPassword})
		if r.Status != 200 || r.Body["token_type"] != "Bearer" || r.Body["expires_in"] != float64(1800) || r.Body["access_token"] == "" {
			t.Fatalf("login: got %s", r)
		}
		tok := r.Body["access_token"].(string)
		caps := e.call("GET", "/api/v1/tenants/capabilities", tok, nil)
		if caps.Status != 200 || caps.Body["is_owner"] != true || caps.Body["role"] != "owner" || caps.Body["tenant_id"] != nil {
			t.Fatalf("capabilities: got %s", caps)
		}
		if n := len(caps.Body["capabilities"].([]any)); n != len(casino.AllCapabilities) {
			t.Errorf("owner capabilities: got %d, want %d", n, len(casino.AllCapabilities))
		}
		// Emails are case-insensitive.
		e.login("  ADMIN@Casino.com ", ownerPassword)

		// No token, bad token.
		if r := e.call("GET", "/api/v1/tenants/capabilities", "", nil); r.Status != 401 || r.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("no token: got %s", r)
		}
		if r := e.call("GET", "/api/v1/tenants/capabilities", tok+"x", nil); r.Status != 401 {
			t.Errorf("tampered token: got %s", r)
		}
		// Logout revokes the token.
		if r := e.call("POST", "/api/v1/auth/logout", tok, nil); r.Status != 204 {
			t.Fatalf("logout: got %s", r)
		}
		if r := e.call("GET", "/api/v1/tenants/capabilities", tok, nil); r.Status != 401 {
			t.Errorf("revoked token: got %s", r)
		}
		// Login events are audited.
		tok2 := e.login(ownerEmail, ownerPassword)
		a := e.call("GET", "/api/v1/audit?action=auth.*", tok2, nil)
		got := map[string]int{}
		for _, ev := range a.Body["events"].([]any) {
			got[ev.(map[string]any)["action"].(string)]++
		}
		if got[casino.ActionLoginSuccess] < 3 || got[casino.ActionLogout] != 1 {
			t.Errorf("audit auth events: got %v", got)
		}
	})
}

func TestNoEnumeration(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		wrong := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": ownerEmail, "password": "not the password"}, "10.0.0.1")
		unknown := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": "nobody@casino.com", "password": "not the password"}, "10.0.0.2")
		if wrong.Status != 401 || unknown.Status != 401 {
			t.Fatalf("got %s and %s, want 401 both", wrong, unknown)
		}
		if wrong.Body["error"].(map[string]any)["message"] != unknown.Body["error"].(map[string]any)["message"] || wrong.errCode() != unknown.errCode() {
			t.Errorf("bodies differ: %s vs %s", wrong.Raw, unknown.Raw)
		}
	})
}

// TestNoEnumerationTiming measures with the production parameters: an
// unknown email must cost a hash like a wrong password does.
func TestNoEnumerationTiming(t *testing.T) {
	if testing.Short() {
		t.Skip("slow: production Argon2id parameters")
	}
	e := newAPIEnv(t, sqlstore.SQLite, func(hc *auth.HasherConfig, th *auth.ThrottleConfig) {
		*hc = auth.HasherConfig{Params: auth.DefaultParams, MaxConcurrent: 1}
		th.MaxPair, th.MaxAccount, th.MaxIP = 100, 100, 100
	})
	// Paired and interleaved: each unknown-email login is compared with the
	// wrong-password login right next to it (the order alternating), and the
	// verdict is the median of those ratios. Load on a shared machine drifts
	// slowly, so it hits both halves of a pair alike, and a burst that
	// spoils a few pairs cannot move the median. (Comparing the medians of
	// the two sides failed at 0.30 under load once.)
	login := func(email string) time.Duration {
		start := time.Now()
		r := e.call("POST", "/api/v1/auth/login", "", map[string]string{"email": email, "password": "wrong password"})
		d := time.Since(start)
		if r.Status != 401 {
			t.Fatalf("got %s", r)
		}
		return d
	}
	const pairs = 21
	ratios := make([]float64, 0, pairs)
	var known, unknown time.Duration
	for i := range pairs {
		var k, u time.Duration
		if i%2 == 0 {
			k, u = login(ownerEmail), login("nobody@casino.com")
		} else {
			u, k = login("nobody@casino.com"), login(ownerEmail)
		}
		known, unknown = known+k, unknown+u
		ratios = append(ratios, float64(u)/float64(k))
	}
	slices.Sort(ratios)
	ratio := ratios[pairs/2]
	t.Logf("mean wrong password %v, unknown email %v; median paired ratio %.2f (range %.2f-%.2f)", known/pairs, unknown/pairs, ratio, ratios[0], ratios[pairs-1])
	if ratio < 0.5 || ratio > 2 {
		t.Errorf("unknown email / wrong password: median paired ratio %.2f outside 0.5-2 (ratios %.2f)", ratio, ratios)
	}
}
