// Package logcheck validates log output against the machine-readable log
// contract, docs/ops/log_schema.json, for tests.
package logcheck

import (
	"bufio"
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"casino/internal/testpg"
)

var (
	once   sync.Once
	schema *jsonschema.Schema
	err    error
)

// Schema compiles docs/ops/log_schema.json once.
func Schema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	once.Do(func() {
		c := jsonschema.NewCompiler()
		c.AssertFormat()
		path := filepath.Join(testpg.RepoRoot(), "docs", "ops", "log_schema.json")
		schema, err = c.Compile(path)
	})
	if err != nil {
		t.Fatalf("compile log schema: %v", err)
	}
	return schema
}

// Lines validates every line of output against the schema and returns the
// decoded lines. Every line must be JSON: stdout carries nothing else.
func Lines(t testing.TB, output string) []map[string]any {
	t.Helper()
	s := Schema(t)
	var out []map[string]any
	sc := bufio.NewScanner(strings.NewReader(output))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := sc.Bytes()
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		v, err := jsonschema.UnmarshalJSON(bytes.NewReader(line))
		if err != nil {
			t.Errorf("log line %d is not JSON: %v\n%s", n, err, line)
			continue
		}
		if err := s.Validate(v); err != nil {
			t.Errorf("log line %d violates docs/ops/log_schema.json: %v\n%s", n, err, line)
			continue
		}
		var m map[string]any
		json.Unmarshal(line, &m)
		out = append(out, m)
	}
	return out
}

// Events returns the lines whose event field is ev.
func Events(lines []map[string]any, ev string) []map[string]any {
	var out []map[string]any
	for _, l := range lines {
		if l["event"] == ev {
			out = append(out, l)
		}
	}
	return out
}
