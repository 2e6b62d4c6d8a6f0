package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"casino"
	"casino/api"
	"casino/auth"
	"casino/redact"
	"casino/sqlstore"
)

// authConfig holds the identity settings of casino serve (owner bootstrap,
// tokens, throttling). Env first, flags override. The owner password and the
// signing key come from the environment only: flags show in ps.
type authConfig struct {
	OwnerEmail    string
	ownerPassword string // CASINO_OWNER_PASSWORD, secret
	jwtKey        string // CASINO_JWT_KEY, secret
	jwtKeyFile    string // CASINO_JWT_KEY_FILE

	tokenTTL, window, maxPair, maxAccount, maxIP, maxHashes string

	TokenTTL      time.Duration
	Throttle      auth.ThrottleConfig
	MaxConcurrent int
}

// testHasherConfig, set only by tests, replaces the production Argon2id
// parameters with cheap ones so tests stay fast. Production code never sets
// it, and auth.NewHasher refuses weak parameters without it.
var testHasherConfig *auth.HasherConfig

func bindAuthFlags(fs *flag.FlagSet, env *Env, c *authConfig) {
	c.ownerPassword = env.Getenv("CASINO_OWNER_PASSWORD")
	c.jwtKey = env.Getenv("CASINO_JWT_KEY")
	c.jwtKeyFile = env.Getenv("CASINO_JWT_KEY_FILE")
	stringSetting(fs, env, &c.OwnerEmail, "owner-email", "CASINO_OWNER_EMAIL", casino.DefaultOwnerEmail, "email of the owner created on first start (env CASINO_OWNER_EMAIL; password from env CASINO_OWNER_PASSWORD, generated when unset)")
	stringSetting(fs, env, &c.tokenTTL, "token-ttl", "CASINO_TOKEN_TTL", "30m", "access token lifetime (env CASINO_TOKEN_TTL; signing key from env CASINO_JWT_KEY, else the key file CASINO_JWT_KEY_FILE, default keys/jwt.json beside a SQLite database, data/keys/jwt.json otherwise; never in the database)")
	stringSetting(fs, env, &c.window, "login-window", "CASINO_LOGIN_WINDOW", "15m", "login throttle window")
	stringSetting(fs, env, &c.maxPair, "login-max-address-failures", "CASINO_LOGIN_MAX_ADDRESS_FAILURES", "5", "failed logins per account from one client address within the window before 429 to that address")
	stringSetting(fs, env, &c.maxAccount, "login-max-account-failures", "CASINO_LOGIN_MAX_ACCOUNT_FAILURES", "50", "failed logins per account from all addresses within the window before each attempt waits (1 s doubling, at most 60 s)")
	stringSetting(fs, env, &c.maxIP, "login-max-ip-failures", "CASINO_LOGIN_MAX_IP_FAILURES", "20", "failed logins per client IP within the window before 429")
	stringSetting(fs, env, &c.maxHashes, "max-concurrent-hashes", "CASINO_MAX_CONCURRENT_HASHES", "0", "password hashes running at once, 19 MiB each; 0 = number of CPUs")
}

func (c *authConfig) validate(fs *flag.FlagSet) error {
	if msg := casinoEmailError(c.OwnerEmail); msg != "" {
		return usageErrorf("invalid %s %q: %s", settingName(fs, "owner-email", "CASINO_OWNER_EMAIL"), c.OwnerEmail, msg)
	}
	if c.ownerPassword != "" {
		if msg := casino.ValidatePassword(c.ownerPassword); msg != "" {
			return usageErrorf("invalid CASINO_OWNER_PASSWORD: %s", msg)
		}
	}
	if c.jwtKey != "" && len(c.jwtKey) < auth.MinKeyLen {
		return usageErrorf("invalid CASINO_JWT_KEY: must be at least %d bytes (256 bits)", auth.MinKeyLen)
	}
	dur := func(v, flagName, envName string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return 0, usageErrorf("invalid %s %q: must be a positive duration like 30m", settingName(fs, flagName, envName), v)
		}
		return d, nil
	}
	num := func(v, flagName, envName string, min int) (int, error) {
		n, err := strconv.Atoi(v)
		if err != nil || n < min {
			return 0, usageErrorf("invalid %s %q: must be an integer of at least %d", settingName(fs, flagName, envName), v, min)
		}
		return n, nil
	}
	var err error
	if c.TokenTTL, err = dur(c.tokenTTL, "token-ttl", "CASINO_TOKEN_TTL"); err != nil {
		return err
	}
	if c.Throttle.Window, err = dur(c.window, "login-window", "CASINO_LOGIN_WINDOW"); err != nil {
		return err
	}
	if c.Throttle.MaxPair, err = num(c.maxPair, "login-max-address-failures", "CASINO_LOGIN_MAX_ADDRESS_FAILURES", 1); err != nil {
		return err
	}
	if c.Throttle.MaxAccount, err = num(c.maxAccount, "login-max-account-failures", "CASINO_LOGIN_MAX_ACCOUNT_FAILURES", 1); err != nil {
		return err
	}
	if c.Throttle.MaxIP, err = num(c.maxIP, "login-max-ip-failures", "CASINO_LOGIN_MAX_IP_FAILURES", 1); err != nil {
		return err
	}
	if c.MaxConcurrent, err = num(c.maxHashes, "max-concurrent-hashes", "CASINO_MAX_CONCURRENT_HASHES", 0); err != nil {
		return err
	}
	return nil
}

