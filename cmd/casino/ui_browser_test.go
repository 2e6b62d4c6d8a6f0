package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"casino"
	"casino/internal/browsertest"
)

// The browser tests drive the admin console in Debian's headless Chromium
// (internal/browsertest), against the real backend, in role all and in split
// mode (a backend and a frontend-admin process). Screenshots land in
// testdata/screenshots/<test>/ at the module root; the log names the folder.

const (
	uiOwnerPassword = "owner-password-for-ui-tests"
	uiAdminEmail    = "ops@acme.test"
	uiAdminPassword = "tenant-admin-password-1"
)

// smokeUser is one person running the checklist's UI smoke.
type smokeUser struct {
	name, email, password string
	wantSlugs             []string // the tenants list, sorted
	owner                 bool
}

var smokeUsers = []smokeUser{
	{name: "owner", email: "admin@casino.com", password: uiOwnerPassword, wantSlugs: []string{"acme", "bellagio"}, owner: true},
	{name: "tenant-admin", email: uiAdminEmail, password: uiAdminPassword, wantSlugs: []string{"acme"}},
}

func uiEnv(t *testing.T) map[string]string {
	return map[string]string{
		"DATABASE_URL":          "sqlite:" + filepath.Join(t.TempDir(), "casino.db"),
		"CASINO_OWNER_PASSWORD": uiOwnerPassword,
	}
}

