package dr

import (
	"errors"
	"fmt"
	"os"
)

// Source is a document dr uses (the proof template, the runbook, the
// targets): its bytes and where they came from, a path or "embedded:NAME".
type Source struct {
	Name string
	Text []byte
}

// maxSourceBytes bounds a template, runbook or targets file.
const maxSourceBytes = 4 << 20

// LoadSource reads path when it is given (it must exist), else fallback when
// it exists, else the embedded default named name.
func LoadSource(path, fallback, name string, embedded []byte) (Source, error) {
	for i, p := range []string{path, fallback} {
		if p == "" {
			continue
		}
		fi, err := os.Stat(p)
		if errors.Is(err, os.ErrNotExist) && i == 1 {
			continue
		}
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				return Source{}, fmt.Errorf("%s %s does not exist (leave the flag out to use the default built into casino)", name, p)
			}
			return Source{}, fmt.Errorf("%s: %w", name, err)
		}
		if !fi.Mode().IsRegular() || fi.Size() > maxSourceBytes {
			return Source{}, fmt.Errorf("%s %s: not a regular file of at most %d bytes", name, p, maxSourceBytes)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return Source{}, fmt.Errorf("%s: %w", name, err)
		}
		return Source{Name: p, Text: b}, nil
	}
	return Source{Name: "embedded:" + name, Text: embedded}, nil
}
