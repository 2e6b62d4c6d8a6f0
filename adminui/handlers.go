package adminui

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"casino"
	"casino/observe"
)

// routes lists every route of the UI. GET never changes state; every POST
// passes the cross-origin check in New.
func (u *UI) routes() {
	static, _ := fs.Sub(staticFS, "static")
	files := http.StripPrefix("/static/", http.FileServerFS(static))
	u.handle("GET /static/", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/") {
			// No directory listings.
			u.renderError(w, r, nil, http.StatusNotFound, "Not found", "There is no such page.")
			return
		}
		// URLs carry ?v=<content hash>, so a file may be cached for long.
		w.Header().Set("Cache-Control", "public, max-age=86400")
		files.ServeHTTP(w, r)
	})
	u.handle("GET /{$}", func(w http.ResponseWriter, r *http.Request) { redirect(w, r, "/tenants") })
	u.handle("GET /login", u.handleLoginPage)
	u.handle("POST /login", u.handleLogin)
	u.handle("POST /logout", u.handleLogout)
	u.handle("GET /tenants", u.authed(u.handleTenants))
	u.handle("POST /tenants", u.authed(u.handleCreateTenant))
	u.handle("GET /tenants/{id}", u.authed(u.handleTenant))
	u.handle("POST /tenants/{id}/status", u.authed(u.handleTenantStatus))
	u.handle("POST /tenants/{id}/admins", u.authed(u.handleCreateAdmin))
	u.handle("POST /tenants/{id}/settings", u.authed(u.handleTenantSetting))
	u.handle("GET /settings", u.authed(u.handleSettings))
	u.handle("POST /settings", u.authed(u.handlePlatformSetting))
	u.handle("POST /settings/switches/{name}", u.authed(u.handleSwitch))
	u.handle("GET /settings/versions", u.authed(u.handleVersions))
	u.handle("GET /settings/value", u.authed(u.handleSettingValue))
	u.handle("GET /audit", u.authed(u.handleAudit))
	u.handle("GET /audit/{id}", u.authed(u.handleAuditEvent))
	u.handle("GET /dr", u.authed(u.handleDR))
	u.handle("GET /dr/drills/{id}/proof", u.authed(u.handleDrillProof))
	u.handle("/", func(w http.ResponseWriter, r *http.Request) {
		u.route(r, "unmatched")
		u.renderError(w, r, nil, http.StatusNotFound, "Not found", "There is no such page.")
	})
}

// session is the signed-in user of one request.
type session struct {
	token  string
	Caps   Capabilities
	status *PlatformStatus
}

// IsOwner is for templates.
func (s *session) IsOwner() bool { return s != nil && s.Caps.IsOwner }

// RoleLabel names the role for the header.
func (s *session) RoleLabel() string {
	label := "Tenant admin"
	if s.Caps.IsOwner {
		label = "Owner"
	}
	if s.Caps.Email != "" {
		label += " · " + s.Caps.Email
	}
	return label
}

// authed runs h for a signed-in user; anyone else goes to login. It asks
// the backend who the token belongs to on every request, so a revoked or
// expired token is noticed at once.
func (u *UI) authed(h func(http.ResponseWriter, *http.Request, *session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := u.token(r)
		if tok == "" {
			u.toLogin(w, r, "")
			return
		}
		ctx := r.Context()
		caps, err := u.c.Capabilities(ctx, tok)
		if err != nil {
			var ae *APIError
			if errors.As(err, &ae) && ae.Code == casino.ELOGINFROZEN {
				u.toLogin(w, r, "frozen")
				return
			}
			u.fail(w, r, nil, err)
			return
		}
		s := &session{token: tok, Caps: caps}
		uid, _ := strconv.ParseInt(string(caps.UserID), 10, 64)
		tid, _ := strconv.ParseInt(string(caps.TenantID), 10, 64)
		observe.SetIdentity(r.Context(), uid, tid)
		if caps.IsOwner || caps.Can(casino.CapAdminStatus) {
			// The banner: best effort, a page still renders without it.
			if st, err := u.c.Status(ctx, tok); err == nil {
				s.status = &st
			}
		}
		h(w, r, s)
	}
}

