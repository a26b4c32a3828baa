package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"github.com/spf13/cobra"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/ocibundle"
	"github.com/gatekeep-dev/gatekeep/progress"
)

// newBundleCommand is gatekeep bundle: bundles in OCI registries.
func newBundleCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bundle",
		Short: "Push policy bundles to OCI registries and pull them",
		Long: `Push policy bundles to OCI registries and pull them.

A bundle in a registry is an artifact of one layer, the bundle's canonical
.tar.gz; its registry digest names the artifact, and the bundle's own digest
is in an annotation. --bundle oci://REGISTRY/REPOSITORY:TAG (or @sha256:...)
loads it in check, verify, mutate, scan and serve. Credentials come from the
docker config (docker login), as image pulls do.`,
	}
	var progressMode progress.Mode
	push := &cobra.Command{
		Use:   "push DIR REF",
		Short: "Push the bundle at DIR (a directory or .tar.gz) to REF",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := ocibundle.Push(cmd.Context(), args[0], args[1], ocibundle.WithProgress(progress.New(cmd.ErrOrStderr(), progressMode)))
			if err != nil {
				return usageError("%v", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "pushed %s@%s (bundle %s)\n", p.Ref, p.Digest, p.BundleDigest)
			return err
		},
	}
	pull := &cobra.Command{
		Use:   "pull REF DIR",
		Short: "Pull the bundle at REF into DIR (created; it must not exist or be empty)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := ocibundle.Pull(cmd.Context(), args[0], ocibundle.WithProgress(progress.New(cmd.ErrOrStderr(), progressMode)))
			if err != nil {
				return usageError("%v", err)
			}
			if err := bundle.Extract(p.Archive, args[1]); err != nil {
				return usageError("%v", err)
			}
			_, err = fmt.Fprintf(cmd.OutOrStdout(), "pulled %s@%s (bundle %s) into %s\n", p.Ref, p.Digest, p.BundleDigest, args[1])
			return err
		},
	}
	progressFlag(push, &progressMode)
	progressFlag(pull, &progressMode)
	cmd.AddCommand(push, pull)
	return cmd
}

// pulledBundle is a --bundle value pulled from a registry, and the file it
// was written to.
type pulledBundle struct {
	ref, file, digest string
}

// loadBundle loads the built-in bundle with the --bundle values over it,
// those in registries pulled first; cleanup removes what was pulled. A
// bundle that does not load is a usage error (exit 2).
func loadBundle(ctx context.Context, paths []string) (b *bundle.Bundle, cleanup func(), err error) {
	local, _, cleanup, err := resolveBundles(ctx, paths)
	if err != nil {
		return nil, nil, err
	}
	if b, err = bundle.LoadOverBuiltin(local...); err != nil {
		cleanup()
		return nil, nil, usageError("%v", err)
	}
	return b, cleanup, nil
}

// resolveBundles pulls the --bundle values that are registry references
// (oci://...) into .tar.gz files of a temporary directory and returns the
// paths to load, the others as given; cleanup removes the files.
func resolveBundles(ctx context.Context, paths []string) (local []string, pulled []pulledBundle, cleanup func(), err error) {
	return pullBundles(ctx, paths, nil)
}

