package adminui

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"casino"
	"casino/observe"
)

// ErrUnavailable means the backend could not be reached, or answered like a
// proxy in front of a dead backend does (a 502/503/504 without the API's JSON
// error body). The UI answers it with the "backend unavailable" page.
var ErrUnavailable = errors.New("backend unavailable")

// APIError is an error answer of the backend API: its HTTP status and the
// fields of its JSON error body.
type APIError struct {
	Status     int
	Code       string
	Message    string
	Fields     map[string]string
	RetryAfter time.Duration // from the Retry-After header, when present
	RequestID  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("backend answered %d %s: %s", e.Status, e.Code, e.Message)
}

// StatusOf returns the HTTP status of an *APIError in err's chain, or 0.
func StatusOf(err error) int {
	var e *APIError
	if errors.As(err, &e) {
		return e.Status
	}
	return 0
}

// Client is the frontend-admin's client of the backend JSON API. The same
// Client serves both deployments: in split mode its transport is plain HTTP to
// --backend-url; in role all it is HandlerTransport around the in-process API
// handler. Every call carries the user's bearer token; the Client itself holds
// no credentials.
type Client struct {
	base *url.URL
	hc   *http.Client
}

// maxResponse bounds what the client reads of one backend answer.
const maxResponse = 8 << 20

// ErrResponseTooLarge is returned (wrapped) for a backend answer over the
// client's limit. List calls answer it by asking for fewer rows.
var ErrResponseTooLarge = errors.New("backend answer too large")

// NewClient returns a client of the API at baseURL (scheme and host, an
// optional path prefix). A nil transport means http.DefaultTransport.
func NewClient(baseURL string, transport http.RoundTripper) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("backend URL %q: must be an http:// or https:// URL", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if transport == nil {
		transport = http.DefaultTransport
	}
	return &Client{base: u, hc: &http.Client{
		Transport: transport,
		Timeout:   15 * time.Second,
		// The API never redirects; a redirect means a misconfigured URL.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}, nil
}

// SetTimeout bounds each call to the backend (default 15 s).
func (c *Client) SetTimeout(d time.Duration) {
	if d > 0 {
		c.hc.Timeout = d
	}
}

// do sends one request. body, when non-nil, is encoded as JSON; out, when
// non-nil, receives the decoded 2xx body (a *[]byte receives it as is). Transport failures become
// ErrUnavailable; error answers become *APIError.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, token string, body, out any) error {
	u := *c.base
	u.Path = c.base.Path + path
	if len(query) > 0 {
		u.RawQuery = query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("encode %s %s: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	// A call made while serving a console request carries its id (one id
	// across both logs) and its client address (so login throttling sees
	// the real client, when the backend trusts this frontend as a proxy).
	if id := observe.RequestID(ctx); id != "" {
		req.Header.Set("X-Request-ID", id)
	}
	if ip := observe.ClientIP(ctx); ip != "" {
		req.Header.Set("X-Forwarded-For", ip)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%w: %s %s: %s", ErrUnavailable, method, path, transportReason(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return fmt.Errorf("%w: %s %s: reading the answer: %s", ErrUnavailable, method, path, transportReason(err))
	}
	if len(data) > maxResponse {
		return fmt.Errorf("%w: %s %s: more than %d bytes", ErrResponseTooLarge, method, path, maxResponse)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		if raw, ok := out.(*[]byte); ok {
			*raw = data
			return nil
		}
		if out == nil || len(bytes.TrimSpace(data)) == 0 {
			return nil
		}
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("decode %s %s: %w", method, path, err)
		}
		return nil
	}
	var eb struct {
		Error struct {
			Code    string            `json:"code"`
			Message string            `json:"message"`
			Fields  map[string]string `json:"fields"`
		} `json:"error"`
		RequestID string `json:"request_id"`
	}
	if json.Unmarshal(data, &eb) != nil || eb.Error.Code == "" {
		switch resp.StatusCode {
		case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
			return fmt.Errorf("%w: %s %s answered %d without an API error body", ErrUnavailable, method, path, resp.StatusCode)
		}
		eb.Error.Code = strings.ToLower(strings.ReplaceAll(http.StatusText(resp.StatusCode), " ", "_"))
		eb.Error.Message = http.StatusText(resp.StatusCode)
	}
	e := &APIError{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Fields: eb.Error.Fields, RequestID: eb.RequestID}
	if s := resp.Header.Get("Retry-After"); s != "" {
		if n, err := strconv.Atoi(s); err == nil && n >= 0 {
			e.RetryAfter = time.Duration(n) * time.Second
		} else if t, err := http.ParseTime(s); err == nil {
			e.RetryAfter = time.Until(t).Round(time.Second)
		}
	}
	return e
}

// transportReason is a short reason for a failed call, with no URL userinfo.
func transportReason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timed out"
	}
	return err.Error()
}

