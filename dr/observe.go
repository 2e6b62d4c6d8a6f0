package dr

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// ObserveService records in d what declare learns from the running service
// at base: the version /api/version answers and, when password is given,
// the owner's data summary (the data check's expectation when no restore
// is journaled); and the ids of every request it sent, which the log checks
// leave out. noPassword says why there is no password, for the record.
func (d *Declaration) ObserveService(ctx context.Context, base, email, password, noPassword string) {
	var id string
	d.VersionBefore, d.VersionError, id = FetchVersion(ctx, base)
	if id != "" {
		d.SentRequestIDs = append(d.SentRequestIDs, id)
	}
	if password == "" {
		d.DataBeforeError = noPassword
		return
	}
	var ids []string
	var err error
	d.DataBefore, ids, err = OwnerDataSummary(ctx, base, email, password)
	d.SentRequestIDs = append(d.SentRequestIDs, ids...)
	if err != nil {
		d.DataBeforeError = err.Error()
	}
}

// FetchVersion reads base's /api/version; on failure it returns the reason.
// id is the request id the server echoed.
func FetchVersion(ctx context.Context, base string) (version, problem, id string) {
	c := &http.Client{Timeout: 5 * time.Second}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(base, "/")+"/api/version", nil)
	if err != nil {
		return "", err.Error(), ""
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err.Error(), ""
	}
	defer resp.Body.Close()
	id = resp.Header.Get("X-Request-Id")
	var v struct {
		Version string `json:"version"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 || json.Unmarshal(b, &v) != nil || v.Version == "" {
		return "", fmt.Sprintf("GET /api/version: %d", resp.StatusCode), id
	}
	return v.Version, "", id
}
