package casino_test

import (
	"errors"
	"fmt"
	"io/fs"
	"testing"

	"casino"
)

// TestErrorfWraps: %w in Errorf is matchable by errors.Is and errors.As,
// while the code and the message stay what the caller formatted; %v wraps
// nothing.
func TestErrorfWraps(t *testing.T) {
	cause := fmt.Errorf("read x: %w", fs.ErrNotExist)
	err := fmt.Errorf("restore: %w", casino.Errorf(casino.EINVALID, "backup %s: %w", "b.gz", cause))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("errors.Is(%v, fs.ErrNotExist) = false", err)
	}
	if got := casino.ErrorCode(err); got != casino.EINVALID {
		t.Errorf("code = %q, want invalid", got)
	}
	if got, want := casino.ErrorMessage(err), "backup b.gz: read x: file does not exist"; got != want {
		t.Errorf("message = %q, want %q", got, want)
	}
	if errors.Is(casino.Errorf(casino.EINVALID, "backup: %v", cause), fs.ErrNotExist) {
		t.Error("Errorf with a plain verb wrapped its operand")
	}
}
