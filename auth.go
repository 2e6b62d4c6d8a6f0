package casino

import (
	"context"
	"time"
)

// Roles of a user. The owner runs the platform and belongs to no tenant; a
// tenant admin belongs to exactly one tenant.
const (
	RoleOwner       = "owner"
	RoleTenantAdmin = "tenant_admin"
)

// DefaultOwnerEmail is the owner's email when CASINO_OWNER_EMAIL is unset.
const DefaultOwnerEmail = "admin@casino.com"

// Identity is the authenticated caller of a request, taken from a verified
// access token. Services read it from the context (see IdentityFromContext)
// and scope every tenant query by it; the request body never names the
// caller's tenant.
type Identity struct {
	UserID   int64
	Email    string
	Role     string
	TenantID int64 // 0 for the owner
	// TokenID is the jti of the access token; logout revokes it.
	TokenID   string
	ExpiresAt time.Time
}

// IsOwner reports whether the identity is the platform owner.
func (id *Identity) IsOwner() bool { return id != nil && id.Role == RoleOwner }

type identityKey struct{}

// NewContextWithIdentity returns ctx carrying the caller's identity.
func NewContextWithIdentity(ctx context.Context, id *Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// IdentityFromContext returns the caller's identity, or nil when the request
// is not authenticated.
func IdentityFromContext(ctx context.Context) *Identity {
	id, _ := ctx.Value(identityKey{}).(*Identity)
	return id
}

type breakGlassKey struct{}

// NewBreakGlassContext marks ctx as a local operator working straight on the
// database (casino admin ..., casino user reset-password): no token, but
// allowed the platform switches. Only the CLI creates it.
func NewBreakGlassContext(ctx context.Context) context.Context {
	return context.WithValue(ctx, breakGlassKey{}, true)
}

// IsBreakGlass reports whether ctx comes from the break-glass CLI.
func IsBreakGlass(ctx context.Context) bool {
	v, _ := ctx.Value(breakGlassKey{}).(bool)
	return v
}

// RequestMeta is what the audit log records of the request behind a change.
type RequestMeta struct {
	RequestID string
	RemoteIP  string
}

type metaKey struct{}

// NewContextWithRequestMeta returns ctx carrying the request's id and client.
func NewContextWithRequestMeta(ctx context.Context, m RequestMeta) context.Context {
	return context.WithValue(ctx, metaKey{}, m)
}

// RequestMetaFromContext returns the request's id and client, zero outside a
// request.
func RequestMetaFromContext(ctx context.Context) RequestMeta {
	m, _ := ctx.Value(metaKey{}).(RequestMeta)
	return m
}

// Token is the answer of a successful login.
type Token struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"` // always "Bearer"
	ExpiresIn   int    `json:"expires_in"` // seconds
	// UserID and TenantID name who logged in, for the request log; they
	// are not part of the answer.
	UserID   int64 `json:"-"`
	TenantID int64 `json:"-"`
}

// AuthService logs admins in and out and checks their tokens. auth.Service
// implements it.
type AuthService interface {
	// Login checks the credentials and returns an access token. Errors:
	// EINVALID (empty email or password), EUNAUTHORIZED (unknown email or
	// wrong password: the same message for both), ETHROTTLED (too many
	// failures for the account or the client; RetryAfter set), EFORBIDDEN
	// (the admin's tenant is suspended), EUNAVAILABLE (login freeze, for
	// non-owners).
	Login(ctx context.Context, email, password string) (*Token, error)
	// Authenticate verifies an access token and returns its identity.
	// Errors: EUNAUTHORIZED (bad, expired or revoked token, user gone,
	// tenant suspended), EUNAVAILABLE (login freeze, for non-owners).
	Authenticate(ctx context.Context, token string) (*Identity, *Session, error)
	// Logout revokes the token of the identity in ctx.
	Logout(ctx context.Context) error
}

// Session is the platform state seen while authenticating a request, read in
// the same round trip as the revocation check.
type Session struct {
	// Maintenance is on: mutating calls answer EUNAVAILABLE.
	Maintenance       bool
	MaintenanceReason string
}

// Credentials is what login needs to know of a user.
type Credentials struct {
	User
	PasswordHash string
	TenantStatus string // "" for the owner
}

// SessionState is what verifying a token needs from the database, read in one
// round trip.
type SessionState struct {
	Revoked      bool
	UserExists   bool
	TenantStatus string // "" when the user has no tenant
	// TokensValidAfter, when set, refuses tokens issued before it (set by a
	// password reset).
	TokensValidAfter time.Time
	LoginFreeze      Switch
	Maintenance      Switch
}

// AuthStore is the persistence auth.Service needs. sqlstore implements it;
// every method is one transaction.
type AuthStore interface {
	// FindCredentials returns the user with the (lower-case) email, or
	// ENOTFOUND.
	FindCredentials(ctx context.Context, email string) (*Credentials, error)
	// UpdatePasswordHash replaces a user's hash (rehash on login).
	UpdatePasswordHash(ctx context.Context, userID int64, hash string) error
	// RecordLoginFailure adds one failure for the account and one for the
	// client IP.
	RecordLoginFailure(ctx context.Context, email, ip string, at time.Time) error
	// LoginFailures counts failures since the given instant for the account
	// and the IP, with the oldest of each inside the window.
	LoginFailures(ctx context.Context, email, ip string, since time.Time) (FailureCounts, error)
	// ClearLoginFailures forgets the account's failures after a success.
	ClearLoginFailures(ctx context.Context, email string) error
	// RevokeToken records a token id as revoked until it expires.
	RevokeToken(ctx context.Context, jti string, userID int64, expiresAt time.Time) error
	// SessionState reads revocation, user, tenant and platform switches.
	SessionState(ctx context.Context, jti string, userID, tenantID int64) (*SessionState, error)
	// RecordAudit appends an event; actor and request come from ctx and ev.
	RecordAudit(ctx context.Context, ev *AuditEvent) error
}

// FailureCounts are failed logins inside the throttle window.
type FailureCounts struct {
	Account       int
	IP            int
	OldestAccount time.Time
	OldestIP      time.Time
}

// PasswordHasher turns a password into a stored hash. auth.Hasher
// implements it; the API uses it to create tenant admins.
type PasswordHasher interface {
	Hash(ctx context.Context, password string) (string, error)
}
