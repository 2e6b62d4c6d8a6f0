package main

import (
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"time"

	"casino/logging"
	"casino/sqlstore"
)

// Config is the effective configuration of casino serve (and of the other
// commands that touch the database). Every setting comes from the
// environment first; a flag overrides it. Validate checks it all before
// anything is opened or created.
type Config struct {
	DatabaseURL     string        `json:"database_url"`
	Addr            string        `json:"addr"`
	LogLevel        string        `json:"log_level"`
	Role            string        `json:"role"`
	BackendURL      string        `json:"backend_url"`
	Migrate         bool          `json:"migrate"`
	ShutdownTimeout time.Duration `json:"shutdown_timeout"`
	TrustedProxies  string        `json:"trusted_proxies"`

	// Settings of each area live in that area's serve_*.go file.
	Auth   authConfig
	UI     uiConfig
	Backup backupConfig
	PITR   pitrConfig
	DR     drServeConfig

	level      slog.Level
	proxies    []netip.Prefix
	target     sqlstore.Target
	badMigrate string // a CASINO_MIGRATE that is not on or off
}

// Roles of casino serve.
const (
	RoleAll           = "all"
	RoleBackend       = "backend"
	RoleFrontendAdmin = "frontend-admin"
)

// bindDatabaseFlag registers --database-url with DATABASE_URL as default.
func bindDatabaseFlag(fs *flag.FlagSet, env *Env, c *Config) {
	stringSetting(fs, env, &c.DatabaseURL, "database-url", "DATABASE_URL", sqlstore.DefaultURL, "database URL: sqlite:PATH or postgres://...")
}

// bindServeFlags registers the flags of casino serve, defaulting to the env.
func bindServeFlags(fs *flag.FlagSet, env *Env, c *Config) {
	bindDatabaseFlag(fs, env, c)
	stringSetting(fs, env, &c.Addr, "addr", "CASINO_ADDR", ":8080", "listen address host:port")
	stringSetting(fs, env, &c.LogLevel, "log-level", "CASINO_LOG_LEVEL", "info", "debug, info, warn or error")
	stringSetting(fs, env, &c.Role, "role", "CASINO_ROLE", RoleAll, "all, backend or frontend-admin")
	stringSetting(fs, env, &c.BackendURL, "backend-url", "CASINO_BACKEND_URL", "", "backend base URL for --role frontend-admin")
	stringSetting(fs, env, &c.TrustedProxies, "trusted-proxies", "CASINO_TRUSTED_PROXIES", "", "comma-separated CIDRs whose X-Forwarded-For is trusted")
	durationSetting(fs, env, &c.ShutdownTimeout, "shutdown-timeout", "CASINO_SHUTDOWN_TIMEOUT", 20*time.Second, "how long in-flight requests may drain after SIGTERM")
	switchSetting(fs, env, &c.Migrate, &c.badMigrate, "migrate", "CASINO_MIGRATE", true, "on or off: apply pending migrations at start")
	bindAuthFlags(fs, env, &c.Auth)
	bindUIFlags(fs, env, &c.UI)
	bindBackupFlags(fs, env, &c.Backup)
	bindPITRServeFlags(fs, env, &c.PITR)
	bindDRServeFlags(fs, env, &c.DR)
}

// settingName names a setting as the user gave it: --flag when set on the
// command line, the environment variable otherwise.
func settingName(fs *flag.FlagSet, flagName, envName string) string {
	if fs != nil && flagWasSet(fs, flagName) {
		return "--" + flagName
	}
	return envName
}

// validateDatabase checks the database URL, naming the setting on error.
func (c *Config) validateDatabase(fs *flag.FlagSet) error {
	t, err := sqlstore.ParseURL(c.DatabaseURL)
	if err != nil {
		return usageErrorf("invalid %s: %s", settingName(fs, "database-url", "DATABASE_URL"), sqlstore.Redact(err.Error()))
	}
	c.target = t
	return nil
}

// validate checks every serve setting. It touches nothing on disk.
func (c *Config) validate(fs *flag.FlagSet) error {
	if c.Role != RoleFrontendAdmin {
		if err := c.validateDatabase(fs); err != nil {
			return err
		}
	}
	if err := validateAddr(c.Addr); err != nil {
		return usageErrorf("invalid %s %q: %s", settingName(fs, "addr", "CASINO_ADDR"), c.Addr, err)
	}
	lvl, err := logging.ParseLevel(c.LogLevel)
	if err != nil {
		return usageErrorf("invalid %s: %s", settingName(fs, "log-level", "CASINO_LOG_LEVEL"), err)
	}
	c.level = lvl
	switch c.Role {
	case RoleAll, RoleBackend:
	case RoleFrontendAdmin:
		if c.BackendURL == "" {
			return usageErrorf("%s is required with --role frontend-admin", settingName(fs, "backend-url", "CASINO_BACKEND_URL"))
		}
		u, err := url.Parse(c.BackendURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageErrorf("invalid %s %q: must be an http:// or https:// URL", settingName(fs, "backend-url", "CASINO_BACKEND_URL"), c.BackendURL)
		}
	default:
		return usageErrorf("invalid %s %q: must be all, backend or frontend-admin", settingName(fs, "role", "CASINO_ROLE"), c.Role)
	}
	if c.ShutdownTimeout < 0 {
		return usageErrorf("invalid %s: must be a duration of 0 or more, like 20s", settingName(fs, "shutdown-timeout", "CASINO_SHUTDOWN_TIMEOUT"))
	}
	if c.badMigrate != "" {
		return usageErrorf("invalid CASINO_MIGRATE %q: must be on or off", c.badMigrate)
	}
	if err := c.Auth.validate(fs); err != nil {
		return err
	}
	if err := c.UI.validate(fs); err != nil {
		return err
	}
	if err := c.Backup.validate(fs); err != nil {
		return err
	}
	if err := c.PITR.validate(fs, c.target); err != nil {
		return err
	}
	c.proxies = nil
	for _, s := range strings.Split(c.TrustedProxies, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return usageErrorf("invalid %s: %q is not a CIDR", settingName(fs, "trusted-proxies", "CASINO_TRUSTED_PROXIES"), s)
		}
		c.proxies = append(c.proxies, p.Masked())
	}
	return nil
}

// validateAddr accepts host:port with a numeric port 0-65535.
func validateAddr(addr string) error {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("must be host:port, like :8080 or 127.0.0.1:8080")
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port must be a number from 0 to 65535")
	}
	return nil
}

// printConfig writes the effective configuration as JSON with secrets
// redacted.
func (c *Config) printConfig(w io.Writer, extra map[string]any) error {
	m := map[string]any{
		"database_url":     sqlstore.Redact(c.DatabaseURL),
		"addr":             c.Addr,
		"log_level":        c.LogLevel,
		"role":             c.Role,
		"backend_url":      sqlstore.Redact(c.BackendURL),
		"migrate":          c.Migrate,
		"shutdown_timeout": c.ShutdownTimeout.String(),
		"trusted_proxies":  c.TrustedProxies,
	}
	for k, v := range c.Auth.redacted() {
		m[k] = v
	}
	for k, v := range c.UI.redacted() {
		m[k] = v
	}
	for k, v := range c.Backup.redacted() {
		m[k] = v
	}
	for k, v := range c.DR.redacted() {
		m[k] = v
	}
	for k, v := range extra {
		m[k] = v
	}
	return writeJSON(w, m)
}
