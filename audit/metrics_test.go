package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/gatekeep-dev/gatekeep/engine"
)

// TestMetrics: a run's findings replace the last run's, by check and
// action; the run's start, duration and objects are recorded.
func TestMetrics(t *testing.T) {
	m := NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m.Collectors()...)
	finding := func(check string, a engine.Action) engine.ObjectResult {
		return engine.ObjectResult{Findings: []engine.Finding{{Check: check, Action: a}}}
	}
	start := time.Unix(1796000000, 0)
	m.Observe(&engine.Result{Audited: 10, Objects: []engine.ObjectResult{
		finding("privileged-container", engine.Deny), finding("privileged-container", engine.Deny), finding("deprecated-api", engine.Warn),
	}}, start, 3*time.Second)
	m.Observe(&engine.Result{Audited: 9, Objects: []engine.ObjectResult{finding("privileged-container", engine.Deny)}}, start.Add(time.Hour), 2*time.Second)
	want := `
# HELP gatekeep_audit_findings Findings of the last audit, by check and action.
# TYPE gatekeep_audit_findings gauge
gatekeep_audit_findings{action="deny",check="privileged-container"} 1
# HELP gatekeep_audit_last_run_timestamp_seconds When the last audit that completed started (Unix time).
# TYPE gatekeep_audit_last_run_timestamp_seconds gauge
gatekeep_audit_last_run_timestamp_seconds 1.7960036e+09
# HELP gatekeep_audit_objects Objects the last audit judged.
# TYPE gatekeep_audit_objects gauge
gatekeep_audit_objects 9
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gatekeep_audit_findings", "gatekeep_audit_last_run_timestamp_seconds", "gatekeep_audit_objects"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.duration); n != 1 {
		t.Errorf("duration histogram: %d series", n)
	}
}
