package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gatekeep-dev/gatekeep/progress"
	"github.com/gatekeep-dev/gatekeep/report"
	"github.com/gatekeep-dev/gatekeep/scanner"
	"github.com/gatekeep-dev/gatekeep/scanner/registry"
	"github.com/gatekeep-dev/gatekeep/scanner/vulndb"
)

// imageFlags are the flags of every command that reads images.
type imageFlags struct {
	dbPath   string
	insecure []string
	platform string
	timeout  time.Duration
}

func (f *imageFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.dbPath, "db-path", "", "trivy.db file, or a directory holding one (default: "+vulndb.DefaultDir()+", as gatekeep db update writes it)")
	cmd.Flags().StringArrayVar(&f.insecure, "insecure-registry", nil, "registry host spoken to over plain HTTP (loopback registries always are; repeatable)")
	cmd.Flags().DurationVar(&f.timeout, "registry-timeout", 30*time.Second, "bound on every registry request: connecting and the response headers, and each wait for more of a body (0: none)")
	cmd.Flags().StringVar(&f.platform, "platform", "", "platform picked out of multi-platform images (default: the bundle's images.platform, else linux/amd64)")
}

// scanner opens the vulnerability database and makes a scanner over it.
// With pending (the webhook), a database not there yet is no error: scans
// fail until it is (and the policy's onError decides), see
// vulndb.OpenPending.
func (f *imageFlags) scanner(policy *scanner.Policy, pending bool) (*scanner.Scanner, error) {
	path := f.dbPath
	if path == "" {
		path = vulndb.DefaultDir()
	}
	open := vulndb.Open
	if pending {
		open = vulndb.OpenPending
	}
	db, err := open(path)
	if err != nil {
		return nil, usageError("vulnerability database: %v (run gatekeep db update, or give --db-path)", err)
	}
	opts := []scanner.Option{scanner.Insecure(f.insecure...), scanner.RegistryTimeout(f.timeout), scanner.UserAgent("gatekeep/" + version)}
	platform := f.platform
	if platform == "" && policy != nil {
		platform = policy.Platform
	}
	if platform != "" {
		p, err := scanner.ParsePlatform(platform)
		if err != nil {
			return nil, usageError("--platform: %v", err)
		}
		opts = append(opts, scanner.Platform(p))
	}
	return scanner.New(db, opts...), nil
}

func newScanCommand() *cobra.Command {
	var f imageFlags
	var output string
	var bundles []string
	var progressMode progress.Mode
	cmd := &cobra.Command{
		Use:   "scan [flags] IMAGE...",
		Short: "Scan container images for known vulnerabilities against the bundle's images: policy",
		Long: `Scan images read from their registries (credentials from the docker config;
anonymous otherwise) with the local trivy-db database, and judge them by the
images: policy of the bundles.

Exit codes: 0 every image passes, 1 an image fails the policy, 2 an image
cannot be read (or the flags are unusable).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError("scan: give at least one image")
			}
			return runScan(cmd.Context(), &f, bundles, output, args, cmd.OutOrStdout(), progress.New(cmd.ErrOrStderr(), progressMode))
		},
	}
	f.register(cmd)
	progressFlag(cmd, &progressMode)
	cmd.Flags().StringVarP(&output, "output", "o", "table", "output format: "+strings.Join(report.ScanNames(), "|"))
	cmd.Flags().StringArrayVar(&bundles, "bundle", nil, "policy bundle whose images: policy applies (repeatable)")
	return cmd
}

// runScan scans images and writes the report on stdout; the images done
// are counted on p.
func runScan(ctx context.Context, f *imageFlags, bundles []string, output string, images []string, stdout io.Writer, p *progress.Progress) error {
	if ctx == nil {
		ctx = context.Background()
	}
	format, err := report.NewScan(output)
	if output == "" || output == "text" || err != nil {
		return usageError("scan: unknown output format %q (valid: %s)", output, strings.Join(report.ScanNames(), ", "))
	}
	b, cleanup, err := loadBundle(ctx, bundles)
	if err != nil {
		return err
	}
	defer cleanup()
	s, err := f.scanner(b.Config.Images, false)
	if err != nil {
		return err
	}
	rep := scanner.ScanAll(ctx, s, b.Config.Images, images, scanner.WithProgress(p))
	if err := format.WriteScan(stdout, rep); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if code := rep.ExitCode(); code != 0 {
		return &exitError{code: code}
	}
	return nil
}

func newDBCommand() *cobra.Command {
	db := &cobra.Command{Use: "db", Short: "Manage the local vulnerability database (trivy-db)"}
	var repo, dir string
	var insecure []string
	var progressMode progress.Mode
	update := &cobra.Command{
		Use:   "update",
		Short: "Pull the trivy-db database (an OCI artifact) and replace the local copy atomically",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if dir == "" {
				dir = vulndb.DefaultDir()
			}
			meta, err := vulndb.Update(cmd.Context(), repo, dir,
				vulndb.WithRegistry(registry.WithInsecure(insecure...)),
				vulndb.WithProgress(progress.New(cmd.ErrOrStderr(), progressMode)))
			if err != nil {
				return fmt.Errorf("db update: %w", err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: trivy-db version %d, updated %s, next update %s\n",
				filepath.Join(dir, "trivy.db"), meta.Version, meta.UpdatedAt.Format("2006-01-02 15:04 MST"), meta.NextUpdate.Format("2006-01-02 15:04 MST"))
			return nil
		},
	}
	update.Flags().StringVar(&repo, "db-repository", "", "where to pull the database from (default ghcr.io/aquasecurity/trivy-db:2; any mirror)")
	update.Flags().StringVar(&dir, "db-path", "", "directory to keep trivy.db in (default "+vulndb.DefaultDir()+")")
	update.Flags().StringArrayVar(&insecure, "insecure-registry", nil, "registry host spoken to over plain HTTP (repeatable)")
	progressFlag(update, &progressMode)
	db.AddCommand(update)
	return db
}
