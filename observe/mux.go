package observe

import "net/http"

// MuxAnswer is what a ServeMux answered on its own for a request no route
// claimed: its 404, its 405 (with Allow), or its redirect to the canonical
// path. Nothing of it has been written to the client.
type MuxAnswer struct {
	Status int // 0 when the mux wrote nothing at all
	Header http.Header
}

// ServeMux runs mux for r. Routes record their pattern with SetRoute; once one
// has, its writes pass straight through and ServeMux returns false. If none
// did, the mux's own answer is held back and returned (true) so the caller
// can answer in its own format. It needs Middleware around it; without it
// the mux serves w directly and ServeMux returns false.
func ServeMux(mux http.Handler, w http.ResponseWriter, r *http.Request) (MuxAnswer, bool) {
	info := From(r.Context())
	if info == nil {
		mux.ServeHTTP(w, r)
		return MuxAnswer{}, false
	}
	mw := &info.mw
	*mw = muxWriter{ResponseWriter: w, info: info}
	mux.ServeHTTP(mw, r)
	if !mw.intercepted {
		return MuxAnswer{}, false
	}
	return MuxAnswer{Status: mw.status, Header: mw.header}, true
}

// muxWriter passes writes through once a route has claimed the request;
// before that (the mux's own 404, 405 or redirect) it records them instead.
type muxWriter struct {
	http.ResponseWriter
	info        *Info
	intercepted bool
	header      http.Header
	status      int
}

func (u *muxWriter) Header() http.Header {
	if u.info.Route == "" {
		if u.header == nil {
			u.header = http.Header{}
		}
		return u.header
	}
	return u.ResponseWriter.Header()
}

func (u *muxWriter) WriteHeader(code int) {
	if u.info.Route == "" {
		u.intercepted = true
		if u.status == 0 {
			u.status = code
		}
		return
	}
	u.ResponseWriter.WriteHeader(code)
}

func (u *muxWriter) Write(b []byte) (int, error) {
	if u.info.Route == "" {
		u.intercepted = true
		if u.status == 0 {
			u.status = http.StatusOK
		}
		return len(b), nil
	}
	return u.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (u *muxWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }
