package scanner

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

// The images: section as gatekeep.yaml holds it, read strictly as the
// bundle reads it.
const policyYAML = `
failOn: HIGH
fixableOnly: true
maxCount: 0
allow:
  - id: CVE-2022-32149
    expires: 2025-06-30
    reason: the app never parses Accept-Language
  - id: CVE-2023-45853
    expires: 2030-01-01T00:00:00Z
    reason: minizip is not shipped
include: ["127.0.0.1:*", "registry.example.com/*"]
exclude: ["registry.example.com/tools/*"]
scanBudget: 2s
onPending: deny
onError: warn
platform: linux/amd64
namespaces:
  payments:
    failOn: MEDIUM
    fixableOnly: false
  "dev-*":
    onPending: allow
    maxCount: 10
    exclude: ["*:latest"]
  "dev-sandbox-*":
    failOn: CRITICAL
`

func decodePolicy(t *testing.T, s string) Policy {
	t.Helper()
	var p Policy
	dec := yaml.NewDecoder(bytes.NewReader([]byte(s)))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil {
		t.Fatal(err)
	}
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	return p
}

func vuln(id, sev, fixed string) Vulnerability {
	status := "fixed"
	if fixed == "" {
		status = "affected"
	}
	return Vulnerability{ID: id, Package: "pkg", InstalledVersion: "1", FixedVersion: fixed, Severity: sev, Status: status}
}

func TestPolicyJudge(t *testing.T) {
	p := decodePolicy(t, policyYAML)
	if p.ScanBudget != 2*time.Second || p.Allow[0].Expires.String() != "2025-06-30" || p.Allow[1].Expires.String() != "2030-01-01" {
		t.Fatalf("decoded %+v", p)
	}
	rep := &ImageReport{Image: "registry.example.com/app:1.2", Vulnerabilities: []Vulnerability{
		vuln("CVE-2022-32149", "HIGH", "0.3.8"),
		vuln("CVE-2023-45853", "CRITICAL", ""),
		vuln("CVE-2024-0727", "MEDIUM", "3.0.13-1~deb12u1"),
		vuln("CVE-2011-3374", "LOW", ""),
	}}
	before := time.Date(2025, 6, 29, 23, 0, 0, 0, time.UTC)
	after := time.Date(2025, 6, 30, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name      string
		ns        string
		now       time.Time
		pass      bool
		reasons   string
		allowed   []bool
		warnExpir bool
	}{
		{"allowance in force", "", before, true, "", []bool{true, true, false, false}, false},
		{"allowance expired: it says so, and counts", "", after, false, "1 HIGH or worse with a fix available", []bool{false, true, false, false}, true},
		{"namespace: MEDIUM and unfixed count", "payments", before, false, "1 MEDIUM or worse", []bool{true, true, false, false}, false},
		{"glob namespace: maxCount", "dev-team", after, true, "", []bool{false, true, false, false}, true},
		{"longest glob wins", "dev-sandbox-1", after, true, "", []bool{false, true, false, false}, true},
		{"no override", "prod", after, false, "1 HIGH or worse with a fix available", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v := Judge(&p, rep, tc.ns, tc.now)
			if v.Pass != tc.pass || strings.Join(v.Reasons, "; ") != tc.reasons {
				t.Errorf("pass %v reasons %q", v.Pass, v.Reasons)
			}
			if tc.allowed != nil {
				for i, a := range tc.allowed {
					if v.Allowed[i] != a {
						t.Errorf("allowed[%d] = %v", i, v.Allowed[i])
					}
				}
			}
			hasWarn := len(v.Warnings) == 1 && strings.Contains(v.Warnings[0], "CVE-2022-32149 expired on 2025-06-30 and no longer applies")
			if hasWarn != tc.warnExpir {
				t.Errorf("warnings %q", v.Warnings)
			}
			judged := rep.Judged(v)
			if judged.Verdict != map[bool]string{true: "pass", false: "fail"}[tc.pass] || rep.Verdict != "" {
				t.Errorf("judged %q, original %q", judged.Verdict, rep.Verdict)
			}
		})
	}

	var q Policy
	if v := Judge(&q, rep, "", after); v.Pass || v.Reasons[0] != "2 HIGH or worse" {
		t.Errorf("defaults: %+v", v)
	}
	n := 2
	q = Policy{FailOn: "critical", MaxCount: &n}
	if v := Judge(&q, rep, "", after); !v.Pass {
		t.Errorf("maxCount 2: %+v", v)
	}
	q = Policy{FailOn: "UNKNOWN"}
	if v := Judge(&q, rep, "", after); v.Pass || v.Reasons[0] != "4 of any severity" {
		t.Errorf("UNKNOWN: %+v", v)
	}
}

func TestPolicySelects(t *testing.T) {
	p := decodePolicy(t, policyYAML)
	for _, tc := range []struct {
		image, ns string
		want      bool
	}{
		{"registry.example.com/app:1.2", "", true},
		{"registry.example.com/app@sha256:" + strings.Repeat("a", 64), "", true},
		{"registry.example.com/tools/kubectl:1.30", "", false},
		{"127.0.0.1:5000/app:1", "", true},
		{"nginx:1.25", "", false},
		{"registry.example.com/app:latest", "dev-x", false},
		{"registry.example.com/app:latest", "prod", true},
	} {
		if got, _ := rulesFor(&p, tc.ns).selects(tc.image); got != tc.want {
			t.Errorf("%s in %q: %v", tc.image, tc.ns, got)
		}
	}
	q := Policy{Include: []string{"docker.io/library/nginx"}, Exclude: []string{"docker.io/library/nginx:1.24"}}
	r := rulesFor(&q, "")
	for image, want := range map[string]bool{"nginx": true, "nginx:1.25": true, "docker.io/library/nginx:1.25": true, "nginx:1.24": false, "redis:7": false} {
		if got, _ := r.selects(image); got != want {
			t.Errorf("%s: %v", image, got)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	for yamlText, want := range map[string]string{
		"failOn: SEVERE\n":   `failOn: "SEVERE" is not one of`,
		"onPending: block\n": `onPending: "block" is not one of deny, warn, allow`,
		"maxCount: -1\n":     "maxCount: must not be negative",
		"allow: [{id: CVE-1, expires: 2025-01-01}]\n": "allow[0]: CVE-1: give a reason",
		"allow: [{id: CVE-1, reason: x}]\n":           "allow[0]: CVE-1: expires is required",
		"platform: linux\n":                           "platform:",
		"namespaces: {payments: {onError: maybe}}\n":  `namespaces: payments: onError: "maybe"`,
		"namespaces: {\"[\": {failOn: LOW}}\n":        "is not a namespace name or glob",
	} {
		var p Policy
		if err := yaml.Unmarshal([]byte(yamlText), &p); err != nil {
			t.Fatalf("%s: %v", yamlText, err)
		}
		if err := p.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", yamlText, err, want)
		}
	}
	var p Policy
	if err := yaml.Unmarshal([]byte("allow: [{id: CVE-1, expires: 30 June, reason: x}]\n"), &p); err == nil {
		t.Error("a bad date decoded")
	}
}
