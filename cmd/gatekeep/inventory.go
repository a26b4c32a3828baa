package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeep-dev/gatekeep/bundle"
	"github.com/gatekeep-dev/gatekeep/engine"
	"github.com/gatekeep-dev/gatekeep/inventory"
)

func newInventoryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "inventory",
		Short: "The cluster's objects for CI: gatekeep inventory export, then gatekeep check --inventory",
	}
	cmd.AddCommand(newInventoryExportCommand())
	return cmd
}

type exportFlags struct {
	kubeconfig string
	bundles    []string
	pageSize   int64
}

func newInventoryExportCommand() *cobra.Command {
	f := &exportFlags{}
	cmd := &cobra.Command{
		Use:   "export [flags] > inventory.json",
		Short: "Write what the bundle's inventory checks need of a cluster, for gatekeep check --inventory",
		Long: `Read a cluster and write, as JSON on standard output, what the bundle's
inventory checks need of it and nothing else: the Ingresses' hosts and
paths (with their namespaces and names) for ingress-host-collision, and the
objects of the bundle's sync: kinds (gatekeep.yaml) cut to the fields its
Gatekeeper templates read from data.inventory. A Secret's data is never
written. The file names the bundle's digest and the time of the export;
gatekeep check --inventory warns when either does not fit the run.

Lists go page by page (--page-size objects a request).

Exit codes: 0 written, 2 flags, bundle or cluster unusable.`,
		Example: `  gatekeep inventory export --kubeconfig ~/.kube/prod --bundle policy/ > inventory.json
  gatekeep check --bundle policy/ --inventory inventory.json apps/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInventoryExport(cmd.Context(), f, cmd.OutOrStdout())
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig file (default: the in-cluster configuration)")
	fl.StringArrayVar(&f.bundles, "bundle", nil, "policy bundle directory, added to the built-in bundle (repeatable); the same as gatekeep check's")
	fl.Int64Var(&f.pageSize, "page-size", inventory.DefaultPageSize, "objects asked for in each list request")
	return cmd
}

func runInventoryExport(ctx context.Context, f *exportFlags, stdout io.Writer) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.pageSize <= 0 {
		return usageError("--page-size must be positive, not %d", f.pageSize)
	}
	b, cleanup, err := loadBundle(ctx, f.bundles)
	if err != nil {
		return err
	}
	defer cleanup()
	cfg, err := clusterConfig(f.kubeconfig)
	if err != nil {
		return usageError("%v", err)
	}
	inv, err := inventory.Export(ctx, cfg, b, inventory.Options{PageSize: f.pageSize})
	if err != nil {
		return usageError("inventory export: %v", err)
	}
	if err := inventory.Write(stdout, inv); err != nil {
		return fmt.Errorf("write inventory: %w", err)
	}
	return nil
}

// clusterInventory reads check's --inventory file into an engine option,
// warning on stderr when it is older than maxAge (0: never) or was made
// for another bundle. An unreadable or invalid file is a usage error.
func clusterInventory(file string, maxAge time.Duration, b *bundle.Bundle, now time.Time, stderr io.Writer) (engine.Option, error) {
	inv, err := inventory.ReadFile(file)
	if err != nil {
		return nil, usageError("--inventory: %v", err)
	}
	if age := now.Sub(inv.ExportedAt); maxAge > 0 && age > maxAge {
		fmt.Fprintf(stderr, "warning: inventory %s was exported at %s, %s ago (more than --inventory-max-age %s): the cluster may have changed since; export it again\n",
			file, inv.ExportedAt.UTC().Format(time.RFC3339), age.Round(time.Second), maxAge)
	}
	if inv.BundleDigest != b.Digest {
		fmt.Fprintf(stderr, "warning: inventory %s was exported for bundle %s, and this run's is %s: it may lack what this bundle's policies read; export it again with this bundle\n",
			file, inv.BundleDigest, b.Digest)
	}
	return engine.ClusterInventory("in the cluster (inventory file "+file+")", inv.Ingresses, inv.Objects), nil
}
