package backup

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"casino"
	"casino/redact"
)

// The dump parser reads plain pg_dump output and decides, line by line,
// what the loader may do with it. It executes nothing itself: it hands
// COPY data blocks of known tables (with exactly the expected columns) and
// literal setval calls on known sequences to a dumpSink, skips the DDL that
// pg_dump writes for casino's own schema (the migrations already built it),
// and refuses everything else with the line number and a reason. psql never
// sees the file, so nothing in it is ever run as SQL or as a meta-command.

// dumpSchema is what a dump of casino's schema at one version may contain.
type dumpSchema struct {
	version int
	// ddl holds the normalised statements pg_dump writes for the schema
	// (from pg_dump --schema-only of a freshly migrated database); a dump
	// statement found here is skipped.
	ddl map[string]bool
	// tables maps each table a COPY may load to its columns, in order.
	tables map[string][]string
	// sequences a setval may set.
	sequences map[string]bool
}

// dumpSink receives what the parser accepts. copyChunk takes ownership of
// data (whole COPY text lines, without the \. terminator); the sink gives
// the buffer back through the parser's release.
type dumpSink interface {
	copyBegin(table string, line int) error
	copyChunk(table string, data []byte, firstLine int) error
	setval(seq string, value int64, called bool, line int) error
}

// Limits on what one line or statement outside COPY data may hold, and on
// one COPY row. pg_dump writes short DDL lines; a row is as long as its
// values (a PostgreSQL field holds at most 1 GB; casino's rows are small).
const (
	maxDumpStatement = 1 << 20
	maxDumpRow       = 256 << 20
	dumpChunkSize    = 4 << 20
)

// dumpParser is one pass over a dump.
type dumpParser struct {
	schema *dumpSchema
	sink   dumpSink
	// onStmt, when set, receives every complete statement instead of
	// classify (used to collect the reference DDL of pg_dump --schema-only).
	onStmt func(stmt string, line int) error

	line      int
	long      []byte
	copying   string // table of the COPY block being read, "" outside
	chunk     []byte
	chunkLine int
	seenCopy  map[string]bool
	complete  bool // pg_dump's completion trailer was seen
	free      chan []byte

	// statement state
	norm      []byte
	inStmt    bool
	stmtLine  int
	quote     byte   // '\'' or '"' while inside a quoted literal or identifier
	dollarTag []byte // non-nil while inside a $tag$ ... $tag$ string
	dollarEnd int    // len(norm) where the dollar-quoted body begins
	space     bool
	afterCopy bool // the current line held a COPY statement: nothing may follow it
}

func newDumpParser(schema *dumpSchema, sink dumpSink) *dumpParser {
	return &dumpParser{schema: schema, sink: sink, seenCopy: map[string]bool{}, free: make(chan []byte, 16)}
}

// release gives a chunk buffer back for reuse.
func (p *dumpParser) release(b []byte) {
	select {
	case p.free <- b[:0]:
	default:
	}
}

func (p *dumpParser) newChunk() []byte {
	select {
	case b := <-p.free:
		return b
	default:
		// Small tables need small buffers; a large table's grow by append
		// and come back through release for the next chunks.
		return make([]byte, 0, 64<<10)
	}
}

// refuse is the error for a dump line the loader will not take.
func refuse(line int, reason string, text []byte) error {
	s := strings.TrimSpace(string(text))
	if len(s) > 100 {
		s = s[:100] + "..."
	}
	return errorf(casino.EINVALID, "line %d of the dump: %s: %q", line, reason, redact.String(s))
}

var errDumpIncomplete = errors.New("the SQL dump is incomplete: pg_dump's completion trailer is missing (truncated or interrupted dump)")

// parse reads the whole dump from r.
func (p *dumpParser) parse(r io.Reader) error {
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		max := maxDumpStatement
		if p.copying != "" {
			max = maxDumpRow
		}
		l, err := p.readLine(br, max)
		if len(l) > 0 {
			p.line++
			if perr := p.handleLine(l, err == io.EOF); perr != nil {
				return perr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	switch {
	case p.copying != "":
		return errorf(casino.EINVALID, "the SQL dump ends inside the COPY block of %s (line %d): truncated dump", p.copying, p.line)
	case p.inStmt:
		return errorf(casino.EINVALID, "the SQL dump ends inside a statement begun at line %d: truncated dump", p.stmtLine)
	case p.onStmt == nil && !p.complete:
		return errorf(casino.EINVALID, "%s", errDumpIncomplete)
	}
	return nil
}

var errLineTooLong = errors.New("line too long")

// readLine returns the next line with its newline (the last may lack it),
// valid until the next call.
func (p *dumpParser) readLine(br *bufio.Reader, max int) ([]byte, error) {
	l, err := br.ReadSlice('\n')
	if err != bufio.ErrBufferFull {
		return l, err
	}
	p.long = append(p.long[:0], l...)
	for {
		l, err = br.ReadSlice('\n')
		p.long = append(p.long, l...)
		if len(p.long) > max {
			return nil, errorf(casino.EINVALID, "line %d of the dump: %s (over %d bytes)", p.line+1, errLineTooLong, max)
		}
		if err != bufio.ErrBufferFull {
			return p.long, err
		}
	}
}

func (p *dumpParser) handleLine(l []byte, last bool) error {
	if p.copying != "" {
		return p.copyLine(l, last)
	}
	if !p.inStmt {
		t := bytes.TrimRight(l, " \t\r\n")
		switch {
		case len(bytes.TrimLeft(t, " \t")) == 0:
			return nil
		case bytes.HasPrefix(t, []byte("--")):
			if string(t) == "-- PostgreSQL database dump complete" {
				p.complete = true
			}
			return nil
		case t[0] == '\\':
			return p.metaCommand(t)
		}
		if p.complete && p.onStmt == nil {
			return refuse(p.line, "a statement after pg_dump's completion trailer (pg_dump writes nothing there)", t)
		}
	}
	return p.scanStatement(l)
}

var restrictRE = regexp.MustCompile(`^\\(?:un)?restrict [A-Za-z0-9]{1,128}$`)

// metaCommand accepts the \restrict and \unrestrict lines pg_dump writes
// (since 17.6, 16.10, 15.14, ...) and refuses every other psql
// meta-command: they run shell commands (\!), read or write files (\i,
// \o, \copy), or switch databases (\connect).
func (p *dumpParser) metaCommand(t []byte) error {
	if restrictRE.Match(t) {
		return nil
	}
	cmd := string(t)
	if i := strings.IndexAny(cmd, " \t"); i >= 0 {
		cmd = cmd[:i]
	}
	reason := "a psql meta-command " + cmd + " (pg_dump writes only \\restrict and \\unrestrict)"
	switch cmd {
	case `\!`:
		reason = `a psql shell escape \! (it would run a shell command as the operator)`
	case `\c`, `\connect`:
		reason = `a psql \connect to another database (a dump of casino holds one database)`
	case `\copy`:
		reason = `a psql \copy (it reads or writes files on the operator's machine)`
	case `\o`, `\out`, `\w`, `\write`, `\i`, `\include`, `\ir`, `\include_relative`:
		reason = "a psql meta-command " + cmd + " (it reads or writes files on the operator's machine)"
	}
	return refuse(p.line, reason, t)
}

// copyLine takes one line of a COPY block.
func (p *dumpParser) copyLine(l []byte, last bool) error {
	if len(l) == 3 && l[0] == '\\' && l[1] == '.' && l[2] == '\n' || len(l) == 2 && l[0] == '\\' && l[1] == '.' {
		if err := p.flush(); err != nil {
			return err
		}
		p.copying = ""
		return nil
	}
	if l[len(l)-1] != '\n' {
		return errorf(casino.EINVALID, "the SQL dump ends inside the COPY block of %s (line %d): truncated dump", p.copying, p.line)
	}
	if p.chunk == nil {
		p.chunk = p.newChunk()
		p.chunkLine = p.line
	}
	p.chunk = append(p.chunk, l...)
	if len(p.chunk) >= dumpChunkSize {
		return p.flush()
	}
	return nil
}

func (p *dumpParser) flush() error {
	if len(p.chunk) == 0 {
		return nil
	}
	c := p.chunk
	p.chunk = nil
	return p.sink.copyChunk(p.copying, c, p.chunkLine)
}

// scanStatement tokenises one line of SQL outside COPY data: quotes,
// dollar quotes and comments as PostgreSQL reads them, whitespace outside
// them collapsed to one space. A backslash outside quotes is a psql
// meta-command in the middle of a line, and refused.
func (p *dumpParser) scanStatement(l []byte) error {
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case p.quote != 0:
			p.norm = append(p.norm, c)
			if c == p.quote {
				if i+1 < len(l) && l[i+1] == p.quote { // doubled: escaped
					p.norm = append(p.norm, c)
					i++
				} else {
					p.quote = 0
				}
			}
			continue
		case p.dollarTag != nil:
			p.norm = append(p.norm, c)
			if c == '$' && len(p.norm)-len(p.dollarTag) >= p.dollarEnd && bytes.HasSuffix(p.norm, p.dollarTag) {
				p.dollarTag = nil
			}
			continue
		}
		if p.afterCopy && c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return refuse(p.line, "text after a COPY statement on its line (pg_dump starts the data on the next line)", l)
		}
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n':
			p.space = true
			continue
		case c == '-' && i+1 < len(l) && l[i+1] == '-':
			p.space = true
			i = len(l) // comment to the end of the line
			continue
		case c == '/' && i+1 < len(l) && l[i+1] == '*':
			return refuse(p.line, "a block comment (pg_dump does not write them)", l)
		case c == '\\':
			return refuse(p.line, "a psql meta-command inside a statement (it would run before the statement is sent)", l)
		}
		if !p.inStmt {
			p.inStmt, p.stmtLine, p.norm = true, p.line, p.norm[:0]
		}
		if p.space && len(p.norm) > 0 {
			p.norm = append(p.norm, ' ')
		}
		p.space = false
		p.norm = append(p.norm, c)
		switch c {
		case '\'', '"':
			p.quote = c
		case '$':
			if tag := dollarTagAt(l[i:]); tag != nil && !identByteBefore(p.norm[:len(p.norm)-1]) {
				p.norm = append(p.norm, tag[1:]...)
				i += len(tag) - 1
				p.dollarTag = append([]byte(nil), tag...)
				p.dollarEnd = len(p.norm)
			}
		case ';':
			stmt := string(p.norm)
			line := p.stmtLine
			p.norm, p.inStmt, p.space = p.norm[:0], false, false
			if err := p.statement(stmt, line); err != nil {
				return err
			}
			if p.copying != "" {
				p.afterCopy = true
			}
		}
		if len(p.norm) > maxDumpStatement {
			return refuse(p.stmtLine, "a statement over 1 MiB (pg_dump writes none for casino's schema)", p.norm[:100])
		}
	}
	p.afterCopy = false
	return nil
}

