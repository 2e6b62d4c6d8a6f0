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

// DurableTables are the tables whose rows the application never prunes: a
// restored service must hold at least as many as the restore (or the
// service at declare) had. Revoked tokens and login failures are pruned by
// the application and not compared.
var DurableTables = []string{"tenants", "users", "settings", "versions", "audit_events"}

// DataExpectation is what the data check compares the running service
// with: the journaled restore's facts, or else the data summary recorded at
// declare.
type DataExpectation struct {
	// Source says where the expectation comes from, for the detail.
	Source string
	// RestoreID the service must answer; "" when it must answer none.
	RestoreID string
	RowCounts map[string]int64
}

// ExpectedData returns what the data check expects of an incident: the
// facts of the restore that counts (see State.Restored), or else the
// summary recorded at declare, or nil when there is neither.
func (st *State) ExpectedData() *DataExpectation {
	if r := st.Restored(); r != nil {
		return &DataExpectation{Source: fmt.Sprintf("restore of %s (journaled facts)", r.Facts.Backup.Name),
			RestoreID: r.Facts.RestoreID, RowCounts: r.Facts.RowCounts}
	}
	if d := st.DataBefore; d != nil {
		return &DataExpectation{Source: "data summary recorded at declare", RestoreID: d.RestoreID, RowCounts: d.RowCounts}
	}
	return nil
}

// CompareData returns every way the running service's data falls short of
// the expectation: another restore_id, a durable table with fewer rows, an
// empty tenants table where the expectation had tenants.
func CompareData(want *DataExpectation, got *casino.DataSummary) []string {
	var bad []string
	if got.RestoreID != want.RestoreID {
		g, w := got.RestoreID, want.RestoreID
		if g == "" {
			g = "none"
		}
		if w == "" {
			w = "none"
		}
		bad = append(bad, fmt.Sprintf("restore_id is %s, expected %s: the service does not run on the restored copy", g, w))
	}
	if want.RowCounts["tenants"] > 0 && got.RowCounts["tenants"] == 0 {
		bad = append(bad, fmt.Sprintf("tenants is empty, expected %d rows", want.RowCounts["tenants"]))
	}
	for _, t := range DurableTables {
		w, ok := want.RowCounts[t]
		if !ok {
			continue
		}
		if g := got.RowCounts[t]; g < w && !(t == "tenants" && g == 0) {
			bad = append(bad, fmt.Sprintf("%s has %d rows, fewer than the %d expected", t, g, w))
		}
	}
	return bad
}

func identityString(id casino.RestoreTarget) string {
	parts := []string{id.Engine}
	for _, p := range []string{id.Database, id.SystemIdentifier, id.Path} {
		if p != "" {
			parts = append(parts, p)
		}
	}
	return strings.Join(parts, " ")
}

func (v *Validator) dataSummary(ctx context.Context, token string) (*casino.DataSummary, error) {
	code, body, err := v.do(ctx, http.MethodGet, "/api/v1/admin/data-summary", nil, token)
	if err != nil {
		return nil, fmt.Errorf("GET /api/v1/admin/data-summary: %w", err)
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /api/v1/admin/data-summary: %d %s", code, short(body))
	}
	var s casino.DataSummary
	if err := json.Unmarshal(body, &s); err != nil || s.RowCounts == nil {
		return nil, fmt.Errorf("GET /api/v1/admin/data-summary: not a data summary: %s", short(body))
	}
	return &s, nil
}

func checkData(ctx context.Context, v *Validator) (string, string) {
	if v.token == "" {
		return Fail, "no token: the login check did not pass"
	}
	got, err := v.dataSummary(ctx, v.token)
	if err != nil {
		return Fail, err.Error()
	}
	var counts []string
	for _, t := range DurableTables {
		c := fmt.Sprintf("%s %d", t, got.RowCounts[t])
		if v.Data != nil {
			if w, ok := v.Data.RowCounts[t]; ok {
				c += fmt.Sprintf("/%d", w)
			}
		}
		counts = append(counts, c)
	}
	seen := fmt.Sprintf("restore_id %q, %s; database %s", got.RestoreID, strings.Join(counts, ", "), identityString(got.Identity))
	if v.Data == nil {
		return Skip, "nothing to compare with: no restore facts journaled (casino dr run -- casino restore --json ...) and no data summary recorded at declare (declare --url with the owner's password); service answers " + seen
	}
	if bad := CompareData(v.Data, got); len(bad) > 0 {
		return Fail, strings.Join(bad, "; ") + " (expected from " + v.Data.Source + "; service answers " + seen + ")"
	}
	return Pass, "matches the " + v.Data.Source + ": " + seen
}

// OwnerDataSummary logs in as the owner and reads the data summary: what
// declare records when no restore will tell what the data should be. It
// also returns the request ids of the requests it sent.
func OwnerDataSummary(ctx context.Context, base, email, password string) (*casino.DataSummary, []string, error) {
	v := &Validator{URL: base, Email: email, Password: password, HTTP: &http.Client{Timeout: 10 * time.Second}, Red: &Redactor{}}
	v.Red.Add(password)
	if st, detail := checkLogin(ctx, v); st != Pass {
		return nil, v.sent, errors.New(v.Red.String(detail))
	}
	s, err := v.dataSummary(ctx, v.token)
	return s, v.sent, err
}

// SentRequestIDs returns every request id dr sent before now, as journaled
// by declare, earlier validations, login-freeze and restore-traffic.
func (st *State) SentRequestIDs() []string {
	ids := append([]string{}, st.Declaration.SentRequestIDs...)
	for _, v := range st.Validations {
		ids = append(ids, v.SentRequestIDs...)
	}
	for _, f := range st.Freezes {
		ids = append(ids, f.SentRequestIDs...)
	}
	return append(ids, st.SentRequests...)
}

// Expect fills in what the incident's journal says validate should find,
// where the flags left it open: the expected version (State.ExpectedVersion),
// the p95 baseline, the impact start, the data expectation, and the request
// ids dr sent earlier (the log checks leave them out).
func (v *Validator) Expect(st *State) {
	if v.ExpectVersion == "" {
		v.ExpectVersion, v.VersionSource = st.ExpectedVersion()
	}
	if v.BaselineP95MS == 0 {
		v.BaselineP95MS = st.BaselineP95MS
	}
	v.ImpactStart = st.ImpactStart
	v.Data = st.ExpectedData()
	v.ExcludeIDs = st.SentRequestIDs()
}
