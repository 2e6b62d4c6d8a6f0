// Package dr is the incident side of casino's disaster recovery: the
// incident record (a hash-chained journal beside a Markdown proof file), the
// redaction every byte passes through before it is written, the platform
// adapters that contain and restore traffic (kubernetes, compose, local),
// the registry of must-pass validation checks, the request-log analysis they
// use, and the RTO/RPO computation that closes an incident.
//
// The journal is the source of truth: the proof file's generated part is
// re-rendered from it by every command, so `casino dr status` alone rebuilds
// where an incident stands after the operator's laptop dies.
package dr