// dollarTagAt returns the $tag$ opening b, or nil.
func dollarTagAt(b []byte) []byte {
	for j := 1; j < len(b); j++ {
		c := b[j]
		if c == '$' {
			return b[:j+1]
		}
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80 || j > 1 && c >= '0' && c <= '9') {
			return nil
		}
	}
	return nil
}

// identByteBefore reports whether b ends in an identifier byte: then a '$'
// is part of the identifier, not a dollar quote.
func identByteBefore(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	c := b[len(b)-1]
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}

// ownerRE matches the ownership statements pg_dump writes without
// --no-owner; the role is normalised away, since a dump from another
// server names another role (and the loader never runs them anyway).
var ownerRE = regexp.MustCompile(`^(ALTER (?:TABLE|SEQUENCE|FUNCTION|VIEW|TYPE|SCHEMA) .+ OWNER TO) (?:"[^"]+"|[a-z_][a-z0-9_$]*);$`)

// normaliseDDL is the form a DDL statement is compared in.
func normaliseDDL(s string) string {
	if m := ownerRE.FindStringSubmatch(s); m != nil {
		return m[1] + " ?;"
	}
	return s
}

// settingRE: the SET lines pg_dump writes at the top of a dump and between
// sections, with a plain literal value. Nothing here is executed.
var settingRE = regexp.MustCompile(`^SET ([a-z_]+) = ('[A-Za-z0-9_. -]*'|[A-Za-z0-9_.-]+);$`)

