package backup

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"runtime"

	"github.com/klauspost/compress/zstd"
	"github.com/klauspost/pgzip"

	"casino"
)

// ReadManifest reads the manifest beside a backup file. A missing manifest
// is a casino.ENOTFOUND error.
func ReadManifest(backupPath string) (*casino.BackupManifest, error) {
	mp := casino.ManifestPath(backupPath)
	b, err := os.ReadFile(mp)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errorf(casino.ENOTFOUND, "no manifest %s beside the backup: cannot verify it (use --force-unverified only if you know where this file came from)", mp)
	} else if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	var m casino.BackupManifest
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&m); err != nil {
		return nil, errorf(casino.EINVALID, "manifest %s is not valid JSON: %v", mp, err)
	}
	if m.FormatVersion < 1 || m.FormatVersion > FormatVersion {
		return nil, errorf(casino.EINVALID, "manifest %s has format_version %d; this build reads 1..%d", mp, m.FormatVersion, FormatVersion)
	}
	if m.Engine != casino.EngineSQLite && m.Engine != casino.EnginePostgres {
		return nil, errorf(casino.EINVALID, "manifest %s names unknown engine %q", mp, m.Engine)
	}
	return &m, nil
}

// encodeManifest renders a manifest as indented JSON.
func encodeManifest(m *casino.BackupManifest) []byte {
	b, _ := json.MarshalIndent(m, "", "  ")
	return append(b, '\n')
}

// WriteManifest atomically replaces the manifest beside a backup file.
func WriteManifest(backupPath string, m *casino.BackupManifest) error {
	return writeFileAtomic(casino.ManifestPath(backupPath), encodeManifest(m))
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
