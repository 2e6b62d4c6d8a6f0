package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"casino/redact"
)

// TestSecretEnvNames: secretEnvNames names only variables the code uses, and
// every CASINO_ variable the code names that looks like a secret is in it.
func TestSecretEnvNames(t *testing.T) {
	t.Parallel()
	var src strings.Builder
	root := filepath.Join("..", "..")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
		return nil
	})
	// The list itself is not a use.
	code := regexp.MustCompile(`(?m)^var secretEnvNames = .*$`).ReplaceAllString(src.String(), "")
	for _, name := range secretEnvNames {
		if !strings.Contains(code, `"`+name+`"`) && !strings.Contains(code, `"`+name+`=`) {
			t.Errorf("secretEnvNames lists %s, which no code reads or sets", name)
		}
	}
	for _, name := range regexp.MustCompile(`"(CASINO_[A-Z0-9_]+)"`).FindAllStringSubmatch(code, -1) {
		if redact.IsSecretName(name[1]) && !slices.Contains(secretEnvNames, name[1]) {
			t.Errorf("%s looks like a secret but is not in secretEnvNames", name[1])
		}
	}
}
