package dr

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"
)

// Check verdicts.
const (
	Pass = "PASS"
	Fail = "FAIL"
	Skip = "SKIP" // not run: its input was not given (e.g. no --logs)
	Info = "INFO" // informational, never fails
)

// Check is one named validation check of the checklist's section 5, a value
// in a registry (after gitea doctor): listable, selectable, each with its
// own verdict.
type Check struct {
	Name  string
	Title string
	// MustPass checks decide validate's exit code.
	MustPass bool
	Run      func(ctx context.Context, v *Validator) (status, detail string)
}

// CheckResult is one check's outcome, as journaled and printed.
type CheckResult struct {
	Name       string   `json:"name"`
	Title      string   `json:"title"`
	MustPass   bool     `json:"must_pass"`
	Status     string   `json:"status"`
	DurationMS float64  `json:"duration_ms"`
	Detail     string   `json:"detail,omitempty"`
	RequestIDs []string `json:"request_ids,omitempty"`
}

// Validation is one run of validate.
type Validation struct {
	URL   string    `json:"url"`
	Start time.Time `json:"start_utc"`
	End   time.Time `json:"end_utc"`
	// Passed: no must-pass check failed.
	Passed bool `json:"passed"`
	// Complete: every must-pass check of the registry ran (none skipped or
	// deselected). RTO counts only a complete, passed validation.
	Complete bool     `json:"complete"`
	Failed   []string `json:"failed,omitempty"`
	// Skipped names the must-pass checks that did not run.
	Skipped []string      `json:"skipped,omitempty"`
	Checks  []CheckResult `json:"checks"`
	// SentRequestIDs are the request ids the server echoed to this
	// validation's requests: later log checks leave them out.
	SentRequestIDs []string `json:"sent_request_ids,omitempty"`
}

// Validator holds what the checks need.
type Validator struct {
	URL           string
	Email         string
	Password      string
	ExpectVersion string
	// VersionSource says where ExpectVersion came from (flag or journal).
	VersionSource string
	BaselineP95MS float64
	// P95Tolerance is the allowed excess over the baseline (0.2 = 20 %).
	P95Tolerance float64
	// Window is how much of the newest logs counts as "now".
	Window      time.Duration
	ImpactStart time.Time
	// Data is what the data check expects (State.ExpectedData); nil makes
	// it skip.
	Data *DataExpectation
	// Logs, when set, is read once by the first log check.
	Logs         io.Reader
	LogsName     string
	Browser      bool
	ChromiumPath string
	HTTP         *http.Client
	Red          *Redactor

	// ExcludeIDs are request ids dr sent before this validation (declare,
	// earlier validations), journaled: the log checks leave them out, with
	// the ones this validation sends.
	ExcludeIDs []string
	// Now is the clock the log checks judge the newest minute by; nil is
	// time.Now.
	Now func() time.Time

	token   string
	sent    []string // X-Request-Id of every response this validator got
	logs    *LogStats
	logsErr error
	lastIDs []string
}

// Registry is every check, in the order they run.
var Registry = []Check{
	{Name: "health", Title: "GET /api/health is 200", MustPass: true, Run: checkHealth},
	{Name: "ready", Title: "GET /api/ready is 200", MustPass: true, Run: checkReady},
	{Name: "version", Title: "/api/version matches the expected version", MustPass: true, Run: checkVersion},
	{Name: "login", Title: "owner login returns a token", MustPass: true, Run: checkLogin},
	{Name: "is_owner", Title: "capabilities answer is_owner=true", MustPass: true, Run: checkIsOwner},
	{Name: "data", Title: "the service runs on the restored data: restore_id, durable tables' row counts", MustPass: true, Run: checkData},
	{Name: "ui", Title: "UI smoke over HTTP: login, tenants, Settings → Versions, logout", MustPass: true, Run: checkUI},
	{Name: "browser", Title: "UI smoke in headless Chromium (--browser)", MustPass: true, Run: checkBrowser},
	{Name: "logs_5xx", Title: "5xx rate per minute is dropping", MustPass: true, Run: checkLogs5xx},
	{Name: "logs_p95", Title: "p95 duration_ms back within baseline", MustPass: true, Run: checkLogsP95},
	{Name: "logs_errors", Title: "request_ids of the remaining 5xx", MustPass: false, Run: checkLogsErrors},
}

