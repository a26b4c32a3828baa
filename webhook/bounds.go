package webhook

import (
	"container/list"
	"context"
	"net"
	"sync"
)

// limitListener hands out at most n connections at once. A connection
// accepted beyond that waits, not yet served, until one closes; meanwhile
// no other is accepted (the rest wait in the kernel's backlog), so at most
// one descriptor is held beyond the cap.
type limitListener struct {
	net.Listener
	slots   chan struct{}
	done    chan struct{}
	once    sync.Once
	waiting func() // called when an accepted connection must wait (tests)
}

func newLimitListener(l net.Listener, n int, waiting func()) *limitListener {
	return &limitListener{Listener: l, slots: make(chan struct{}, n), done: make(chan struct{}), waiting: waiting}
}

func (l *limitListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	select {
	case l.slots <- struct{}{}:
	default:
		if l.waiting != nil {
			l.waiting()
		}
		select {
		case l.slots <- struct{}{}:
		case <-l.done:
			_ = c.Close() // refused while closing: nobody to tell
			return nil, net.ErrClosed
		}
	}
	return &limitConn{Conn: c, release: func() { <-l.slots }}, nil
}

func (l *limitListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return l.Listener.Close()
}

// limitConn gives its slot back when closed.
type limitConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// decodeBudget bounds the bytes of admission requests read and decoded at
// once: a decoded AdmissionReview takes many times its size in memory,
// so a few large requests at once must queue rather than all be held.
// Waiters are served first come, first served (a large request is not
// overtaken for ever by small ones).
type decodeBudget struct {
	size    int64
	metrics *metrics
	waiting func(n int64) // called when a request must wait (tests)

	mu      sync.Mutex
	used    int64
	waiters list.List // of *budgetWaiter
}

type budgetWaiter struct {
	n     int64
	ready chan struct{} // closed when the bytes are its
}

func newDecodeBudget(size int64, m *metrics, waiting func(int64)) *decodeBudget {
	return &decodeBudget{size: size, metrics: m, waiting: waiting}
}

// acquire takes n bytes (at most the budget's size) of the budget, waiting
// for them until ctx ends.
func (b *decodeBudget) acquire(ctx context.Context, n int64) error {
	b.mu.Lock()
	if b.size-b.used >= n && b.waiters.Len() == 0 {
		b.used += n
		b.mu.Unlock()
		b.metrics.budgetInUse(n)
		return nil
	}
	w := &budgetWaiter{n: n, ready: make(chan struct{})}
	elem := b.waiters.PushBack(w)
	b.mu.Unlock()
	b.metrics.budgetWait()
	if b.waiting != nil {
		b.waiting(n)
	}
	select {
	case <-w.ready:
		b.metrics.budgetInUse(n)
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
		default:
			b.waiters.Remove(elem)
		}
		b.grant()
		b.mu.Unlock()
		return ctx.Err()
	}
}

func (b *decodeBudget) release(n int64) {
	b.metrics.budgetInUse(-n)
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

// grant gives the free bytes to the waiters in order (b.mu held).
func (b *decodeBudget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*budgetWaiter)
		if b.size-b.used < w.n {
			return
		}
		b.used += w.n
		b.waiters.Remove(e)
		close(w.ready)
	}
}
