package api_test

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"casino"
	"casino/api"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// decodeTargets are the request bodies of the identity API, each with the
// validation its handler applies after decoding.
var decodeTargets = []struct {
	name     string
	new      func() any
	validate func(v any) error
}{
	{"login", func() any { return &api.LoginRequest{} }, func(v any) error {
		r := v.(*api.LoginRequest)
		return casino.ValidateNewAdmin(r.Email, r.Password)
	}},
	{"tenant", func() any { return &api.CreateTenantRequest{} }, func(v any) error {
		r := v.(*api.CreateTenantRequest)
		return (&casino.Tenant{Name: r.Name, Slug: r.Slug}).Validate()
	}},
	{"tenant_update", func() any { return &casino.TenantUpdate{} }, func(v any) error { return v.(*casino.TenantUpdate).Validate() }},
	{"admin", func() any { return &api.CreateAdminRequest{} }, func(v any) error {
		r := v.(*api.CreateAdminRequest)
		return casino.ValidateNewAdmin(r.Email, r.Password)
	}},
	{"setting", func() any { return &api.PutSettingRequest{} }, func(v any) error {
		r := v.(*api.PutSettingRequest)
		return (&casino.Setting{Key: "k", Type: r.Type, Value: r.Value}).Validate()
	}},
	{"switch", func() any { return &api.SwitchRequest{} }, func(any) error { return nil }},
}

// FuzzDecodeRequests feeds arbitrary bodies to every request decoder and
// its validation: each must answer nil or a casino.Error of code invalid or
// too_large, never panic. The seeds run in every 'go test'.
func FuzzDecodeRequests(f *testing.F) {
	for _, s := range []string{
		`{"email":"admin@casino.com","password":"x"}`,
		`{"name":"Acme","slug":"acme"}`,
		`{"name":null,"status":"suspended"}`,
		`{"type":"int","value":5}`, `{"type":"json","value":{"a":[1,2,{"b":null}]}}`,
		`{"type":"int","value":1e400}`, `{"type":"int","value":9223372036854775808}`,
		`{"enabled":true,"reason":"DR"}`, `{"enabled":"yes"}`,
		`{"email":1}`, `{"password":["a"]}`, `{"unknown":1}`, `[]`, `null`, `""`, `{`, `{}{}`, ``,
		"{\"name\":\"\xff\xfe\",\"slug\":\"a\"}", `{"name":"` + strings.Repeat("é", 101) + `","slug":"ab"}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, d := range decodeTargets {
			v := d.new()
			err := api.DecodeReader(http.MaxBytesReader(nil, io.NopCloser(bytes.NewReader(body)), api.MaxBodyBytes), v)
			if err == nil {
				err = d.validate(v)
			}
			if err == nil {
				continue
			}
			var e *casino.Error
			if !errors.As(err, &e) || (e.Code != casino.EINVALID && e.Code != casino.ETOOLARGE) {
				t.Errorf("%s: body %q: got %v, want a casino.Error invalid or too_large", d.name, body, err)
			}
		}
	})
}

// TestBadBodies sends malformed, mistyped, unknown-field and oversized
// bodies to every endpoint that reads one: 400 or 413 with the JSON error
// body, never 500.
func TestBadBodies(t *testing.T) {
	t.Parallel()
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		e := newAPIEnv(t, engine)
		owner := e.login(ownerEmail, ownerPassword)
		id := e.createTenant(owner, "bodies")
		endpoints := []struct{ method, path string }{
			{"POST", "/api/v1/auth/login"},
			{"POST", "/api/v1/tenants"},
			{"PATCH", "/api/v1/tenants/" + itoa(id)},
			{"POST", "/api/v1/tenants/" + itoa(id) + "/admins"},
			{"PUT", "/api/v1/settings/k"},
			{"POST", "/api/v1/admin/login-freeze"},
			{"POST", "/api/v1/admin/maintenance"},
		}
		big := `{"name":"` + strings.Repeat("a", api.MaxBodyBytes) + `"}`
		bodies := map[string]struct {
			body string
			want int
		}{
			"malformed":     {`{"email":`, 400},
			"not json":      {`hello`, 400},
			"unknown field": {`{"bogus":1}`, 400},
			"wrong type":    {`{"email":5,"name":5,"type":5,"enabled":"x","status":5}`, 400},
			"array":         {`[1,2]`, 400},
			"two values":    {`{} {}`, 400},
			"empty":         {``, 400},
			"over 1 MiB":    {big, 413},
		}
		for _, ep := range endpoints {
			for name, b := range bodies {
				r := e.call(ep.method, ep.path, owner, b.body)
				if r.Status != b.want || r.errCode() == "" || r.Body["request_id"] == "" {
					t.Errorf("%s %s with %s body: got %d %.200s, want %d with a JSON error", ep.method, ep.path, name, r.Status, r.Raw, b.want)
				}
			}
		}
	})
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