// ID is an object id as the API sends it: a JSON number or string.
type ID string

// UnmarshalJSON accepts a number or a string.
func (id *ID) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*id = ""
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*id = ID(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("id must be a number or a string: %s", b)
	}
	*id = ID(n.String())
	return nil
}

// Token is the answer of a successful login.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	ExpiresIn   int    `json:"expires_in"`
}

// Capabilities says who the token's holder is and what they may do.
type Capabilities struct {
	IsOwner      bool     `json:"is_owner"`
	Role         string   `json:"role"`
	UserID       ID       `json:"user_id"`
	TenantID     ID       `json:"tenant_id"`
	Email        string   `json:"email"`
	Capabilities []string `json:"capabilities"`
}

// Can reports whether the capability is listed.
func (c *Capabilities) Can(capability string) bool {
	for _, x := range c.Capabilities {
		if x == capability {
			return true
		}
	}
	return false
}

// Tenant is one tenant as the API lists it.
type Tenant struct {
	ID        ID        `json:"id"`
	Name      string    `json:"name"`
	Slug      string    `json:"slug"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Admin is one tenant admin.
type Admin struct {
	ID        ID        `json:"id"`
	Email     string    `json:"email"`
	Role      string    `json:"role"`
	TenantID  ID        `json:"tenant_id"`
	CreatedAt time.Time `json:"created_at"`
}

// Setting is one typed setting, platform-wide or of a tenant.
type Setting struct {
	Key       string          `json:"key"`
	Value     json.RawMessage `json:"value"`
	Type      string          `json:"type"`
	TenantID  ID              `json:"tenant_id"`
	UpdatedAt time.Time       `json:"updated_at"`
	// Truncated: Value is cut in this list; Setting has the whole.
	Truncated bool `json:"truncated"`
}

// ValueText is the setting's value for display and for the edit field:
// strings unquoted, anything else as its JSON.
func (s Setting) ValueText() string {
	var str string
	if json.Unmarshal(s.Value, &str) == nil {
		return str
	}
	return string(s.Value)
}

// BuildVersion is the backend's /api/version.
type BuildVersion struct {
	Version       string `json:"version"`
	Commit        string `json:"commit"`
	BuildTime     string `json:"build_time"`
	GoVersion     string `json:"go_version"`
	SchemaVersion int    `json:"schema_version"`
	Database      string `json:"database"`
}

// VersionRecord is one row of the version history.
type VersionRecord struct {
	Version   string    `json:"version"`
	Commit    string    `json:"commit"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// AuditEvent is one audit log entry.
type AuditEvent struct {
	ID        ID              `json:"id"`
	TS        time.Time       `json:"ts"`
	ActorID   ID              `json:"actor_id"`
	Actor     string          `json:"actor_email"`
	TenantID  ID              `json:"tenant_id"`
	Action    string          `json:"action"`
	Target    string          `json:"target"`
	Before    json.RawMessage `json:"before"`
	After     json.RawMessage `json:"after"`
	RequestID string          `json:"request_id"`
	// ClientRequestID is the X-Request-ID the backend's caller sent.
	ClientRequestID string `json:"client_request_id"`
	// Truncated: Before or After is cut in this list; AuditEvent has
	// the whole event.
	Truncated bool `json:"truncated"`
}

// Switch is one of the platform's emergency switches.
type Switch struct {
	Enabled   bool      `json:"enabled"`
	Reason    string    `json:"reason"`
	UpdatedAt time.Time `json:"updated_at"`
	UpdatedBy string    `json:"updated_by"`
}

// PlatformStatus is the owner-readable state of the login freeze and
// maintenance mode.
type PlatformStatus struct {
	LoginFreeze Switch `json:"login_freeze"`
	Maintenance Switch `json:"maintenance"`
}

// Page is one page of a list the API paginates with limit and offset.
type Page[T any] struct {
	Items []T
	Total int // how many match in all
	Prev  int // offset of the previous page, -1 on the first
	Next  int // offset of the next page, 0 on the last
}

// setNext computes Prev and Next from the page's offset and Total.
func (p *Page[T]) setNext(offset int) {
	p.Prev = -1
	if offset > 0 {
		p.Prev = max(0, offset-PageSize)
	}
	p.Next = 0
	if end := offset + len(p.Items); len(p.Items) > 0 && end < p.Total {
		p.Next = end
	}
}

// decodeList reads a list answer: a bare JSON array, or an object with the
// items under a known key ("tenants", "events", ...) and an optional total.
func decodeList[T any](raw json.RawMessage) (Page[T], error) {
	var p Page[T]
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return p, nil
	}
	if raw[0] == '[' {
		err := json.Unmarshal(raw, &p.Items)
		p.Total = len(p.Items)
		return p, err
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil {
		return p, err
	}
	for _, k := range []string{"items", "tenants", "admins", "settings", "versions", "events"} {
		if v := bytes.TrimSpace(obj[k]); len(v) > 0 && v[0] == '[' {
			if err := json.Unmarshal(v, &p.Items); err != nil {
				return p, fmt.Errorf("%s: %w", k, err)
			}
			break
		}
	}
	p.Total = len(p.Items)
	if v, ok := obj["total"]; ok {
		json.Unmarshal(v, &p.Total)
	}
	return p, nil
}

// Login exchanges credentials for a token. Wrong credentials answer an
// *APIError with status 401, throttling 429 (RetryAfter set), a login freeze
// 503 with code unavailable.
func (c *Client) Login(ctx context.Context, email, password string) (Token, error) {
	var t Token
	err := c.do(ctx, http.MethodPost, "/api/v1/auth/login", nil, "", map[string]string{"email": email, "password": password}, &t)
	if err == nil && t.AccessToken == "" {
		err = fmt.Errorf("login: the backend answered no access_token")
	}
	return t, err
}

// Logout revokes the token.
func (c *Client) Logout(ctx context.Context, token string) error {
	return c.do(ctx, http.MethodPost, "/api/v1/auth/logout", nil, token, nil, nil)
}

// Capabilities answers who the token belongs to and what it may do.
func (c *Client) Capabilities(ctx context.Context, token string) (Capabilities, error) {
	var caps Capabilities
	err := c.do(ctx, http.MethodGet, "/api/v1/tenants/capabilities", nil, token, nil, &caps)
	return caps, err
}

// PageSize is how many rows the UI asks for per page.
const PageSize = 50

// Tenants lists one page of the tenants the token may see, from offset.
func (c *Client) Tenants(ctx context.Context, token string, offset int) (Page[Tenant], error) {
	q := url.Values{"limit": {strconv.Itoa(PageSize)}}
	if offset > 0 {
		q.Set("offset", strconv.Itoa(offset))
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/tenants", q, token, nil, &raw); err != nil {
		return Page[Tenant]{}, err
	}
	p, err := decodeList[Tenant](raw)
	p.setNext(offset)
	return p, err
}

// AllTenants follows the pages of Tenants, up to limit tenants.
func (c *Client) AllTenants(ctx context.Context, token string, limit int) ([]Tenant, error) {
	var all []Tenant
	offset := 0
	for {
		p, err := c.Tenants(ctx, token, offset)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Items...)
		if p.Next == 0 || len(all) >= limit || len(p.Items) == 0 {
			return all, nil
		}
		offset = p.Next
	}
}

