package adminui

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"

	"casino/observe"
)

// HandlerTransport returns an http.RoundTripper that serves each request with
// h in-process. Role all gives it to NewClient around the API handler, so the
// UI makes exactly the calls, with exactly the bodies and headers, that it
// makes over the network in split mode; only the wire is missing.
//
// The API sees the UI's client as the peer (RemoteAddr), as it would if the
// browser called it directly, so its request log and its per-IP login
// throttling see the real client.
func HandlerTransport(h http.Handler) http.RoundTripper { return handlerTransport{h} }

type handlerTransport struct{ h http.Handler }

func (t handlerTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req.Clone(req.Context())
	r.RequestURI = req.URL.RequestURI()
	r.Host = req.URL.Host
	r.Proto, r.ProtoMajor, r.ProtoMinor = "HTTP/1.1", 1, 1
	r.RemoteAddr = "127.0.0.1:0"
	if ip := observe.ClientIP(req.Context()); ip != "" {
		r.RemoteAddr = net.JoinHostPort(ip, "0")
		// The peer already is the client; a forwarded-for header would only
		// be believed if 127.0.0.1 were a trusted proxy, and is redundant.
		r.Header.Del("X-Forwarded-For")
	}
	if r.Body == nil {
		r.Body = http.NoBody
	}
	rec := &recorder{header: http.Header{}}
	err := func() (err error) {
		defer func() {
			// The API recovers its own panics; http.ErrAbortHandler and
			// anything else that escapes is a failed round trip, not a crash.
			if p := recover(); p != nil {
				err = fmt.Errorf("in-process API handler: %v", p)
			}
		}()
		t.h.ServeHTTP(rec, r)
		return nil
	}()
	if req.Body != nil {
		req.Body.Close()
	}
	if err != nil {
		return nil, err
	}
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	resp := &http.Response{
		Status:        strconv.Itoa(rec.status) + " " + http.StatusText(rec.status),
		StatusCode:    rec.status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        rec.header,
		Body:          io.NopCloser(bytes.NewReader(rec.body.Bytes())),
		ContentLength: int64(rec.body.Len()),
		Request:       req,
	}
	return resp, nil
}

// recorder is the ResponseWriter of an in-process round trip.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (w *recorder) Header() http.Header { return w.header }

func (w *recorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.body.Write(b)
}