// pullBundles is resolveBundles; with pending set (serve), a bundle that
// does not pull is no error: its file is left to come, so that it does
// not load (the server is up but not ready) until the poller pulls it,
// and pending is told why. A webhook that exited instead would restart in
// a back-off loop while its registry is out of reach, and with
// failurePolicy Fail refuse every change to the cluster meanwhile.
func pullBundles(ctx context.Context, paths []string, pending func(ref string, err error)) (local []string, pulled []pulledBundle, cleanup func(), err error) {
	cleanup = func() {}
	var tmp string
	for _, p := range paths {
		if !ocibundle.IsRef(p) {
			local = append(local, p)
			continue
		}
		got, err := ocibundle.Pull(ctx, p)
		if err != nil && pending == nil {
			cleanup()
			return nil, nil, func() {}, usageError("--bundle %s: %v", p, err)
		}
		if err != nil {
			pending(p, err)
		}
		if tmp == "" {
			if tmp, err = os.MkdirTemp("", "gatekeep-bundles-"); err != nil {
				return nil, nil, func() {}, err
			}
			dir := tmp
			cleanup = func() { _ = os.RemoveAll(dir) } // temporary files: best effort
		}
		// Named after the repository, as a directory's bundle is after it.
		repo, _, _ := strings.Cut(path.Base(strings.TrimPrefix(p, ocibundle.Scheme)), "@")
		repo, _, _ = strings.Cut(repo, ":")
		file := filepath.Join(tmp, fmt.Sprint(len(local)), repo+".tar.gz")
		if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
			cleanup()
			return nil, nil, func() {}, err
		}
		local = append(local, file)
		if got.Archive == nil {
			pulled = append(pulled, pulledBundle{ref: p, file: file}) // pending
			continue
		}
		if err := writeFileAtomic(file, got.Archive); err != nil {
			cleanup()
			return nil, nil, func() {}, err
		}
		pulled = append(pulled, pulledBundle{ref: p, file: file, digest: got.Digest})
	}
	return local, pulled, cleanup, nil
}

// writeFileAtomic replaces file with data whole: a reload never reads half
// a bundle.
func writeFileAtomic(file string, data []byte) error {
	tmp := file + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// bundlePoller follows the registry tags serve's bundles came from: when a
// tag names a new artifact, it is pulled over the bundle's file and the
// bundles reloaded; one that does not pull or load leaves the last good
// bundle in force (the server's reload counts and logs a failed load).
type bundlePoller struct {
	bundles []pulledBundle
	reload  func() error
	// failed records a new artifact refused before any load (a corrupt
	// layer, a digest mismatch): the server counts it and /readyz says so.
	failed func(error)
	log    logr.Logger
}

// poll checks every tag once.
func (p *bundlePoller) poll(ctx context.Context) {
	for i := range p.bundles {
		b := &p.bundles[i]
		d, err := ocibundle.Digest(ctx, b.ref)
		if err != nil || d == b.digest {
			if err != nil {
				p.log.Error(err, "cannot read the bundle's tag; keeping the bundle in force", "bundle", b.ref)
			}
			continue
		}
		got, err := ocibundle.Pull(ctx, b.ref)
		if err != nil {
			p.log.Error(err, "new bundle refused; keeping the one in force", "bundle", b.ref)
			p.fail(fmt.Errorf("%s: %w", b.ref, err))
			continue
		}
		b.digest = got.Digest
		if err := writeFileAtomic(b.file, got.Archive); err != nil {
			p.log.Error(err, "cannot write the new bundle; keeping the one in force", "bundle", b.ref)
			p.fail(fmt.Errorf("%s: %w", b.ref, err))
			continue
		}
		if err := p.reload(); err != nil {
			p.log.Error(err, "new bundle did not load; keeping the last good one", "bundle", b.ref, "digest", got.Digest)
		}
	}
}

func (p *bundlePoller) fail(err error) {
	if p.failed != nil {
		p.failed(err)
	}
}

// pendingRetry is how often a bundle not pulled yet is tried again,
// whatever the poll interval.
const pendingRetry = 10 * time.Second

// pending tells whether a bundle was never pulled.
func (p *bundlePoller) pending() bool {
	return slices.ContainsFunc(p.bundles, func(b pulledBundle) bool { return b.digest == "" })
}

// run polls every interval (0: only while a bundle is pending) until ctx
// ends.
func (p *bundlePoller) run(ctx context.Context, interval time.Duration) {
	for {
		wait := interval
		if p.pending() && (wait <= 0 || wait > pendingRetry) {
			wait = pendingRetry
		}
		if wait <= 0 {
			return
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
			p.poll(ctx)
		}
	}
}
