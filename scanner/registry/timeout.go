package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"
)

// WithTimeout bounds every request to a registry (0: no bound): connecting
// and the response headers must come within d, and a response body must
// not stall for d between reads (a large layer may take longer than d
// whole, as long as it keeps coming).
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// TimeoutError is a registry request that got no answer in time.
type TimeoutError struct {
	Host  string
	After time.Duration
	// Body: the headers came, then the body stalled.
	Body bool
}

func (e *TimeoutError) Error() string {
	if e.Body {
		return fmt.Sprintf("registry %s stopped sending for %s", e.Host, e.After)
	}
	return fmt.Sprintf("registry %s did not answer within %s", e.Host, e.After)
}

// Timeout makes it a net.Error-like timeout.
func (e *TimeoutError) Timeout() bool { return true }

// timeoutTransport cancels a request that waits longer than d for its
// connection and headers, or for the next bytes of its body.
type timeoutTransport struct {
	next http.RoundTripper
	d    time.Duration
}

func (t *timeoutTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	expired := &TimeoutError{Host: req.URL.Host, After: t.d}
	timer := time.AfterFunc(t.d, func() { cancel(expired) })
	resp, err := t.next.RoundTrip(req.WithContext(ctx))
	if err != nil {
		timer.Stop()
		if errors.Is(context.Cause(ctx), expired) {
			err = expired
		}
		cancel(nil)
		return nil, err
	}
	timer.Stop()
	b := &idleBody{rc: resp.Body, d: t.d, cancel: cancel, ctx: ctx}
	b.timer = time.AfterFunc(t.d, func() { cancel(&TimeoutError{Host: req.URL.Host, After: t.d, Body: true}) })
	resp.Body = b
	return resp, nil
}

// idleBody cancels its request when no bytes come for d.
type idleBody struct {
	rc     io.ReadCloser
	d      time.Duration
	timer  *time.Timer
	ctx    context.Context
	cancel context.CancelCauseFunc
	once   sync.Once
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.timer.Reset(b.d)
	}
	if err != nil && err != io.EOF {
		var te *TimeoutError
		if errors.As(context.Cause(b.ctx), &te) {
			err = te
		}
	}
	return n, err
}

func (b *idleBody) Close() error {
	b.once.Do(func() {
		b.timer.Stop()
		b.cancel(nil)
	})
	return b.rc.Close()
}
