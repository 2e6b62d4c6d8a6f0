package retention

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// timeline returns n backups every step, the first at start, named by
// their UTC time.
func timeline(start time.Time, step time.Duration, n int) []Item {
	var out []Item
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * step)
		out = append(out, Item{ID: t.Format("0102T15"), Time: t})
	}
	return out
}

// kept renders the kept decisions as "ID: reason, reason" lines, newest
// first, and the deleted IDs.
func kept(ds []Decision) (keep []string, del []string) {
	for _, d := range ds {
		if d.Keep {
			keep = append(keep, d.Item.ID+": "+d.Why())
		} else {
			del = append(del, d.Item.ID)
		}
	}
	return keep, del
}

var nov1 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// now is just after the last backup of the 30-day timeline (Nov 30 18:00).
var now = time.Date(2026, 11, 30, 19, 0, 0, 0, time.UTC)

// TestApplyGFS: 120 backups every 6 h over 30 days (Nov 1 00:00 to Nov 30
// 18:00 UTC; Nov 30 2026 is a Monday, ISO week 49). Each case lists the
// exact kept set with its reasons; everything else is deleted.
func TestApplyGFS(t *testing.T) {
	t.Parallel()
	items := timeline(nov1, 6*time.Hour, 120)
	for _, tc := range []struct {
		name string
		p    Policy
		keep []string
	}{
		{
			name: "last 3",
			p:    Policy{Last: 3},
			keep: []string{"1130T18: last snapshot", "1130T12: last snapshot", "1130T06: last snapshot"},
		},
		{
			name: "last 3, daily 7, weekly 4, monthly 2",
			p:    Policy{Last: 3, Daily: 7, Weekly: 4, Monthly: 2},
			keep: []string{
				"1130T18: last snapshot, daily snapshot (2026-11-30), weekly snapshot (2026-W49), monthly snapshot (2026-11)",
				"1130T12: last snapshot",
				"1130T06: last snapshot",
				"1129T18: daily snapshot (2026-11-29), weekly snapshot (2026-W48)",
				"1128T18: daily snapshot (2026-11-28)",
				"1127T18: daily snapshot (2026-11-27)",
				"1126T18: daily snapshot (2026-11-26)",
				"1125T18: daily snapshot (2026-11-25)",
				"1124T18: daily snapshot (2026-11-24)",
				"1122T18: weekly snapshot (2026-W47)",
				"1115T18: weekly snapshot (2026-W46)",
			},
		},
		{
			name: "hourly 5 takes the 5 newest hours that have a backup",
			p:    Policy{Hourly: 5},
			keep: []string{
				"1130T18: hourly snapshot (2026-11-30T18)",
				"1130T12: hourly snapshot (2026-11-30T12)",
				"1130T06: hourly snapshot (2026-11-30T06)",
				"1130T00: hourly snapshot (2026-11-30T00)",
				"1129T18: hourly snapshot (2026-11-29T18)",
			},
		},
		{
			name: "within 36h is strictly after newest-36h",
			p:    Policy{Within: 36 * time.Hour},
			keep: []string{
				"1130T18: within 36h0m0s of the newest",
				"1130T12: within 36h0m0s of the newest",
				"1130T06: within 36h0m0s of the newest",
				"1130T00: within 36h0m0s of the newest",
				"1129T18: within 36h0m0s of the newest",
				"1129T12: within 36h0m0s of the newest",
			},
		},
		{
			name: "yearly unlimited keeps one per year",
			p:    Policy{Yearly: Unlimited},
			keep: []string{"1130T18: yearly snapshot (2026)"},
		},
		{
			name: "weekly 2 with monthly 1: the November bucket is the newest backup",
			p:    Policy{Weekly: 2, Monthly: 1},
			keep: []string{
				"1130T18: weekly snapshot (2026-W49), monthly snapshot (2026-11)",
				"1129T18: weekly snapshot (2026-W48)",
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := Apply(items, tc.p, now)
			if len(ds) != len(items) {
				t.Fatalf("%d decisions for %d items", len(ds), len(items))
			}
			keep, del := kept(ds)
			if !reflect.DeepEqual(keep, tc.keep) {
				t.Errorf("kept:\n  %s\nwant:\n  %s", strings.Join(keep, "\n  "), strings.Join(tc.keep, "\n  "))
			}
			if len(keep)+len(del) != 120 {
				t.Errorf("kept %d + deleted %d != 120", len(keep), len(del))
			}
		})
	}
}

