// Command gatekeep is a Kubernetes policy-and-security gateway: the same
// checks from the same policy bundle in CI (gatekeep check) and, later, in
// the cluster.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	err := newRootCommand().Execute()
	if err == nil {
		return
	}
	var ex *exitError
	if errors.As(err, &ex) {
		if ex.msg != "" {
			fmt.Fprintln(os.Stderr, "gatekeep: "+ex.msg)
		}
		os.Exit(ex.code)
	}
	fmt.Fprintln(os.Stderr, "gatekeep: "+err.Error())
	os.Exit(exitUnusable)
}
