package dr

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"casino"
)

// LoginFreezePath is the backend's owner-only kill switch for admin logins.
const LoginFreezePath = "/api/v1/admin/login-freeze"

// LoginFreeze logs in as the owner and turns the backend's admin login
// freeze on or off. The returned outputs describe the two requests (the
// password and token never appear in them).
//
// The request ids the server echoed go to sent, so the log checks leave
// these requests out.
func LoginFreeze(ctx context.Context, baseURL, email, password string, on bool, reason string, red *Redactor, sent *[]string) (outs []Output, err error) {
	v := &Validator{URL: baseURL, Email: email, Password: password, HTTP: &http.Client{Timeout: 15 * time.Second}, Red: red}
	red.Add(password)
	defer func() {
		if sent != nil {
			*sent = append(*sent, v.sent...)
		}
	}()
	t0 := time.Now().UTC()
	status, detail := checkLogin(ctx, v)
	o := Output{Argv: []string{"POST", strings.TrimRight(baseURL, "/") + "/api/v1/auth/login", `{"email":"` + email + `","password":"***"}`}, Start: t0, End: time.Now().UTC(), Stdout: detail}
	if status != Pass {
		o.ExitCode = 1
		return append(outs, o), fmt.Errorf("owner login: %s", red.String(detail))
	}
	outs = append(outs, o)
	body := map[string]any{"enabled": on, "reason": reason}
	raw, _ := json.Marshal(body)
	t0 = time.Now().UTC()
	code, resp, err := v.do(ctx, http.MethodPost, LoginFreezePath, body, v.token)
	o = Output{Argv: []string{"POST", strings.TrimRight(baseURL, "/") + LoginFreezePath, string(raw)}, Start: t0, End: time.Now().UTC()}
	if err != nil {
		o.ExitCode, o.Stderr = 1, err.Error()
		return append(outs, o), fmt.Errorf("login freeze: %w", err)
	}
	o.Stdout = fmt.Sprintf("%d %s", code, short(resp))
	if code < 200 || code > 299 {
		o.ExitCode = 1
		return append(outs, o), fmt.Errorf("login freeze: %d %s", code, red.String(short(resp)))
	}
	return append(outs, o), nil
}

// TypeFreeze is the journal entry of a login freeze change or check: the
// state wanted, the path that set or read it (the API or the database),
// and, after a restore, what the restored database held.
const TypeFreeze = "login_freeze"

// Freeze paths and triggers.
const (
	FreezeViaAPI      = "api"
	FreezeViaDatabase = "database"
	FreezeViaFacts    = "restore facts"

	FreezeTriggerCommand = "login-freeze"
	FreezeTriggerRestore = "after restore"
)

// FreezeRecord is the data of a login_freeze entry.
type FreezeRecord struct {
	Want    string `json:"want"` // "on" or "off"
	Path    string `json:"path"` // FreezeViaAPI, FreezeViaDatabase or FreezeViaFacts
	Trigger string `json:"trigger"`
	URL     string `json:"url,omitempty"`
	// APIProblem says why the API was not used (it did not answer, or no
	// --url was given).
	APIProblem string `json:"api_problem,omitempty"`
	// Database is DATABASE_URL with its password masked.
	Database string `json:"database,omitempty"`
	// Found is the state the restored database held (after a restore).
	Found     string `json:"found,omitempty"`
	Reapplied bool   `json:"reapplied,omitempty"`
	RestoreID string `json:"restore_id,omitempty"`
	OK        bool   `json:"ok"`
	Error     string `json:"error,omitempty"`
	// Remedy is what the operator runs when OK is false.
	Remedy string `json:"remedy,omitempty"`
	// SentRequestIDs are the ids the server echoed to the requests sent:
	// the log checks leave them out.
	SentRequestIDs []string `json:"sent_request_ids,omitempty"`
}

// FreezeStore is the database side of the login freeze: the same
// system_state switch the API's POST /api/v1/admin/login-freeze writes
// (sqlstore.DB implements it).
type FreezeStore interface {
	SystemStatus(ctx context.Context) (*casino.SystemStatus, error)
	SetLoginFreeze(ctx context.Context, enabled bool, reason string) (*casino.Switch, error)
}