// loginMessages are the notes the login page shows for ?m=.
var loginMessages = map[string]string{
	"expired":   "Your session has expired or was revoked. Please sign in again.",
	"loggedout": "You are signed out.",
	"frozen":    "Logins are frozen for tenant admins during an incident. Your session was ended.",
}

type loginData struct {
	Note       string
	Next       string
	RetryAfter string
}

func (u *UI) handleLoginPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	u.render(w, r, http.StatusOK, "login", &view{Title: "Sign in", Data: loginData{Note: loginMessages[q.Get("m")], Next: safeNext(q.Get("next"))}})
}

func (u *UI) handleLogin(w http.ResponseWriter, r *http.Request) {
	email, password := trimLower(r.PostFormValue("email")), r.PostFormValue("password")
	next := safeNext(r.PostFormValue("next"))
	v := &view{Title: "Sign in", Form: map[string]string{"email": email}, Fields: map[string]string{}}
	data := loginData{Next: next}
	if email == "" {
		v.Fields["email"] = "Enter your email."
	}
	if password == "" {
		v.Fields["password"] = "Enter your password."
	}
	if len(v.Fields) > 0 {
		v.Error = "Enter your email and password."
		v.Data = data
		u.render(w, r, http.StatusBadRequest, "login", v)
		return
	}
	tok, err := u.c.Login(r.Context(), email, password)
	if err == nil {
		u.setSession(w, r, tok)
		if next == "" {
			next = "/tenants"
		}
		redirect(w, r, next)
		return
	}
	var ae *APIError
	if !errors.As(err, &ae) {
		u.fail(w, r, nil, err)
		return
	}
	status := ae.Status
	switch ae.Status {
	case http.StatusUnauthorized:
		v.Error = "Wrong email or password."
	case http.StatusTooManyRequests:
		v.Error = "Too many sign-in attempts. " + retryText(ae.RetryAfter)
		data.RetryAfter = retryText(ae.RetryAfter)
		if ae.RetryAfter > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(ae.RetryAfter.Seconds())))
		}
	case http.StatusServiceUnavailable:
		v.Error = "Sign-in is unavailable: " + ae.Message
	case http.StatusForbidden:
		// A suspended tenant's admin: the backend's message says so.
		v.Error = ae.Message
	case http.StatusBadRequest:
		v.Error = ae.Message
		for k, m := range ae.Fields {
			v.Fields[k] = m
		}
	default:
		u.fail(w, r, nil, err)
		return
	}
	v.Data = data
	u.render(w, r, status, "login", v)
}

func (u *UI) handleLogout(w http.ResponseWriter, r *http.Request) {
	tok := u.token(r)
	if tok != "" {
		err := u.c.Logout(r.Context(), tok)
		if errors.Is(err, ErrUnavailable) {
			// The cookie goes anyway, but the user must know the token
			// itself lives on until it expires.
			u.clearSession(w, r)
			u.fail(w, r, nil, err)
			return
		}
		if err != nil && StatusOf(err) != http.StatusUnauthorized {
			u.clearSession(w, r)
			u.fail(w, r, nil, err)
			return
		}
	}
	u.toLogin(w, r, "loggedout")
}

// flashes are the confirmations shown after a redirect, keyed by ?ok=.
var flashes = map[string]string{
	"created":   "Tenant created.",
	"suspended": "Tenant suspended. Its admins can no longer sign in.",
	"activated": "Tenant activated.",
	"admin":     "Admin created.",
	"setting":   "Setting saved.",
	"switch":    "Switch changed.",
}

type tenantsData struct {
	Tenants []Tenant
	Total   int
	From    int // 1-based index of the first row shown
	PrevURL string
	NextURL string
}

