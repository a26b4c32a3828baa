package webhook

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	admissionv1 "k8s.io/api/admission/v1"
)

// The tests of the server's bounds run the whole server (TLS on loopback,
// as gatekeep serve does) and observe it through test hooks and metrics:
// none sleeps or asserts how long something took. hangGuard only stops a
// test whose server never does what is waited for.
const hangGuard = time.Minute

const denyPrivileged = "checks:\n  privileged-container: deny\n"

// holder holds requests in the server (the admitted hook) until released.
type holder struct {
	entered chan struct{}
	release chan struct{}
}

func newHolder() *holder {
	return &holder{entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (h *holder) hold(*http.Request) {
	h.entered <- struct{}{}
	<-h.release
}

// await waits for something the server signals on c.
func await[T any](t *testing.T, what string, c <-chan T) T {
	t.Helper()
	select {
	case v := <-c:
		return v
	case <-time.After(hangGuard):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// postAsync posts body to /validate of addr over a connection of its own,
// closed after the answer, and sends the status code (or the error) on the
// returned channel.
func postAsync(addr net.Addr, body []byte) <-chan postResult {
	c := make(chan postResult, 1)
	go func() {
		client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true, TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // G402: the test server's self-signed certificate, on loopback
		resp, err := client.Post("https://"+addr.String()+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			c <- postResult{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		c <- postResult{code: resp.StatusCode, body: b, err: err}
	}()
	return c
}

type postResult struct {
	code int
	body []byte
	err  error
}

// ok checks that r is a 200 with an AdmissionReview answer.
func (r postResult) ok(t *testing.T, what string) {
	t.Helper()
	if r.err != nil || r.code != http.StatusOK {
		t.Errorf("%s: %d %v %s", what, r.code, r.err, r.body)
		return
	}
	var out admissionv1.AdmissionReview
	if err := json.Unmarshal(r.body, &out); err != nil || out.Response == nil {
		t.Errorf("%s: not an AdmissionReview answer: %v %s", what, err, r.body)
	}
}

func dialTLS(t *testing.T, addr net.Addr) *tls.Conn {
	t.Helper()
	conn, err := tls.Dial("tcp", addr.String(), &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}) //nolint:gosec // G402: the test server's self-signed certificate, on loopback
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() }) // the test is over
	return conn
}

// readToEOF reads conn until the server closes it; the hang guard's
// deadline reports a connection left open.
func readToEOF(t *testing.T, r io.Reader, conn net.Conn, what string) []byte {
	t.Helper()
	if err := conn.SetReadDeadline(time.Now().Add(hangGuard)); err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("%s: the server never closed the connection", what)
	}
	return b
}

// TestServeCutsOffSlowBodies: a client that sends its headers and then
// dribbles its body is cut off after the read timeout.
func TestServeCutsOffSlowBodies(t *testing.T) {
	ts := startServer(t, denyPrivileged, func(o *Options) { o.ReadTimeout = 500 * time.Millisecond })
	conn := dialTLS(t, ts.addr)
	body := review(t, admissionv1.Create, privilegedPodJSON)
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: gatekeep\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
	if _, err := conn.Write(body[:10]); err != nil { // and nothing more
		t.Fatal(err)
	}
	got := readToEOF(t, conn, conn, "a slow body")
	if len(got) > 0 && !bytes.HasPrefix(got, []byte("HTTP/1.1 400")) {
		t.Errorf("answer to a slow body: %q", got)
	}
}

// TestServeClosesIdleConnections: a keep-alive connection with no request
// after its first is closed after the idle timeout.
func TestServeClosesIdleConnections(t *testing.T) {
	ts := startServer(t, denyPrivileged, func(o *Options) { o.IdleTimeout = 500 * time.Millisecond })
	conn := dialTLS(t, ts.addr)
	body := review(t, admissionv1.Create, privilegedPodJSON)
	fmt.Fprintf(conn, "POST /validate HTTP/1.1\r\nHost: gatekeep\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close() // read to the end: keeps the connection
	if resp.StatusCode != http.StatusOK || resp.Close {
		t.Fatalf("first request: %d, close %v", resp.StatusCode, resp.Close)
	}
	if rest := readToEOF(t, br, conn, "an idle keep-alive connection"); len(rest) > 0 {
		t.Errorf("unexpected bytes on an idle connection: %q", rest)
	}
}

// TestServeCapsConnections: with two connections held, a third waits to be
// accepted and is served once one closes.
func TestServeCapsConnections(t *testing.T) {
	h := newHolder()
	connWaiting := make(chan struct{}, 16)
	ts := startServer(t, denyPrivileged, func(o *Options) {
		o.MaxConnections = 2
		o.hooks.admitted = h.hold
		o.hooks.connWait = func() { connWaiting <- struct{}{} }
	})
	body := review(t, admissionv1.Create, privilegedPodJSON)
	first, second := postAsync(ts.addr, body), postAsync(ts.addr, body)
	await(t, "a first request in the server", h.entered)
	await(t, "a second request in the server", h.entered)
	third := postAsync(ts.addr, body)
	select {
	case <-connWaiting:
	case <-h.entered:
		t.Fatal("a third connection was served while two held the cap")
	case r := <-third:
		t.Fatalf("a third connection was answered while two held the cap: %d %v", r.code, r.err)
	case <-time.After(hangGuard):
		t.Fatal("the third connection neither waited nor was served")
	}
	if n := len(h.entered); n != 0 {
		t.Fatalf("%d more requests in the server beyond the cap", n)
	}
	close(h.release)
	await(t, "the third request in the server", h.entered)
	await(t, "the first answer", first).ok(t, "first")
	await(t, "the second answer", second).ok(t, "second")
	await(t, "the third answer", third).ok(t, "third")
}

// TestServeDecodeBudget: requests whose bodies would exceed the decode
// budget together wait until others finish; one larger than the whole
// budget is refused with 413.
func TestServeDecodeBudget(t *testing.T) {
	body := review(t, admissionv1.Create, privilegedPodJSON)
	h := newHolder()
	waits := make(chan int64, 16)
	ts := startServer(t, denyPrivileged, func(o *Options) {
		o.DecodeBudget = int64(len(body))*2 + int64(len(body))/2
		o.hooks.admitted = h.hold
		o.hooks.budgetWait = func(n int64) { waits <- n }
	})
	first, second := postAsync(ts.addr, body), postAsync(ts.addr, body)
	await(t, "a first request in the budget", h.entered)
	await(t, "a second request in the budget", h.entered)
	third := postAsync(ts.addr, body)
	select {
	case n := <-waits:
		if n != int64(len(body)) {
			t.Errorf("the third request waits for %d bytes, its body has %d", n, len(body))
		}
	case <-h.entered:
		t.Fatal("a third request was decoded beyond the budget")
	case r := <-third:
		t.Fatalf("a third request was answered beyond the budget: %d %v", r.code, r.err)
	case <-time.After(hangGuard):
		t.Fatal("the third request neither waited nor was decoded")
	}
	if got := sample(t, ts.s.metrics, "gatekeep_admission_decode_budget_bytes"); got != float64(2*len(body)) {
		t.Errorf("budget in use %v, want %d", got, 2*len(body))
	}
	close(h.release)
	await(t, "the third request in the budget", h.entered)
	await(t, "the first answer", first).ok(t, "first")
	await(t, "the second answer", second).ok(t, "second")
	await(t, "the third answer", third).ok(t, "third")
	if got := sample(t, ts.s.metrics, "gatekeep_admission_decode_budget_waits_total"); got != 1 {
		t.Errorf("budget waits %v, want 1", got)
	}

	// Larger than the whole budget (though under MaxBodyBytes): 413 at
	// once, without waiting or reading it.
	big := append(append([]byte{}, body...), bytes.Repeat([]byte(" "), 2*len(body))...)
	r := await(t, "the answer to a request larger than the budget", postAsync(ts.addr, big))
	if r.err != nil || r.code != http.StatusRequestEntityTooLarge {
		t.Errorf("larger than the budget: %d %v %s", r.code, r.err, r.body)
	}
	if got := sample(t, ts.s.metrics, "gatekeep_admission_decode_budget_bytes"); got != 0 {
		t.Errorf("budget in use %v after every request", got)
	}
}

// TestServeAnswersInFlightAtShutdown: a request in flight when the server
// is asked to stop is answered, and Run returns only after.
func TestServeAnswersInFlightAtShutdown(t *testing.T) {
	h := newHolder()
	draining := make(chan struct{}, 1)
	ts := startServer(t, denyPrivileged, func(o *Options) {
		o.hooks.admitted = h.hold
		o.hooks.draining = func() { draining <- struct{}{} }
	})
	answer := postAsync(ts.addr, review(t, admissionv1.Create, privilegedPodJSON))
	await(t, "the request in the server", h.entered)
	ts.stop()
	select {
	case err := <-ts.ran:
		close(h.release)
		t.Fatalf("Run returned (%v) with a request in flight", err)
	case <-draining:
	case <-time.After(hangGuard):
		t.Fatal("the server did not stop")
	}
	close(h.release)
	await(t, "the answer", answer).ok(t, "the request in flight at shutdown")
	if err := await(t, "Run to return", ts.ran); err != nil {
		t.Errorf("Run: %v", err)
	}
	// Counted when answered: before Run returned.
	if got := sample(t, ts.s.metrics, `gatekeep_admission_requests_total{operation="CREATE",outcome="denied",webhook="validate"}`); got != 1 {
		t.Errorf("requests answered before Run returned: %v, want 1", got)
	}
}

// TestServeBoundsMetricLabels: operations the API server never sends are
// errors (400, for the failurePolicy to decide), counted in one series
// however many distinct values clients make up.
func TestServeBoundsMetricLabels(t *testing.T) {
	ts := startServer(t, denyPrivileged)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} //nolint:gosec // G402: the test server's self-signed certificate, on loopback
	base := review(t, admissionv1.Create, privilegedPodJSON)
	for i := range 100 {
		body := bytes.Replace(base, []byte(`"operation":"CREATE"`), []byte(fmt.Sprintf(`"operation":"HACK-%d"`, i)), 1)
		resp, err := client.Post("https://"+ts.addr.String()+"/validate", "application/json", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close() // read to the end already
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(b), "unknown operation") {
			t.Fatalf("operation HACK-%d: %d %s", i, resp.StatusCode, b)
		}
	}
	var got []string
	for _, line := range strings.Split(fetch(t, "http://"+ts.metrics+"/metrics"), "\n") {
		if strings.HasPrefix(line, "gatekeep_admission_requests_total{") {
			got = append(got, line)
		}
	}
	want := `gatekeep_admission_requests_total{operation="other",outcome="bad-request",webhook="validate"} 100`
	if len(got) != 1 || got[0] != want {
		t.Errorf("series of gatekeep_admission_requests_total:\n%s\nwant only\n%s", strings.Join(got, "\n"), want)
	}
}

// TestMetricLabelsAreBounded: the labels metrics take from requests and
// findings take known values only.
func TestMetricLabelsAreBounded(t *testing.T) {
	m := newMetrics()
	for i := range 100 {
		m.observe("validate", fmt.Sprintf("BOGUS-%d", i), "allowed", time.Millisecond)
		m.decision("privileged-container", fmt.Sprintf("bogus-%d", i))
	}
	for _, op := range []string{"CREATE", "UPDATE", "DELETE", "CONNECT"} {
		m.observe("validate", op, "allowed", time.Millisecond)
	}
	m.decision("privileged-container", "deny")
	if n := len(series(t, m, "gatekeep_admission_requests_total{")); n != 5 {
		t.Errorf("%d series of requests, want 5 (four operations and other)", n)
	}
	if got := sample(t, m, `gatekeep_admission_requests_total{operation="other",outcome="allowed",webhook="validate"}`); got != 100 {
		t.Errorf("other: %v", got)
	}
	if n := len(series(t, m, "gatekeep_decisions_total{")); n != 2 {
		t.Errorf("%d series of decisions, want 2 (deny and other)", n)
	}
}

// series returns the samples of m (in the text format) starting with prefix.
func series(t *testing.T, m *metrics, prefix string) []string {
	t.Helper()
	families, err := m.registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for _, f := range families {
		if _, err := expfmt.MetricFamilyToText(&text, f); err != nil {
			t.Fatal(err)
		}
	}
	var out []string
	for _, line := range strings.Split(text.String(), "\n") {
		if strings.HasPrefix(line, prefix) {
			out = append(out, line)
		}
	}
	return out
}

// sample returns the value of one series of m (0 when it has none).
func sample(t *testing.T, m *metrics, name string) float64 {
	t.Helper()
	var v float64
	for _, line := range series(t, m, name+" ") {
		if _, err := fmt.Sscan(strings.TrimPrefix(line, name+" "), &v); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	return v
}
