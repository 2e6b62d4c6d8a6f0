// Package casino holds the domain of the casino back office: tenants, their
// admins, settings, versions and audit events, the service interfaces that the
// adapters (sqlstore, api, adminui, backup, dr) implement or consume, and the
// one error type every layer speaks.
//
// The root package imports no adapter. Wiring happens only in cmd/casino.
package casino

import (
	"runtime"
	"runtime/debug"
)

// Build information, set at link time:
//
//	go build -ldflags "-X casino.Version=1.2.3 -X casino.Commit=abc123 -X casino.BuildTime=2026-11-29T03:00:00Z"
//
// Anything left empty is filled from runtime/debug build info, or with "dev" /
// "unknown", so that /api/version never answers an empty string.
var (
	Version   string
	Commit    string
	BuildTime string
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildTime string `json:"build_time"`
	GoVersion string `json:"go_version"`
}

// Build returns the build information of the running binary. No field is empty.
func Build() BuildInfo {
	b := BuildInfo{Version: Version, Commit: Commit, BuildTime: BuildTime, GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				if b.Commit == "" {
					b.Commit = s.Value
				}
			case "vcs.time":
				if b.BuildTime == "" {
					b.BuildTime = s.Value
				}
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.BuildTime == "" {
		b.BuildTime = "unknown"
	}
	return b
}