// FindCheck returns the named check.
func FindCheck(name string) (Check, bool) {
	for _, c := range Registry {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

// Select returns the checks named (comma-separated), or all of them.
func Select(names string) ([]Check, error) {
	if strings.TrimSpace(names) == "" || names == "all" {
		return Registry, nil
	}
	var out []Check
	for _, n := range strings.Split(names, ",") {
		c, ok := FindCheck(strings.TrimSpace(n))
		if !ok {
			var all []string
			for _, c := range Registry {
				all = append(all, c.Name)
			}
			return nil, fmt.Errorf("unknown check %q (checks: %s)", n, strings.Join(all, ", "))
		}
		out = append(out, c)
	}
	return out, nil
}

// Run runs the checks in order and returns the validation.
func (v *Validator) Run(ctx context.Context, checks []Check) Validation {
	if v.HTTP == nil {
		v.HTTP = &http.Client{Timeout: 15 * time.Second}
	}
	if v.Window == 0 {
		v.Window = 5 * time.Minute
	}
	if v.Red == nil {
		v.Red = &Redactor{}
	}
	if v.Password != "" {
		v.Red.Add(v.Password)
	}
	val := Validation{URL: v.URL, Start: time.Now().UTC(), Passed: true, Complete: true}
	ran := map[string]bool{}
	for _, c := range checks {
		ran[c.Name] = true
	}
	for _, c := range Registry {
		if c.MustPass && !ran[c.Name] && c.Name != "browser" {
			val.Complete = false
			val.Skipped = append(val.Skipped, c.Name)
		}
	}
	for _, c := range checks {
		t0 := time.Now()
		v.lastIDs = nil
		status, detail := c.Run(ctx, v)
		r := CheckResult{Name: c.Name, Title: c.Title, MustPass: c.MustPass, Status: status,
			DurationMS: math.Round(float64(time.Since(t0).Microseconds())) / 1000, Detail: v.Red.String(detail), RequestIDs: v.lastIDs}
		if status == Fail && c.MustPass {
			val.Passed = false
			val.Failed = append(val.Failed, c.Name)
		}
		if status == Skip && c.MustPass && !(c.Name == "browser" && !v.Browser) {
			val.Complete = false
			val.Skipped = append(val.Skipped, c.Name)
		}
		val.Checks = append(val.Checks, r)
	}
	val.End = time.Now().UTC()
	val.SentRequestIDs = v.sent
	return val
}

// SentRequestIDs returns the request ids the server echoed to this
// validator's requests so far.
func (v *Validator) SentRequestIDs() []string { return v.sent }

func (v *Validator) noteID(resp *http.Response) {
	if id := resp.Header.Get("X-Request-Id"); id != "" {
		v.sent = append(v.sent, id)
	}
}

// get fetches path and returns status and (capped) body.
func (v *Validator) do(ctx context.Context, method, path string, body any, bearer string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimRight(v.URL, "/")+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("User-Agent", "casino-dr-validate")
	resp, err := v.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	v.noteID(resp)
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

func short(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	return s
}

func needURL(v *Validator) (string, string, bool) {
	if v.URL == "" {
		return Fail, "no --url", false
	}
	return "", "", true
}

func statusCheck(ctx context.Context, v *Validator, path string) (string, string) {
	if s, d, ok := needURL(v); !ok {
		return s, d
	}
	code, body, err := v.do(ctx, http.MethodGet, path, nil, "")
	if err != nil {
		return Fail, fmt.Sprintf("GET %s: %v", path, err)
	}
	if code != http.StatusOK {
		return Fail, fmt.Sprintf("GET %s: %d %s", path, code, short(body))
	}
	return Pass, fmt.Sprintf("GET %s: 200", path)
}

func checkHealth(ctx context.Context, v *Validator) (string, string) {
	return statusCheck(ctx, v, "/api/health")
}

func checkReady(ctx context.Context, v *Validator) (string, string) {
	return statusCheck(ctx, v, "/api/ready")
}

func checkVersion(ctx context.Context, v *Validator) (string, string) {
	if s, d, ok := needURL(v); !ok {
		return s, d
	}
	code, body, err := v.do(ctx, http.MethodGet, "/api/version", nil, "")
	if err != nil {
		return Fail, "GET /api/version: " + err.Error()
	}
	if code != http.StatusOK {
		return Fail, fmt.Sprintf("GET /api/version: %d %s", code, short(body))
	}
	var ver struct {
		Version       string `json:"version"`
		Commit        string `json:"commit"`
		SchemaVersion any    `json:"schema_version"`
	}
	if err := json.Unmarshal(body, &ver); err != nil {
		return Fail, "GET /api/version: " + err.Error()
	}
	if v.ExpectVersion == "" {
		return Fail, fmt.Sprintf("running %s (commit %s), but no expected version: pass --expect-version, or declare with --url to record the version before the incident", ver.Version, ver.Commit)
	}
	if ver.Version != v.ExpectVersion {
		return Fail, fmt.Sprintf("running %q, expected %q (%s)", ver.Version, v.ExpectVersion, v.VersionSource)
	}
	return Pass, fmt.Sprintf("version %s (commit %s, schema %v) as expected (%s)", ver.Version, ver.Commit, ver.SchemaVersion, v.VersionSource)
}

func checkLogin(ctx context.Context, v *Validator) (string, string) {
	if s, d, ok := needURL(v); !ok {
		return s, d
	}
	if v.Email == "" || v.Password == "" {
		return Fail, "no credentials: pass --email and --password-env VAR (the name of the variable holding the password)"
	}
	code, body, err := v.do(ctx, http.MethodPost, "/api/v1/auth/login", map[string]string{"email": v.Email, "password": v.Password}, "")
	if err != nil {
		return Fail, "POST /api/v1/auth/login: " + err.Error()
	}
	var tok struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	_ = json.Unmarshal(body, &tok)
	v.Red.Add(tok.AccessToken)
	if code != http.StatusOK || tok.AccessToken == "" {
		return Fail, fmt.Sprintf("POST /api/v1/auth/login as %s: %d %s", v.Email, code, short(body))
	}
	v.token = tok.AccessToken
	return Pass, fmt.Sprintf("POST /api/v1/auth/login as %s: 200, %s token (expires in %ds)", v.Email, tok.TokenType, tok.ExpiresIn)
}

func checkIsOwner(ctx context.Context, v *Validator) (string, string) {
	if v.token == "" {
		return Fail, "no token: the login check did not pass"
	}
	code, body, err := v.do(ctx, http.MethodGet, "/api/v1/tenants/capabilities", nil, v.token)
	if err != nil {
		return Fail, "GET /api/v1/tenants/capabilities: " + err.Error()
	}
	var caps struct {
		IsOwner *bool  `json:"is_owner"`
		Role    string `json:"role"`
	}
	_ = json.Unmarshal(body, &caps)
	if code != http.StatusOK || caps.IsOwner == nil {
		return Fail, fmt.Sprintf("GET /api/v1/tenants/capabilities: %d %s", code, short(body))
	}
	if !*caps.IsOwner {
		return Fail, fmt.Sprintf("is_owner=false (role %q): %s is not the owner", caps.Role, v.Email)
	}
	return Pass, fmt.Sprintf("is_owner=true (role %q)", caps.Role)
}

// UI smoke over HTTP: the same four steps an operator clicks, as form posts
// with a cookie jar.
var (
	formRe   = regexp.MustCompile(`(?is)<form\b([^>]*)>(.*?)</form>`)
	attrRe   = regexp.MustCompile(`(?is)\b([a-z_-]+)\s*=\s*("([^"]*)"|'([^']*)')`)
	inputRe  = regexp.MustCompile(`(?is)<input\b[^>]*>`)
	idTenant = regexp.MustCompile(`(?i)\bid\s*=\s*["']tenants["']`)
	idVers   = regexp.MustCompile(`(?i)\bid\s*=\s*["']versions["']`)
	idLogout = regexp.MustCompile(`(?i)\bid\s*=\s*["']logout["']`)
)

type htmlForm struct {
	attrs  map[string]string
	fields url.Values
	body   string
}

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRe.FindAllStringSubmatch(s, -1) {
		val := a[3]
		if a[4] != "" {
			val = a[4]
		}
		m[strings.ToLower(a[1])] = htmlUnescape(val)
	}
	return m
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&#34;", `"`, "&quot;", `"`, "&#39;", "'").Replace(s)
}

func forms(page string) []htmlForm {
	var out []htmlForm
	for _, m := range formRe.FindAllStringSubmatch(page, -1) {
		f := htmlForm{attrs: attrs(m[1]), fields: url.Values{}, body: m[2]}
		for _, in := range inputRe.FindAllString(m[2], -1) {
			a := attrs(in)
			if a["name"] != "" {
				f.fields.Set(a["name"], a["value"])
			}
		}
		out = append(out, f)
	}
	return out
}

func (v *Validator) uiClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	c := *v.HTTP
	c.Jar = jar
	return &c
}

func (v *Validator) fetch(ctx context.Context, c *http.Client, method, ref string, form url.Values) (*http.Response, string, error) {
	u, err := url.Parse(strings.TrimRight(v.URL, "/") + "/")
	if err != nil {
		return nil, "", err
	}
	target, err := u.Parse(ref)
	if err != nil {
		return nil, "", err
	}
	var rd io.Reader
	if form != nil {
		rd = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, target.String(), rd)
	if err != nil {
		return nil, "", err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	req.Header.Set("User-Agent", "casino-dr-validate")
	resp, err := c.Do(req)
	if err != nil {
		return nil, "", err
	}
	defer resp.Body.Close()
	// redirects followed: every hop's response
	for r := resp; r != nil; r = r.Request.Response {
		v.noteID(r)
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp, string(b), nil
}

func checkUI(ctx context.Context, v *Validator) (string, string) {
	if s, d, ok := needURL(v); !ok {
		return s, d
	}
	if v.Email == "" || v.Password == "" {
		return Fail, "no credentials: pass --email and --password-env VAR"
	}
	c := v.uiClient()
	var steps []string
	fail := func(format string, args ...any) (string, string) {
		return Fail, strings.Join(append(steps, "FAIL "+fmt.Sprintf(format, args...)), "; ")
	}
	// 1) Login: find the form with a password field on the page / leads to.
	resp, page, err := v.fetch(ctx, c, http.MethodGet, "/", nil)
	if err != nil {
		return fail("GET /: %v", err)
	}
	var login *htmlForm
	for _, f := range forms(page) {
		if _, ok := f.fields["password"]; ok {
			login = &f
			break
		}
	}
	if login == nil {
		resp, page, err = v.fetch(ctx, c, http.MethodGet, "/login", nil)
		if err != nil {
			return fail("GET /login: %v", err)
		}
		for _, f := range forms(page) {
			if _, ok := f.fields["password"]; ok {
				login = &f
				break
			}
		}
	}
	if login == nil {
		return fail("no login form (a form with a password field) at / or /login: %d", resp.StatusCode)
	}
	action := login.attrs["action"]
	if action == "" {
		action = resp.Request.URL.Path
	}
	login.fields.Set("email", v.Email)
	login.fields.Set("password", v.Password)
	resp, page, err = v.fetch(ctx, c, http.MethodPost, action, login.fields)
	if err != nil {
		return fail("POST %s: %v", action, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail("login POST %s: %d", action, resp.StatusCode)
	}
	steps = append(steps, "login ok")
	// 2) Tenants list.
	if !idTenant.MatchString(page) {
		for _, p := range []string{"/tenants", "/"} {
			if resp, page, err = v.fetch(ctx, c, http.MethodGet, p, nil); err == nil && resp.StatusCode == 200 && idTenant.MatchString(page) {
				break
			}
		}
	}
	if !idTenant.MatchString(page) {
		return fail("no #tenants after login (landed on %s, %d)", resp.Request.URL.Path, resp.StatusCode)
	}
	steps = append(steps, "tenants ok")
	// 3) Settings → Versions.
	resp, page, err = v.fetch(ctx, c, http.MethodGet, "/settings/versions", nil)
	if err != nil {
		return fail("GET /settings/versions: %v", err)
	}
	if resp.StatusCode != 200 || !idVers.MatchString(page) {
		return fail("GET /settings/versions: %d, #versions present=%v", resp.StatusCode, idVers.MatchString(page))
	}
	steps = append(steps, "versions ok")
	// 4) Logout: post the #logout form, then a protected page must ask to log in.
	var logout *htmlForm
	for _, f := range forms(page) {
		if f.attrs["id"] == "logout" || idLogout.MatchString(f.body) {
			logout = &f
			break
		}
	}
	if logout == nil {
		return fail("no #logout form on /settings/versions")
	}
	action = logout.attrs["action"]
	if action == "" {
		action = "/logout"
	}
	resp, _, err = v.fetch(ctx, c, http.MethodPost, action, logout.fields)
	if err != nil {
		return fail("POST %s: %v", action, err)
	}
	resp, page, err = v.fetch(ctx, c, http.MethodGet, "/settings/versions", nil)
	if err != nil {
		return fail("GET /settings/versions after logout: %v", err)
	}
	if idVers.MatchString(page) && resp.StatusCode == 200 {
		return fail("still logged in after logout: /settings/versions still shows #versions")
	}
	steps = append(steps, "logout ok")
	return Pass, strings.Join(steps, "; ")
}

// ChromiumPath returns CASINO_CHROMIUM or /usr/bin/chromium.
func ChromiumPath(getenv func(string) string) string {
	if p := getenv("CASINO_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "/usr/bin/chromium"
}

func (v *Validator) loadLogs() (*LogStats, error) {
	if v.logs == nil && v.logsErr == nil {
		ex := map[string]bool{}
		for _, id := range append(append([]string{}, v.ExcludeIDs...), v.sent...) {
			ex[id] = true
		}
		v.logs, v.logsErr = AnalyzeLogsExcluding(v.Logs, ex)
	}
	return v.logs, v.logsErr
}

func checkLogs5xx(ctx context.Context, v *Validator) (string, string) {
	if v.Logs == nil {
		return Skip, "no --logs FILE|-"
	}
	s, err := v.loadLogs()
	if err != nil {
		return Fail, "read logs: " + err.Error()
	}
	now := time.Now()
	if v.Now != nil {
		now = v.Now()
	}
	st, detail := FiveXX(s, FiveXXOptions{Window: v.Window, Now: now})
	return st, detail + excludedNote(s)
}

func excludedNote(s *LogStats) string {
	if s.Excluded == 0 {
		return ""
	}
	return fmt.Sprintf("; %d requests dr itself sent left out by their request ids", s.Excluded)
}

// Thresholds of FiveXXDropping: a drop is a fall of at least 20 % from the
// minutes before; below 1 % of requests the rate counts as settled (the
// background errors of a healthy service).
const (
	dropFactor  = 0.8
	settledRate = 0.01
)

// FiveXXDropping is FiveXX with a 10-minute window and no clock.
func FiveXXDropping(s *LogStats) (string, string) {
	return FiveXX(s, FiveXXOptions{Window: 10 * time.Minute})
}

// FiveXXOptions adjust FiveXX.
type FiveXXOptions struct {
	// Window is how many of the newest minutes the detail lists, every one
	// of them, those without requests included (default 10 minutes).
	Window time.Duration
	// Now is when the logs are judged: when the newest logged minute has
	// not ended yet, the detail says so and how long to wait. Zero: not
	// known (a log file read after the fact).
	Now time.Time
}

// FiveXX judges the per-minute 5xx rate. It passes when the newest minute
// has no 5xx, or when the rate over the newest k minutes is below the peak
// minute's and either settled or at least 20 % below the k minutes before
// them (k is 3, or half the minutes when there are fewer than 6: one noisy
// minute must not decide). A plateau above 1 % fails. The detail lists each
// minute of the window as 5xx/total, and says when the newest minute is
// still incomplete: right after a fix, that minute still holds the errors
// from before it, and the verdict can change once the minute has ended.
func FiveXX(s *LogStats, o FiveXXOptions) (string, string) {
	if s.Requests == 0 {
		return Fail, fmt.Sprintf("no event=request lines in %d lines", s.Lines)
	}
	if o.Window < time.Minute {
		o.Window = 10 * time.Minute
	}
	n := len(s.Minutes)
	last := s.Minutes[n-1]
	trend := windowTrend(s, o.Window)
	if wait := last.Minute.Add(time.Minute).Sub(o.Now); !o.Now.IsZero() && wait > 0 && wait <= time.Minute {
		secs := int(math.Ceil(wait.Seconds()))
		if last.Errors > 0 {
			trend += fmt.Sprintf("; the newest minute %s is still incomplete (%ds left): wait %ds and validate again, since its 5xx may be from before the fix", last.Minute.Format("15:04"), secs, secs)
		} else {
			trend += fmt.Sprintf("; the newest minute %s is still incomplete (%ds left)", last.Minute.Format("15:04"), secs)
		}
	}
	if s.Errors == 0 || last.Errors == 0 {
		return Pass, trend
	}
	peak := s.Minutes[0]
	for _, m := range s.Minutes {
		if m.Rate() > peak.Rate() {
			peak = m
		}
	}
	k := min(3, max(1, n/2))
	sum := func(ms []MinuteStat) MinuteStat {
		var t MinuteStat
		for _, m := range ms {
			t.Total += m.Total
			t.Errors += m.Errors
		}
		return t
	}
	recent := sum(s.Minutes[n-k:])
	before := sum(s.Minutes[max(0, n-2*k) : n-k])
	falling := before.Total == 0 || recent.Rate() <= dropFactor*before.Rate() || recent.Rate() < settledRate
	if recent.Rate() < peak.Rate() && falling {
		return Pass, fmt.Sprintf("last %d min at %.1f%% 5xx, down from %.1f%% before and a peak of %.1f%% at %s; %s",
			k, 100*recent.Rate(), 100*before.Rate(), 100*peak.Rate(), peak.Minute.Format("15:04"), trend)
	}
	return Fail, fmt.Sprintf("not dropping: last %d min at %.1f%% 5xx vs %.1f%% the %d min before, peak %.1f%% at %s; %s",
		k, 100*recent.Rate(), 100*before.Rate(), k, 100*peak.Rate(), peak.Minute.Format("15:04"), trend)
}

// maxTrendMinutes bounds the minutes a detail lists (a --window of days).
const maxTrendMinutes = 180

// windowTrend lists every minute of the window ending at the newest logged
// minute as "HH:MM 5xx/total", minutes without requests as 0/0, and says
// how many minutes before the window the logs hold.
func windowTrend(s *LogStats, window time.Duration) string {
	last := s.Last()
	first := last.Add(-window + time.Minute)
	if limit := last.Add(-(maxTrendMinutes - 1) * time.Minute); first.Before(limit) {
		first = limit
	}
	if s.Minutes[0].Minute.After(first) {
		first = s.Minutes[0].Minute
	}
	byMin := make(map[time.Time]MinuteStat, len(s.Minutes))
	earlier := 0
	for _, m := range s.Minutes {
		byMin[m.Minute] = m
		if m.Minute.Before(first) {
			earlier++
		}
	}
	var parts []string
	for t := first; !t.After(last); t = t.Add(time.Minute) {
		m := byMin[t]
		parts = append(parts, fmt.Sprintf("%s %d/%d", t.Format("15:04"), m.Errors, m.Total))
	}
	out := fmt.Sprintf("5xx/total per minute over the last %s: %s", window, strings.Join(parts, ", "))
	if earlier > 0 {
		out += fmt.Sprintf(" (and %d logged minutes before)", earlier)
	}
	return out
}

func checkLogsP95(ctx context.Context, v *Validator) (string, string) {
	if v.Logs == nil {
		return Skip, "no --logs FILE|-"
	}
	s, err := v.loadLogs()
	if err != nil {
		return Fail, "read logs: " + err.Error()
	}
	if s.Requests == 0 {
		return Fail, "no event=request lines"
	}
	from := s.Last().Add(-v.Window + time.Minute)
	now, n := s.P95Between(from, time.Time{})
	base, src := v.BaselineP95MS, "--baseline-p95 or declare"
	if base <= 0 && !v.ImpactStart.IsZero() {
		var bn int
		base, bn = s.P95Between(time.Time{}, v.ImpactStart.Truncate(time.Minute))
		src = fmt.Sprintf("logs before impact start %s, %d requests", v.ImpactStart.Format(time.RFC3339), bn)
		if bn == 0 {
			base = 0
		}
	}
	if base <= 0 || math.IsNaN(base) {
		return Fail, fmt.Sprintf("p95 %.3f ms over the last %s (%d requests), but no baseline: pass --baseline-p95, record one at declare, or give logs from before the impact start", now, v.Window, n)
	}
	limit := base * (1 + v.P95Tolerance)
	detail := fmt.Sprintf("p95 %.3f ms over the last %s (%d requests) vs baseline %.3f ms (+%.0f%% allowed, from %s)", now, v.Window, n, base, 100*v.P95Tolerance, src) + excludedNote(s)
	if now > limit {
		return Fail, detail
	}
	return Pass, detail
}

func checkLogsErrors(ctx context.Context, v *Validator) (string, string) {
	if v.Logs == nil {
		return Skip, "no --logs FILE|-"
	}
	s, err := v.loadLogs()
	if err != nil {
		return Info, "read logs: " + err.Error()
	}
	refs := s.ErrorsSince(s.Last().Add(-v.Window + time.Minute))
	if len(refs) == 0 {
		return Info, fmt.Sprintf("no 5xx in the last %s", v.Window)
	}
	var lines []string
	for i, r := range refs {
		if i >= 20 {
			lines = append(lines, fmt.Sprintf("… %d more", len(refs)-20))
			break
		}
		v.lastIDs = append(v.lastIDs, r.RequestID)
		lines = append(lines, fmt.Sprintf("%s %s %d %s", r.TS.Format("15:04:05"), r.RequestID, r.Status, r.Route))
	}
	return Info, fmt.Sprintf("%d 5xx in the last %s: %s", len(refs), v.Window, strings.Join(lines, "; "))
}
