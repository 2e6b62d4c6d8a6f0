package auth

import (
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// TestKeyRotationWithinCheckInterval: servers read the key file at most
// once per KeyCheckInterval, and a rotation with --revoke-old refuses the
// old key's tokens as soon as that interval has passed since the last check,
// never later; a new key's tokens verify from then on.
func TestKeyRotationWithinCheckInterval(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	f := &KeyFile{Path: filepath.Join(t.TempDir(), "keys", "jwt.json"), now: clock}
	if _, err := f.Ensure(nil); err != nil {
		t.Fatal(err)
	}
	tk, err := NewFileTokens(f, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	old, _, _ := tk.Issue(1, "a@b.c", "owner", 0)
	if _, err := tk.Parse(old); err != nil {
		t.Fatal(err)
	}
	// Another process (casino admin rotate-jwt-key --revoke-old) rotates.
	other := &KeyFile{Path: f.Path}
	nk, dropped, err := other.Rotate(time.Hour, true)
	if err != nil || len(dropped) != 1 {
		t.Fatalf("rotate: %v %v", dropped, err)
	}
	// Within the interval the server has not looked at the file yet.
	advance(KeyCheckInterval - time.Millisecond)
	if _, err := tk.Parse(old); err != nil {
		t.Fatalf("before the interval passed: %v", err)
	}
	// Once it has, the very next request rereads: the old key is gone.
	advance(time.Millisecond)
	if _, err := tk.Parse(old); err == nil {
		t.Fatal("a token of the revoked key is accepted after KeyCheckInterval")
	}
	fresh, _, err := tk.Issue(1, "a@b.c", "owner", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Parse(fresh); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if ks, _, _ := f.keys(); ks.current.ID != nk.ID {
		t.Errorf("signing with %s, want the new key %s", ks.current.ID, nk.ID)
	}

	// Two rotations inside one tick of the file clock are both seen: each
	// is a new file.
	for range 2 {
		nk, _, err = other.Rotate(time.Hour, true)
		if err != nil {
			t.Fatal(err)
		}
		advance(KeyCheckInterval)
		if ks, _, _ := f.keys(); ks.current.ID != nk.ID {
			t.Fatalf("signing with %s, want %s", ks.current.ID, nk.ID)
		}
	}
	// With no change, a check rereads nothing and reports no change.
	advance(KeyCheckInterval)
	if _, changed, err := f.keys(); changed || err != nil {
		t.Errorf("unchanged file: changed=%v err=%v", changed, err)
	}
}