var dumpSettings = map[string]bool{
	"statement_timeout": true, "lock_timeout": true, "idle_in_transaction_session_timeout": true,
	"transaction_timeout": true, "client_encoding": true, "standard_conforming_strings": true,
	"check_function_bodies": true, "xmloption": true, "client_min_messages": true, "row_security": true,
	"default_tablespace": true, "default_table_access_method": true, "default_with_oids": true,
}

var (
	copyStmtRE = regexp.MustCompile(`^COPY public\.("(?:[^"]|"")+"|[a-z_][a-z0-9_$]*) \(((?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*)(?:, (?:"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*))*)\) FROM stdin;$`)
	setvalRE   = regexp.MustCompile(`^SELECT pg_catalog\.setval\('public\.([a-z_][a-z0-9_]*)', ([0-9]{1,19}), (true|false)\);$`)
	identRE    = regexp.MustCompile(`"(?:[^"]|"")+"|[a-z_][a-z0-9_$]*`)
)

func unquoteIdent(s string) string {
	if strings.HasPrefix(s, `"`) {
		return strings.ReplaceAll(s[1:len(s)-1], `""`, `"`)
	}
	return s
}

// statement decides about one complete statement.
func (p *dumpParser) statement(stmt string, line int) error {
	if p.onStmt != nil {
		return p.onStmt(stmt, line)
	}
	s := p.schema
	switch {
	case strings.HasPrefix(stmt, "COPY "):
		m := copyStmtRE.FindStringSubmatch(stmt)
		if m == nil {
			return refuse(line, copyReason(stmt), []byte(stmt))
		}
		table := unquoteIdent(m[1])
		want, ok := s.tables[table]
		if !ok {
			return refuse(line, fmt.Sprintf("COPY into table %s, which casino's schema at version %d does not have", table, s.version), []byte(stmt))
		}
		var cols []string
		for _, c := range identRE.FindAllString(m[2], -1) {
			cols = append(cols, unquoteIdent(c))
		}
		if strings.Join(cols, ",") != strings.Join(want, ",") {
			return refuse(line, fmt.Sprintf("COPY into %s with columns (%s); casino's schema at version %d has (%s)", table, strings.Join(cols, ", "), s.version, strings.Join(want, ", ")), []byte(stmt))
		}
		if p.seenCopy[table] {
			return refuse(line, "a second COPY block for "+table+" (pg_dump writes one per table)", []byte(stmt))
		}
		p.seenCopy[table] = true
		if err := p.sink.copyBegin(table, line); err != nil {
			return err
		}
		p.copying = table
		return nil
	case strings.HasPrefix(stmt, "SELECT pg_catalog.setval("):
		m := setvalRE.FindStringSubmatch(stmt)
		if m == nil {
			return refuse(line, "a setval with anything but a sequence name and a literal value (an expression could call any function)", []byte(stmt))
		}
		if !s.sequences[m[1]] {
			return refuse(line, fmt.Sprintf("setval on sequence %s, which casino's schema at version %d does not have", m[1], s.version), []byte(stmt))
		}
		v, err := strconv.ParseInt(m[2], 10, 64)
		if err != nil || v < 1 {
			return refuse(line, "a setval value out of range", []byte(stmt))
		}
		return p.sink.setval(m[1], v, m[3] == "true", line)
	case stmt == "SELECT pg_catalog.set_config('search_path', '', false);":
		return nil
	}
	if m := settingRE.FindStringSubmatch(stmt); m != nil && dumpSettings[m[1]] {
		return nil
	}
	if s.ddl[normaliseDDL(stmt)] {
		return nil
	}
	return refuse(line, statementReason(stmt, s.version), []byte(stmt))
}

func copyReason(stmt string) string {
	u := strings.ToUpper(stmt)
	switch {
	case strings.Contains(u, "PROGRAM"):
		return "COPY ... PROGRAM (it runs a program on the database server)"
	case regexp.MustCompile(`\bTO\b`).MatchString(u):
		return "COPY ... TO (it writes data out of the database)"
	}
	return "a COPY form pg_dump does not write (only COPY public.<table> (<columns>) FROM stdin)"
}

