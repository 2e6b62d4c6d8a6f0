package api_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestBadTextAnswers400 (issue 14, finding 3): NUL bytes, other control
// characters and invalid UTF-8 in any text input answer 400 naming the
// field, on both engines. PostgreSQL answered 500 to several of them, one
// (the login email) without a login.
func TestBadTextAnswers400(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tid := e.createTenant(owner, "text")
		cases := []struct {
			name, method, path, token string
			body                      any
			field                     string
		}{
			{"NUL in login email", "POST", "/api/v1/auth/login", "", `{"email":"admin\u0000@casino.com","password":"whatever-password"}`, "email"},
			{"bad UTF-8 in login email", "POST", "/api/v1/auth/login", "", []byte("{\"email\":\"adm\xffin@casino.com\",\"password\":\"whatever-password\"}"), "email"},
			{"NUL in login password", "POST", "/api/v1/auth/login", "", `{"email":"admin@casino.com","password":"pass\u0000word-0123"}`, "password"},
			{"NUL in tenant name", "POST", "/api/v1/tenants", owner, `{"name":"Evil\u0000Corp","slug":"evil-nul"}`, "name"},
			{"bad UTF-8 in tenant name", "POST", "/api/v1/tenants", owner, []byte("{\"name\":\"Evil\xc3\x28Corp\",\"slug\":\"evil-utf8\"}"), "name"},
			{"escape char in tenant rename", "PATCH", fmt.Sprintf("/api/v1/tenants/%d", tid), owner, `{"name":"Evil\u001bCorp"}`, "name"},
			{"NUL in admin email", "POST", fmt.Sprintf("/api/v1/tenants/%d/admins", tid), owner, `{"email":"x\u0000@casino.com","password":"tenant-admin-password-1"}`, "email"},
			{"bad UTF-8 in setting value", "PUT", "/api/v1/settings/motd", owner, []byte("{\"type\":\"string\",\"value\":\"hi\xff\"}"), "value"},
			{"NUL in setting value", "PUT", "/api/v1/settings/motd", owner, `{"type":"string","value":"hi\u0000"}`, "value"},
			{"NUL nested in json setting", "PUT", "/api/v1/settings/cfg", owner, `{"type":"json","value":{"a":["ok","b\u0000"]}}`, "value"},
			{"NUL in freeze reason", "POST", "/api/v1/admin/login-freeze", owner, `{"enabled":false,"reason":"x\u0000"}`, "reason"},
			{"NUL in audit filter", "GET", "/api/v1/audit?action=auth%00", owner, nil, "action"},
			{"bad UTF-8 in audit filter", "GET", "/api/v1/audit?action=%ff", owner, nil, "action"},
		}
		for _, c := range cases {
			r := e.call(c.method, c.path, c.token, c.body)
			errBody, _ := r.Body["error"].(map[string]any)
			fields, _ := errBody["fields"].(map[string]any)
			if r.Status != 400 || fields[c.field] == nil {
				t.Errorf("%s: got %s, want 400 naming %q", c.name, r, c.field)
			}
		}
		// Newlines stay allowed in free text.
		if r := e.call("POST", "/api/v1/admin/login-freeze", owner, `{"enabled":false,"reason":"line one\nline two"}`); r.Status != 200 {
			t.Errorf("multi-line reason: got %s", r)
		}
	})
}

// TestContentTypeExact (issue 14, finding 8): only application/json (with
// an optional charset=utf-8) is a JSON body; a prefix is not enough.
func TestContentTypeExact(t *testing.T) {
	t.Parallel()
	e := newAPIEnv(t, sqlstore.SQLite)
	body := `{"email":"admin@casino.com","password":"owner-password-0123456789"}`
	for ct, want := range map[string]int{
		"application/json":                  200,
		"application/json; charset=utf-8":   200,
		"Application/JSON":                  200,
		"application/jsonx":                 400,
		"application/json-patch+json":       400,
		"application/json; charset=latin1":  400,
		"application/json;evil=1":           400,
		"application/json, text/plain":      400,
		"application/jsonp; charset=utf-8":  400,
		"text/plain; x=application/json":    400,
		"application/x-www-form-urlencoded": 400,
	} {
		r := e.callCT("POST", "/api/v1/auth/login", ct, body)
		if r.Status != want {
			t.Errorf("Content-Type %q: got %s, want %d", ct, r, want)
		}
	}
}

// callCT posts body with the given Content-Type.
func (e *apiEnv) callCT(method, path, contentType, body string) *response {
	e.t.Helper()
	req, _ := http.NewRequest(method, e.srv.URL+path, strings.NewReader(body))
	req.Header.Set("Content-Type", contentType)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &response{Status: resp.StatusCode, Header: resp.Header, Raw: raw}
	json.Unmarshal(raw, &out.Body)
	return out
}

// TestIdentityRulesAtTheAPI (issue 14, finding 5): look-alike emails are one
// account (409) or refused (400), and whitespace-only or NUL passwords are
// refused, on both engines.
func TestIdentityRulesAtTheAPI(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		tid := e.createTenant(owner, "ident")
		path := fmt.Sprintf("/api/v1/tenants/%d/admins", tid)
		add := func(email, pw string) *response {
			return e.call("POST", path, owner, map[string]string{"email": email, "password": pw})
		}
		if r := add("jose\u0301@casino.com", "tenant-admin-password-1"); r.Status != 201 || r.Body["email"] != "josé@casino.com" {
			t.Fatalf("NFD email: got %s", r)
		}
		for _, c := range []struct {
			email, pw string
			status    int
			field     string
		}{
			{"josé@casino.com", "tenant-admin-password-1", 409, "email"},
			{"JOSÉ@CASINO.COM", "tenant-admin-password-1", 409, "email"},
			{"ad\u200bmin@casino.com", "tenant-admin-password-1", 400, "email"},
			{"\u0430dmin@casino.com", "tenant-admin-password-1", 400, "email"},
			{"spaces@casino.com", "            ", 400, "password"},
			{"nuls@casino.com", "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 400, "password"},
			{"common@casino.com", "Password1234", 400, "password"},
		} {
			r := add(c.email, c.pw)
			errBody, _ := r.Body["error"].(map[string]any)
			fields, _ := errBody["fields"].(map[string]any)
			if r.Status != c.status || fields[c.field] == nil {
				t.Errorf("%q / %q: got %s, want %d naming %s", c.email, c.pw, r, c.status, c.field)
			}
		}
		// The NFD-created admin logs in with the NFC spelling.
		e.login("JOSÉ@casino.com", "tenant-admin-password-1")
	})
}
