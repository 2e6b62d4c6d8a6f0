package logging

import (
	"io"
	"log/slog"
	"os"
	"runtime"
	"sync"
)

// maxPending bounds the bytes waiting to be written; a writer that cannot
// keep up slows the request path down instead of growing memory.
const maxPending = 1 << 20

// asyncWriter group-commits log lines to a file: Write queues the line and
// wakes one goroutine, which writes everything queued in one write(2). Under
// load one syscall carries many lines; when idle each line goes out at once,
// with no timer delay. Order is kept. Only lines queued at the instant of a
// crash (kill -9) can be lost; Flush drains the queue at shutdown.
type asyncWriter struct {
	w    io.Writer
	wake chan struct{}

	mu      sync.Mutex
	drained *sync.Cond // signalled after each batch is written
	buf     []byte
	writing bool
}

func newAsyncWriter(w io.Writer) *asyncWriter {
	a := &asyncWriter{w: w, wake: make(chan struct{}, 1)}
	a.drained = sync.NewCond(&a.mu)
	go a.loop()
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	a.mu.Lock()
	for len(a.buf) > maxPending {
		a.drained.Wait()
	}
	a.buf = append(a.buf, p...)
	// A writer that is writing takes this line in its next batch without
	// a wake-up: under load, lines are queued with no channel operation.
	idle := !a.writing
	a.mu.Unlock()
	if idle {
		a.signal()
	}
	return len(p), nil
}

func (a *asyncWriter) signal() {
	select {
	case a.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see this line too
	}
}

// loop writes batches until the queue is empty, then sleeps until a line
// arrives while it is not writing. writing stays true from the first batch
// until it finds the queue empty, under the lock.
func (a *asyncWriter) loop() {
	var batch []byte
	for range a.wake {
		for {
			// Yield once before taking the batch: under load the request
			// goroutines that are runnable queue their lines meanwhile, so
			// one write(2) carries many; when idle nothing else is runnable
			// and this returns at once.
			runtime.Gosched()
			a.mu.Lock()
			if len(a.buf) == 0 {
				a.writing = false
				a.drained.Broadcast()
				a.mu.Unlock()
				break
			}
			batch, a.buf = a.buf, batch[:0]
			a.writing = true
			a.drained.Broadcast() // the queue has room again
			a.mu.Unlock()
			a.w.Write(batch)
		}
	}
}

// Flush waits until every queued line is written.
func (a *asyncWriter) Flush() {
	a.mu.Lock()
	for len(a.buf) > 0 || a.writing {
		a.signal()
		a.drained.Wait()
	}
	a.mu.Unlock()
}

// outputFor picks the writer behind the log lock: files (stdout in
// production) get group commit; anything else (a test's buffer) is written
// synchronously, so a reader sees each line as soon as the call returns.
func outputFor(w io.Writer) io.Writer {
	if _, ok := w.(*os.File); ok {
		return newAsyncWriter(w)
	}
	return w
}

// Flush writes out every line the logger has queued. casino serve calls it
// before exiting.
func Flush(l *slog.Logger) {
	if h, ok := l.Handler().(*Handler); ok {
		if a, ok := h.out.w.(*asyncWriter); ok {
			a.Flush()
		}
	}
}