// offsetParam reads ?offset=, 0 when absent or bad.
func offsetParam(r *http.Request) int {
	n, err := strconv.Atoi(r.URL.Query().Get("offset"))
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func (u *UI) tenantsView(r *http.Request, s *session) (*view, error) {
	offset := offsetParam(r)
	p, err := u.c.Tenants(r.Context(), s.token, offset)
	if err != nil {
		return nil, err
	}
	d := tenantsData{Tenants: p.Items, Total: p.Total, From: offset + 1}
	if p.Prev >= 0 {
		d.PrevURL = "/tenants?offset=" + strconv.Itoa(p.Prev)
	}
	if p.Next > 0 {
		d.NextURL = "/tenants?offset=" + strconv.Itoa(p.Next)
	}
	return &view{Title: "Tenants", Nav: "tenants", S: s, Flash: flashes[r.URL.Query().Get("ok")], Data: d}, nil
}

func (u *UI) handleTenants(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := u.tenantsView(r, s)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	u.render(w, r, http.StatusOK, "tenants", v)
}

func (u *UI) handleCreateTenant(w http.ResponseWriter, r *http.Request, s *session) {
	name, slug := strings.TrimSpace(r.PostFormValue("name")), trimLower(r.PostFormValue("slug"))
	t, err := u.c.CreateTenant(r.Context(), s.token, name, slug)
	if err == nil {
		redirect(w, r, "/tenants/"+url.PathEscape(string(t.ID))+"?ok=created")
		return
	}
	msg, fields, status, ok := formError(err)
	if !ok {
		u.fail(w, r, s, err)
		return
	}
	if status == http.StatusConflict && len(fields) == 0 {
		fields = map[string]string{"slug": msg}
	}
	v, err := u.tenantsView(r, s)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	v.Flash = ""
	v.Error, v.Fields, v.Form = msg, fields, map[string]string{"name": name, "slug": slug}
	u.render(w, r, status, "tenants", v)
}

type tenantData struct {
	Tenant       Tenant
	Admins       []Admin
	AdminsError  string
	Settings     []Setting
	SettingsNote string
}

// SettingAction is where the tenant page's setting form posts.
func (d tenantData) SettingAction() string {
	return "/tenants/" + url.PathEscape(string(d.Tenant.ID)) + "/settings"
}

func (u *UI) tenantView(r *http.Request, s *session) (*view, error) {
	ctx := r.Context()
	id := ID(r.PathValue("id"))
	t, err := u.c.Tenant(ctx, s.token, id)
	if err != nil {
		return nil, err
	}
	d := tenantData{Tenant: t}
	if d.Admins, err = u.c.Admins(ctx, s.token, id); err != nil {
		if errors.Is(err, ErrUnavailable) || StatusOf(err) == http.StatusUnauthorized {
			return nil, err
		}
		d.AdminsError = "The admins of this tenant cannot be listed by your account."
		if st := StatusOf(err); st == http.StatusNotFound || st == http.StatusMethodNotAllowed {
			d.AdminsError = "This backend does not list tenant admins."
		}
	}
	if d.Settings, err = u.c.Settings(ctx, s.token, id); err != nil {
		if errors.Is(err, ErrUnavailable) || StatusOf(err) == http.StatusUnauthorized {
			return nil, err
		}
		d.SettingsNote = "The settings of this tenant cannot be read by your account."
	}
	return &view{Title: t.Name, Nav: "tenants", S: s, Flash: flashes[r.URL.Query().Get("ok")], Data: d}, nil
}

func (u *UI) handleTenant(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := u.tenantView(r, s)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	u.render(w, r, http.StatusOK, "tenant", v)
}

// formFailed re-renders the tenant page with the form error, or hands a
// non-form error to fail.
func (u *UI) formFailed(w http.ResponseWriter, r *http.Request, s *session, err error, form map[string]string, build func() (*view, error), page string) {
	msg, fields, status, ok := formError(err)
	if !ok {
		u.fail(w, r, s, err)
		return
	}
	v, berr := build()
	if berr != nil {
		u.fail(w, r, s, berr)
		return
	}
	v.Flash = ""
	v.Error, v.Fields, v.Form = msg, fields, form
	u.render(w, r, status, page, v)
}

func (u *UI) handleTenantStatus(w http.ResponseWriter, r *http.Request, s *session) {
	id := ID(r.PathValue("id"))
	status := r.PostFormValue("status")
	if status != "active" && status != "suspended" {
		u.renderError(w, r, s, http.StatusBadRequest, "Bad request", "Status must be active or suspended.")
		return
	}
	_, err := u.c.SetTenantStatus(r.Context(), s.token, id, status)
	back := safeNext(r.PostFormValue("return"))
	if back == "" || strings.Contains(back, "?") {
		back = "/tenants/" + url.PathEscape(string(id))
	}
	if err != nil {
		if back == "/tenants" {
			u.formFailed(w, r, s, err, nil, func() (*view, error) { return u.tenantsView(r, s) }, "tenants")
		} else {
			u.formFailed(w, r, s, err, nil, func() (*view, error) { return u.tenantView(r, s) }, "tenant")
		}
		return
	}
	ok := "activated"
	if status == "suspended" {
		ok = "suspended"
	}
	redirect(w, r, back+"?ok="+ok)
}

func (u *UI) handleCreateAdmin(w http.ResponseWriter, r *http.Request, s *session) {
	id := ID(r.PathValue("id"))
	email, password := trimLower(r.PostFormValue("email")), r.PostFormValue("password")
	_, err := u.c.CreateAdmin(r.Context(), s.token, id, email, password)
	if err != nil {
		u.formFailed(w, r, s, err, map[string]string{"admin_email": email, "form": "admin"}, func() (*view, error) { return u.tenantView(r, s) }, "tenant")
		return
	}
	redirect(w, r, "/tenants/"+url.PathEscape(string(id))+"?ok=admin")
}

// settingValue turns the edit form's text and type into the typed JSON value.
func settingValue(typ, text string) (json.RawMessage, string) {
	text = strings.TrimSpace(text)
	switch typ {
	case "int", "integer":
		if _, err := strconv.ParseInt(text, 10, 64); err != nil {
			return nil, "Enter a whole number."
		}
		return json.RawMessage(text), ""
	case "bool", "boolean":
		switch strings.ToLower(text) {
		case "true", "on", "yes", "1":
			return json.RawMessage("true"), ""
		case "false", "off", "no", "0":
			return json.RawMessage("false"), ""
		}
		return nil, "Enter true or false."
	case "json":
		if !json.Valid([]byte(text)) {
			return nil, "Enter valid JSON."
		}
		return json.RawMessage(text), ""
	}
	b, _ := json.Marshal(text)
	return b, ""
}

// settingType maps the form's type to the API's: string, int, bool or json.
func settingType(typ string) string {
	switch typ {
	case "int", "integer":
		return "int"
	case "bool", "boolean":
		return "bool"
	case "json":
		return "json"
	}
	return "string"
}

// putSetting handles both setting forms; tenantID "" is the platform.
func (u *UI) putSetting(w http.ResponseWriter, r *http.Request, s *session, tenantID ID, back string, build func() (*view, error), page string) {
	key, typ, text := strings.TrimSpace(r.PostFormValue("key")), r.PostFormValue("type"), r.PostFormValue("value")
	form := map[string]string{"key": key, "type": typ, "value": text, "form": "setting"}
	value, problem := settingValue(typ, text)
	err := error(nil)
	if key == "" {
		err = &APIError{Status: http.StatusBadRequest, Message: "Enter the setting's key.", Fields: map[string]string{"key": "Enter the setting's key."}}
	} else if problem != "" {
		err = &APIError{Status: http.StatusBadRequest, Message: problem, Fields: map[string]string{"value": problem}}
	} else {
		err = u.c.PutSetting(r.Context(), s.token, tenantID, key, settingType(typ), value)
	}
	if err != nil {
		u.formFailed(w, r, s, err, form, build, page)
		return
	}
	redirect(w, r, back+"?ok=setting")
}

func (u *UI) handleTenantSetting(w http.ResponseWriter, r *http.Request, s *session) {
	id := ID(r.PathValue("id"))
	u.putSetting(w, r, s, id, "/tenants/"+url.PathEscape(string(id)), func() (*view, error) { return u.tenantView(r, s) }, "tenant")
}

type settingsData struct {
	Settings []Setting
	Note     string
	TenantID ID
	Switches []switchView // the owner's emergency switches
}

// switchView is one emergency switch on the settings page.
type switchView struct {
	Name, Title, Effect string
	Switch
}

// SettingAction is where the settings page's form posts.
func (d settingsData) SettingAction() string { return "/settings" }

func (u *UI) settingsView(r *http.Request, s *session) (*view, error) {
	d := settingsData{}
	if !s.Caps.IsOwner {
		d.TenantID = s.Caps.TenantID
	}
	var err error
	if d.Settings, err = u.c.Settings(r.Context(), s.token, d.TenantID); err != nil {
		if errors.Is(err, ErrUnavailable) || StatusOf(err) == http.StatusUnauthorized {
			return nil, err
		}
		d.Note = "Settings cannot be read by your account."
	}
	if s.status != nil && s.Caps.Can(casino.CapAdminLoginFreeze) {
		d.Switches = append(d.Switches, switchView{SwitchLoginFreeze, "Admin login freeze", "Tenant admins cannot sign in and their sessions end; the owner still can.", s.status.LoginFreeze})
	}
	if s.status != nil && s.Caps.Can(casino.CapAdminMaintenance) {
		d.Switches = append(d.Switches, switchView{SwitchMaintenance, "Maintenance mode", "Every change is refused; reads keep working.", s.status.Maintenance})
	}
	return &view{Title: "Settings", Nav: "settings", S: s, Flash: flashes[r.URL.Query().Get("ok")], Data: d}, nil
}

func (u *UI) handleSwitch(w http.ResponseWriter, r *http.Request, s *session) {
	name := r.PathValue("name")
	if name != SwitchLoginFreeze && name != SwitchMaintenance {
		u.renderError(w, r, s, http.StatusNotFound, "Not found", "There is no such switch.")
		return
	}
	enabled := r.PostFormValue("enabled") == "true"
	reason := strings.TrimSpace(r.PostFormValue("reason"))
	if err := u.c.SetSwitch(r.Context(), s.token, name, enabled, reason); err != nil {
		u.formFailed(w, r, s, err, map[string]string{"form": name, "reason": reason}, func() (*view, error) {
			// Re-read the switches for the page.
			if st, err := u.c.Status(r.Context(), s.token); err == nil {
				s.status = &st
			}
			return u.settingsView(r, s)
		}, "settings")
		return
	}
	redirect(w, r, "/settings?ok=switch")
}

func (u *UI) handleSettings(w http.ResponseWriter, r *http.Request, s *session) {
	v, err := u.settingsView(r, s)
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	u.render(w, r, http.StatusOK, "settings", v)
}

func (u *UI) handlePlatformSetting(w http.ResponseWriter, r *http.Request, s *session) {
	tid := ID("")
	if !s.Caps.IsOwner {
		tid = s.Caps.TenantID
	}
	u.putSetting(w, r, s, tid, "/settings", func() (*view, error) { return u.settingsView(r, s) }, "settings")
}

type versionsData struct {
	Backend      BuildVersion
	Console      BuildVersionOfConsole
	History      []VersionRecord
	HistoryError string
}

// BuildVersionOfConsole is this console's own build, for the versions page.
type BuildVersionOfConsole struct {
	Version, Commit, BuildTime, GoVersion string
}

func (u *UI) handleVersions(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d := versionsData{Console: BuildVersionOfConsole{u.cfg.Build.Version, u.cfg.Build.Commit, u.cfg.Build.BuildTime, u.cfg.Build.GoVersion}}
	var err error
	if d.Backend, err = u.c.Version(ctx); err != nil {
		u.fail(w, r, s, err)
		return
	}
	if d.History, err = u.c.Versions(ctx, s.token); err != nil {
		if errors.Is(err, ErrUnavailable) || StatusOf(err) == http.StatusUnauthorized {
			u.fail(w, r, s, err)
			return
		}
		d.HistoryError = "The version history cannot be read by your account."
	}
	u.render(w, r, http.StatusOK, "versions", &view{Title: "Versions", Nav: "settings", S: s, Data: d})
}

type auditData struct {
	Events  []AuditEvent
	Tenants []Tenant
	Tenant  string
	Action  string
	Since   string
	Until   string
	Total   int
	From    int
	PrevURL string
	NextURL string
}

// parseDay reads a yyyy-mm-dd date input; end rounds to the day's end.
func parseDay(s string, end bool) time.Time {
	t, err := time.Parse("2006-01-02", strings.TrimSpace(s))
	if err != nil {
		return time.Time{}
	}
	if end {
		t = t.Add(24*time.Hour - time.Second)
	}
	return t
}

func (u *UI) handleAudit(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	d := auditData{Tenant: strings.TrimSpace(q.Get("tenant")), Action: strings.TrimSpace(q.Get("action")), Since: q.Get("since"), Until: q.Get("until")}
	f := AuditFilter{TenantID: ID(d.Tenant), Action: d.Action, Since: parseDay(d.Since, false), Until: parseDay(d.Until, true), Offset: offsetParam(r)}
	// The owner's tenant filter, and names for the tenant column; any
	// other failure only costs those.
	if ts, err := u.c.AllTenants(ctx, s.token, 500); err == nil {
		d.Tenants = ts
	} else if errors.Is(err, ErrUnavailable) || StatusOf(err) == http.StatusUnauthorized {
		u.fail(w, r, s, err)
		return
	}
	p, err := u.c.Audit(ctx, s.token, f)
	if err != nil {
		if msg, _, status, ok := formError(err); ok && status == http.StatusBadRequest {
			u.render(w, r, status, "audit", &view{Title: "Audit log", Nav: "audit", S: s, Error: msg, Data: d})
			return
		}
		u.fail(w, r, s, err)
		return
	}
	d.Events, d.Total, d.From = p.Items, p.Total, f.Offset+1
	pageURL := func(offset int) string {
		nq := url.Values{}
		for k, v := range map[string]string{"tenant": d.Tenant, "action": d.Action, "since": d.Since, "until": d.Until} {
			if v != "" {
				nq.Set(k, v)
			}
		}
		if offset > 0 {
			nq.Set("offset", strconv.Itoa(offset))
		}
		return "/audit?" + nq.Encode()
	}
	if p.Prev >= 0 {
		d.PrevURL = pageURL(p.Prev)
	}
	if p.Next > 0 {
		d.NextURL = pageURL(p.Next)
	}
	u.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Nav: "audit", S: s, Data: d})
}