// CreateTenant creates a tenant (owner only).
func (c *Client) CreateTenant(ctx context.Context, token, name, slug string) (Tenant, error) {
	var t Tenant
	err := c.do(ctx, http.MethodPost, "/api/v1/tenants", nil, token, map[string]string{"name": name, "slug": slug}, &t)
	return t, err
}

// Tenant reads one tenant.
func (c *Client) Tenant(ctx context.Context, token string, id ID) (Tenant, error) {
	var t Tenant
	err := c.do(ctx, http.MethodGet, "/api/v1/tenants/"+url.PathEscape(string(id)), nil, token, nil, &t)
	return t, err
}

// SetTenantStatus suspends ("suspended") or activates ("active") a tenant.
func (c *Client) SetTenantStatus(ctx context.Context, token string, id ID, status string) (Tenant, error) {
	var t Tenant
	err := c.do(ctx, http.MethodPatch, "/api/v1/tenants/"+url.PathEscape(string(id)), nil, token, map[string]string{"status": status}, &t)
	return t, err
}

// Admins lists the admins of a tenant.
func (c *Client) Admins(ctx context.Context, token string, id ID) ([]Admin, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/tenants/"+url.PathEscape(string(id))+"/admins", nil, token, nil, &raw); err != nil {
		return nil, err
	}
	p, err := decodeList[Admin](raw)
	return p.Items, err
}

