package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"testing"
	"time"
)

// TestWriteRequestMatchesSlog: the fast path and slog write the same fields
// and values, including strings that need escaping.
func TestWriteRequestMatchesSlog(t *testing.T) {
	r := &Request{ID: "abc", Method: "GET", Route: "GET /x/{id}", Path: "/x/\"q\"\\\n\x01\b\f\xff\u2028é",
		StatusCode: 503, Duration: 1234567 * time.Nanosecond, Bytes: 42, RemoteIP: "10.0.0.1",
		UserAgent: "ua <&>", TenantID: 7, UserID: 9, Error: "boom\t!"}
	var fast, slow bytes.Buffer
	New(&fast, slog.LevelInfo).Handler().(*Handler).WriteRequest(context.Background(), r)
	l := New(&slow, slog.LevelInfo)
	l.LogAttrs(context.Background(), slog.LevelError, EventRequest,
		slog.String(FieldRequestID, r.ID), slog.String(FieldMethod, r.Method), slog.String(FieldRoute, r.Route),
		slog.String(FieldPath, r.Path), slog.Int(FieldStatusCode, r.StatusCode),
		slog.Float64(FieldDurationMS, 1.234), slog.Int64(FieldBytes, r.Bytes),
		slog.String(FieldRemoteIP, r.RemoteIP), slog.String(FieldUserAgent, r.UserAgent),
		slog.Int64(FieldTenantID, r.TenantID), slog.Int64(FieldUserID, r.UserID), slog.String(FieldError, r.Error))
	var a, b map[string]any
	if err := json.Unmarshal(fast.Bytes(), &a); err != nil {
		t.Fatalf("fast path wrote invalid JSON: %v\n%s", err, fast.String())
	}
	if err := json.Unmarshal(slow.Bytes(), &b); err != nil {
		t.Fatal(err)
	}
	delete(a, "ts")
	delete(b, "ts")
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if !bytes.Equal(ja, jb) {
		t.Errorf("fast path differs from slog:\nfast %s\nslog %s", ja, jb)
	}
	// Below the level, nothing is written.
	var quiet bytes.Buffer
	New(&quiet, slog.LevelError).Handler().(*Handler).WriteRequest(context.Background(), &Request{StatusCode: 200})
	if quiet.Len() != 0 {
		t.Errorf("info line written at level error: %s", quiet.String())
	}
}
