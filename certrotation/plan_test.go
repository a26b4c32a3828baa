package certrotation

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"
)

// newPlanner is a Rotator for plan alone (no API server).
func newPlanner(t *testing.T, opts Options) *Rotator {
	t.Helper()
	opts.Client = fake.NewClientset()
	if opts.Namespace == "" {
		opts.Namespace, opts.SecretName = "gatekeep-system", "gatekeep-certs"
	}
	if opts.DNSNames == nil {
		opts.DNSNames = []string{"gatekeep.gatekeep-system.svc", "127.0.0.1"}
	}
	opts.CertFile, opts.KeyFile = "tls.crt", "tls.key"
	r, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// mustPlan plans and fails the test on an error.
func mustPlan(t *testing.T, r *Rotator, data map[string][]byte, now time.Time) (map[string][]byte, []string) {
	t.Helper()
	next, why, err := r.plan(data, now)
	if err != nil {
		t.Fatal(err)
	}
	return next, why
}

// checkData checks that data holds a CA bundle whose first certificate is
// the CA of ca.key and signed tls.crt, which is valid at now for every
// name of r and matches tls.key.
func checkData(t *testing.T, r *Rotator, data map[string][]byte, now time.Time) (cas []*x509.Certificate, leaf *x509.Certificate) {
	t.Helper()
	cas = parseCerts(data[caCertKey])
	if len(cas) == 0 {
		t.Fatalf("no CA certificate in %s", caCertKey)
	}
	key, err := parseKey(data[caKeyKey])
	if err != nil || !samePublicKey(cas[0].PublicKey, key.Public()) {
		t.Fatalf("%s is not the key of the first CA of %s (%v)", caKeyKey, caCertKey, err)
	}
	pair, err := tls.X509KeyPair(data[tlsCertKey], data[tlsKeyKey])
	if err != nil {
		t.Fatalf("serving certificate and key: %v", err)
	}
	leaf, _ = x509.ParseCertificate(pair.Certificate[0])
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(data[caCertKey])
	for _, name := range r.opts.DNSNames {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: name, Roots: roots, CurrentTime: now, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("serving certificate for %s: %v", name, err)
		}
	}
	if err := leaf.CheckSignatureFrom(cas[0]); err != nil {
		t.Errorf("serving certificate not signed by the current CA: %v", err)
	}
	return cas, leaf
}

func TestNewRejects(t *testing.T) {
	ok := Options{Client: fake.NewClientset(), Namespace: "ns", SecretName: "s", DNSNames: []string{"a"}, CertFile: "c", KeyFile: "k"}
	for _, c := range []struct {
		name   string
		change func(*Options)
		want   string
	}{
		{"no client", func(o *Options) { o.Client = nil }, "client"},
		{"no Secret name", func(o *Options) { o.SecretName = "" }, "Secret"},
		{"no DNS name", func(o *Options) { o.DNSNames = nil }, "DNS name"},
		{"empty DNS name", func(o *Options) { o.DNSNames = []string{"a", ""} }, "empty DNS name"},
		{"no files", func(o *Options) { o.KeyFile = "" }, "files"},
		{"renew before the certificate's validity", func(o *Options) { o.CertValidity, o.RenewBefore = time.Hour, time.Hour }, "renew-before"},
		{"renew before the CA's validity", func(o *Options) { o.CAValidity = 30 * 24 * time.Hour }, "renew-before"},
	} {
		t.Run(c.name, func(t *testing.T) {
			o := ok
			c.change(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("New: %v, want an error about %q", err, c.want)
			}
		})
	}
	r, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	if r.opts.CAValidity != DefaultCAValidity || r.opts.CertValidity != DefaultCertValidity || r.opts.RenewBefore != DefaultRenewBefore || r.opts.Interval != DefaultInterval {
		t.Errorf("defaults: %+v", r.opts)
	}
}

