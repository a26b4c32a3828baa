package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// Schedule runs an audit every Interval in one replica of the webhook at a
// time: the one holding the Lease. The audit runs where the webhook runs,
// with its engine's bundle and its caches (Ingress hosts, Namespaces,
// synced kinds), so that there is one thing to deploy and one bundle in
// force; the Lease keeps the other replicas from listing the cluster
// again.
type Schedule struct {
	Client kubernetes.Interface
	// Namespace and Lease name the Lease; Identity is this replica's
	// (its pod name).
	Namespace, Lease, Identity string
	Interval                   time.Duration
	// Ready says whether an audit can run (the webhook's bundle is
	// loaded and its caches synced); Audit runs one.
	Ready func() bool
	Audit func(ctx context.Context) error
	Log   logr.Logger
}

// Lease timings, client-go's usual ones: a replica that dies is replaced
// as the auditor within about 15 s.
const (
	leaseDuration = 15 * time.Second
	renewDeadline = 10 * time.Second
	retryPeriod   = 2 * time.Second
)

// Run takes part in the Lease until ctx ends, auditing while it holds it.
func (s *Schedule) Run(ctx context.Context) error {
	if s.Interval <= 0 {
		return fmt.Errorf("audit interval %s: must be positive", s.Interval)
	}
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Lease},
		Client:     s.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: s.Identity},
	}
	le, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock:            lock,
		LeaseDuration:   leaseDuration,
		RenewDeadline:   renewDeadline,
		RetryPeriod:     retryPeriod,
		ReleaseOnCancel: true,
		Name:            s.Lease,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: s.lead,
			OnStoppedLeading: func() { s.Log.Info("audit lease lost or released", "identity", s.Identity) },
		},
	})
	if err != nil {
		return fmt.Errorf("audit lease: %w", err)
	}
	// Run returns when the lease is lost; then this replica competes
	// again.
	for ctx.Err() == nil {
		le.Run(ctx)
	}
	return nil
}

// lead audits every interval while the lease is held (ctx ends when it
// is lost).
func (s *Schedule) lead(ctx context.Context) {
	s.Log.Info("auditing the cluster", "identity", s.Identity, "interval", s.Interval)
	wait := time.NewTicker(time.Second)
	for !s.Ready() {
		select {
		case <-ctx.Done():
			wait.Stop()
			return
		case <-wait.C:
		}
	}
	wait.Stop()
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		if err := s.Audit(ctx); err != nil && ctx.Err() == nil {
			s.Log.Error(err, "audit failed")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
