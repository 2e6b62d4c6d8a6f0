package adminui

import (
	"bytes"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"casino"
	"casino/logging"
)

// pageNames are the templates under templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "tenants", "tenant", "settings", "versions", "audit", "audit_event", "setting", "dr", "error"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"date": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02")
	},
	"iso":     func(t time.Time) string { return t.UTC().Format(time.RFC3339) },
	"age":     age,
	"list":    func(fs ...*casino.BackupFreshness) []*casino.BackupFreshness { return fs },
	"ptrTime": ptrTime,
	"short": func(s string) string {
		if len(s) > 12 {
			return s[:12]
		}
		return s
	},
}

func (u *UI) parseTemplates() error {
	u.pages = map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("adminui: parse %s: %w", name, err)
		}
		u.pages[name] = t
	}
	return nil
}

// view is what every page template receives.
type view struct {
	Title     string
	Nav       string // "tenants", "audit", "settings" or "dr": the current section
	S         *session
	Flash     string
	Error     string            // the form error, shown above the form
	Fields    map[string]string // per-field errors
	Form      map[string]string // the submitted values, to refill the form
	RequestID string
	AssetV    string
	Data      any
}

// Banners are the warnings shown on every page while a switch is on.
func (v *view) Banners() []string {
	if v.S == nil || v.S.status == nil {
		return nil
	}
	var out []string
	if f := v.S.status.LoginFreeze; f.Enabled {
		out = append(out, "Login freeze is ON: tenant admins cannot sign in"+reason(f.Reason))
	}
	if m := v.S.status.Maintenance; m.Enabled {
		out = append(out, "Maintenance mode is ON: changes are refused, reads work"+reason(m.Reason))
	}
	return out
}

func reason(s string) string {
	if s == "" {
		return "."
	}
	return " — " + s
}

// render writes the page with status.
func (u *UI) render(w http.ResponseWriter, r *http.Request, status int, name string, v *view) {
	t := u.pages[name]
	v.AssetV = u.assetV
	if v.RequestID == "" {
		v.RequestID = u.requestID(r)
	}
	if v.Fields == nil {
		v.Fields = map[string]string{}
	}
	if v.Form == nil {
		v.Form = map[string]string{}
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		// A template bug: log it, answer a plain page, never the error text.
		u.log.ErrorContext(r.Context(), "template_failed", slog.String("template", name), slog.String(logging.FieldError, err.Error()), slog.String(logging.FieldRequestID, v.RequestID))
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprintf(w, "Internal error. Request id: %s\n", v.RequestID)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(buf.Bytes())
}

// errorData is the body of the error page.
type errorData struct {
	Status  int
	Heading string
	Message string
}

func (u *UI) renderError(w http.ResponseWriter, r *http.Request, s *session, status int, heading, msg string) {
	u.render(w, r, status, "error", &view{Title: heading, S: s, Data: errorData{status, heading, msg}})
}

// fail answers a failed backend call made for a page: an expired or revoked
// token goes back to login, an unreachable backend gets the 503 page, and
// anything unexpected a generic page whose details only reach the log.
func (u *UI) fail(w http.ResponseWriter, r *http.Request, s *session, err error) {
	var ae *APIError
	switch {
	case errors.Is(err, ErrUnavailable):
		u.log.WarnContext(r.Context(), "backend_unavailable", slog.String(logging.FieldError, err.Error()), slog.String(logging.FieldRequestID, u.requestID(r)))
		w.Header().Set("Retry-After", "5")
		u.renderError(w, r, nil, http.StatusServiceUnavailable, "Backend unavailable",
			"The console cannot reach the casino backend right now. Nothing was changed. Try again in a moment; if it persists, check the backend's health (/api/ready).")
	case errors.As(err, &ae):
		switch ae.Status {
		case http.StatusUnauthorized:
			u.toLogin(w, r, "expired")
		case http.StatusForbidden:
			u.renderError(w, r, s, http.StatusForbidden, "Not allowed", "Your account is not allowed to see or do this.")
		case http.StatusNotFound:
			u.renderError(w, r, s, http.StatusNotFound, "Not found", "There is no such page, or it is not visible to your account.")
		case http.StatusServiceUnavailable:
			u.renderError(w, r, s, http.StatusServiceUnavailable, "Temporarily unavailable", ae.Message)
		default:
			u.log.ErrorContext(r.Context(), "backend_error", slog.String(logging.FieldError, err.Error()), slog.String(logging.FieldRequestID, u.requestID(r)))
			u.renderError(w, r, s, http.StatusBadGateway, "Something went wrong", "The backend refused the request unexpectedly. The request id below identifies it in the logs.")
		}
	default:
		u.log.ErrorContext(r.Context(), "ui_error", slog.String(logging.FieldError, err.Error()), slog.String(logging.FieldRequestID, u.requestID(r)))
		u.renderError(w, r, s, http.StatusInternalServerError, "Something went wrong", "An unexpected error happened. The request id below identifies it in the logs.")
	}
}

// formError turns a failed form submission into the message and field
// errors shown inline, or reports false when the error is not about the form
// (then fail handles it).
func formError(err error) (msg string, fields map[string]string, status int, ok bool) {
	var ae *APIError
	if !errors.As(err, &ae) {
		return "", nil, 0, false
	}
	switch ae.Status {
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusConflict, http.StatusRequestEntityTooLarge:
		return ae.Message, ae.Fields, ae.Status, true
	case http.StatusServiceUnavailable, http.StatusForbidden:
		return ae.Message, nil, ae.Status, true
	}
	return "", nil, 0, false
}

// retryText says when a throttled user may try again.
func retryText(d time.Duration) string {
	if d <= 0 {
		return "Try again later."
	}
	at := time.Now().Add(d).UTC().Format("15:04:05 UTC")
	switch {
	case d < time.Minute:
		return fmt.Sprintf("Try again in %d seconds (at %s).", int(d.Seconds()), at)
	default:
		m := int((d + time.Minute - 1) / time.Minute)
		unit := "minutes"
		if m == 1 {
			unit = "minute"
		}
		return fmt.Sprintf("Try again in %d %s (at %s).", m, unit, at)
	}
}

// trimLower normalises an email as typed.
func trimLower(s string) string { return strings.ToLower(strings.TrimSpace(s)) }
