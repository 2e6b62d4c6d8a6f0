package api

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"casino"
	"casino/observe"
)

// LoginRequest is the body of POST /api/v1/auth/login.
type LoginRequest struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

// routeOpts tune the authentication wrapper of a route.
type routeOpts int

const (
	// duringMaintenance lets a mutating route run in maintenance mode:
	// logout and the owner's switches.
	duringMaintenance routeOpts = 1 << iota
)

// withMeta puts the request id and client IP where the services (audit)
// read them.
func withMeta(r *http.Request) *http.Request {
	return r.WithContext(metaContext(r))
}

// metaContext is the request's context with its casino.RequestMeta.
func metaContext(r *http.Request) context.Context {
	ctx := r.Context()
	return casino.NewContextWithRequestMeta(ctx, casino.RequestMeta{RequestID: observe.RequestID(ctx), ClientRequestID: observe.ClientRequestID(ctx), RemoteIP: observe.ClientIP(ctx)})
}

// public wraps a handler that needs no token.
func (s *Server) public(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			Error(w, r, err)
			return
		}
		h(w, withMeta(r))
	}
}

// bearer returns the token of an "Authorization: Bearer ..." header.
func bearer(r *http.Request) (string, bool) {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authed wraps a handler that needs a valid access token: it verifies the
// token (signature, claims, revocation, tenant, freeze), puts the identity
// in the context and the request log, and refuses mutating calls while
// maintenance mode is on.
func (s *Server) authed(h http.HandlerFunc, opts ...routeOpts) http.HandlerFunc {
	var o routeOpts
	for _, x := range opts {
		o |= x
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if err := checkQuery(r); err != nil {
			Error(w, r, err)
			return
		}
		tok, ok := bearer(r)
		if !ok {
			w.Header().Set("WWW-Authenticate", `Bearer realm="casino"`)
			Error(w, r, casino.Errorf(casino.EUNAUTHORIZED, "Authentication required: send Authorization: Bearer <access_token>."))
			return
		}
		// One copy of the request, with the meta and the identity both.
		ctx := metaContext(r)
		id, sess, err := s.cfg.Auth.Authenticate(ctx, tok)
		if err != nil {
			if casino.ErrorCode(err) == casino.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="casino", error="invalid_token"`)
			}
			Error(w, r, err)
			return
		}
		observe.SetIdentity(r.Context(), id.UserID, id.TenantID)
		if sess.Maintenance && o&duringMaintenance == 0 && r.Method != http.MethodGet && r.Method != http.MethodHead {
			msg := "The platform is in maintenance mode: changes are refused until it ends; reads keep working."
			if sess.MaintenanceReason != "" {
				msg += " Reason: " + sess.MaintenanceReason
			}
			Error(w, r, casino.Errorf(casino.EUNAVAILABLE, "%s", msg))
			return
		}
		h(w, r.WithContext(casino.NewContextWithIdentity(ctx, id)))
	}
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	var req LoginRequest
	if err := Decode(w, r, &req); err != nil {
		Error(w, r, err)
		return
	}
	tok, err := s.cfg.Auth.Login(r.Context(), req.Email, req.Password)
	if err != nil {
		Error(w, r, err)
		return
	}
	observe.SetIdentity(r.Context(), tok.UserID, tok.TenantID)
	JSON(w, http.StatusOK, tok)
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Auth.Logout(r.Context()); err != nil {
		Error(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// handleCapabilities answers casino.Capabilities. It is the request every
// console page makes, so its body is written by hand, byte for byte what
// JSON would write (TestCapabilitiesBody holds it to that).
func (s *Server) handleCapabilities(w http.ResponseWriter, r *http.Request) {
	c := casino.CapabilitiesFor(casino.IdentityFromContext(r.Context()))
	h := w.Header()
	h["Content-Type"] = jsonContentType
	h["Cache-Control"] = noStore
	w.WriteHeader(http.StatusOK)
	w.Write(appendCapabilities(make([]byte, 0, 1024), &c))
}

// appendCapabilities appends c as encoding/json writes it, and a newline.
func appendCapabilities(b []byte, c *casino.Capabilities) []byte {
	b = append(b, `{"is_owner":`...)
	b = strconv.AppendBool(b, c.IsOwner)
	b = append(b, `,"role":`...)
	b = appendJSONString(b, c.Role)
	b = append(b, `,"tenant_id":`...)
	if c.TenantID == nil {
		b = append(b, "null"...)
	} else {
		b = strconv.AppendInt(b, *c.TenantID, 10)
	}
	b = append(b, `,"user_id":`...)
	b = strconv.AppendInt(b, c.UserID, 10)
	b = append(b, `,"email":`...)
	b = appendJSONString(b, c.Email)
	b = append(b, `,"capabilities":`...)
	if c.Capabilities == nil {
		b = append(b, "null"...)
	} else {
		b = append(b, '[')
		for i, s := range c.Capabilities {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendJSONString(b, s)
		}
		b = append(b, ']')
	}
	return append(b, "}\n"...)
}

// require answers the policy for a capability outside a store call.
func require(ctx context.Context, capability string) error {
	return casino.Authorize(ctx, capability, 0)
}
