package backup

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	neturl "net/url"
	"os/exec"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"casino"
	"casino/redact"
	"casino/sqlstore"
)

// The PostgreSQL loader restores a plain pg_dump into an empty scratch
// database without running any of the dump's SQL:
//
//  1. casino's own embedded migrations build the schema, at the backup's
//     schema version;
//  2. pg_dump --schema-only of that fresh schema is the DDL a dump may
//     carry; the dump's DDL is compared with it and skipped (see
//     postgres_dumpparse.go), anything else is refused with its line;
//  3. the primary keys, unique constraints, foreign keys and secondary
//     indexes are set aside, the COPY data is split into chunks of rows
//     and loaded over several connections with the COPY protocol, and
//     setval runs with the dump's literal values on known sequences;
//  4. the indexes are built again in parallel and the constraints put
//     back, and the whole catalog (tables, columns, constraints, indexes,
//     functions, triggers, owners) must equal what the migrations made.
//
// The data is read through VerifyResult.Open, which checks the stream
// against the signed manifest as it goes (exact length; an encrypted
// file's decrypted sha256); a mismatch refuses the load at the end, before
// any swap. The loader connects with the URL it is
// given: the application's role, so nothing it loads runs with more rights
// than the application has.

// pgLoadOptions configures a load.
type pgLoadOptions struct {
	// BinDir is where pg_dump is looked for (CASINO_PG_BINDIR), as for backups.
	BinDir string
	// Jobs is the number of connections loading data and building
	// indexes; 0 means the number of CPUs.
	Jobs     int
	Progress *Progress
	// Pause is called at "restoring", once data is streaming (tests kill
	// the process there).
	Pause func(string)
}

// loadPostgresDump loads the verified dump into the empty database at url
// and returns its row counts. The data is read through vr.Open, which
// checks it again as it streams against what the manifest signed (exact
// length; an encrypted file's decrypted sha256). Without a manifest, the
// schema version is read from the dump's schema_migrations data.
func loadPostgresDump(ctx context.Context, vr *VerifyResult, url string, o pgLoadOptions) (map[string]int64, error) {
	version := 0
	if m := vr.Manifest; m != nil {
		version = m.SchemaVersion
	}
	if version == 0 {
		v, err := dumpSchemaVersion(vr)
		if err != nil {
			return nil, err
		}
		version = v
	}
	if latest := sqlstore.LatestVersion(sqlstore.Postgres); version < 1 || version > latest {
		return nil, errorf(casino.EINVALID, "the backup's schema version %d is not one this binary knows (1 to %d)", version, latest)
	}
	jobs := o.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU()
	}

	db, err := sqlstore.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	_, err = db.MigrateTo(ctx, version)
	db.Close()
	if err != nil {
		return nil, fmt.Errorf("build the schema from casino's migrations: %w", err)
	}

	l := &pgLoader{version: version, jobs: jobs}
	defer l.close()
	if err := l.connect(ctx, url); err != nil {
		return nil, err
	}
	if err := l.describe(ctx, o.BinDir, url); err != nil {
		return nil, err
	}
	if err := l.setAside(ctx); err != nil {
		return nil, err
	}
	if err := l.stream(ctx, vr, o); err != nil {
		return nil, err
	}
	if err := l.rebuild(ctx); err != nil {
		return nil, err
	}
	if err := l.checkCatalog(ctx); err != nil {
		return nil, err
	}
	if err := l.checkMigrations(ctx); err != nil {
		return nil, err
	}
	db, err = sqlstore.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.RowCounts(ctx)
}

// pgLoader is one load into one scratch database.
type pgLoader struct {
	version int
	jobs    int
	ctl     *pgx.Conn   // control connection: DDL, setval
	conns   []*pgx.Conn // one per job
	schema  *dumpSchema
	catalog []string // the migrated schema's catalog, before anything was set aside
	indexes []pgIndex
	fks     []pgConstraint
}

type pgIndex struct {
	table, name, def string
	constraint       string // "PRIMARY KEY" or "UNIQUE" when it backs one
}

type pgConstraint struct{ table, name, def string }

