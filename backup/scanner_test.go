package backup

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func fakeDump(rows int) []byte {
	var b bytes.Buffer
	b.WriteString("--\n-- PostgreSQL database dump\n--\nCREATE TABLE public.audit_events (id bigint);\n")
	b.WriteString("COPY public.audit_events (id, ts, action, after) FROM stdin;\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%d\t2026-11-29 03:00:00+00\ttenant.update\t{\"name\":\"%s\",\"note\":\"\\\\.\"}\n", i, strings.Repeat("x", 200))
	}
	b.WriteString("\\.\n\nCOPY public.tenants (id) FROM stdin;\n1\n2\n\\.\n\n--\n-- PostgreSQL database dump complete\n--\n\n")
	return b.Bytes()
}

// TestDumpScannerAcrossChunks feeds a dump in odd-sized chunks: the COPY
// row counts and the trailer must not depend on where writes split lines.
func TestDumpScannerAcrossChunks(t *testing.T) {
	t.Parallel()
	d := fakeDump(1000)
	for _, chunk := range []int{1, 2, 3, 7, 100, 4096, len(d)} {
		s := newDumpScanner()
		for i := 0; i < len(d); i += chunk {
			s.Write(d[i:min(i+chunk, len(d))])
		}
		if s.counts["audit_events"] != 1000 || s.counts["tenants"] != 2 || !s.complete() || s.inCopy {
			t.Errorf("chunk %d: counts %v complete %v inCopy %v", chunk, s.counts, s.complete(), s.inCopy)
		}
		if err := s.check(map[string]int64{"audit_events": 1000, "tenants": 2}); err != nil {
			t.Errorf("chunk %d: %v", chunk, err)
		}
		if err := s.check(map[string]int64{"audit_events": 1001, "tenants": 2}); err == nil {
			t.Errorf("chunk %d: a count mismatch passed", chunk)
		}
	}
	s := newDumpScanner()
	s.Write(d[:len(d)/2])
	if s.check(map[string]int64{"audit_events": 1000, "tenants": 2}) == nil {
		t.Error("half a dump passed the check")
	}
}

func BenchmarkDumpScanner(b *testing.B) {
	d := fakeDump(100000)
	b.SetBytes(int64(len(d)))
	for i := 0; i < b.N; i++ {
		s := newDumpScanner()
		for j := 0; j < len(d); j += 32 << 10 {
			s.Write(d[j:min(j+32<<10, len(d))])
		}
	}
}
