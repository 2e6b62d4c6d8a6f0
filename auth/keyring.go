package auth

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"
)

// The token signing keys never live in the database: physical copies of it
// (backups, pg_basebackup, Litestream, file copies) would carry them, and
// whoever reads one could mint owner tokens. They come from CASINO_JWT_KEY
// (one key) or from a key file beside the database, which holds every key
// still accepted, each named by a kid that tokens carry in their header.

// SigningKey is one HS256 key and its id.
type SigningKey struct {
	ID     string `json:"kid"`
	Secret []byte `json:"key"`
	// Created is when the key was added; RetiredAt when a newer key
	// replaced it (its tokens are accepted until they expire).
	Created   time.Time  `json:"created_at"`
	RetiredAt *time.Time `json:"retired_at,omitempty"`
}

// KeyID names a key: the first 16 hex digits of the sha256 of the secret.
func KeyID(secret []byte) string {
	s := sha256.Sum256(secret)
	return hex.EncodeToString(s[:8])
}

// keySet is the keys a Tokens signs and verifies with.
type keySet struct {
	current SigningKey
	byID    map[string][]byte
}

func newKeySet(keys []SigningKey) (keySet, error) {
	if len(keys) == 0 {
		return keySet{}, errors.New("no token signing key")
	}
	ks := keySet{current: keys[len(keys)-1], byID: map[string][]byte{}}
	for _, k := range keys {
		if len(k.Secret) < MinKeyLen {
			return keySet{}, fmt.Errorf("token signing key %s is shorter than %d bytes", k.ID, MinKeyLen)
		}
		ks.byID[k.ID] = k.Secret
	}
	return ks, nil
}

// keyFileDoc is the key file's JSON.
type keyFileDoc struct {
	Keys []SigningKey `json:"keys"`
}

// KeyFile is the token key file: JSON, mode 0600, replaced atomically. The
// last key signs; every key in it verifies.
//
// A running server notices a change within KeyCheckInterval: the keys it
// serves with are rechecked (one stat) at most that often, and reread when
// the file is another file (a rotation renames a new one into place) or its
// size or modification time changed. Between checks a request reads the
// keys with two atomic loads, no lock and no system call.
type KeyFile struct {
	Path string

	set       atomic.Pointer[keySet]
	nextCheck atomic.Int64 // UnixNano before which set is served unchecked
	mu        sync.Mutex   // one check at a time; guards seen
	seen      fs.FileInfo  // the file the current set was read from
	now       func() time.Time
}

// KeyCheckInterval bounds how long a running server keeps serving keys that
// the key file no longer holds (a rotation, a --revoke-old).
const KeyCheckInterval = time.Second

// maxKeyFile bounds the key file read.
const maxKeyFile = 1 << 20

// Read returns the keys in the file; a missing file is fs.ErrNotExist.
func (f *KeyFile) Read() ([]SigningKey, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, err
	}
	if len(b) > maxKeyFile {
		return nil, fmt.Errorf("token key file %s is larger than %d bytes", f.Path, maxKeyFile)
	}
	var doc keyFileDoc
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("token key file %s is not valid JSON", f.Path)
	}
	if _, err := newKeySet(doc.Keys); err != nil {
		return nil, fmt.Errorf("token key file %s: %v", f.Path, err)
	}
	return doc.Keys, nil
}

// write replaces the file atomically (0600, fsynced, folder 0700).
func (f *KeyFile) write(keys []SigningKey) error {
	dir := filepath.Dir(f.Path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, _ := json.MarshalIndent(keyFileDoc{Keys: keys}, "", "  ")
	tmp := f.Path + ".tmp-" + base64.RawURLEncoding.EncodeToString(NewKey()[:6])
	t, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = t.Write(append(b, '\n'))
	if err == nil {
		err = t.Sync()
	}
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.Path)
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// Ensure creates the key file when it does not exist, holding initial (a
// key moved out of the database on upgrade) or, when nil, a new random key.
// It reports whether it created the file. An existing file is never
// replaced: a key from a restored database never comes back.
func (f *KeyFile) Ensure(initial []byte) (bool, error) {
	if _, err := f.Read(); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	if len(initial) < MinKeyLen {
		initial = NewKey()
	}
	k := SigningKey{ID: KeyID(initial), Secret: initial, Created: time.Now().UTC()}
	return true, f.write([]SigningKey{k})
}

// Rotate adds a new signing key. The older keys stay and verify until the
// tokens they signed expire (ttl after now), after which the next rotation
// drops them; with revokeOld they are dropped at once, refusing their
// tokens. Running servers pick the change up within KeyCheckInterval.
func (f *KeyFile) Rotate(ttl time.Duration, revokeOld bool) (SigningKey, []string, error) {
	keys, err := f.Read()
	if err != nil {
		return SigningKey{}, nil, err
	}
	now := time.Now().UTC()
	var kept []SigningKey
	var dropped []string
	for _, k := range keys {
		if k.RetiredAt == nil {
			at := now
			k.RetiredAt = &at
		}
		if revokeOld || now.Sub(*k.RetiredAt) > ttl+time.Minute {
			dropped = append(dropped, k.ID)
			continue
		}
		kept = append(kept, k)
	}
	secret := NewKey()
	nk := SigningKey{ID: KeyID(secret), Secret: secret, Created: now}
	if err := f.write(append(kept, nk)); err != nil {
		return SigningKey{}, nil, err
	}
	return nk, dropped, nil
}

// keys returns the current key set and whether it changed, rechecking the
// file when KeyCheckInterval has passed since the last check.
func (f *KeyFile) keys() (keySet, bool, error) {
	now := f.clock()
	if ks := f.set.Load(); ks != nil && now.UnixNano() < f.nextCheck.Load() {
		return *ks, false, nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	cur := f.set.Load()
	if cur != nil && now.UnixNano() < f.nextCheck.Load() {
		return *cur, false, nil // another request just checked
	}
	f.nextCheck.Store(now.Add(KeyCheckInterval).UnixNano())
	st, err := os.Stat(f.Path)
	if err != nil {
		if cur != nil {
			return *cur, false, nil // keep serving with what we have
		}
		return keySet{}, false, err
	}
	if cur != nil && sameFile(f.seen, st) {
		return *cur, false, nil
	}
	ks, err := f.Read()
	if err != nil {
		if cur != nil {
			return *cur, false, nil
		}
		return keySet{}, false, err
	}
	set, err := newKeySet(ks)
	if err != nil {
		return keySet{}, false, err
	}
	f.set.Store(&set)
	f.seen = st
	return set, cur != nil, nil
}

// sameFile reports whether b is still the file a was: same inode, size and
// modification time. A rotation writes a new file and renames it into
// place, so it is another inode even within one tick of the clock.
func sameFile(a, b fs.FileInfo) bool {
	return a != nil && os.SameFile(a, b) && a.Size() == b.Size() && a.ModTime().Equal(b.ModTime())
}

func (f *KeyFile) clock() time.Time {
	if f.now != nil {
		return f.now()
	}
	return time.Now()
}
