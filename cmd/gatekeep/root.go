package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

// Exit codes, a contract with CI jobs.
const (
	exitPass     = 0 // nothing denied
	exitDenied   = 1 // something denied (or warned, with --fail-on-warn)
	exitUnusable = 2 // inputs or flags unusable
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// exitError ends the command with an exit code; msg goes to stderr.
type exitError struct {
	code int
	msg  string
}

func (e *exitError) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return &exitError{code: exitUnusable, msg: fmt.Sprintf(format, args...)}
}

func newRootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "gatekeep",
		Short: "Kubernetes policy and security checks, in CI and at admission",
		Long: `gatekeep checks Kubernetes manifests against a policy bundle: privileged
containers, Ingress host collisions, plaintext and sealed Secrets, schemas
and deprecated APIs of the target Kubernetes version, vulnerable images, and
the bundle's own Rego and Gatekeeper policies. The same bundle gives the same
verdict in CI (gatekeep check) and in the cluster (gatekeep serve).`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError("%v", err) })
	root.AddCommand(newCheckCommand(), newMutateCommand(), newServeCommand(), newVerifyCommand(), newScanCommand(), newDBCommand(), newBundleCommand(), newAuditCommand(), newInventoryCommand())
	return root
}
