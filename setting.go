package casino

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"time"
)

// Setting types.
const (
	SettingString = "string"
	SettingInt    = "int"
	SettingBool   = "bool"
	SettingJSON   = "json"
)

// Setting is a typed value, platform-wide (TenantID nil) or per tenant.
type Setting struct {
	Key       string          `json:"key"`
	Type      string          `json:"type"`
	Value     json.RawMessage `json:"value"`
	TenantID  *int64          `json:"tenant_id"`
	UpdatedAt time.Time       `json:"updated_at"`
	UpdatedBy *int64          `json:"updated_by"`
	// Truncated marks a setting of a list whose value was longer than
	// AuditListValueMax characters: the list carries a JSON string of its
	// start; FindSetting returns the whole.
	Truncated bool `json:"truncated,omitempty"`
}

// MaxSettingsPerScope bounds how many settings the platform or one tenant
// holds, so that a settings list stays small: a tenant admin writes their
// tenant's settings.
const MaxSettingsPerScope = 500

// SettingScope names where settings live: the platform (TenantID 0) or one
// tenant.
type SettingScope struct {
	TenantID int64
}

// SettingService reads and writes settings. Platform settings are the
// owner's; a tenant's settings are the owner's and that tenant's admins'.
// Every change is audited with its before and after.
type SettingService interface {
	// FindSettings lists the settings of a scope, by key, long values
	// truncated (see Truncated); at most MaxSettingsPerScope. Errors:
	// EFORBIDDEN, ENOTFOUND (tenant not visible).
	FindSettings(ctx context.Context, scope SettingScope) ([]*Setting, error)
	// FindSetting returns one whole setting. Errors: EFORBIDDEN,
	// ENOTFOUND (no such setting, or tenant not visible).
	FindSetting(ctx context.Context, scope SettingScope, key string) (*Setting, error)
	// PutSetting creates or replaces a setting. Errors: EFORBIDDEN,
	// ENOTFOUND, EINVALID (also when a new key would pass
	// MaxSettingsPerScope).
	PutSetting(ctx context.Context, scope SettingScope, s *Setting) (*Setting, error)
}

var settingKeyRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,99}$`)

// Validate checks the key, the type and that the value is of the type. It
// compacts Value.
func (s *Setting) Validate() error {
	fields := map[string]string{}
	if !settingKeyRE.MatchString(s.Key) {
		fields["key"] = "must be 1-100 characters of a-z, 0-9, _, . and -, starting with a letter or digit"
	}
	var v any
	if len(bytes.TrimSpace(s.Value)) == 0 {
		fields["value"] = "is required"
	} else if err := json.Unmarshal(s.Value, &v); err != nil {
		fields["value"] = "must be JSON"
	}
	switch s.Type {
	case SettingString:
		if _, ok := v.(string); !ok && fields["value"] == "" {
			fields["value"] = "must be a string"
		}
	case SettingInt:
		var n int64
		if f, ok := v.(float64); !ok || json.Unmarshal(s.Value, &n) != nil || float64(n) != f {
			if fields["value"] == "" {
				fields["value"] = "must be an integer"
			}
		}
	case SettingBool:
		if _, ok := v.(bool); !ok && fields["value"] == "" {
			fields["value"] = "must be true or false"
		}
	case SettingJSON:
	default:
		fields["type"] = "must be string, int, bool or json"
	}
	if len(s.Value) > 64<<10 {
		fields["value"] = "must be at most 64 KiB of JSON"
	}
	if err := fieldsError(fields); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, s.Value); err == nil {
		s.Value = buf.Bytes()
	}
	return nil
}
