package dr

import "casino/redact"

// Redacted replaces every secret in what dr writes.
const Redacted = redact.Mask

// Redactor is the one redactor of package redact; dr scrubs every byte that
// reaches a journal or a proof with it.
type Redactor = redact.Redactor

// NewRedactor collects secrets from an environment in os.Environ form (see
// redact.New).
func NewRedactor(environ []string) *Redactor { return redact.New(environ) }

// IsSecretName reports whether a variable's name marks its value as secret.
func IsSecretName(name string) bool { return redact.IsSecretName(name) }
