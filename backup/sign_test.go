package backup_test

import (
	"casino/backup"
	"casino/keys"
)

// testSigner signs every backup the tests make; tk carries it (and its
// public half as the verify key).
var testSigner, tk = func() (keys.Private, *backup.Keys) {
	p, err := keys.Generate()
	if err != nil {
		panic(err)
	}
	k, err := backup.LoadKeys(backup.KeyConfig{SigningKey: string(p.PEM())})
	if err != nil {
		panic(err)
	}
	return p, k
}()
