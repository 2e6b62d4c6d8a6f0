package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"

	"casino"
	"casino/auth"
	"casino/sqlstore"
)

func init() {
	register(command{Name: "user", Summary: "break-glass user commands on the database (reset-password, unlock)", Run: runUser})
}

const userUsage = `user [flags] reset-password EMAIL
user [flags] unlock EMAIL

Works straight on the database, without the API: the break-glass path when
the owner's password is lost. The new password is read from the first line of
stdin; an empty line (or --generate) generates one, printed once to stderr.
The user's existing tokens stop working and their failed logins are
forgotten.

  echo 'new password here' | casino user reset-password admin@casino.com
  casino user reset-password --generate admin@casino.com

unlock forgets every failed login recorded for the account, from every
address, so no login throttle holds it back (docs/api.md, "Login
throttling"). It is audited.

  casino user unlock admin@casino.com`

func runUser(ctx context.Context, env *Env, args []string) error {
	var cfg Config
	fs := newFlagSet(env, "user", userUsage)
	bindDatabaseFlag(fs, env, &cfg)
	generate := fs.Bool("generate", false, "generate the new password instead of reading stdin")
	if err := parseFlags(fs, args); err != nil {
		return helpOK(err)
	}
	rest, err := parseInterspersed(fs, fs.Args())
	if err != nil {
		return helpOK(err)
	}
	if len(rest) != 2 || (rest[0] != "reset-password" && rest[0] != "unlock") {
		return usageErrorf("user: want 'reset-password EMAIL' or 'unlock EMAIL' (see 'casino user -h')")
	}
	if msg := casino.TextProblem(rest[1], false); msg != "" {
		return usageErrorf("user: EMAIL %s", msg)
	}
	email := casino.NormalizeEmail(rest[1])
	if err := cfg.validateDatabase(fs); err != nil {
		return err
	}
	if err := cfg.target.CheckExists(); err != nil {
		return err
	}
	if rest[0] == "unlock" {
		return runUserUnlock(ctx, env, cfg.DatabaseURL, email)
	}
	password := ""
	if !*generate {
		if isTerminal(env.Stdin) {
			fmt.Fprint(env.Stderr, "New password (it will echo; empty line = generate one): ")
		}
		line, err := bufio.NewReader(env.Stdin).ReadString('\n')
		if err != nil && line == "" && err.Error() != "EOF" {
			return fmt.Errorf("read password from stdin: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	generated := password == ""
	if generated {
		password = auth.GeneratePassword(24)
	} else if err := casino.ValidateNewAdmin(email, password); err != nil {
		if e, ok := err.(*casino.Error); ok && e.Fields["password"] != "" {
			return usageErrorf("user: password %s", e.Fields["password"])
		}
	}
	hasher, err := newHasher(1)
	if err != nil {
		return err
	}
	hash, err := hasher.Hash(ctx, password)
	if err != nil {
		return err
	}
	db, err := sqlstore.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := db.ResetPassword(casino.NewBreakGlassContext(ctx), email, hash); err != nil {
		if casino.ErrorCode(err) == casino.ENOTFOUND {
			return fmt.Errorf("user: no user with email %s", email)
		}
		return fmt.Errorf("user: reset password: %w", err)
	}
	if generated {
		printPasswordBanner(env, "PASSWORD RESET", email, password)
	}
	fmt.Fprintf(env.Stdout, "password of %s reset; existing tokens revoked\n", email)
	return nil
}

// runUserUnlock clears the account's failed logins.
func runUserUnlock(ctx context.Context, env *Env, databaseURL, email string) error {
	db, err := sqlstore.Open(ctx, databaseURL)
	if err != nil {
		return err
	}
	defer db.Close()
	n, err := db.UnlockLogin(casino.NewBreakGlassContext(ctx), email)
	if err != nil {
		return fmt.Errorf("user: unlock: %w", err)
	}
	fmt.Fprintf(env.Stdout, "login failures of %s cleared (%d); no throttle holds the account back\n", email, n)
	return nil
}

// parseInterspersed lets flags follow positional arguments
// (casino admin login-freeze on --reason "...").
func parseInterspersed(fs interface {
	Parse([]string) error
	Args() []string
}, args []string) ([]string, error) {
	var pos []string
	for len(args) > 0 {
		if strings.HasPrefix(args[0], "-") && args[0] != "-" {
			if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
				return nil, errHelp // the usage is printed: 'casino user reset-password -h' succeeds
			} else if err != nil {
				return nil, usageErrorf("%s", err)
			}
			args = fs.Args()
			continue
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	return pos, nil
}
