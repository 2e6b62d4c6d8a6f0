package dr

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// LoginFreezePath is the backend's owner-only kill switch for admin logins.
const LoginFreezePath = "/api/v1/admin/login-freeze"

// LoginFreeze logs in as the owner and turns the backend's admin login
// freeze on or off. The returned outputs describe the two requests (the
// password and token never appear in them).
func LoginFreeze(ctx context.Context, baseURL, email, password string, on bool, reason string, red *Redactor) ([]Output, error) {
	v := &Validator{URL: baseURL, Email: email, Password: password, HTTP: &http.Client{Timeout: 15 * time.Second}, Red: red}
	red.Add(password)
	var outs []Output
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