func (l *pgLoader) close() {
	if l.ctl != nil {
		l.ctl.Close(context.Background())
	}
	for _, c := range l.conns {
		c.Close(context.Background())
	}
}

func (l *pgLoader) connect(ctx context.Context, url string) error {
	cfg, err := pgx.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("parse the scratch database URL: %s", sqlstore.Redact(err.Error()))
	}
	// Sessions that only load a scratch database: no need to wait for each
	// commit's flush (the swap's commit flushes everything before it), and
	// room to sort for the index builds.
	cfg.RuntimeParams["synchronous_commit"] = "off"
	cfg.RuntimeParams["maintenance_work_mem"] = "256MB"
	for i := 0; i <= l.jobs; i++ {
		c, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			return fmt.Errorf("connect to the scratch database: %s", sqlstore.Redact(err.Error()))
		}
		if i == 0 {
			l.ctl = c
		} else {
			l.conns = append(l.conns, c)
		}
	}
	return nil
}

// describe records what the freshly migrated schema is: its tables'
// columns, sequences, catalog, and the DDL pg_dump writes for it.
func (l *pgLoader) describe(ctx context.Context, binDir, url string) error {
	s := &dumpSchema{version: l.version, tables: map[string][]string{}, sequences: map[string]bool{}}
	rows, err := l.ctl.Query(ctx, `SELECT c.relname, a.attname FROM pg_attribute a
		JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = 'public' AND c.relkind = 'r' AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = ''
		ORDER BY c.relname, a.attnum`)
	if err != nil {
		return fmt.Errorf("read the migrated schema: %w", err)
	}
	// Every table the migrations created is casino's: a COPY may load it.
	for rows.Next() {
		var t, c string
		if err := rows.Scan(&t, &c); err != nil {
			return err
		}
		s.tables[t] = append(s.tables[t], c)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = l.ctl.Query(ctx, `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'S'`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var q string
		if err := rows.Scan(&q); err != nil {
			return err
		}
		s.sequences[q] = true
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var major int
	if err := l.ctl.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&major); err != nil {
		return err
	}
	bin, err := findPGTool("pg_dump", binDir, major/10000)
	if err != nil {
		return err
	}
	// The same pg_dump writes the same DDL for the same migrations on the
	// same server: a process that loads several dumps (tests, drills)
	// asks it once.
	host := ""
	if u, err := neturl.Parse(url); err == nil {
		host = u.Host
	}
	key := fmt.Sprintf("%s|%d|%s|%d", bin, major, host, l.version)
	if ddl, ok := referenceDDL.Load(key); ok {
		s.ddl = ddl.(map[string]bool)
	} else {
		ref, err := schemaOnlyDump(ctx, bin, url)
		if err != nil {
			return err
		}
		if s.ddl, err = parseReferenceDDL(ref); err != nil {
			return err
		}
		referenceDDL.Store(key, s.ddl)
	}
	l.schema = s
	l.catalog, err = pgCatalog(ctx, l.ctl)
	return err
}

// referenceDDL caches parsed pg_dump --schema-only output by pg_dump
// binary, server version, server and schema version. Read-only once stored.
var referenceDDL sync.Map

// schemaOnlyDump is pg_dump --schema-only of the database at url.
func schemaOnlyDump(ctx context.Context, bin, url string) ([]byte, error) {
	u, env := LibpqArgs(url)
	cmd := exec.CommandContext(ctx, bin, "--schema-only", "--no-privileges", "--dbname="+u)
	cmd.Env = env
	dieWithParent(cmd)
	var stderr tailBuffer
	var buf strings.Builder
	cmd.Stdout = &buf
	cmd.Stderr = &stderr
	if err := runLocked(cmd); err != nil {
		return nil, fmt.Errorf("pg_dump --schema-only of the migrated scratch database: %v: %s", err, sqlstore.Redact(strings.TrimSpace(stderr.String())))
	}
	return []byte(buf.String()), nil
}

// pgCatalog describes everything in the database outside the system
// schemas that a load could change: schemas, relations and their owners,
// columns, constraints, indexes, functions, triggers, rules, policies,
// extensions and event triggers. One sorted line per object.
func pgCatalog(ctx context.Context, c *pgx.Conn) ([]string, error) {
	const sys = `NOT IN ('pg_catalog', 'information_schema') AND %s NOT LIKE 'pg\_toast%%' AND %s NOT LIKE 'pg\_temp%%'`
	cond := func(col string) string { return col + " " + fmt.Sprintf(sys, col, col) }
	queries := []string{
		`SELECT 'schema ' || nspname || ' owner ' || pg_get_userbyid(nspowner) FROM pg_namespace n WHERE ` + cond("n.nspname"),
		`SELECT 'relation ' || n.nspname || '.' || c.relname || ' kind ' || c.relkind::text || ' owner ' || pg_get_userbyid(c.relowner) || ' rls ' || c.relrowsecurity::text
			FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE ` + cond("n.nspname"),
		`SELECT 'column ' || n.nspname || '.' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod) || ' notnull ' || a.attnotnull::text
			|| ' identity ' || a.attidentity::text || ' generated ' || a.attgenerated::text || ' default ' || COALESCE(pg_get_expr(d.adbin, d.adrelid), '-')
			FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
			LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
			WHERE a.attnum > 0 AND NOT a.attisdropped AND c.relkind IN ('r', 'v', 'm', 'f', 'p') AND ` + cond("n.nspname"),
		`SELECT 'constraint ' || n.nspname || '.' || c.conname || ' on ' || COALESCE(t.relname, '-') || ' ' || pg_get_constraintdef(c.oid)
			FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace LEFT JOIN pg_class t ON t.oid = c.conrelid WHERE ` + cond("n.nspname"),
		`SELECT 'index ' || pg_get_indexdef(x.indexrelid) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
			JOIN pg_namespace n ON n.oid = i.relnamespace WHERE ` + cond("n.nspname"),
		`SELECT 'function ' || n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') owner ' || pg_get_userbyid(p.proowner)
			|| ' secdef ' || p.prosecdef::text || ' md5 ' || md5(COALESCE(pg_get_functiondef(p.oid), p.prosrc))
			FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind IN ('f', 'p', 'w') AND ` + cond("n.nspname"),
		`SELECT 'aggregate ' || n.nspname || '.' || p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE p.prokind = 'a' AND ` + cond("n.nspname"),
		`SELECT 'trigger ' || pg_get_triggerdef(t.oid) || ' enabled ' || t.tgenabled::text FROM pg_trigger t WHERE NOT t.tgisinternal`,
		`SELECT 'rule ' || schemaname || '.' || tablename || '.' || rulename || ' ' || definition FROM pg_rules WHERE ` + cond("schemaname"),
		`SELECT 'policy ' || schemaname || '.' || tablename || '.' || policyname FROM pg_policies`,
		`SELECT 'extension ' || extname || ' ' || extversion FROM pg_extension`,
		`SELECT 'event trigger ' || evtname FROM pg_event_trigger`,
		`SELECT 'type ' || n.nspname || '.' || t.typname || ' ' || t.typtype::text FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
			WHERE t.typtype NOT IN ('b', 'p') AND t.typrelid = 0 AND ` + cond("n.nspname"),
		`SELECT 'operator ' || n.nspname || '.' || o.oprname FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace WHERE ` + cond("n.nspname"),
		`SELECT 'cast ' || format_type(castsource, NULL) || ' ' || format_type(casttarget, NULL) FROM pg_cast WHERE oid >= 16384`,
	}
	var out []string
	for _, q := range queries {
		rows, err := c.Query(ctx, q)
		if err != nil {
			return nil, fmt.Errorf("read the catalog: %w", err)
		}
		for rows.Next() {
			var s string
			if err := rows.Scan(&s); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, s)
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	sort.Strings(out)
	return out, nil
}

// setAside drops the foreign keys, primary keys, unique constraints and
// secondary indexes the migrations created, remembering their
// definitions: rows load faster into bare tables, and an index is built
// faster once from all rows than row by row.
func (l *pgLoader) setAside(ctx context.Context) error {
	rows, err := l.ctl.Query(ctx, `SELECT t.relname, c.conname, c.contype::text, pg_get_constraintdef(c.oid), COALESCE(pg_get_indexdef(c.conindid), '')
		FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = 'public' AND c.contype IN ('p', 'u', 'f') ORDER BY t.relname, c.conname`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var table, name, typ, def, idx string
		if err := rows.Scan(&table, &name, &typ, &def, &idx); err != nil {
			return err
		}
		switch typ {
		case "f":
			l.fks = append(l.fks, pgConstraint{table, name, def})
		case "p":
			l.indexes = append(l.indexes, pgIndex{table, name, idx, "PRIMARY KEY"})
		case "u":
			l.indexes = append(l.indexes, pgIndex{table, name, idx, "UNIQUE"})
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = l.ctl.Query(ctx, `SELECT t.relname, i.relname, pg_get_indexdef(x.indexrelid)
		FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
		WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid AND c.contype IN ('p', 'u', 'x'))
		ORDER BY i.relname`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ix pgIndex
		if err := rows.Scan(&ix.table, &ix.name, &ix.def); err != nil {
			return err
		}
		l.indexes = append(l.indexes, ix)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ix := range l.indexes {
		if ix.constraint != "" && !strings.HasPrefix(ix.def, "CREATE UNIQUE INDEX "+quoteIdentIfNeeded(ix.name)+" ON ") {
			return fmt.Errorf("constraint %s is backed by an index of another name (%s): cannot rebuild it", ix.name, ix.def)
		}
	}
	var stmts []string
	for _, fk := range l.fks {
		stmts = append(stmts, "ALTER TABLE public."+quoteIdent(fk.table)+" DROP CONSTRAINT "+quoteIdent(fk.name))
	}
	for _, ix := range l.indexes {
		if ix.constraint != "" {
			stmts = append(stmts, "ALTER TABLE public."+quoteIdent(ix.table)+" DROP CONSTRAINT "+quoteIdent(ix.name))
		}
	}
	for _, ix := range l.indexes {
		if ix.constraint == "" {
			stmts = append(stmts, "DROP INDEX public."+quoteIdent(ix.name))
		}
	}
	return l.execAll(ctx, l.ctl, stmts)
}

var plainIdentRE = regexp.MustCompile(`^[a-z_][a-z0-9_$]*$`)

// quoteIdentIfNeeded quotes an identifier the way pg_get_indexdef prints it
// (for the plain lower-case names casino's migrations use, not at all).
func quoteIdentIfNeeded(s string) string {
	if plainIdentRE.MatchString(s) {
		return s
	}
	return quoteIdent(s)
}

func (l *pgLoader) execAll(ctx context.Context, c *pgx.Conn, stmts []string) error {
	if len(stmts) == 0 {
		return nil
	}
	tx, err := c.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	for _, s := range stmts {
		if _, err := tx.Exec(ctx, s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return tx.Commit(ctx)
}

// copyJob is a chunk of one table's COPY rows.
type copyJob struct {
	table string
	data  []byte
	line  int
}

// copySink loads chunks over the loader's connections.
type copySink struct {
	l       *pgLoader
	ctx     context.Context
	cancel  context.CancelCauseFunc
	work    chan copyJob
	wg      sync.WaitGroup
	parser  *dumpParser
	started bool
	pause   func(string)
	sqls    map[string]string
}

func (s *copySink) run(conn *pgx.Conn) {
	defer s.wg.Done()
	for j := range s.work {
		if s.ctx.Err() != nil {
			continue
		}
		_, err := conn.PgConn().CopyFrom(s.ctx, &sliceReader{b: j.data}, s.sqls[j.table])
		if err != nil {
			s.cancel(copyError(j, err))
		}
		s.parser.release(j.data)
	}
}

// sliceReader reads a byte slice; unlike bytes.Reader it is reset for free.
type sliceReader struct{ b []byte }

func (r *sliceReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

var copyLineRE = regexp.MustCompile(`line (\d+)`)

// copyError names the dump line a COPY failed on.
func copyError(j copyJob, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		line := j.line
		if m := copyLineRE.FindStringSubmatch(pe.Where); m != nil {
			n, _ := strconv.Atoi(m[1])
			line += n - 1
		}
		return errorf(casino.EINVALID, "line %d of the dump: the data does not load into %s: %s", line, j.table, redact.String(pe.Message))
	}
	return fmt.Errorf("load %s: %w", j.table, err)
}

func (s *copySink) copyBegin(table string, line int) error {
	if table == "schema_migrations" {
		// The migrations recorded themselves; the dump's rows (with their
		// original dates) replace them, checked once loaded.
		if _, err := s.l.ctl.Exec(s.ctx, "DELETE FROM public.schema_migrations"); err != nil {
			return err
		}
	}
	return nil
}

func (s *copySink) copyChunk(table string, data []byte, line int) error {
	select {
	case s.work <- copyJob{table, data, line}:
	case <-s.ctx.Done():
		return context.Cause(s.ctx)
	}
	if !s.started {
		s.started = true
		if s.pause != nil {
			s.pause("restoring")
		}
	}
	return nil
}

func (s *copySink) setval(seq string, v int64, called bool, line int) error {
	if _, err := s.l.ctl.Exec(s.ctx, "SELECT pg_catalog.setval($1::regclass, $2, $3)", "public."+quoteIdent(seq), v, called); err != nil {
		return errorf(casino.EINVALID, "line %d of the dump: setval on %s: %s", line, seq, redact.String(err.Error()))
	}
	return nil
}

// stream reads the dump once: decompression (and decryption), the parser,
// and the COPY chunks over the job connections.
func (l *pgLoader) stream(ctx context.Context, vr *VerifyResult, o pgLoadOptions) error {
	zr, err := vr.Open(o.Progress)
	if err != nil {
		return err
	}
	defer zr.Close()

	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sink := &copySink{l: l, ctx: sctx, cancel: cancel, work: make(chan copyJob, l.jobs), pause: o.Pause, sqls: map[string]string{}}
	for t, cols := range l.schema.tables {
		q := make([]string, len(cols))
		for i, c := range cols {
			q[i] = quoteIdent(c)
		}
		sink.sqls[t] = "COPY public." + quoteIdent(t) + " (" + strings.Join(q, ", ") + ") FROM STDIN"
	}
	p := newDumpParser(l.schema, sink)
	sink.parser = p
	for _, c := range l.conns {
		sink.wg.Add(1)
		go sink.run(c)
	}
	perr := p.parse(zr)
	if perr != nil {
		// Queued chunks of a refused dump need not load.
		cancel(perr)
	}
	close(sink.work)
	sink.wg.Wait()
	if cause := context.Cause(sctx); cause != nil && cause != context.Canceled && cause != perr {
		return cause
	}
	if perr != nil {
		if casino.ErrorCode(perr) == casino.EINVALID {
			return perr
		}
		return errorf(casino.EINVALID, "decompression failed: %w (corrupt or truncated file)", perr)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	// The end of the stream is where vr.Open's checks (length, decrypted
	// sha256) report.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		return errorf(casino.EINVALID, "%w", err)
	}
	return nil
}

// rebuild builds the set-aside indexes over the job connections, largest
// table first, then puts the constraints back.
func (l *pgLoader) rebuild(ctx context.Context) error {
	sizes := map[string]int64{}
	for _, ix := range l.indexes {
		if _, ok := sizes[ix.table]; !ok {
			var n int64
			l.ctl.QueryRow(ctx, "SELECT pg_relation_size($1::regclass)", "public."+quoteIdent(ix.table)).Scan(&n)
			sizes[ix.table] = n
		}
	}
	order := append([]pgIndex(nil), l.indexes...)
	sort.SliceStable(order, func(i, j int) bool { return sizes[order[i].table] > sizes[order[j].table] })
	work := make(chan pgIndex)
	ictx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, c := range l.conns {
		wg.Add(1)
		go func(c *pgx.Conn) {
			defer wg.Done()
			for ix := range work {
				if ictx.Err() != nil {
					continue
				}
				if _, err := c.Exec(ictx, ix.def); err != nil {
					cancel(indexError(ix, err))
				}
			}
		}(c)
	}
	for _, ix := range order {
		select {
		case work <- ix:
		case <-ictx.Done():
		}
	}
	close(work)
	wg.Wait()
	if err := context.Cause(ictx); err != nil && err != context.Canceled {
		return err
	}
	var stmts []string
	for _, ix := range l.indexes {
		if ix.constraint != "" {
			stmts = append(stmts, "ALTER TABLE public."+quoteIdent(ix.table)+" ADD CONSTRAINT "+quoteIdent(ix.name)+" "+ix.constraint+" USING INDEX "+quoteIdent(ix.name))
		}
	}
	for _, fk := range l.fks {
		stmts = append(stmts, "ALTER TABLE public."+quoteIdent(fk.table)+" ADD CONSTRAINT "+quoteIdent(fk.name)+" "+fk.def)
	}
	if err := l.execAll(ctx, l.ctl, stmts); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return errorf(casino.EINVALID, "the dump's data breaks a constraint of casino's schema: %s", redact.String(pe.Message+" "+pe.Detail))
		}
		return err
	}
	return nil
}

func indexError(ix pgIndex, err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return errorf(casino.EINVALID, "the dump's data breaks index %s of %s: %s", ix.name, ix.table, redact.String(pe.Message+" "+pe.Detail))
	}
	return fmt.Errorf("build index %s: %w", ix.name, err)
}

// checkCatalog refuses a loaded database whose catalog differs from what
// the migrations created.
func (l *pgLoader) checkCatalog(ctx context.Context) error {
	got, err := pgCatalog(ctx, l.ctl)
	if err != nil {
		return err
	}
	if extra, missing := diffSorted(got, l.catalog); len(extra)+len(missing) > 0 {
		return errorf(casino.EINVALID, "after loading, the scratch database's schema differs from what casino's migrations create at version %d: %s", l.version, describeDiff(extra, missing))
	}
	return nil
}

// diffSorted returns what is only in a and only in b (both sorted).
func diffSorted(a, b []string) (onlyA, onlyB []string) {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		switch {
		case j >= len(b) || i < len(a) && a[i] < b[j]:
			onlyA = append(onlyA, a[i])
			i++
		case i >= len(a) || b[j] < a[i]:
			onlyB = append(onlyB, b[j])
			j++
		default:
			i++
			j++
		}
	}
	return onlyA, onlyB
}

func describeDiff(extra, missing []string) string {
	var parts []string
	for i, e := range extra {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more", len(extra)-5))
			break
		}
		parts = append(parts, "extra "+e)
	}
	for i, m := range missing {
		if i == 5 {
			parts = append(parts, fmt.Sprintf("and %d more missing", len(missing)-5))
			break
		}
		parts = append(parts, "missing "+m)
	}
	return strings.Join(parts, "; ")
}

// checkMigrations refuses a schema_migrations that does not say exactly
// 1..version: the restored copy is migrated up from what it records.
func (l *pgLoader) checkMigrations(ctx context.Context) error {
	rows, err := l.ctl.Query(ctx, "SELECT version FROM public.schema_migrations ORDER BY version")
	if err != nil {
		return err
	}
	var got []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return err
		}
		got = append(got, v)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	ok := len(got) == l.version
	for i, v := range got {
		ok = ok && v == i+1
	}
	if !ok {
		return errorf(casino.EINVALID, "the dump's schema_migrations holds versions %v, but the backup is at schema version %d", got, l.version)
	}
	return nil
}

// dumpSchemaVersion reads the newest version in a dump's schema_migrations
// data: the schema version of a backup that has no manifest.
func dumpSchemaVersion(vr *VerifyResult) (int, error) {
	r, err := vr.Open(nil)
	if err != nil {
		return 0, errorf(casino.EINVALID, "%w", err)
	}
	defer r.Close()
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), maxDumpRow)
	in, version := false, 0
	for sc.Scan() {
		l := sc.Text()
		switch {
		case !in && strings.HasPrefix(l, "COPY public.schema_migrations (version,"):
			in = true
		case in && l == `\.`:
			if version == 0 {
				break
			}
			return version, nil
		case in:
			v, _, _ := strings.Cut(l, "\t")
			if n, err := strconv.Atoi(v); err == nil && n > version {
				version = n
			}
		}
	}
	return 0, errorf(casino.EINVALID, "the dump has no schema_migrations data: cannot tell its schema version without a manifest")
}
