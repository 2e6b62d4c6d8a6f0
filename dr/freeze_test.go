package dr

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

// TestFreezePlanMasksPassword: the requests a dry run prints and the
// journal records name the API calls, then the database fallback, and
// never the owner's password.
func TestFreezePlanMasksPassword(t *testing.T) {
	open := func(context.Context) (FreezeStore, func(), error) { return nil, nil, nil }
	o := FreezeOptions{On: true, URL: "http://127.0.0.1:8080/", Email: "owner@casino.com", Password: "hunter2-secret", Reason: "incident", Open: open, Database: "postgres://casino:***@db/casino"}
	want := [][]string{
		{"POST", "http://127.0.0.1:8080/api/v1/auth/login", `{"email":"owner@casino.com","password":"***"}`},
		{"POST", "http://127.0.0.1:8080" + LoginFreezePath, `{"enabled":true,"reason":"incident"}`},
		{"database", "postgres://casino:***@db/casino", "set", "login_freeze", "on", "(only when the API does not answer)"},
	}
	got := o.Plan()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Plan:\n got %q\nwant %q", got, want)
	}
	for _, r := range got {
		if strings.Contains(strings.Join(r, " "), o.Password) {
			t.Fatalf("the plan carries the password: %q", r)
		}
	}
	o.URL, o.On = "", false
	if got := o.Plan(); len(got) != 1 || got[0][4] != "off" {
		t.Errorf("Plan without URL = %q, want the database write only", got)
	}
}