// Last is the 1-based index of the last row shown, for the pager.
func (d tenantsData) Last() int { return d.From + len(d.Tenants) - 1 }

// settingData is the page of one whole setting.
type settingData struct {
	Setting Setting
	Tenant  ID
	Value   string
}

func (u *UI) handleSettingValue(w http.ResponseWriter, r *http.Request, s *session) {
	d := settingData{Tenant: ID(r.URL.Query().Get("tenant"))}
	var err error
	if d.Setting, err = u.c.Setting(r.Context(), s.token, d.Tenant, r.URL.Query().Get("key")); err != nil {
		u.fail(w, r, s, err)
		return
	}
	d.Value = indentJSON(d.Setting.Value)
	u.render(w, r, http.StatusOK, "setting", &view{Title: "Setting " + d.Setting.Key, Nav: "settings", S: s, Data: d})
}

// auditEventData is the page of one whole audit event.
type auditEventData struct {
	Event  AuditEvent
	Before string
	After  string
}

func (u *UI) handleAuditEvent(w http.ResponseWriter, r *http.Request, s *session) {
	ev, err := u.c.AuditEvent(r.Context(), s.token, ID(r.PathValue("id")))
	if err != nil {
		u.fail(w, r, s, err)
		return
	}
	d := auditEventData{Event: ev, Before: indentJSON(ev.Before), After: indentJSON(ev.After)}
	u.render(w, r, http.StatusOK, "audit_event", &view{Title: "Audit event " + string(ev.ID), Nav: "audit", S: s, Data: d})
}

// indentJSON shows a JSON value indented, with \u003c and the like as the
// characters they stand for (the template escapes them), "" for none.
func indentJSON(b json.RawMessage) string {
	if len(bytes.TrimSpace(b)) == 0 || string(b) == "null" {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return string(b)
	}
	var out bytes.Buffer
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if enc.Encode(v) != nil {
		return string(b)
	}
	return strings.TrimSuffix(out.String(), "\n")
}

// Last is the 1-based index of the last row shown, for the pager.
func (d auditData) Last() int { return d.From + len(d.Events) - 1 }

// TenantName names a tenant id for the audit table: "Name (id)" when the
// tenant is in the filter's list, the bare id otherwise, "—" for none.
func (d auditData) TenantName(id ID) string {
	if id == "" {
		return "—"
	}
	for _, t := range d.Tenants {
		if t.ID == id {
			return t.Name
		}
	}
	return string(id)
}
