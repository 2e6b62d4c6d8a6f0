package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"casino"
)

// maxManifest bounds what is read from a manifest file (a real one is ~1 KB).
const maxManifest = 1 << 20

// ReadManifest reads the manifest beside a backup file. A missing manifest
// is a casino.ENOTFOUND error. It does not check the signature: Verify does.
func ReadManifest(backupPath string) (*casino.BackupManifest, error) {
	m, _, err := readManifest(backupPath)
	return m, err
}

// readManifest reads and parses the manifest beside a backup file, and
// returns its exact bytes too (what the signature covers).
func readManifest(backupPath string) (*casino.BackupManifest, []byte, error) {
	mp := casino.ManifestPath(backupPath)
	b, err := readSmall(mp, maxManifest)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, errorf(casino.ENOTFOUND, "no manifest %s beside the backup: cannot verify it (use --force-unverified only if you know where this file came from)", mp)
	} else if err != nil {
		return nil, nil, errorf(casino.EINVALID, "read manifest %s: %v", mp, err)
	}
	return parseManifest(mp, b)
}

// parseManifest checks and decodes the manifest bytes b, read from mp.
func parseManifest(mp string, b []byte) (*casino.BackupManifest, []byte, error) {
	if int64(len(b)) > maxManifest {
		return nil, nil, errorf(casino.EINVALID, "manifest %s is larger than %d bytes", mp, maxManifest)
	}
	var m casino.BackupManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, nil, errorf(casino.EINVALID, "manifest %s is not valid JSON: %v", mp, err)
	}
	if dec.More() {
		return nil, nil, errorf(casino.EINVALID, "manifest %s has data after its JSON object", mp)
	}
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersion {
		return nil, nil, errorf(casino.EINVALID, "manifest %s has format_version %d; this build reads 1..%d", mp, m.FormatVersion, FormatVersion)
	}
	if m.Engine != casino.EngineSQLite && m.Engine != casino.EnginePostgres {
		return nil, nil, errorf(casino.EINVALID, "manifest %s names unknown engine %q", mp, m.Engine)
	}
	if m.SizeBytes < 0 || m.UncompressedBytes < 0 || (m.Encryption != nil && m.Encryption.CiphertextBytes < 0) {
		return nil, nil, errorf(casino.EINVALID, "manifest %s has a negative byte count", mp)
	}
	return &m, b, nil
}

// encodeManifest renders a manifest as indented JSON.
func encodeManifest(m *casino.BackupManifest) []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// compressor wraps w with the named compression. level applies to gzip
// (0 means the default).
func compressor(w io.Writer, compression string, level int) (io.WriteCloser, error) {
	switch compression {
	case None:
		return nopWriteCloser{w}, nil
	case Zstd:
		return zstd.NewWriter(w, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)))
	case Gzip, "":
		if level == 0 {
			level = pgzip.DefaultCompression
		}
		zw, err := pgzip.NewWriterLevel(w, level)
		if err != nil {
			return nil, err
		}
		// 1 MiB blocks, one in flight per core: parallel, and still one
		// plain gzip member any gunzip reads.
		if err := zw.SetConcurrency(1<<20, 2*runtime.GOMAXPROCS(0)); err != nil {
			return nil, err
		}
		return zw, nil
	}
	return nil, errorf(casino.EINVALID, "unknown compression %q: want gzip or zstd", compression)
}

// decompressor wraps r for the compression named by the file name.
func decompressor(r io.Reader, compression string) (io.ReadCloser, error) {
	switch compression {
	case Zstd:
		d, err := zstd.NewReader(r)
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case Gzip:
		return pgzip.NewReaderN(r, 1<<20, 4)
	}
	return io.NopCloser(r), nil
}

type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }
