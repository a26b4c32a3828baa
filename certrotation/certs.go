package certrotation

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"
)

// The keys of the Secret.
const (
	caCertKey  = "ca.crt" // the current CA first, then previous CAs until they expire
	caKeyKey   = "ca.key" // the current CA's key
	tlsCertKey = "tls.crt"
	tlsKeyKey  = "tls.key"
)

// backdate is how far before now a certificate becomes valid: replicas,
// the API server and the rotator's clock may disagree a little.
const backdate = time.Hour

// plan returns the Secret data the rotator wants, given what the Secret
// holds (nil: there is none), and why it differs (nil: keep data as is).
// Keys of data it does not know are kept.
func (r *Rotator) plan(data map[string][]byte, now time.Time) (map[string][]byte, []string, error) {
	var why []string
	cas := parseCerts(data[caCertKey])
	var ca *x509.Certificate
	caKey, caKeyPEM := crypto.Signer(nil), data[caKeyKey]
	if problem := r.caProblem(cas, caKeyPEM, now); problem != "" {
		why = append(why, problem)
		var err error
		if ca, caKey, caKeyPEM, err = r.newCA(now); err != nil {
			return nil, nil, err
		}
		// The replaced CA stays trusted: pods still serving a certificate
		// it signed are not refused meanwhile.
		cas = append([]*x509.Certificate{ca}, cas...)
	} else {
		ca = cas[0]
		caKey, _ = parseKey(caKeyPEM)
	}

	// The trust bundle: the current CA, then every earlier one not yet
	// expired, once each.
	bundle := pemCert(ca)
	for _, c := range cas[1:] {
		if c.IsCA && now.Before(c.NotAfter) && !bytes.Contains(bundle, pemCert(c)) {
			bundle = append(bundle, pemCert(c)...)
		}
	}
	if !bytes.Equal(bundle, data[caCertKey]) && len(why) == 0 {
		why = append(why, "expired or unusable CA certificates dropped from "+caCertKey)
	}

	certPEM, keyPEM := data[tlsCertKey], data[tlsKeyKey]
	if problem, keep := r.servingProblem(certPEM, keyPEM, ca, now); problem != "" {
		why = append(why, problem)
		var err error
		if certPEM, keyPEM, err = r.newServing(ca, caKey, now, keep); err != nil {
			return nil, nil, err
		}
	}
	if len(why) == 0 {
		return data, nil, nil
	}
	next := make(map[string][]byte, len(data)+4)
	for k, v := range data {
		next[k] = v
	}
	next[caCertKey], next[caKeyKey], next[tlsCertKey], next[tlsKeyKey] = bundle, caKeyPEM, certPEM, keyPEM
	return next, why, nil
}

// caProblem says why the first certificate of cas cannot go on as the CA
// ("" when it can).
func (r *Rotator) caProblem(cas []*x509.Certificate, keyPEM []byte, now time.Time) string {
	if len(cas) == 0 {
		return "no CA certificate"
	}
	ca := cas[0]
	key, err := parseKey(keyPEM)
	if err != nil {
		return "CA key unusable"
	}
	if !ca.IsCA || !samePublicKey(ca.PublicKey, key.Public()) {
		return "CA key does not match the CA certificate"
	}
	if left := ca.NotAfter.Sub(now); left <= r.opts.RenewBefore {
		return fmt.Sprintf("CA expires %s, within %s", ca.NotAfter.UTC().Format(time.RFC3339), r.opts.RenewBefore)
	}
	return ""
}

// servingProblem says why certPEM and keyPEM cannot go on serving ("" when
// they can). When only names are missing, keep are the names the
// certificate has: the new one holds them too, so that replicas asking for
// different names (during a rollout that changes them) add up instead of
// replacing each other's certificate in turn. A renewal for any other
// reason drops them.
func (r *Rotator) servingProblem(certPEM, keyPEM []byte, ca *x509.Certificate, now time.Time) (problem string, keep []string) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "no usable serving certificate and key", nil
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return "serving certificate unreadable", nil
	}
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return "serving certificate not signed by the current CA", nil
	}
	if leaf.NotAfter.Sub(now) <= r.opts.RenewBefore {
		return fmt.Sprintf("serving certificate expires %s, within %s", leaf.NotAfter.UTC().Format(time.RFC3339), r.opts.RenewBefore), nil
	}
	for _, name := range r.opts.DNSNames {
		if !covers(leaf, name) {
			keep = append(keep, leaf.DNSNames...)
			for _, ip := range leaf.IPAddresses {
				keep = append(keep, ip.String())
			}
			return "serving certificate lacks " + name, keep
		}
	}
	return "", nil
}

// covers reports whether leaf names name (an IP address or a DNS name).
func covers(leaf *x509.Certificate, name string) bool {
	if ip := net.ParseIP(name); ip != nil {
		for _, have := range leaf.IPAddresses {
			if have.Equal(ip) {
				return true
			}
		}
		return false
	}
	for _, have := range leaf.DNSNames {
		if strings.EqualFold(have, name) {
			return true
		}
	}
	return false
}

func (r *Rotator) newCA(now time.Time) (*x509.Certificate, crypto.Signer, []byte, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// A name of its own per CA: while two are trusted, people (and
		// chain building) can tell them apart.
		Subject:               pkix.Name{CommonName: fmt.Sprintf("%s.%s CA %s", r.opts.SecretName, r.opts.Namespace, now.UTC().Format("20060102T150405Z"))},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(r.opts.CAValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("parse new CA certificate: %w", err)
	}
	return ca, key, keyPEM, nil
}

// newServing issues a serving certificate for the rotator's names and the
// names of keep, ending no later than its CA.
func (r *Rotator) newServing(ca *x509.Certificate, caKey crypto.Signer, now time.Time, keep []string) (certPEM, keyPEM []byte, err error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return nil, nil, err
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, err
	}
	notAfter := now.Add(r.opts.CertValidity)
	if notAfter.After(ca.NotAfter) {
		notAfter = ca.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: r.opts.DNSNames[0]},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, name := range append(slices.Clone(r.opts.DNSNames), keep...) {
		if covers(tmpl, name) {
			continue
		}
		if ip := net.ParseIP(name); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, name)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, fmt.Errorf("create serving certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM, nil
}

// newKey makes an ECDSA P-256 key: small, fast, and what the API server's
// TLS client takes.
func newKey() (crypto.Signer, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("encode key: %w", err)
	}
	return key, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func newSerial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("serial number: %w", err)
	}
	return n, nil
}

// parseCerts reads the certificates of a PEM bundle, skipping what does not
// parse: a damaged entry must not cost the others their trust.
func parseCerts(data []byte) []*x509.Certificate {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if c, err := x509.ParseCertificate(b.Bytes); err == nil {
			out = append(out, c)
		}
	}
}

// parseKey reads a PEM private key in PKCS#8, SEC 1 or PKCS#1 form.
func parseKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
		return nil, errors.New("key cannot sign")
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, errors.New("unknown private key format")
}

func samePublicKey(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
