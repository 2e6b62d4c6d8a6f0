package api

import (
	"encoding/json"
	"testing"

	"casino"
)

// TestCapabilitiesBody: the hand-written capabilities body is byte for byte
// what encoding/json writes, for every role and for strings that need
// escaping.
func TestCapabilitiesBody(t *testing.T) {
	t.Parallel()
	odd := []string{"", "admin@casino.com", `a"b\c`, "<script>&amp;</script>", "tab\tnl\nnul\x00\x1f\x7f", "\b\f\r",
		"é ü 漢字 😀", "\u2028\u2029", "bad \xff\xfe utf8 \xc3", "zw\u200bj"}
	for _, s := range odd {
		for _, id := range []*casino.Identity{
			{UserID: 1, Email: s, Role: casino.RoleOwner},
			{UserID: 42, Email: s, Role: casino.RoleTenantAdmin, TenantID: 7},
			{UserID: -3, Email: s, Role: s, TenantID: -1},
		} {
			c := casino.CapabilitiesFor(id)
			want, _ := json.Marshal(c)
			want = append(want, '\n')
			if got := appendCapabilities(nil, &c); string(got) != string(want) {
				t.Errorf("identity %+v:\n got %s\nwant %s", id, got, want)
			}
		}
	}
	c := casino.Capabilities{Role: "x"}
	want, _ := json.Marshal(c)
	if got := appendCapabilities(nil, &c); string(got) != string(want)+"\n" {
		t.Errorf("nil capabilities: got %s, want %s", got, want)
	}
}

// FuzzAppendJSONString holds appendJSONString to encoding/json.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "a\"\\<>&\u2028", "\xff", "\x00\x1f"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := appendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("%q: got %s, want %s", s, got, want)
		}
	})
}
