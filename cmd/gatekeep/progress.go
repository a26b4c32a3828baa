package main

import (
	"github.com/spf13/cobra"

	"github.com/gatekeep-dev/gatekeep/progress"
)

// progressFlag registers --progress on a command that does long work (a
// download, many images): each such command has its own, rather than one
// on the root that most commands would ignore. The progress is drawn on
// the command's stderr (progress.New(cmd.ErrOrStderr(), mode)), never on
// its report.
func progressFlag(cmd *cobra.Command, mode *progress.Mode) {
	cmd.Flags().Var(mode, "progress", "progress on stderr: auto (when stderr is a terminal and TERM is not dumb), always, never")
}
