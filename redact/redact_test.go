package redact

import (
	"errors"
	"strings"
	"testing"
)

// canaries are distinct secrets, one per form the package promises to catch.
// Each case is a line casino might print, holding one canary.
var canaryCases = []struct {
	name, secret, line string
}{
	{"env PGPASSWORD", "pgpw-canary-1111", "PGPASSWORD=pgpw-canary-1111 psql -h db"},
	{"env POSTGRES_PASSWORD quoted", "pg pw canary 2222", "POSTGRES_PASSWORD='pg pw canary 2222' docker compose up"},
	{"env CASINO_JWT_KEY", "jwtkey-canary-3333", "export CASINO_JWT_KEY=jwtkey-canary-3333"},
	{"url userinfo", "urlpw-canary-4444", "connect to postgres://casino:urlpw-canary-4444@db:5432/casino_db failed"},
	{"libpq keyword", "libpq-canary-5555", "host=db user=casino password=libpq-canary-5555 dbname=casino_db"},
	{"libpq keyword quoted", "libpq canary 5556", "host=db password='libpq canary 5556' dbname=casino_db"},
	{"url query", "query-canary-6666", "postgres://db/casino_db?sslmode=disable&password=query-canary-6666"},
	{"flag space", "flag-canary-7777", "casino user create --password flag-canary-7777 a@b.c"},
	{"flag equals", "flag-canary-8888", "casino user create --password=flag-canary-8888 a@b.c"},
	{"bearer", "abcdefghijklmnop.canary9999", `curl -H "Authorization: Bearer abcdefghijklmnop.canary9999" /api`},
	{"jwt", "eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlY2FuYXJ5", "token eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJlY2FuYXJ5 expired"},
	{"json token", "jsontok-canary-1212", `{"access_token":"jsontok-canary-1212","token_type":"Bearer"}`},
	{"pem", "MC4CAQAwBQYDK2VwBCIEIPEMcanary", "key:\n-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIPEMcanary\n-----END PRIVATE KEY-----\n"},
	{"age identity", "AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY", "identity AGE-SECRET-KEY-1QYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQYQSZQGPQY loaded"},
	{"aws env", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYcanary13", "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYcanary13"},
	{"aws config", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYcanary14", "[default]\naws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYcanary14\n"},
	{"generated", "Gen3rated-Canary-Pw-15", Generated("owner password", "Gen3rated-Canary-Pw-15") + "\n"},
}

func TestPatternsCatchEveryForm(t *testing.T) {
	for _, tc := range canaryCases {
		t.Run(tc.name, func(t *testing.T) {
			got := String(tc.line)
			if strings.Contains(got, tc.secret) {
				t.Fatalf("String(%q) = %q: secret survived", tc.line, got)
			}
			if !strings.Contains(got, Mask) {
				t.Fatalf("String(%q) = %q: no mask", tc.line, got)
			}
		})
	}
}

// A secret seen once in patterned form is scrubbed when it appears bare later.
func TestLearnsThenScrubsBare(t *testing.T) {
	for _, tc := range canaryCases {
		t.Run(tc.name, func(t *testing.T) {
			r := &Redactor{}
			r.String(tc.line)
			bare := "later: " + tc.secret + " again"
			if got := r.String(bare); strings.Contains(got, tc.secret) {
				t.Fatalf("bare repeat survived: %q", got)
			}
		})
	}
}

func TestByValueFromEnvironment(t *testing.T) {
	r := New([]string{"CASINO_OWNER_PASSWORD=owner-pw-value", "DATABASE_URL=postgres://u:db-pw-value@h/d", "HOME=/root"})
	got := r.String("pw owner-pw-value and db-pw-value and owner-pw%2Dvalue home /root")
	for _, s := range []string{"owner-pw-value", "db-pw-value"} {
		if strings.Contains(got, s) {
			t.Fatalf("%q survived in %q", s, got)
		}
	}
	if !strings.Contains(got, "/root") {
		t.Fatalf("a non-secret was masked: %q", got)
	}
}

func TestKeepsWhatIsNotSecret(t *testing.T) {
	for _, s := range []string{
		"commit 3f2c1a9b8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c3b",
		"sha256 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		"CASINO_BACKUP_VERIFY_KEY=/etc/casino/backup.pub",
		"CASINO_BACKUP_RECIPIENTS=age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
		"CASINO_OWNER_PASSWORD_FILE=/run/secrets/owner",
		"tokens_valid_after=2026-12-02T03:00:00Z",
		"CASINO_TOKEN_TTL=15m",
		"checks passed=10 failed=0",
		"sslmode=disable dbname=casino_db",
		"-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAabc\n-----END PUBLIC KEY-----",
		"the password is hashed with Argon2id",
		"key fingerprint SHA256:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU",
	} {
		if got := String(s); got != s {
			t.Errorf("String(%q) = %q, want it unchanged", s, got)
		}
	}
}

func TestIsSecretName(t *testing.T) {
	for name, want := range map[string]bool{
		"PGPASSWORD": true, "POSTGRES_PASSWORD": true, "CASINO_JWT_KEY": true, "AWS_SECRET_ACCESS_KEY": true,
		"AWS_SESSION_TOKEN": true, "password": true, "api-key": true, "CASINO_BACKUP_SIGNING_KEY": true,
		"GIT_CREDENTIALS": true, "PASS": true,
		"CASINO_BACKUP_VERIFY_KEY": false, "CASINO_OWNER_PASSWORD_FILE": false, "tokens_valid_after": false,
		"CASINO_TOKEN_TTL": false, "HOME": false, "checks_passed": false, "KEY_ID": false, "DATABASE_URL": false,
	} {
		if got := IsSecretName(name); got != want {
			t.Errorf("IsSecretName(%q) = %v, want %v", name, got, want)
		}
	}
}

func TestDatabaseURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://casino:s3cretpw@db:5432/casino_db?sslmode=disable": "postgres://casino:***@db:5432/casino_db?sslmode=disable",
		"postgres://db/casino_db?password=s3cretpw":                    "postgres://db/casino_db?password=***",
		"host=db user=casino password=s3cretpw dbname=casino_db":       "host=db user=casino password=*** dbname=casino_db",
		"host=db password = 's3cret pw' dbname=casino_db":              "host=db password = '***' dbname=casino_db",
		"postgres://casino:s3cr%t@db/x":                                "postgres://***@db/x",
		"sqlite:data/casino.db":                                        "sqlite:data/casino.db",
		"postgres://casino@db/casino_db":                               "postgres://casino@db/casino_db",
	} {
		if got := DatabaseURL(in); got != want {
			t.Errorf("DatabaseURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestError(t *testing.T) {
	if Error(nil) != "" {
		t.Fatal("nil error")
	}
	got := Error(errors.New(`connect "host=db password=pw-in-error-1"`))
	if strings.Contains(got, "pw-in-error-1") {
		t.Fatalf("Error kept the password: %q", got)
	}
}

func FuzzRedactNeverPanics(f *testing.F) {
	for _, tc := range canaryCases {
		f.Add(tc.line)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := &Redactor{}
		out := r.String(s)
		_ = DatabaseURL(s)
		// Redacting twice changes nothing more: masks are stable.
		if again := r.String(out); again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q", s, out, again)
		}
	})
}

// TestShortValuesAreNotSecrets: a count or a switch under a secret-looking
// name survives (proofs print carried revoked_tokens=0), a real value does not.
func TestShortValuesAreNotSecrets(t *testing.T) {
	got := String("carried revoked_tokens=0 TOKEN=on PGPASSWORD=hunter2hunter2 --password abcd")
	want := "carried revoked_tokens=0 TOKEN=on PGPASSWORD=*** --password ***"
	if got != want {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}
