package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// serveGCPercent is serve's GOGC unless the operator sets one. The server's
// live heap is a few MiB, so at Go's default of 100 a collection ran every
// 3 MiB allocated, about every thousand requests, and marking cost 7 us of
// CPU per request under load (gctrace) where a bare server spends 3.5.
const serveGCPercent = 400

// cgroupMemoryMax is where a cgroup v2 container's memory limit is read.
const cgroupMemoryMax = "/sys/fs/cgroup/memory.max"

// gcSettings is what serve asks of the garbage collector, for its startup
// line: GC percent and soft memory limit (0: none set by casino).
type gcSettings struct {
	Percent     int   // -1: the operator's GOGC stands
	MemoryLimit int64 // 0: the operator's GOMEMLIMIT stands, or no limit
}

// tuneGC sets serve's collector: GOGC=400 unless GOGC is set and, unless
// GOMEMLIMIT is set, a soft memory limit of three quarters of the cgroup's
// memory.max, so a heap that grows (Argon2id logins take 19 MiB each) is
// collected before the container is killed rather than at 5x its live size.
func tuneGC(getenv func(string) string, memoryMaxFile string) gcSettings {
	s := gcSettings{Percent: -1}
	if getenv("GOGC") == "" {
		debug.SetGCPercent(serveGCPercent)
		s.Percent = serveGCPercent
	}
	if getenv("GOMEMLIMIT") == "" {
		if max := readMemoryMax(memoryMaxFile); max > 0 {
			s.MemoryLimit = max / 4 * 3
			debug.SetMemoryLimit(s.MemoryLimit)
		}
	}
	return s
}

// readMemoryMax returns the byte limit in a cgroup v2 memory.max file, or 0
// when there is none ("max", no file, or anything unreadable).
func readMemoryMax(path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 {
		return 0
	}
	return n
}
