package adminui

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// fakeAPI is a small in-memory stand-in for the backend contract (issue 3),
// enough to drive the UI's handlers in unit tests. The browser tests in
// cmd/casino run against the real backend.
type fakeAPI struct {
	mu        sync.Mutex
	tenants   []Tenant
	tokens    map[string]Capabilities // live tokens
	mutations []string                // every state-changing call, "METHOD path"
	calls     []*http.Request
	// knobs
	throttle    time.Duration // >0: login answers 429 with this Retry-After
	freeze      bool          // non-owner login answers 503
	maintenance bool
	capsErr     [2]string // code and message: capabilities answers 503 with them
}

func newFakeAPI() *fakeAPI {
	return &fakeAPI{
		tokens:  map[string]Capabilities{},
		tenants: []Tenant{{ID: "1", Name: "Acme Casino", Slug: "acme", Status: "active", CreatedAt: time.Date(2026, 11, 1, 10, 0, 0, 0, time.UTC)}},
	}
}

func fakeErr(w http.ResponseWriter, status int, code, msg string, fields map[string]string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "message": msg, "fields": fields}, "request_id": "fake"})
}

func fakeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, r)
	if r.Method != http.MethodGet {
		f.mutations = append(f.mutations, r.Method+" "+r.URL.Path)
	}
	switch {
	case r.URL.Path == "/api/health":
		fakeJSON(w, 200, map[string]string{"status": "pass"})
		return
	case r.URL.Path == "/api/version":
		fakeJSON(w, 200, BuildVersion{Version: "1.2.3", Commit: "abcdef1234567890", SchemaVersion: 4, Database: "sqlite"})
		return
	case r.URL.Path == "/api/v1/auth/login" && r.Method == http.MethodPost:
		var req struct{ Email, Password string }
		json.NewDecoder(r.Body).Decode(&req)
		if f.throttle > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(f.throttle.Seconds())))
			fakeErr(w, 429, "throttled", "Too many failed logins.", nil)
			return
		}
		var caps Capabilities
		switch {
		case req.Email == "admin@casino.com" && req.Password == "owner-pass":
			caps = Capabilities{IsOwner: true, Role: "owner", Email: req.Email, Capabilities: []string{"tenants:read", "tenants:create", "admin:status"}}
		case req.Email == "ta@acme.test" && req.Password == "ta-pass":
			if f.freeze {
				fakeErr(w, 503, "login_frozen", "Admin logins are frozen (disaster-recovery login freeze); only the owner may log in.", nil)
				return
			}
			caps = Capabilities{Role: "tenant_admin", TenantID: "1", Email: req.Email, Capabilities: []string{"tenants:read"}}
		default:
			fakeErr(w, 401, "unauthorized", "Wrong email or password.", nil)
			return
		}
		tok := "tok-" + strconv.Itoa(len(f.tokens)+1)
		f.tokens[tok] = caps
		fakeJSON(w, 200, Token{AccessToken: tok, TokenType: "Bearer", ExpiresIn: 1800})
		return
	}
	tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	caps, ok := f.tokens[tok]
	if !ok {
		fakeErr(w, 401, "unauthorized", "Token expired or revoked.", nil)
		return
	}
	if f.maintenance && r.Method != http.MethodGet && r.URL.Path != "/api/v1/auth/logout" {
		fakeErr(w, 503, "unavailable", "The platform is in maintenance mode.", nil)
		return
	}
	switch {
	case r.URL.Path == "/api/v1/auth/logout":
		delete(f.tokens, tok)
		w.WriteHeader(204)
	case r.URL.Path == "/api/v1/tenants/capabilities":
		if f.capsErr[0] != "" {
			fakeErr(w, 503, f.capsErr[0], f.capsErr[1], nil)
			return
		}
		fakeJSON(w, 200, caps)
	case r.URL.Path == "/api/v1/admin/status":
		if !caps.IsOwner {
			fakeErr(w, 403, "forbidden", "no", nil)
			return
		}
		fakeJSON(w, 200, PlatformStatus{Maintenance: Switch{Enabled: f.maintenance, Reason: "restore drill"}})
	case r.URL.Path == "/api/v1/tenants" && r.Method == http.MethodGet:
		var ts []Tenant
		for _, t := range f.tenants {
			if caps.IsOwner || t.ID == caps.TenantID {
				ts = append(ts, t)
			}
		}
		fakeJSON(w, 200, map[string]any{"tenants": ts, "total": len(ts), "limit": 50, "offset": 0})
	case r.URL.Path == "/api/v1/tenants" && r.Method == http.MethodPost:
		if !caps.IsOwner {
			fakeErr(w, 403, "forbidden", "no", nil)
			return
		}
		var req struct{ Name, Slug string }
		json.NewDecoder(r.Body).Decode(&req)
		for _, t := range f.tenants {
			if t.Slug == req.Slug {
				fakeErr(w, 409, "conflict", "Slug "+req.Slug+" is taken.", nil)
				return
			}
		}
		if req.Name == "" {
			fakeErr(w, 400, "invalid", "Some fields are invalid.", map[string]string{"name": "is required"})
			return
		}
		t := Tenant{ID: ID(strconv.Itoa(len(f.tenants) + 1)), Name: req.Name, Slug: req.Slug, Status: "active", CreatedAt: time.Now()}
		f.tenants = append(f.tenants, t)
		fakeJSON(w, 201, t)
	case strings.HasPrefix(r.URL.Path, "/api/v1/tenants/"):
		rest := strings.TrimPrefix(r.URL.Path, "/api/v1/tenants/")
		id, sub, _ := strings.Cut(rest, "/")
		var t *Tenant
		for i := range f.tenants {
			if string(f.tenants[i].ID) == id && (caps.IsOwner || f.tenants[i].ID == caps.TenantID) {
				t = &f.tenants[i]
			}
		}
		if t == nil {
			fakeErr(w, 404, "not_found", "Not found.", nil)
			return
		}
		switch {
		case sub == "" && r.Method == http.MethodGet:
			fakeJSON(w, 200, t)
		case sub == "" && r.Method == http.MethodPatch:
			var req struct{ Status string }
			json.NewDecoder(r.Body).Decode(&req)
			t.Status = req.Status
			fakeJSON(w, 200, t)
		case sub == "admins" && r.Method == http.MethodGet:
			fakeJSON(w, 200, map[string]any{"admins": []Admin{{ID: "2", Email: "ta@acme.test", Role: "tenant_admin", TenantID: "1"}}})
		case sub == "admins":
			fakeJSON(w, 201, Admin{ID: "3"})
		default:
			fakeErr(w, 404, "not_found", "Not found.", nil)
		}
	case r.URL.Path == "/api/v1/settings":
		fakeJSON(w, 200, map[string]any{"scope": "platform", "settings": []map[string]any{{"key": "max_bet", "type": "int", "value": 500}}})
	case strings.HasPrefix(r.URL.Path, "/api/v1/settings/"):
		fakeJSON(w, 200, map[string]any{})
	case r.URL.Path == "/api/v1/versions":
		fakeJSON(w, 200, map[string]any{"versions": []VersionRecord{{Version: "1.2.3", Commit: "abcdef1234567890", FirstSeen: time.Now().Add(-time.Hour), LastSeen: time.Now()}, {Version: "1.2.2", Commit: "0123456789ab"}}})
	case r.URL.Path == "/api/v1/audit":
		fakeJSON(w, 200, map[string]any{"events": []map[string]any{{"id": 1, "ts": time.Now(), "actor_email": "admin@casino.com", "tenant_id": 1, "action": "tenant.create", "target": "tenant:1", "after": map[string]string{"slug": "acme"}, "request_id": "r1"}}, "total": 1})
	default:
		fakeErr(w, 404, "not_found", "No route.", nil)
	}
}

// mutationCount is how many state-changing calls the fake has seen.
func (f *fakeAPI) mutationCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mutations)
}
