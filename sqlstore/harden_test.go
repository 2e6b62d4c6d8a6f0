package sqlstore_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"casino"
	"casino/internal/testdb"
	"casino/sqlstore"
)

// TestSettingsListBounded (issue 14, finding 2): a scope holds at most
// MaxSettingsPerScope settings, and a list carries only the start of a long
// value; FindSetting has the whole, on both engines.
func TestSettingsListBounded(t *testing.T) {
	testdb.Each(t, func(t *testing.T, engine sqlstore.Dialect) {
		t.Parallel()
		db := testdb.Open(t, engine)
		ctx := ownerCtx()
		if _, err := db.EnsureOwner(ctx, "admin@casino.com", "h"); err != nil {
			t.Fatal(err)
		}
		long := `"` + strings.Repeat("x", 5000) + `"`
		for i := 0; i < casino.MaxSettingsPerScope; i++ {
			v := `1`
			if i == 0 {
				v = long
			}
			typ := map[bool]string{true: "string", false: "int"}[i == 0]
			if _, err := db.PutSetting(ctx, casino.SettingScope{}, &casino.Setting{Key: fmt.Sprintf("k%03d", i), Type: typ, Value: json.RawMessage(v)}); err != nil {
				t.Fatalf("setting %d: %v", i, err)
			}
		}
		_, err := db.PutSetting(ctx, casino.SettingScope{}, &casino.Setting{Key: "one-too-many", Type: "int", Value: json.RawMessage(`1`)})
		if casino.ErrorCode(err) != casino.EINVALID {
			t.Errorf("setting %d: got %v, want invalid", casino.MaxSettingsPerScope+1, err)
		}
		// Replacing an existing key is still allowed.
		if _, err := db.PutSetting(ctx, casino.SettingScope{}, &casino.Setting{Key: "k001", Type: "int", Value: json.RawMessage(`2`)}); err != nil {
			t.Errorf("replace at the bound: %v", err)
		}
		list, err := db.FindSettings(ctx, casino.SettingScope{})
		if err != nil || len(list) != casino.MaxSettingsPerScope {
			t.Fatalf("list: %d settings, %v", len(list), err)
		}
		var shown string
		if json.Unmarshal(list[0].Value, &shown) != nil || !list[0].Truncated || len([]rune(shown)) != casino.AuditListValueMax+1 {
			t.Errorf("long value in the list: truncated %v, %d characters", list[0].Truncated, len([]rune(shown)))
		}
		whole, err := db.FindSetting(ctx, casino.SettingScope{}, "k000")
		if err != nil || string(whole.Value) != long || whole.Truncated {
			t.Errorf("whole setting: %d bytes, truncated %v, %v", len(whole.Value), whole.Truncated, err)
		}
		if _, err := db.FindSetting(ctx, casino.SettingScope{}, "nope"); casino.ErrorCode(err) != casino.ENOTFOUND {
			t.Errorf("missing setting: %v", err)
		}
	})
}