var reasonPrefixes = []struct{ prefix, reason string }{
	{"CREATE ROLE", "a role statement"}, {"CREATE USER", "a role statement"}, {"CREATE GROUP", "a role statement"},
	{"ALTER ROLE", "a role statement"}, {"ALTER USER", "a role statement"}, {"ALTER GROUP", "a role statement"},
	{"DROP ROLE", "a role statement"}, {"DROP USER", "a role statement"}, {"SET ROLE", "a role statement"},
	{"RESET ROLE", "a role statement"}, {"SET SESSION AUTHORIZATION", "a role statement"},
	{"SET SESSION ROLE", "a role statement"}, {"SET LOCAL ROLE", "a role statement"},
	{"GRANT", "a privilege statement (casino's backups are taken with --no-privileges)"},
	{"REVOKE", "a privilege statement (casino's backups are taken with --no-privileges)"},
	{"ALTER DEFAULT PRIVILEGES", "a privilege statement"},
	{"CREATE DATABASE", "a statement on another database"}, {"ALTER DATABASE", "a statement on another database"},
	{"DROP DATABASE", "a statement on another database"},
	{"CREATE FUNCTION", "a function casino's migrations do not create"},
	{"CREATE OR REPLACE FUNCTION", "a function casino's migrations do not create"},
	{"CREATE PROCEDURE", "a procedure casino's migrations do not create"},
	{"CREATE OR REPLACE PROCEDURE", "a procedure casino's migrations do not create"},
	{"CREATE AGGREGATE", "an aggregate casino's migrations do not create"},
	{"CREATE OPERATOR", "an operator casino's migrations do not create"},
	{"CREATE CAST", "a cast casino's migrations do not create"},
	{"CREATE EXTENSION", "an extension casino's migrations do not create"},
	{"CREATE LANGUAGE", "a language casino's migrations do not create"},
	{"CREATE EVENT TRIGGER", "an event trigger casino's migrations do not create"},
	{"CREATE TRIGGER", "a trigger casino's migrations do not create"},
	{"CREATE RULE", "a rule casino's migrations do not create"},
	{"CREATE POLICY", "a row security policy casino's migrations do not create"},
	{"CREATE VIEW", "a view casino's migrations do not create"},
	{"CREATE SCHEMA", "a schema casino's migrations do not create"},
	{"DO ", "an anonymous code block (it runs code)"}, {"CALL ", "a procedure call"},
	{"SELECT ", "a SELECT pg_dump does not write (it could call any function)"},
}

// statementReason says why a statement that is not in the expected set is
// refused.
func statementReason(stmt string, version int) string {
	u := strings.ToUpper(stmt)
	for _, r := range reasonPrefixes {
		if strings.HasPrefix(u, r.prefix) {
			return r.reason
		}
	}
	switch {
	case strings.HasPrefix(u, "CREATE TABLE"), strings.HasPrefix(u, "ALTER TABLE"), strings.HasPrefix(u, "CREATE INDEX"),
		strings.HasPrefix(u, "CREATE UNIQUE INDEX"), strings.HasPrefix(u, "CREATE SEQUENCE"), strings.HasPrefix(u, "ALTER SEQUENCE"):
		return fmt.Sprintf("DDL that differs from what pg_dump writes for casino's schema at version %d (a table, column, DEFAULT, CHECK, index or expression the migrations do not create)", version)
	case strings.HasPrefix(u, "SET "):
		return "a SET pg_dump does not write"
	}
	return fmt.Sprintf("a statement pg_dump does not write for casino's schema at version %d", version)
}

// parseReferenceDDL collects the normalised statements of a pg_dump
// --schema-only output: the DDL a dump of this schema may contain.
func parseReferenceDDL(schemaOnly []byte) (map[string]bool, error) {
	set := map[string]bool{}
	p := newDumpParser(nil, nil)
	p.onStmt = func(stmt string, _ int) error {
		set[normaliseDDL(stmt)] = true
		return nil
	}
	if err := p.parse(bytes.NewReader(schemaOnly)); err != nil {
		return nil, fmt.Errorf("parse pg_dump --schema-only output: %w", err)
	}
	return set, nil
}
