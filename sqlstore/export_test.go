package sqlstore

import (
	"context"

	"casino"
)

// SessionStatesBatch reads the session state of every (jti, user, tenant)
// in one batch statement, as concurrent requests share it (session.go).
func SessionStatesBatch(ctx context.Context, db *DB, jtis []string, users, tenants []int64) ([]casino.SessionState, error) {
	reqs := make([]*sessionRequest, len(jtis))
	for i := range jtis {
		reqs[i] = &sessionRequest{key: sessionKey{jtis[i], users[i], tenants[i]}}
	}
	if err := db.sessions.read(ctx, reqs); err != nil {
		return nil, err
	}
	out := make([]casino.SessionState, len(reqs))
	for i, r := range reqs {
		out[i] = r.st
	}
	return out, nil
}
