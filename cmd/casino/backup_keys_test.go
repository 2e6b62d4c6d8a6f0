package main

import (
	"os"

	"casino/backup"
	"casino/keys"
)

// testBackupKey is the backup signing key (PEM) of this test process: runCLI,
// startServe, bkSubprocess and the scripts the tests run get it as
// CASINO_BACKUP_SIGNING_KEY unless a test sets that variable itself (to ""
// for the zero-config path). testBackupKeys are the same keys for calls
// into package backup.
var testBackupKey, testBackupKeys = func() (string, *backup.Keys) {
	p, err := keys.Generate()
	if err != nil {
		panic(err)
	}
	k, err := backup.LoadKeys(backup.KeyConfig{SigningKey: string(p.PEM())})
	if err != nil {
		panic(err)
	}
	return string(p.PEM()), k
}()

func init() {
	if os.Getenv("CASINO_BACKUP_SIGNING_KEY") == "" {
		os.Setenv("CASINO_BACKUP_SIGNING_KEY", testBackupKey)
	}
}

// testSign signs manifest bytes with testBackupKey, as an attacker holding
// the key would: the tests of the checks after the signature use it.
func testSign(b []byte) []byte {
	p, err := keys.ParsePrivate([]byte(testBackupKey))
	if err != nil {
		panic(err)
	}
	return p.Sign(b)
}

// parseTestKey returns testBackupKey parsed.
func parseTestKey() (keys.Private, error) { return keys.ParsePrivate([]byte(testBackupKey)) }