// TestPlan follows one Secret's data through the life of its certificates.
func TestPlan(t *testing.T) {
	day := 24 * time.Hour
	r := newPlanner(t, Options{CAValidity: 48 * day, CertValidity: 20 * day, RenewBefore: 10 * day})
	t0 := time.Now().Truncate(time.Second) // certificates hold whole seconds

	data, why := mustPlan(t, r, nil, t0)
	if len(why) == 0 {
		t.Fatal("nothing to do without a Secret")
	}
	cas, leaf := checkData(t, r, data, t0)
	if len(cas) != 1 || leaf.NotAfter.Sub(t0) != 20*day || cas[0].NotAfter.Sub(t0) != 48*day {
		t.Errorf("%d CAs, CA until %s, certificate until %s", len(cas), cas[0].NotAfter, leaf.NotAfter)
	}
	if leaf.IPAddresses[0].String() != "127.0.0.1" || leaf.DNSNames[0] != "gatekeep.gatekeep-system.svc" {
		t.Errorf("SANs: DNS %v, IP %v", leaf.DNSNames, leaf.IPAddresses)
	}

	steps := []struct {
		name            string
		at              time.Duration
		newCA, newCert  bool
		wantCAs         int
		oldLeafTrusted  bool
		wantWhyContains string
	}{
		{"nothing due", 9 * day, false, false, 1, true, ""},
		{"serving certificate within renew-before", 11 * day, false, true, 1, true, "serving certificate expires"},
		{"and again", 22 * day, false, true, 1, true, "serving certificate expires"},
		{"CA within renew-before: both CAs trusted", 39 * day, true, true, 2, true, "CA expires"},
		{"nothing due after the CA rotation", 40 * day, false, false, 2, false, ""},
		{"previous CA dropped once expired", 48*day + 12*time.Hour, false, false, 1, false, "dropped"},
	}
	for _, s := range steps {
		now := t0.Add(s.at)
		next, why := mustPlan(t, r, data, now)
		if (len(why) == 0) != (s.wantWhyContains == "") || !strings.Contains(strings.Join(why, "; "), s.wantWhyContains) {
			t.Fatalf("%s: why = %q, want %q", s.name, why, s.wantWhyContains)
		}
		cas, leaf := checkData(t, r, next, now)
		if got := !bytes.Equal(next[caKeyKey], data[caKeyKey]); got != s.newCA {
			t.Errorf("%s: new CA %v, want %v", s.name, got, s.newCA)
		}
		if got := !bytes.Equal(next[tlsCertKey], data[tlsCertKey]); got != s.newCert {
			t.Errorf("%s: new serving certificate %v, want %v", s.name, got, s.newCert)
		}
		if len(cas) != s.wantCAs {
			t.Errorf("%s: %d CAs trusted, want %d", s.name, len(cas), s.wantCAs)
		}
		if s.newCert {
			old := parseCerts(data[tlsCertKey])[0]
			roots := x509.NewCertPool()
			roots.AppendCertsFromPEM(next[caCertKey])
			_, err := old.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: roots, CurrentTime: now})
			if (err == nil) != s.oldLeafTrusted {
				t.Errorf("%s: the previous serving certificate verifies: %v, want %v", s.name, err, s.oldLeafTrusted)
			}
		}
		if !leaf.NotAfter.After(now.Add(r.opts.RenewBefore)) || leaf.NotAfter.After(cas[0].NotAfter) {
			t.Errorf("%s: serving certificate until %s, CA until %s", s.name, leaf.NotAfter, cas[0].NotAfter)
		}
		data = next
	}
}