// CreateAdmin creates an admin of the tenant (owner only).
func (c *Client) CreateAdmin(ctx context.Context, token string, id ID, email, password string) (Admin, error) {
	var a Admin
	err := c.do(ctx, http.MethodPost, "/api/v1/tenants/"+url.PathEscape(string(id))+"/admins", nil, token, map[string]string{"email": email, "password": password}, &a)
	return a, err
}

// Settings lists settings: of the tenant tenantID, or with "" the caller's
// default scope (the platform for the owner, their tenant for an admin).
func (c *Client) Settings(ctx context.Context, token string, tenantID ID) ([]Setting, error) {
	q := url.Values{}
	if tenantID != "" {
		q.Set("tenant_id", string(tenantID))
	}
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/settings", q, token, nil, &raw); err != nil {
		return nil, err
	}
	p, err := decodeList[Setting](raw)
	return p.Items, err
}

// Setting reads one whole setting; tenantID as for Settings.
func (c *Client) Setting(ctx context.Context, token string, tenantID ID, key string) (Setting, error) {
	q := url.Values{}
	if tenantID != "" {
		q.Set("tenant_id", string(tenantID))
	}
	var s Setting
	err := c.do(ctx, http.MethodGet, "/api/v1/settings/"+url.PathEscape(key), q, token, nil, &s)
	return s, err
}

// PutSetting sets one setting of type typ (string, int, bool or json) to
// value, already typed JSON; tenantID as for Settings.
func (c *Client) PutSetting(ctx context.Context, token string, tenantID ID, key, typ string, value json.RawMessage) error {
	q := url.Values{}
	if tenantID != "" {
		q.Set("tenant_id", string(tenantID))
	}
	body := struct {
		Type  string          `json:"type"`
		Value json.RawMessage `json:"value"`
	}{typ, value}
	return c.do(ctx, http.MethodPut, "/api/v1/settings/"+url.PathEscape(key), q, token, body, nil)
}

// Version is the backend's /api/version.
func (c *Client) Version(ctx context.Context) (BuildVersion, error) {
	var v BuildVersion
	err := c.do(ctx, http.MethodGet, "/api/version", nil, "", nil, &v)
	return v, err
}

// Versions is the history of builds that ran against the database.
func (c *Client) Versions(ctx context.Context, token string) ([]VersionRecord, error) {
	var raw json.RawMessage
	if err := c.do(ctx, http.MethodGet, "/api/v1/versions", nil, token, nil, &raw); err != nil {
		return nil, err
	}
	p, err := decodeList[VersionRecord](raw)
	return p.Items, err
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	TenantID ID
	Action   string
	Since    time.Time
	Until    time.Time
	Offset   int
}

