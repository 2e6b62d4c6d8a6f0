package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync"
	"time"

	"casino"
)

// ThrottleConfig bounds failed logins inside a sliding window.
type ThrottleConfig struct {
	Window     time.Duration // default 15 min
	MaxAccount int           // failures per account, default 5
	MaxIP      int           // failures per client IP, default 20
}

// DefaultThrottle is the issue's policy: 5 per account or 20 per IP in 15
// minutes.
var DefaultThrottle = ThrottleConfig{Window: 15 * time.Minute, MaxAccount: 5, MaxIP: 20}

// Service implements casino.AuthService.
type Service struct {
	store    casino.AuthStore
	hasher   *Hasher
	tokens   *Tokens
	throttle ThrottleConfig
	log      *slog.Logger
	now      func() time.Time

	// throttleAudited remembers which throttled keys were audited in
	// their current window, so a flood of refused attempts writes one
	// audit row per key and window (per replica), not one per request:
	// audit_events is append-only and must not be fillable from outside.
	mu              sync.Mutex
	throttleAudited map[string]time.Time
}

var _ casino.AuthService = (*Service)(nil)

// NewService returns the login flow over store.
func NewService(store casino.AuthStore, hasher *Hasher, tokens *Tokens, throttle ThrottleConfig, logger *slog.Logger) *Service {
	if throttle.Window <= 0 {
		throttle.Window = DefaultThrottle.Window
	}
	if throttle.MaxAccount <= 0 {
		throttle.MaxAccount = DefaultThrottle.MaxAccount
	}
	if throttle.MaxIP <= 0 {
		throttle.MaxIP = DefaultThrottle.MaxIP
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{store: store, hasher: hasher, tokens: tokens, throttle: throttle, log: logger, now: time.Now, throttleAudited: map[string]time.Time{}}
}

// Hasher returns the service's password hasher.
func (s *Service) Hasher() *Hasher { return s.hasher }

// errBadCredentials is the one answer for an unknown email and a wrong
// password.
var errBadCredentials = casino.Errorf(casino.EUNAUTHORIZED, "Invalid email or password.")

// Login implements casino.AuthService.
func (s *Service) Login(ctx context.Context, email, password string) (*casino.Token, error) {
	email = casino.NormalizeEmail(email)
	fields := map[string]string{}
	if email == "" {
		fields["email"] = "is required"
	} else if len(email) > 254 {
		fields["email"] = "must be at most 254 characters"
	}
	if password == "" {
		fields["password"] = "is required"
	} else if len(password) > casino.MaxPasswordLen {
		fields["password"] = "must be at most 1024 bytes"
	}
	if len(fields) > 0 {
		return nil, &casino.Error{Code: casino.EINVALID, Message: "Email and password are required.", Fields: fields}
	}
	ip := casino.RequestMetaFromContext(ctx).RemoteIP

	// Throttled attempts are refused before any hashing, right or wrong.
	if _, err := s.checkThrottle(ctx, email, ip); err != nil {
		return nil, err
	}
	cred, err := s.store.FindCredentials(ctx, email)
	if casino.ErrorCode(err) == casino.ENOTFOUND {
		cred = nil
	} else if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	// Check again, hash, and record a failure while holding one hashing
	// slot: concurrent guesses cannot all pass the first check before any
	// failure is recorded. At most MaxConcurrent-1 extra guesses slip in.
	// An unknown email hashes against a dummy, so it costs the same time.
	var ok, rehash bool
	var fc casino.FailureCounts
	err = s.hasher.withSlot(ctx, func() error {
		var err error
		if fc, err = s.checkThrottle(ctx, email, ip); err != nil {
			return err
		}
		if cred == nil {
			s.hasher.verifyDummyInSlot(password)
			return s.fail(ctx, email, ip, nil, "unknown_email")
		}
		var verr error
		ok, rehash, verr = s.hasher.verifyInSlot(password, cred.PasswordHash)
		if verr != nil && !errors.Is(verr, ErrBadHash) {
			return fmt.Errorf("login: %w", verr)
		}
		if !ok {
			return s.fail(ctx, email, ip, cred, "wrong_password")
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	tid := int64(0)
	if cred.TenantID != nil {
		tid = *cred.TenantID
	}
	actor := &cred.User
	if cred.Role != casino.RoleOwner {
		if cred.TenantStatus != casino.TenantActive {
			s.auditUser(ctx, actor, casino.ActionLoginFailure, map[string]any{"reason": "tenant_suspended"})
			return nil, casino.Errorf(casino.EFORBIDDEN, "Your tenant is suspended; its admins cannot log in.")
		}
		st, err := s.store.SessionState(ctx, "", cred.ID, tid)
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		if st.LoginFreeze.Enabled {
			s.auditUser(ctx, actor, casino.ActionLoginFailure, map[string]any{"reason": "login_freeze"})
			return nil, freezeError(st.LoginFreeze.Reason)
		}
	}
	if rehash {
		if h, err := s.hasher.Hash(ctx, password); err == nil {
			if err := s.store.UpdatePasswordHash(ctx, cred.ID, h); err != nil {
				s.log.WarnContext(ctx, "password_rehash_failed", slog.Int64("user_id", cred.ID), slog.String("error", err.Error()))
			} else {
				s.auditUser(ctx, actor, casino.ActionPasswordRehash, nil)
			}
		}
	}
	if fc.Account > 0 {
		if err := s.store.ClearLoginFailures(ctx, email); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	tok, claims, err := s.tokens.Issue(cred.ID, cred.Email, cred.Role, tid)
	if err != nil {
		return nil, fmt.Errorf("login: issue token: %w", err)
	}
	s.auditUser(ctx, actor, casino.ActionLoginSuccess, map[string]any{"jti": claims.ID})
	return &casino.Token{AccessToken: tok, TokenType: "Bearer", ExpiresIn: int(s.tokens.TTL().Seconds()), UserID: cred.ID, TenantID: tid}, nil
}

// firstThrottle reports whether key's throttling is new since its last
// audit, and remembers it until the window ends.
func (s *Service) firstThrottle(key string, now, until time.Time) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.throttleAudited[key]; ok && now.Before(t) {
		return false
	}
	if len(s.throttleAudited) >= 10000 {
		for k, t := range s.throttleAudited {
			if !now.Before(t) {
				delete(s.throttleAudited, k)
			}
		}
		if len(s.throttleAudited) >= 10000 {
			clear(s.throttleAudited)
		}
	}
	s.throttleAudited[key] = until
	return true
}

// checkThrottle answers ETHROTTLED (audited once per key and window) when
// the account or the client IP has too many failures inside the window.
func (s *Service) checkThrottle(ctx context.Context, email, ip string) (casino.FailureCounts, error) {
	now := s.now().UTC()
	fc, err := s.store.LoginFailures(ctx, email, ip, now.Add(-s.throttle.Window))
	if err != nil {
		return fc, fmt.Errorf("login: %w", err)
	}
	if fc.Account < s.throttle.MaxAccount && (ip == "" || fc.IP < s.throttle.MaxIP) {
		return fc, nil
	}
	oldest, scope, key := fc.OldestAccount, "account", "account:"+email
	if fc.Account < s.throttle.MaxAccount {
		oldest, scope, key = fc.OldestIP, "ip", "ip:"+ip
	}
	retry := int(math.Ceil(oldest.Add(s.throttle.Window).Sub(now).Seconds()))
	if retry < 1 {
		retry = 1
	}
	if s.firstThrottle(key, now, oldest.Add(s.throttle.Window)) {
		s.audit(ctx, &casino.AuditEvent{Action: casino.ActionLoginThrottled, ActorEmail: email, Target: "user:" + email, After: casino.AuditJSON(map[string]any{"scope": scope, "retry_after": retry})})
	}
	return fc, &casino.Error{Code: casino.ETHROTTLED, Message: fmt.Sprintf("Too many failed logins. Try again in %d seconds.", retry), RetryAfter: retry}
}

func freezeError(reason string) error {
	msg := "Admin logins are frozen (disaster-recovery login freeze); only the owner may log in."
	if reason != "" {
		msg += " Reason: " + reason
	}
	return casino.Errorf(casino.ELOGINFROZEN, "%s", msg)
}

// fail records a failed login and answers the one bad-credentials error.
func (s *Service) fail(ctx context.Context, email, ip string, cred *casino.Credentials, reason string) error {
	if err := s.store.RecordLoginFailure(ctx, email, ip, s.now().UTC()); err != nil {
		return fmt.Errorf("login: record failure: %w", err)
	}
	ev := &casino.AuditEvent{Action: casino.ActionLoginFailure, ActorEmail: email, Target: "user:" + email, After: casino.AuditJSON(map[string]any{"reason": reason})}
	if cred != nil {
		ev.ActorID, ev.TenantID = &cred.ID, cred.TenantID
	}
	s.audit(ctx, ev)
	return errBadCredentials
}

func (s *Service) auditUser(ctx context.Context, u *casino.User, action string, after any) {
	s.audit(ctx, &casino.AuditEvent{Action: action, ActorID: &u.ID, ActorEmail: u.Email, TenantID: u.TenantID, Target: "user:" + strconv.FormatInt(u.ID, 10), After: casino.AuditJSON(after)})
}

func (s *Service) audit(ctx context.Context, ev *casino.AuditEvent) {
	if err := s.store.RecordAudit(ctx, ev); err != nil {
		s.log.ErrorContext(ctx, "audit_failed", slog.String("action", ev.Action), slog.String("error", err.Error()))
	}
}

var errBadToken = casino.Errorf(casino.EUNAUTHORIZED, "Invalid or expired token.")

// Authenticate implements casino.AuthService.
func (s *Service) Authenticate(ctx context.Context, token string) (*casino.Identity, *casino.Session, error) {
	c, err := s.tokens.Parse(token)
	if err != nil {
		return nil, nil, errBadToken
	}
	id := &casino.Identity{UserID: c.UserID(), Email: c.Email, Role: c.Role, TenantID: c.TenantID, TokenID: c.ID, ExpiresAt: c.ExpiresAt.Time}
	switch {
	case id.Role == casino.RoleOwner && id.TenantID == 0:
	case id.Role == casino.RoleTenantAdmin && id.TenantID != 0:
	default:
		return nil, nil, errBadToken
	}
	st, err := s.store.SessionState(ctx, c.ID, id.UserID, id.TenantID)
	if err != nil {
		return nil, nil, fmt.Errorf("authenticate: %w", err)
	}
	if st.Revoked || !st.UserExists {
		return nil, nil, errBadToken
	}
	if !st.TokensValidAfter.IsZero() && c.IssuedAtExact().Before(st.TokensValidAfter) {
		return nil, nil, errBadToken
	}
	if id.Role != casino.RoleOwner {
		if st.TenantStatus != casino.TenantActive {
			return nil, nil, casino.Errorf(casino.EUNAUTHORIZED, "Your tenant is suspended.")
		}
		if st.LoginFreeze.Enabled {
			return nil, nil, freezeError(st.LoginFreeze.Reason)
		}
	}
	return id, &casino.Session{Maintenance: st.Maintenance.Enabled, MaintenanceReason: st.Maintenance.Reason}, nil
}

// Logout implements casino.AuthService.
func (s *Service) Logout(ctx context.Context) error {
	id := casino.IdentityFromContext(ctx)
	if id == nil {
		return casino.Errorf(casino.EUNAUTHORIZED, "Authentication required.")
	}
	if err := s.store.RevokeToken(ctx, id.TokenID, id.UserID, id.ExpiresAt); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	var tid *int64
	if id.TenantID != 0 {
		tid = &id.TenantID
	}
	s.audit(ctx, &casino.AuditEvent{Action: casino.ActionLogout, TenantID: tid, Target: "user:" + strconv.FormatInt(id.UserID, 10), After: casino.AuditJSON(map[string]any{"jti": id.TokenID})})
	return nil
}