// TestPlanRepairs: damaged Secret data is replaced, keeping what is still
// good.
func TestPlanRepairs(t *testing.T) {
	r := newPlanner(t, Options{})
	now := time.Now()
	good, _ := mustPlan(t, r, nil, now)
	other, _ := mustPlan(t, r, nil, now)
	for _, c := range []struct {
		name          string
		damage        func(map[string][]byte)
		keepsCA       bool
		oldCATrusted  bool
		keepsServing  bool
		extraKeyStays bool
	}{
		{"garbage tls.crt", func(d map[string][]byte) { d[tlsCertKey] = []byte("garbage") }, true, true, false, true},
		{"tls.key of another certificate", func(d map[string][]byte) { d[tlsKeyKey] = other[tlsKeyKey] }, true, true, false, true},
		{"serving certificate of another CA", func(d map[string][]byte) { d[tlsCertKey], d[tlsKeyKey] = other[tlsCertKey], other[tlsKeyKey] }, true, true, false, true},
		{"garbage ca.key", func(d map[string][]byte) {
			d[caKeyKey] = []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
		}, false, true, false, true},
		{"ca.key of another CA", func(d map[string][]byte) { d[caKeyKey] = other[caKeyKey] }, false, true, false, true},
		{"garbage ca.crt", func(d map[string][]byte) { d[caCertKey] = []byte("garbage") }, false, false, false, true},
		{"serving certificate as ca.crt", func(d map[string][]byte) { d[caCertKey] = d[tlsCertKey] }, false, false, false, true},
		{"no data", func(d map[string][]byte) { clear(d) }, false, false, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := map[string][]byte{"extra": []byte("kept")}
			for k, v := range good {
				data[k] = v
			}
			c.damage(data)
			next, why := mustPlan(t, r, data, now)
			if len(why) == 0 {
				t.Fatal("damage not seen")
			}
			cas, _ := checkData(t, r, next, now)
			if got := bytes.Equal(cas[0].Raw, parseCerts(good[caCertKey])[0].Raw); got != c.keepsCA {
				t.Errorf("CA kept: %v, want %v", got, c.keepsCA)
			}
			if !c.keepsCA {
				trusted := len(cas) == 2 && bytes.Equal(cas[1].Raw, parseCerts(good[caCertKey])[0].Raw)
				if trusted != c.oldCATrusted || (!trusted && len(cas) != 1) {
					t.Errorf("%d CAs; the damaged Secret's CA still trusted: %v, want %v", len(cas), trusted, c.oldCATrusted)
				}
			}
			if got := bytes.Equal(next[tlsCertKey], good[tlsCertKey]); got != c.keepsServing {
				t.Errorf("serving certificate kept: %v, want %v", got, c.keepsServing)
			}
			if got := string(next["extra"]) == "kept"; got != c.extraKeyStays {
				t.Errorf("other keys kept: %v, want %v", got, c.extraKeyStays)
			}
			if _, why := mustPlan(t, r, next, now); len(why) > 0 {
				t.Errorf("the repair is not final: %v", why)
			}
		})
	}
}

// TestPlanNewName: a name the certificate lacks gets it reissued by the
// same CA.
func TestPlanNewName(t *testing.T) {
	now := time.Now()
	r := newPlanner(t, Options{})
	data, _ := mustPlan(t, r, nil, now)
	more := newPlanner(t, Options{DNSNames: slices.Concat(r.opts.DNSNames, []string{"gatekeep.gatekeep-system.svc.cluster.local", "::1"})})
	next, why := mustPlan(t, more, data, now)
	if len(why) != 1 || !strings.Contains(why[0], "lacks gatekeep.gatekeep-system.svc.cluster.local") {
		t.Errorf("why = %q", why)
	}
	checkData(t, more, next, now)
	if !bytes.Equal(next[caCertKey], data[caCertKey]) || !bytes.Equal(next[caKeyKey], data[caKeyKey]) {
		t.Error("a new name changed the CA")
	}
	// The replica asking for fewer names is content with it.
	if _, why := mustPlan(t, r, next, now); len(why) > 0 {
		t.Errorf("fewer names: %v", why)
	}

	// Replicas asking for different names (a rollout that changes them)
	// add them up rather than replacing each other's certificate in turn.
	other := newPlanner(t, Options{DNSNames: []string{"gatekeep.other.svc"}})
	next, why = mustPlan(t, other, next, now)
	if len(why) != 1 {
		t.Fatalf("other names: %v", why)
	}
	for _, p := range []*Rotator{r, more, other} {
		if _, why := mustPlan(t, p, next, now); len(why) > 0 {
			t.Errorf("replica asking for %v: %v", p.opts.DNSNames, why)
		}
	}
	// A renewal drops the names no replica asks for any more.
	later := now.Add(DefaultCertValidity - DefaultRenewBefore + time.Hour)
	renewed, _ := mustPlan(t, other, next, later)
	_, leaf := checkData(t, other, renewed, later)
	if len(leaf.DNSNames) != 1 || len(leaf.IPAddresses) != 0 {
		t.Errorf("renewed certificate names %v %v, want only %v", leaf.DNSNames, leaf.IPAddresses, other.opts.DNSNames)
	}
}