// apiCall calls the backend JSON API and decodes the answer into out.
func apiCall(t *testing.T, method, u, token string, body, out any) int {
	t.Helper()
	var rd *bytes.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, u, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// seedTenants creates two tenants through the API and an admin of the first.
func seedTenants(t *testing.T, apiURL string) {
	t.Helper()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if code := apiCall(t, "POST", apiURL+"/api/v1/auth/login", "", map[string]string{"email": "admin@casino.com", "password": uiOwnerPassword}, &tok); code != 200 {
		t.Fatalf("owner login: %d", code)
	}
	var acme struct {
		ID int64 `json:"id"`
	}
	if code := apiCall(t, "POST", apiURL+"/api/v1/tenants", tok.AccessToken, map[string]string{"name": "Acme Casino", "slug": "acme"}, &acme); code != 201 {
		t.Fatalf("create tenant acme: %d", code)
	}
	if code := apiCall(t, "POST", apiURL+"/api/v1/tenants", tok.AccessToken, map[string]string{"name": "Bellagio Online", "slug": "bellagio"}, nil); code != 201 {
		t.Fatalf("create tenant bellagio: %d", code)
	}
	if code := apiCall(t, "POST", fmt.Sprintf("%s/api/v1/tenants/%d/admins", apiURL, acme.ID), tok.AccessToken, map[string]string{"email": uiAdminEmail, "password": uiAdminPassword}, nil); code != 201 {
		t.Fatalf("create tenant admin: %d", code)
	}
	apiCall(t, "POST", apiURL+"/api/v1/auth/logout", tok.AccessToken, nil, nil)
}

var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// uiSmoke is step 5's "UI smoke" for one user: log in, the tenants list
// loads, Settings → Versions shows the running version, log out, and the old
// cookie no longer works. Every request the browser made must have gone to
// the console's own host.
func uiSmoke(t *testing.T, b *browsertest.Browser, shots *browsertest.Shots, uiURL, apiURL string, u smokeUser, extra bool) {
	tab := b.NewTab(t)

	// 1) Log in. The console's root sends a stranger to the login page.
	tab.Do(t, "open the console", chromedp.Navigate(uiURL+"/"), chromedp.WaitVisible(chromedp.ID("email")))
	shots.Take(t, tab, u.name+"-login")
	if extra {
		// Keyboard: the email field has focus, Tab moves to the password,
		// and the focused field shows a visible outline.
		if got := browsertest.Eval[string](t, tab, `document.activeElement.id`); got != "email" {
			t.Errorf("focus on load: %q, want email", got)
		}
		tab.Do(t, "press Tab", chromedp.KeyEvent("\t"))
		if got := browsertest.Eval[string](t, tab, `document.activeElement.id`); got != "password" {
			t.Errorf("focus after Tab: %q, want password", got)
		}
		if got := browsertest.Eval[string](t, tab, `getComputedStyle(document.activeElement).outlineStyle`); got == "none" || got == "" {
			t.Errorf("focused field has no visible outline (outline-style %q)", got)
		}
		// A wrong password gets an inline error.
		tab.Do(t, "log in with a wrong password",
			chromedp.SendKeys(chromedp.ID("email"), u.email),
			chromedp.SendKeys(chromedp.ID("password"), "not-the-password"),
			chromedp.Click(chromedp.ID("login-submit")),
			chromedp.WaitVisible(chromedp.ID("login-error")))
		if got := tab.Text(t, "#login-error"); !strings.Contains(got, "Wrong email or password") {
			t.Errorf("wrong password: inline error %q", got)
		}
		shots.Take(t, tab, u.name+"-login-wrong-password")
		tab.Do(t, "clear the form", chromedp.Clear(chromedp.ID("email")), chromedp.Clear(chromedp.ID("password")))
	}
	tab.Do(t, "log in",
		chromedp.SendKeys(chromedp.ID("email"), u.email),
		chromedp.SendKeys(chromedp.ID("password"), u.password),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("tenants")))

	// 2) The tenants list loads, and shows only what the user may see.
	slugs := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('#tenants tbody tr[data-slug]')].map(r => r.dataset.slug)`)
	slices.Sort(slugs)
	if !slices.Equal(slugs, u.wantSlugs) {
		t.Errorf("tenants list: %v, want %v", slugs, u.wantSlugs)
	}
	shots.Take(t, tab, u.name+"-tenants")

	cookies := tab.Cookies(t, uiURL)
	var session *network.Cookie
	for _, c := range cookies {
		if c.Name == "casino_session" || c.Name == "__Host-casino_session" {
			if strings.HasPrefix(uiURL, "https://") != (c.Name == "__Host-casino_session") || strings.HasPrefix(uiURL, "https://") != c.Secure {
				t.Errorf("session cookie %s Secure=%v at %s: want __Host- and Secure exactly over HTTPS", c.Name, c.Secure, uiURL)
			}
			session = c
		}
	}
	if session == nil {
		t.Fatalf("no session cookie after login: %v", cookies)
	}
	if !session.HTTPOnly || session.SameSite != network.CookieSameSiteStrict {
		t.Errorf("session cookie: HttpOnly=%v SameSite=%q, want HttpOnly and Strict", session.HTTPOnly, session.SameSite)
	}
	if got := browsertest.Eval[string](t, tab, `document.cookie`); strings.Contains(got, session.Value) {
		t.Errorf("the token is readable from JavaScript")
	}

	if extra {
		tab.Do(t, "open a tenant", chromedp.Click(chromedp.CSS(`#tenants a[href^="/tenants/"]`)), chromedp.WaitVisible(chromedp.ID("tenant-name")))
		shots.Take(t, tab, u.name+"-tenant-detail")
		tab.Do(t, "open the audit log", chromedp.Click(chromedp.CSS(`nav.main-nav a[href="/audit"]`)), chromedp.WaitVisible(chromedp.ID("audit")))
		shots.Take(t, tab, u.name+"-audit")
		tab.Do(t, "filter the audit log",
			chromedp.SendKeys(chromedp.ID("filter-action"), "tenant.create"),
			chromedp.Click(chromedp.ID("filter-submit")),
			// Only the filtered page renders the filter into the attribute.
			chromedp.WaitVisible(chromedp.CSS(`#filter-action[value="tenant.create"]`)))
		actions := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('#audit tbody tr td:nth-child(2)')].map(td => td.textContent.trim())`)
		if len(actions) == 0 || slices.ContainsFunc(actions, func(a string) bool { return a != "tenant.create" }) {
			t.Errorf("audit filtered by tenant.create shows %v", actions)
		}
		shots.Take(t, tab, u.name+"-audit-filtered")
		// The banner while maintenance mode is on.
		tok := ownerToken(t, apiURL)
		apiCall(t, "POST", apiURL+"/api/v1/admin/maintenance", tok, map[string]any{"enabled": true, "reason": "restore drill"}, nil)
		tab.Do(t, "reload during maintenance", chromedp.Navigate(uiURL+"/tenants"), chromedp.WaitVisible(chromedp.CSS(".banner")))
		if got := tab.Text(t, ".banner"); !strings.Contains(got, "Maintenance mode is ON") {
			t.Errorf("maintenance banner says %q", got)
		}
		shots.Take(t, tab, u.name+"-maintenance-banner")
		apiCall(t, "POST", apiURL+"/api/v1/admin/maintenance", tok, map[string]any{"enabled": false}, nil)
		apiCall(t, "POST", apiURL+"/api/v1/auth/logout", tok, nil, nil)
		// Phone width: the page itself must not scroll sideways.
		tab.Do(t, "phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Navigate(uiURL+"/tenants"), chromedp.WaitVisible(chromedp.ID("tenants")))
		if w := browsertest.Eval[int](t, tab, `document.documentElement.scrollWidth`); w > 392 {
			wide := browsertest.Eval[[]string](t, tab, `[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 392).map(e => e.tagName + '.' + e.className + '#' + e.id + ' ' + Math.round(e.getBoundingClientRect().right)).slice(0, 12)`)
			t.Errorf("at 390px the page is %dpx wide; too wide: %v", w, wide)
		}
		shots.Take(t, tab, u.name+"-tenants-phone")
		tab.Do(t, "laptop width", chromedp.EmulateViewport(1280, 900), chromedp.Navigate(uiURL+"/tenants"), chromedp.WaitVisible(chromedp.ID("tenants")))
	}

	// 3) Settings → Versions shows the running version.
	tab.Do(t, "open Settings", chromedp.Click(chromedp.CSS(`nav.main-nav a[href="/settings"]`)), chromedp.WaitVisible(chromedp.ID("nav-versions")))
	shots.Take(t, tab, u.name+"-settings")
	tab.Do(t, "open Versions", chromedp.Click(chromedp.ID("nav-versions")), chromedp.WaitVisible(chromedp.ID("versions")))
	if got, want := tab.Text(t, "#current-version"), casino.Build().Version; got != want {
		t.Errorf("Settings → Versions shows version %q, want the running %q", got, want)
	}
	if rows := browsertest.Eval[int](t, tab, `document.querySelectorAll('#versions tbody tr td:nth-child(2)').length`); rows < 1 {
		t.Errorf("version history is empty")
	}
	shots.Take(t, tab, u.name+"-versions")

	// 4) Log out.
	tab.Do(t, "log out", chromedp.Click(chromedp.ID("logout")), chromedp.WaitVisible(chromedp.ID("login-note")))
	if got := tab.Text(t, "#login-note"); !strings.Contains(got, "signed out") {
		t.Errorf("after logout the login page says %q", got)
	}
	shots.Take(t, tab, u.name+"-logged-out")

	// 5) The old cookie no longer works: not in the console, not at the API.
	req, _ := http.NewRequest("GET", uiURL+"/tenants", nil)
	req.AddCookie(&http.Cookie{Name: session.Name, Value: session.Value})
	client := noRedirect
	if strings.HasPrefix(uiURL, "https://") {
		// The test proxy's certificate is self-signed.
		client = &http.Client{CheckRedirect: noRedirect.CheckRedirect, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "m=expired") {
		t.Errorf("old cookie at /tenants: %d %q, want 303 to the login page with the expiry message", resp.StatusCode, loc)
	}
	if code := apiCall(t, "GET", apiURL+"/api/v1/tenants/capabilities", session.Value, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("old token at the API: %d, want 401", code)
	}
	if extra {
		// What the user sees when they come back with the dead cookie.
		tab.Do(t, "replay the old cookie",
			chromedp.Func(func(ctx context.Context, tt *chromedp.Target) error {
				_, err := cdp.Call(ctx, tt, network.SetCookie, network.SetCookieParams{Name: session.Name, Value: session.Value, URL: uiURL, HTTPOnly: new(true), SameSite: network.CookieSameSiteStrict})
				return err
			}),
			chromedp.Navigate(uiURL+"/settings/versions"),
			chromedp.WaitVisible(chromedp.ID("login-note")))
		if got := tab.Text(t, "#login-note"); !strings.Contains(got, "expired or was revoked") {
			t.Errorf("old cookie in the browser: login page says %q", got)
		}
		shots.Take(t, tab, u.name+"-session-expired")
	}

	tab.AssertSameHost(t, uiURL)
}

func TestUIBrowserSmoke(t *testing.T) {
	b := browsertest.Start(t)

	t.Run("all", func(t *testing.T) {
		srv := startServe(t, uiEnv(t), true)
		seedTenants(t, srv.URL)
		shots := browsertest.NewShots(t)
		for _, u := range smokeUsers {
			t.Run(u.name, func(t *testing.T) { uiSmoke(t, b, shots, srv.URL, srv.URL, u, u.owner) })
		}
	})

	t.Run("split", func(t *testing.T) {
		env := uiEnv(t)
		backend := startServe(t, env, true, "--role", "backend")
		fe := startServe(t, map[string]string{}, true, "--role", "frontend-admin", "--backend-url", backend.URL)
		seedTenants(t, backend.URL)
		shots := browsertest.NewShots(t)
		for _, u := range smokeUsers {
			t.Run(u.name, func(t *testing.T) { uiSmoke(t, b, shots, fe.URL, backend.URL, u, false) })
		}
		// The frontend-admin does not serve the API.
		if code := apiCall(t, "GET", fe.URL+"/api/v1/tenants/capabilities", "", nil, nil); code != http.StatusNotFound {
			t.Errorf("frontend-admin /api/v1/...: %d, want 404", code)
		}
		// The backend goes away: a clear page, not a stack trace.
		tab := b.NewTab(t)
		tab.Do(t, "log in", chromedp.Navigate(fe.URL+"/login"),
			chromedp.SendKeys(chromedp.ID("email"), "admin@casino.com"),
			chromedp.SendKeys(chromedp.ID("password"), uiOwnerPassword),
			chromedp.Click(chromedp.ID("login-submit")),
			chromedp.WaitVisible(chromedp.ID("tenants")))
		backend.Stop(t)
		tab.Do(t, "reload with the backend down", chromedp.Navigate(fe.URL+"/tenants"), chromedp.WaitVisible(chromedp.ID("status-code")))
		if code, title := tab.Text(t, "#status-code"), tab.Text(t, "#error-title"); code != "503" || title != "Backend unavailable" {
			t.Errorf("backend down: page %s %q, want 503 Backend unavailable", code, title)
		}
		shots.Take(t, tab, "backend-unavailable")
		tab.AssertSameHost(t, fe.URL)
	})
}

// TestUIBrowserCrossOriginPostRefused is a CSRF attempt: a page on another
// origin auto-submits a form to the console while the owner is signed in.
// The console must refuse it, and no tenant may appear.
func TestUIBrowserCrossOriginPostRefused(t *testing.T) {
	b := browsertest.Start(t)
	srv := startServe(t, uiEnv(t), true)
	shots := browsertest.NewShots(t)
	tab := b.NewTab(t)
	tab.Do(t, "log in",
		chromedp.Navigate(srv.URL+"/login"),
		chromedp.SendKeys(chromedp.ID("email"), "admin@casino.com"),
		chromedp.SendKeys(chromedp.ID("password"), uiOwnerPassword),
		chromedp.Click(chromedp.ID("login-submit")),
		chromedp.WaitVisible(chromedp.ID("tenants")))

	// The attacker's site: localhost is another site than 127.0.0.1.
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprintf(w, `<!doctype html><title>win a prize</title>
<form id="f" method="post" action="%s/tenants"><input name="name" value="Evil Corp"><input name="slug" value="evil"></form>
<script>document.getElementById("f").submit()</script>`, srv.URL)
	}))
	defer evil.Close()
	evilURL := strings.Replace(evil.URL, "127.0.0.1", "localhost", 1)

	tab.Do(t, "visit the attacker's page", chromedp.Navigate(evilURL), chromedp.WaitVisible(chromedp.ID("status-code")))
	if got := tab.Text(t, "#status-code"); got != "403" {
		t.Errorf("cross-origin form post: status %s, want 403", got)
	}
	if got := tab.Text(t, "#error-title"); got != "Request refused" {
		t.Errorf("cross-origin form post: page %q, want the refusal", got)
	}
	loc, _ := chromedp.Run(tab.Ctx, chromedp.Location())
	if u, _ := url.Parse(loc); u == nil || u.Path != "/tenants" {
		t.Errorf("the refusal came from %s, want the console's /tenants", loc)
	}
	shots.Take(t, tab, "csrf-refused")

	// No tenant was created.
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	apiCall(t, "POST", srv.URL+"/api/v1/auth/login", "", map[string]string{"email": "admin@casino.com", "password": uiOwnerPassword}, &tok)
	var list struct {
		Tenants []struct{ Slug string } `json:"tenants"`
	}
	apiCall(t, "GET", srv.URL+"/api/v1/tenants", tok.AccessToken, nil, &list)
	for _, tn := range list.Tenants {
		if tn.Slug == "evil" {
			t.Errorf("the cross-origin post created tenant %q", tn.Slug)
		}
	}
	// And a same-origin post through the console's own form still works.
	tab.Do(t, "create a tenant from the console",
		chromedp.Navigate(srv.URL+"/tenants"),
		chromedp.SendKeys(chromedp.ID("name"), "Good Corp"),
		chromedp.SendKeys(chromedp.ID("slug"), "good"),
		chromedp.Click(chromedp.ID("create-submit")),
		chromedp.WaitVisible(chromedp.ID("tenant-name")))
	if got := tab.Text(t, "#tenant-name"); got != "Good Corp" {
		t.Errorf("created tenant page shows %q", got)
	}
	shots.Take(t, tab, "tenant-created")
}

// TestUIBrowserBehindTLSProxy runs the smoke through a TLS-terminating
// reverse proxy, as production does: the session cookie must be
// __Host-casino_session and Secure, and everything must still work.
func TestUIBrowserBehindTLSProxy(t *testing.T) {
	b := browsertest.Start(t, chromedp.IgnoreCertErrors)
	srv := startServe(t, uiEnv(t), true)
	seedTenants(t, srv.URL)
	target, _ := url.Parse(srv.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	director := rp.Director
	rp.Director = func(r *http.Request) {
		director(r)
		r.Header.Set("X-Forwarded-Proto", "https")
	}
	proxy := httptest.NewTLSServer(rp)
	defer proxy.Close()
	shots := browsertest.NewShots(t)
	uiSmoke(t, b, shots, proxy.URL, srv.URL, smokeUsers[0], false)
}