func casinoEmailError(email string) string { return casino.ValidateEmail(email) }

// redacted returns the settings for --print-config, secrets masked.
func (c *authConfig) redacted() map[string]any {
	mask := func(s string) string {
		if s == "" {
			return "(unset)"
		}
		return "xxxxx"
	}
	return map[string]any{
		"owner_email":                c.OwnerEmail,
		"owner_password":             mask(c.ownerPassword),
		"jwt_key":                    mask(c.jwtKey),
		"token_ttl":                  c.TokenTTL.String(),
		"login_window":               c.Throttle.Window.String(),
		"login_max_account_failures": c.Throttle.MaxAccount,
		"login_max_address_failures": c.Throttle.MaxPair,
		"login_max_ip_failures":      c.Throttle.MaxIP,
		"max_concurrent_hashes":      c.MaxConcurrent,
	}
}

// newHasher returns the production password hasher, or the test one.
func newHasher(maxConcurrent int) (*auth.Hasher, error) {
	hc := auth.HasherConfig{Params: auth.DefaultParams, MaxConcurrent: maxConcurrent}
	if testHasherConfig != nil {
		hc = *testHasherConfig
	}
	return auth.NewHasher(hc)
}

// newBackend wires the API server to the database's services and creates
// the owner on the first start.
func newBackend(ctx context.Context, env *Env, cfg *Config, db *sqlstore.DB, readiness casino.DRStatusService, logger *slog.Logger, reg *prometheus.Registry) (*api.Server, error) {
	c := &cfg.Auth
	hasher, err := newHasher(c.MaxConcurrent)
	if err != nil {
		return nil, err
	}
	tokens, err := tokenKeys(ctx, c, db, logger)
	if err != nil {
		return nil, err
	}
	if err := bootstrapOwner(ctx, env, c, db, hasher, logger); err != nil {
		return nil, err
	}
	return api.NewServer(api.Config{
		Logger:         logger,
		Build:          casino.Build(),
		Store:          db,
		Versions:       db,
		Registry:       reg,
		TrustedProxies: cfg.proxies,
		Auth:           auth.NewService(db, hasher, tokens, c.Throttle, logger),
		Hasher:         hasher,
		Tenants:        db,
		Users:          db,
		Settings:       db,
		Audit:          db,
		System:         db,
		Data:           db,
		DR:             readiness,
	}), nil
}

// bootstrapOwner creates the owner when the database has none. Without
// CASINO_OWNER_PASSWORD it generates one and prints it once to stderr under
// a banner; it never reaches the JSON log on stdout.
func bootstrapOwner(ctx context.Context, env *Env, c *authConfig, db *sqlstore.DB, hasher *auth.Hasher, logger *slog.Logger) error {
	var owners int
	if err := db.QueryRowContext(ctx, "SELECT COUNT(*) FROM users WHERE role = 'owner'").Scan(&owners); err != nil {
		return fmt.Errorf("owner bootstrap: %w", err)
	}
	if owners > 0 {
		return warnOwnerDrift(ctx, env, c, db, hasher, logger)
	}
	password, generated := c.ownerPassword, false
	if password == "" {
		password, generated = auth.GeneratePassword(24), true
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return fmt.Errorf("owner bootstrap: %w", err)
	}
	created, err := db.EnsureOwner(ctx, c.OwnerEmail, hash)
	if err != nil {
		return fmt.Errorf("owner bootstrap: %w", err)
	}
	if !created {
		return nil
	}
	logger.Info("owner_created", slog.String("email", casino.NormalizeEmail(c.OwnerEmail)), slog.Bool("password_generated", generated))
	if generated {
		printPasswordBanner(env, "OWNER ACCOUNT CREATED", casino.NormalizeEmail(c.OwnerEmail), password)
	}
	return nil
}