// TestSafetyAndFuture: pre_restore_ copies are kept and not counted unless
// IncludeSafety; a backup dated in the future is kept, counts toward
// nothing and cannot push real backups out; held items stay.
func TestSafetyAndFuture(t *testing.T) {
	t.Parallel()
	items := timeline(nov1, 6*time.Hour, 120)
	items = append(items,
		Item{ID: "pre_1130T19", Time: now.Add(-time.Minute), Safety: true},
		Item{ID: "pre_1110T03", Time: time.Date(2026, 11, 10, 3, 0, 0, 0, time.UTC), Safety: true},
		Item{ID: "fake_2030", Time: time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)},
		Item{ID: "nomanifest", Time: nov1, Hold: "no manifest: not pruned automatically"},
	)
	ds := Apply(items, Policy{Last: 2}, now)
	keep, _ := kept(ds)
	want := []string{
		"fake_2030: snapshot_at 2030-01-01T00:00:00Z is in the future: not counted, kept for a human to look at",
		"pre_1130T19: pre_restore_ safety copy: never counted or deleted without --include-safety",
		"1130T18: last snapshot",
		"1130T12: last snapshot",
		"pre_1110T03: pre_restore_ safety copy: never counted or deleted without --include-safety",
		"nomanifest: no manifest: not pruned automatically",
	}
	if !reflect.DeepEqual(keep, want) {
		t.Errorf("kept:\n  %s\nwant:\n  %s", strings.Join(keep, "\n  "), strings.Join(want, "\n  "))
	}
	// --keep-within counts from the newest backup not in the future.
	ds = Apply(items, Policy{Within: 7 * time.Hour}, now)
	keep, _ = kept(ds)
	if got := fmt.Sprint(keep); !strings.Contains(got, "1130T12: within") || strings.Contains(got, "1130T06") {
		t.Errorf("within 7h from 1130T18: %v", keep)
	}
	ds = Apply(items, Policy{Last: 2, IncludeSafety: true}, now)
	keep, del := kept(ds)
	want = []string{
		"fake_2030: snapshot_at 2030-01-01T00:00:00Z is in the future: not counted, kept for a human to look at",
		"pre_1130T19: last snapshot",
		"1130T18: last snapshot",
		"nomanifest: no manifest: not pruned automatically",
	}
	if !reflect.DeepEqual(keep, want) {
		t.Errorf("with IncludeSafety kept:\n  %s\nwant:\n  %s", strings.Join(keep, "\n  "), strings.Join(want, "\n  "))
	}
	sort.Strings(del)
	if i := sort.SearchStrings(del, "pre_1110T03"); i == len(del) || del[i] != "pre_1110T03" {
		t.Errorf("with IncludeSafety the old safety copy is not deleted: %v", del)
	}
}

func TestKeepUntil(t *testing.T) {
	t.Parallel()
	p := Policy{Last: 3, Daily: 7, Weekly: 4, Monthly: 12, Within: 48 * time.Hour}
	ds := Apply(timeline(nov1, 6*time.Hour, 120), p, now)
	byID := map[string]Decision{}
	for _, d := range ds {
		byID[d.Item.ID] = d
	}
	for id, want := range map[string]time.Time{
		"1130T18": time.Date(2027, 11, 30, 18, 0, 0, 0, time.UTC), // monthly 12
		"1129T18": time.Date(2026, 12, 27, 18, 0, 0, 0, time.UTC), // weekly 4
		"1128T18": time.Date(2026, 12, 5, 18, 0, 0, 0, time.UTC),  // daily 7 (within 48h: 11-30 18)
		"1130T06": time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC),   // last (no span) + within 48h
		"1101T00": {},                                             // deleted
	} {
		if got := p.KeepUntil(byID[id]); !got.Equal(want) {
			t.Errorf("KeepUntil(%s) = %s, want %s (reasons %s)", id, got, want, byID[id].Why())
		}
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p    Policy
		want string
	}{
		{Policy{}, "no retention rule"},
		{Policy{Daily: -2}, "--keep-daily -2"},
		{Policy{Within: -time.Hour}, "--keep-within"},
		{Policy{Last: -1}, ""},
	} {
		err := tc.p.Validate()
		if (tc.want == "") != (err == nil) || err != nil && !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.p, err, tc.want)
		}
	}
}

func TestParseSpan(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"36h": 36 * time.Hour, "7d": 168 * time.Hour, "2w": 336 * time.Hour, "1y": 8760 * time.Hour,
		"1w2d12h": (9*24 + 12) * time.Hour, "90m": 90 * time.Minute,
	} {
		if got, err := ParseSpan(in); err != nil || got != want {
			t.Errorf("ParseSpan(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "d", "7", "7x", "-1d", "1d-", "h1"} {
		if _, err := ParseSpan(in); err == nil {
			t.Errorf("ParseSpan(%q) accepted", in)
		}
	}
}