// FreezeOpener opens the FreezeStore at DATABASE_URL; the func it returns
// closes it. nil means DATABASE_URL is not set.
type FreezeOpener func(ctx context.Context) (FreezeStore, func(), error)

// FreezeOptions are the inputs of SetFreeze.
type FreezeOptions struct {
	On bool
	// URL, Email and Password reach the API; URL may be empty.
	URL, Email, Password string
	Reason               string
	// Open reaches the database when the API does not answer; Database
	// names it (password masked) for the journal.
	Open     FreezeOpener
	Database string
	Red      *Redactor
}

// Plan returns the requests SetFreeze may send, for --dry-run and the
// journal (the password masked): the login and the freeze through the API
// when URL is set, then the database write it falls back to.
func (o FreezeOptions) Plan() [][]string {
	var reqs [][]string
	if o.URL != "" {
		base := strings.TrimRight(o.URL, "/")
		reqs = append(reqs,
			[]string{"POST", base + "/api/v1/auth/login", fmt.Sprintf(`{"email":%q,"password":"***"}`, o.Email)},
			[]string{"POST", base + LoginFreezePath, fmt.Sprintf(`{"enabled":%v,"reason":%q}`, o.On, o.Reason)})
	}
	if o.Open != nil {
		reqs = append(reqs, []string{"database", o.Database, "set", "login_freeze", onOff(o.On), "(only when the API does not answer)"})
	}
	return reqs
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// apiAnswers reports why the backend at base does not answer, or "" when
// it does: GET /api/health (which never touches the database) fails to
// connect, times out, or gets a proxy's 502/503/504.
func apiAnswers(ctx context.Context, base string, sent *[]string) string {
	c := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/health", nil)
	if err != nil {
		return err.Error()
	}
	resp, err := c.Do(req)
	if err != nil {
		return "GET /api/health: " + err.Error()
	}
	resp.Body.Close()
	if id := resp.Header.Get("X-Request-Id"); id != "" {
		*sent = append(*sent, id)
	}
	switch resp.StatusCode {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return fmt.Sprintf("GET /api/health: %d", resp.StatusCode)
	}
	return ""
}

// SetFreeze turns the admin login freeze on or off through the API when it
// answers, else straight in the database at DATABASE_URL (the way `casino
// admin login-freeze` does: the same switch, audited with actor "cli"),
// and reads the database back. The record says which path was used.
func SetFreeze(ctx context.Context, o FreezeOptions) (FreezeRecord, []Output, error) {
	rec := FreezeRecord{Want: onOff(o.On), Trigger: FreezeTriggerCommand, URL: o.URL}
	if o.URL == "" {
		rec.APIProblem = "no --url given"
	} else {
		rec.APIProblem = apiAnswers(ctx, o.URL, &rec.SentRequestIDs)
	}
	if rec.APIProblem == "" {
		rec.Path = FreezeViaAPI
		if o.Password == "" {
			err := errors.New("the API answers but the owner password is empty: --password-env names the variable holding it")
			rec.Error = err.Error()
			return rec, nil, err
		}
		outs, err := LoginFreeze(ctx, o.URL, o.Email, o.Password, o.On, o.Reason, o.Red, &rec.SentRequestIDs)
		if err != nil {
			rec.Error = err.Error()
			return rec, outs, err
		}
		rec.OK = true
		return rec, outs, nil
	}
	rec.Path, rec.Database = FreezeViaDatabase, o.Database
	if o.Open == nil {
		err := fmt.Errorf("the API does not answer (%s) and DATABASE_URL is not set: set DATABASE_URL to the production database and run this again", rec.APIProblem)
		rec.Error = err.Error()
		return rec, nil, err
	}
	out, found, err := setFreezeDB(ctx, o.Open, o.On, o.Reason, o.Database)
	if err != nil {
		rec.Error = err.Error()
		return rec, []Output{out}, err
	}
	rec.Found, rec.OK = found, true
	return rec, []Output{out}, nil
}

// setFreezeDB sets the switch in the database and reads it back; found is
// the state read back.
func setFreezeDB(ctx context.Context, open FreezeOpener, on bool, reason, dbName string) (Output, string, error) {
	o := Output{Argv: []string{"database", dbName, "set", "login_freeze", onOff(on)}, Start: time.Now().UTC(), ExitCode: 1}
	fail := func(err error) (Output, string, error) {
		o.End, o.Stderr = time.Now().UTC(), err.Error()
		return o, "", err
	}
	store, closeDB, err := open(ctx)
	if err != nil {
		return fail(fmt.Errorf("open DATABASE_URL: %w", err))
	}
	defer closeDB()
	ctx = casino.NewBreakGlassContext(ctx)
	sw, err := store.SetLoginFreeze(ctx, on, reason)
	if err != nil {
		return fail(fmt.Errorf("set the login freeze in the database: %w", err))
	}
	st, err := store.SystemStatus(ctx)
	if err != nil {
		return fail(fmt.Errorf("read the login freeze back: %w", err))
	}
	found := onOff(st.LoginFreeze.Enabled)
	if found != onOff(on) {
		return fail(fmt.Errorf("the database reads the login freeze back as %s after setting it %s", found, onOff(on)))
	}
	b, _ := json.Marshal(sw)
	o.End, o.ExitCode, o.Stdout = time.Now().UTC(), 0, "login_freeze "+found+": "+string(b)
	return o, found, nil
}

// CheckFreezeAfterRestore checks, after a restore counted, that the login
// freeze is in the state the incident set: read from the restored
// database (DATABASE_URL), and re-applied there when it is not. Without
// DATABASE_URL it accepts the restore's own facts when they say the state
// was carried over. The check is journaled; an error says what to run.
// Nothing is checked when the incident never set the freeze.
func (in *Incident) CheckFreezeAfterRestore(ctx context.Context, restored *RestoreRecord, open FreezeOpener, dbName string) (*FreezeRecord, error) {
	want := in.State.LoginFrozen
	if want == "" || restored == nil || !restored.Counts() {
		return nil, nil
	}
	rec := FreezeRecord{Want: want, Trigger: FreezeTriggerRestore, RestoreID: restored.Facts.RestoreID}
	remedy := func(found string) string {
		return fmt.Sprintf("the incident set the login freeze %s and the restored database has it %s: run 'casino dr login-freeze %s --force --yes' (with DATABASE_URL set while the API is down) or 'casino admin login-freeze %s'", want, found, want, want)
	}
	if open == nil {
		rec.Path = FreezeViaFacts
		if c := restored.Facts.Carried; c != nil {
			rec.Found = onOff(c.LoginFreeze)
		}
		switch {
		case rec.Found == want:
			rec.OK = true
		case rec.Found == "":
			rec.Error = "DATABASE_URL is not set here and the restore's facts say nothing about the freeze"
			rec.Remedy = remedy("unknown")
		default:
			rec.Error = "the restore's facts say it carried the login freeze " + rec.Found
			rec.Remedy = remedy(rec.Found)
		}
	} else {
		rec.Path, rec.Database = FreezeViaDatabase, dbName
		rec.Found, rec.Error = readFreeze(ctx, open)
		switch {
		case rec.Error != "":
			rec.Remedy = remedy("unknown")
		case rec.Found == want:
			rec.OK = true
		default:
			reason := fmt.Sprintf("re-applied by casino dr after restore %s (incident %s)", rec.RestoreID, in.ID)
			if _, found, err := setFreezeDB(ctx, open, want == "on", reason, dbName); err != nil {
				rec.Error, rec.Remedy = err.Error(), remedy(rec.Found)
			} else {
				rec.Reapplied, rec.OK = found == want, found == want
			}
		}
	}
	if err := in.Append(TypeFreeze, rec); err != nil {
		return &rec, err
	}
	if !rec.OK {
		return &rec, fmt.Errorf("login freeze after the restore: %s; %s", rec.Error, rec.Remedy)
	}
	return &rec, nil
}

func readFreeze(ctx context.Context, open FreezeOpener) (string, string) {
	store, closeDB, err := open(ctx)
	if err != nil {
		return "", "open DATABASE_URL: " + err.Error()
	}
	defer closeDB()
	st, err := store.SystemStatus(casino.NewBreakGlassContext(ctx))
	if err != nil {
		return "", "read the login freeze: " + err.Error()
	}
	return onOff(st.LoginFreeze.Enabled), ""
}