// warnOwnerDrift logs owner_env_differs, naming the setting and never its
// value, for each owner setting given that the database's owner does not
// match: a changed CASINO_OWNER_EMAIL or CASINO_OWNER_PASSWORD is not applied
// on restart.
func warnOwnerDrift(ctx context.Context, env *Env, c *authConfig, db *sqlstore.DB, hasher *auth.Hasher, logger *slog.Logger) error {
	email := c.OwnerEmail
	if env.Getenv("CASINO_OWNER_EMAIL") == "" && email == casino.DefaultOwnerEmail {
		email = "" // not set: nothing to compare
	}
	owner, err := db.FindOwner(ctx)
	if err != nil {
		return fmt.Errorf("owner bootstrap: %w", err)
	}
	differing, err := auth.OwnerSettingsDiffering(ctx, hasher, owner, email, c.ownerPassword)
	if err != nil {
		return fmt.Errorf("owner bootstrap: %w", err)
	}
	for _, name := range differing {
		logger.Warn("owner_env_differs", slog.String("setting", name),
			slog.String("hint", "the database's owner is kept; "+name+" only applies when the database has no owner. Run 'casino user reset-password EMAIL' to change the password, or unset the setting"))
	}
	return nil
}

// printPasswordBanner shows a generated password once, on stderr.
func printPasswordBanner(env *Env, title, email, password string) {
	line := "================================================================"
	// redact.Generated marks the line, so 'casino dr run' journals that a
	// password was printed, never the password.
	fmt.Fprintf(env.Stderr, "\n%s\n  %s\n  email:    %s\n  %s\n  Shown only once. Store it in your password manager now;\n  'casino user reset-password %s' replaces it.\n%s\n\n", line, title, email, redact.Generated("password", password), email, line)
}

// jwtKeyFile is the token key file: CASINO_JWT_KEY_FILE, else keys/jwt.json
// beside a SQLite database, else data/keys/jwt.json in the working folder.
func jwtKeyFile(p string, t sqlstore.Target) *auth.KeyFile {
	if p != "" {
		return &auth.KeyFile{Path: p}
	}
	if t.Dialect == sqlstore.SQLite {
		return &auth.KeyFile{Path: filepath.Join(filepath.Dir(t.Path), "keys", "jwt.json")}
	}
	return &auth.KeyFile{Path: filepath.Join("data", "keys", "jwt.json")}
}

// tokenKeys sets up the token signing keys, which never live in the
// database: CASINO_JWT_KEY, or the key file. A key older versions kept in
// system_state is moved into a new key file and its row deleted (and
// vacuumed away); when the key file already exists, the row is an old key
// (a restored database) and is only deleted, never brought back.
func tokenKeys(ctx context.Context, c *authConfig, db *sqlstore.DB, logger *slog.Logger) (*auth.Tokens, error) {
	legacy, err := db.LegacySigningKey(ctx)
	if err != nil {
		return nil, fmt.Errorf("token signing key: %w", err)
	}
	var tokens *auth.Tokens
	if c.jwtKey != "" {
		tokens, err = auth.NewTokens([]byte(c.jwtKey), c.TokenTTL)
	} else {
		kf := jwtKeyFile(c.jwtKeyFile, db.Target)
		created, err := kf.Ensure(legacy)
		if err != nil {
			return nil, fmt.Errorf("token signing key file %s: %w", kf.Path, err)
		}
		if created && len(legacy) > 0 {
			logger.Info("jwt_key_moved_to_key_file")
		} else if created {
			logger.Info("jwt_key_file_created")
		}
		tokens, err = auth.NewFileTokens(kf, c.TokenTTL)
		if err != nil {
			return nil, fmt.Errorf("token signing key file %s: %w", kf.Path, err)
		}
	}
	if err != nil {
		return nil, err
	}
	if legacy != nil {
		if _, err := db.DropLegacySigningKey(ctx); err != nil {
			return nil, fmt.Errorf("remove the token signing key from the database: %w", err)
		}
		logger.Info("jwt_key_removed_from_database")
	}
	return tokens, nil
}