// Audit lists one page of audit events, newest first.
func (c *Client) Audit(ctx context.Context, token string, f AuditFilter) (Page[AuditEvent], error) {
	q := url.Values{"limit": {strconv.Itoa(PageSize)}}
	if f.TenantID != "" {
		q.Set("tenant_id", string(f.TenantID))
	}
	if f.Action != "" {
		q.Set("action", f.Action)
	}
	if !f.Since.IsZero() {
		q.Set("since", f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Until.IsZero() {
		q.Set("until", f.Until.UTC().Format(time.RFC3339))
	}
	if f.Offset > 0 {
		q.Set("offset", strconv.Itoa(f.Offset))
	}
	// An answer over the client's limit never fails the page: ask for
	// half as many rows until it fits, and show those with "next".
	var raw json.RawMessage
	for limit := PageSize; ; limit /= 2 {
		q.Set("limit", strconv.Itoa(limit))
		err := c.do(ctx, http.MethodGet, "/api/v1/audit", q, token, nil, &raw)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrResponseTooLarge) || limit == 1 {
			return Page[AuditEvent]{}, err
		}
	}
	p, err := decodeList[AuditEvent](raw)
	p.setNext(f.Offset)
	return p, err
}

// AuditEvent reads one whole audit event.
func (c *Client) AuditEvent(ctx context.Context, token string, id ID) (AuditEvent, error) {
	var ev AuditEvent
	err := c.do(ctx, http.MethodGet, "/api/v1/audit/"+url.PathEscape(string(id)), nil, token, nil, &ev)
	return ev, err
}

// Status reads the login freeze and maintenance switches (capability
// admin:status, the owner's).
func (c *Client) Status(ctx context.Context, token string) (PlatformStatus, error) {
	var s PlatformStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/admin/status", nil, token, nil, &s)
	return s, err
}

// DRStatus returns the DR readiness status (owner only).
func (c *Client) DRStatus(ctx context.Context, token string) (casino.DRStatus, error) {
	var s casino.DRStatus
	err := c.do(ctx, http.MethodGet, "/api/v1/admin/dr-status", nil, token, nil, &s)
	return s, err
}

// DrillProof returns a drill's proof as the backend serves it (owner only).
func (c *Client) DrillProof(ctx context.Context, token, id string) ([]byte, error) {
	var b []byte
	err := c.do(ctx, http.MethodGet, "/api/v1/admin/drills/"+url.PathEscape(id)+"/proof", nil, token, nil, &b)
	return b, err
}

// Switch names of SetSwitch.
const (
	SwitchLoginFreeze = "login-freeze"
	SwitchMaintenance = "maintenance"
)

// SetSwitch turns the login freeze or maintenance mode on or off.
func (c *Client) SetSwitch(ctx context.Context, token, name string, enabled bool, reason string) error {
	if name != SwitchLoginFreeze && name != SwitchMaintenance {
		return fmt.Errorf("unknown switch %q", name)
	}
	body := struct {
		Enabled bool   `json:"enabled"`
		Reason  string `json:"reason,omitempty"`
	}{enabled, reason}
	return c.do(ctx, http.MethodPost, "/api/v1/admin/"+name, nil, token, body, nil)
}

// Health probes the backend's liveness; nil means reachable.
func (c *Client) Health(ctx context.Context) error {
	return c.do(ctx, http.MethodGet, "/api/health", nil, "", nil, nil)
}

// Change is one changed field of an audit event, for display.
type Change struct {
	Key       string
	Before    string
	After     string
	HasBefore bool
}

// noisyKeys are fields every record carries that say nothing about a change.
var noisyKeys = map[string]bool{"created_at": true, "updated_at": true, "id": true}

// Changes lists what an audit event changed: for objects, the fields whose
// value differs between before and after (all of after's fields for a
// creation); otherwise the whole values.
func (e AuditEvent) Changes() []Change {
	var before, after map[string]json.RawMessage
	bOK := len(e.Before) > 0 && json.Unmarshal(e.Before, &before) == nil && before != nil
	aOK := len(e.After) > 0 && json.Unmarshal(e.After, &after) == nil && after != nil
	if !bOK && !aOK {
		var out []Change
		if b := compactJSON(e.Before); b != "" || compactJSON(e.After) != "" {
			out = append(out, Change{Key: "value", Before: b, After: compactJSON(e.After), HasBefore: b != ""})
		}
		return out
	}
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	var names []string
	for k := range keys {
		if !noisyKeys[k] {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	var out []Change
	for _, k := range names {
		b, a := compactJSON(before[k]), compactJSON(after[k])
		if bOK && b == a {
			continue
		}
		out = append(out, Change{Key: k, Before: b, After: a, HasBefore: bOK})
	}
	return out
}

// compactJSON shows a JSON value: strings unquoted, the rest compacted.
func compactJSON(b json.RawMessage) string {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		return ""
	}
	var s string
	if json.Unmarshal(b, &s) == nil {
		return s
	}
	var out bytes.Buffer
	if json.Compact(&out, b) != nil {
		return string(b)
	}
	return out.String()
}
