package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mattn/go-isatty"
)

// The one way casino reads a setting: its environment variable first, then
// its flag, which overrides it. The usage line names the variable. A
// malformed value in the environment is kept so that validate can report it
// by the variable's name (settingName) instead of silently using the default.

// stringSetting registers --name, defaulting to $envName, else def.
func stringSetting(fs *flag.FlagSet, env *Env, p *string, name, envName, def, usage string) {
	fs.StringVar(p, name, getenvDefault(env.Getenv, envName, def), withEnv(usage, envName))
}

// durationSetting registers --name, defaulting to $envName, else def. A
// value of $envName that does not parse becomes -1, which every duration's
// validation refuses as "invalid $envName".
func durationSetting(fs *flag.FlagSet, env *Env, p *time.Duration, name, envName string, def time.Duration, usage string) {
	*p = def
	if v := env.Getenv(envName); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			d = -1
		}
		*p = d
	}
	fs.DurationVar(p, name, *p, withEnv(usage, envName))
}

// switchSetting registers --name=on|off (also true/false, 1/0), defaulting to
// $envName, else def. A value of $envName other than those is refused by
// validate through *bad.
func switchSetting(fs *flag.FlagSet, env *Env, p *bool, bad *string, name, envName string, def bool, usage string) {
	*p = def
	if v := env.Getenv(envName); v != "" {
		on, ok := parseSwitch(v)
		if !ok {
			*bad = v
		}
		*p = on
	}
	fs.Func(name, withEnv(usage, envName), func(v string) error {
		on, ok := parseSwitch(v)
		if !ok {
			return fmt.Errorf("must be on or off, not %q", v)
		}
		*p, *bad = on, ""
		return nil
	})
}

func parseSwitch(v string) (on, ok bool) {
	switch v {
	case "on", "true", "1":
		return true, true
	case "off", "false", "0":
		return false, true
	}
	return false, false
}

// withEnv appends "(env NAME)" to a usage line that does not name its
// variable yet.
func withEnv(usage, envName string) string {
	if strings.Contains(usage, "env "+envName) {
		return usage
	}
	return usage + " (env " + envName + ")"
}

// getenvDefault returns the variable, or def when it is unset or empty.
func getenvDefault(getenv func(string) string, key, def string) string {
	if v := getenv(key); v != "" {
		return v
	}
	return def
}

// writeJSON is the one way a command prints JSON: indented, one value, a
// final newline.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal is the one terminal check: whether f (the command's stdin,
// stdout or stderr) is a terminal. Anything not an *os.File is not, and
// neither is a character device that is not a terminal: /dev/null must not
// count as someone typing.
func isTerminal(f any) bool {
	file, ok := f.(*os.File)
	return ok && isatty.IsTerminal(file.Fd())
}
