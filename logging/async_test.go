package logging

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestAsyncWriterKeepsEveryLineInOrder: many goroutines log through the
// group-commit writer into a real file; after Flush every line is there,
// whole, and each goroutine's lines are in the order it wrote them.
func TestAsyncWriterKeepsEveryLineInOrder(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "log"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	l := New(f, 0)
	if _, ok := l.Handler().(*Handler).out.w.(*asyncWriter); !ok {
		t.Fatal("a file must get the group-commit writer")
	}
	const writers, lines = 8, 5000
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := l.Handler().(*Handler)
			for i := range lines {
				h.WriteRequest(t.Context(), &Request{ID: fmt.Sprintf("g%d-%06d", g, i), StatusCode: 200})
			}
		}()
	}
	wg.Wait()
	Flush(l)
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("lines: got %d, want %d", len(got), writers*lines)
	}
	last := map[string]string{}
	for _, line := range got {
		i := strings.Index(line, `"request_id":"g`)
		if !strings.HasPrefix(line, `{"ts":"`) || !strings.HasSuffix(line, "}") || i < 0 {
			t.Fatalf("torn line: %q", line)
		}
		id := line[i+len(`"request_id":"`) : i+len(`"request_id":"`)+9]
		g := id[:strings.Index(id, "-")]
		if id <= last[g] {
			t.Fatalf("goroutine %s out of order: %s after %s", g, id, last[g])
		}
		last[g] = id
	}
}

// TestBufferWritesAreSynchronous: a non-file writer (tests read it right
// after a call) sees each line when the call returns.
func TestBufferWritesAreSynchronous(t *testing.T) {
	var buf bytes.Buffer
	l := New(&buf, 0)
	l.Info("startup")
	if !strings.Contains(buf.String(), `"event":"startup"`) {
		t.Fatalf("line not written synchronously: %q", buf.String())
	}
}
