package backup

import (
	"bytes"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// testdata/pg_dump_seed.sql is real pg_dump 15 output (--no-owner
// --no-privileges, as casino's backups) of a database migrated to schema 1
// and filled by `casino dev seed`; testdata/pg_schema.sql is pg_dump
// --schema-only (with owners) of the same database: the reference DDL.

// testDumpSchema builds the parser's schema from testdata without a
// database: the reference DDL, the COPY headers' columns and the setval
// sequences of the real dump.
func testDumpSchema(t testing.TB) (*dumpSchema, []byte) {
	t.Helper()
	ref, err := os.ReadFile("testdata/pg_schema.sql")
	if err != nil {
		t.Fatal(err)
	}
	dump, err := os.ReadFile("testdata/pg_dump_seed.sql")
	if err != nil {
		t.Fatal(err)
	}
	ddl, err := parseReferenceDDL(ref)
	if err != nil {
		t.Fatal(err)
	}
	s := &dumpSchema{version: 1, ddl: ddl, tables: map[string][]string{}, sequences: map[string]bool{}}
	for _, m := range regexp.MustCompile(`(?m)^COPY public\.(\w+) \(([^)]*)\) FROM stdin;$`).FindAllStringSubmatch(string(dump), -1) {
		s.tables[m[1]] = strings.Split(m[2], ", ")
	}
	for _, m := range regexp.MustCompile(`setval\('public\.(\w+)'`).FindAllStringSubmatch(string(dump), -1) {
		s.sequences[m[1]] = true
	}
	return s, dump
}

// recordSink records what the parser hands on.
type recordSink struct {
	p       *dumpParser
	begins  []string
	rows    map[string]int
	data    map[string]*bytes.Buffer
	setvals []string
}

func (r *recordSink) copyBegin(table string, line int) error {
	r.begins = append(r.begins, table)
	return nil
}

func (r *recordSink) copyChunk(table string, data []byte, line int) error {
	if r.data[table] == nil {
		r.data[table] = &bytes.Buffer{}
	}
	r.data[table].Write(data)
	r.rows[table] += bytes.Count(data, []byte("\n"))
	r.p.release(data)
	return nil
}

func (r *recordSink) setval(seq string, v int64, called bool, line int) error {
	r.setvals = append(r.setvals, seq)
	return nil
}

func parseWith(s *dumpSchema, in []byte, half bool) (*recordSink, error) {
	sink := &recordSink{rows: map[string]int{}, data: map[string]*bytes.Buffer{}}
	p := newDumpParser(s, sink)
	sink.p = p
	r := iotestReader(in, half)
	return sink, p.parse(r)
}

func iotestReader(in []byte, half bool) interface{ Read([]byte) (int, error) } {
	if half {
		return iotest.HalfReader(bytes.NewReader(in))
	}
	return bytes.NewReader(in)
}

func TestDumpParserAcceptsRealDump(t *testing.T) {
	s, dump := testDumpSchema(t)
	sink, err := parseWith(s, dump, false)
	if err != nil {
		t.Fatalf("parse the real dump: %v", err)
	}
	if sink.rows["audit_events"] != 20 || sink.rows["tenants"] != 3 || sink.rows["users"] != 6 || sink.rows["system_state"] != 1 {
		t.Errorf("rows %v: want 20 audit events, 3 tenants, 6 users, 1 system_state", sink.rows)
	}
	if len(sink.setvals) != 6 {
		t.Errorf("setvals %v, want 6", sink.setvals)
	}
	// The same dump with owners (pg_dump without --no-owner) is accepted.
	withOwner := strings.Replace(string(dump), "CREATE TABLE public.users (", "ALTER FUNCTION public.audit_events_append_only() OWNER TO somebody;\nCREATE TABLE public.users (", 1)
	if _, err := parseWith(s, []byte(withOwner), false); err != nil {
		t.Errorf("dump with an OWNER TO line: %v", err)
	}
}

// TestDumpParserRefusals checks the reason and line of each refusal
// without a database (the crafted-backup suite runs them end to end).
func TestDumpParserRefusals(t *testing.T) {
	s, dump := testDumpSchema(t)
	d := string(dump)
	anchor := "SET row_security = off;\n"
	line := strings.Count(d[:strings.Index(d, anchor)+len(anchor)], "\n") + 1
	cases := []struct{ insert, want string }{
		{`\! touch /tmp/x`, `shell escape`},
		{`\connect other`, `\connect`},
		{`\set ON_ERROR_STOP 0`, `meta-command \set`},
		{`COPY public.users TO PROGRAM 'sh'; `, `PROGRAM`},
		{`CREATE ROLE x SUPERUSER;`, `role statement`},
		{`ALTER ROLE postgres PASSWORD 'x';`, `role statement`},
		{`CREATE DATABASE other;`, `another database`},
		{`CREATE FUNCTION f() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$;`, `function`},
		{`SELECT pg_catalog.setval('public.tenants_id_seq', (SELECT 1), true);`, `literal value`},
		{`/* hidden */ SELECT 1;`, `block comment`},
		{`COPY public.tenants (id) FROM stdin;`, `with columns`},
		{`COPY public.tenants (id, name, slug, status, created_at, updated_at) FROM '/etc/passwd';`, `COPY form`},
	}
	for _, tc := range cases {
		in := strings.Replace(d, anchor, anchor+tc.insert+"\n", 1)
		_, err := parseWith(s, []byte(in), false)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "line "+strconv.Itoa(line)+" ") {
			t.Errorf("%s: %v, want line %d and %q", tc.insert, err, line, tc.want)
		}
	}
	for name, in := range map[string]string{
		"truncated inside COPY": d[:strings.Index(d, "COPY public.tenants")+200],
		"no trailer":            strings.Replace(d, "-- PostgreSQL database dump complete", "-- something else", 1),
	} {
		if _, err := parseWith(s, []byte(in), false); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// FuzzDumpLoader feeds the parser arbitrary dumps, seeded with real
// pg_dump output and edits of it. Whatever it accepts must be what the
// loader may run: COPY data of known tables (whole lines, never a \.
// terminator inside), setval on known sequences, a completion trailer, and
// no meta-command outside COPY data. Splitting reads differently must not
// change the verdict or the data.
func FuzzDumpLoader(f *testing.F) {
	s, dump := testDumpSchema(f)
	f.Add(dump)
	d := string(dump)
	for _, edit := range []string{`\! id`, `COPY (SELECT 1) TO PROGRAM 'id';`, `CREATE ROLE r;`, `SELECT pg_catalog.setval('public.users_id_seq', 1, true);`, "SET lock_timeout = 0; \\! id", "$$ ; $$", `"a""b"`, "'it''s'"} {
		f.Add([]byte(strings.Replace(d, "SET row_security = off;\n", "SET row_security = off;\n"+edit+"\n", 1)))
	}
	f.Add([]byte(d[:len(d)/2]))
	f.Fuzz(func(t *testing.T, in []byte) {
		sink, err := parseWith(s, in, false)
		sink2, err2 := parseWith(s, in, true)
		if (err == nil) != (err2 == nil) {
			t.Fatalf("verdict depends on read sizes: %v vs %v", err, err2)
		}
		if err != nil {
			return
		}
		for table, b := range sink.data {
			if _, ok := s.tables[table]; !ok {
				t.Fatalf("loaded unknown table %s", table)
			}
			if b2 := sink2.data[table]; b2 == nil || !bytes.Equal(b.Bytes(), b2.Bytes()) {
				t.Fatalf("data of %s depends on read sizes", table)
			}
			if b.Len() > 0 && b.Bytes()[b.Len()-1] != '\n' {
				t.Fatalf("data of %s ends mid-line", table)
			}
			for _, l := range bytes.Split(b.Bytes(), []byte("\n")) {
				if string(l) == `\.` {
					t.Fatalf("a \\. line inside the data of %s", table)
				}
			}
		}
		for _, q := range sink.setvals {
			if !s.sequences[q] {
				t.Fatalf("setval on unknown sequence %s", q)
			}
		}
		var all []byte
		for _, b := range sink.data {
			all = append(all, b.Bytes()...)
		}
		for _, l := range bytes.Split(in, []byte("\n")) {
			if len(l) > 0 && l[0] == '\\' && !restrictRE.Match(l) && string(l) != `\.` && !bytes.Contains(all, append(l, '\n')) {
				t.Fatalf("accepted a meta-command outside COPY data: %q", l)
			}
		}
		if !bytes.Contains(in, []byte("\n-- PostgreSQL database dump complete")) && !bytes.HasPrefix(in, []byte("-- PostgreSQL database dump complete")) {
			t.Fatal("accepted without the completion trailer")
		}
	})
}
