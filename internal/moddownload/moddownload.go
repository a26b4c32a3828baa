// Package moddownload fetches pinned module versions through the Go module
// proxy for the generators (hack/schemagen, hack/crdgen), which read files
// that modules ship (OpenAPI documents, CRD YAML) without building them.
package moddownload

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

// Module is a downloaded module version: its directory in the module cache
// and its zip, which the go command has checked against the checksum
// database.
type Module struct {
	Dir, Zip string
}

// Download runs go mod download for module@version (a no-op when it is in
// the module cache) in an empty directory outside any module and
// workspace, so that no go.mod or go.sum changes.
//
// A module whose go.mod asks for a newer Go than the running one is still
// downloaded and checked, and go mod download reports its zip along with
// the error: it is returned all the same, since nothing is built.
func Download(module, version string) (Module, error) {
	outside, err := os.MkdirTemp("", "moddownload")
	if err != nil {
		return Module{}, err
	}
	defer os.RemoveAll(outside)
	cmd := exec.Command("go", "mod", "download", "-json", module+"@"+version) //nolint:gosec // G204: dev tools downloading the module versions they pin
	cmd.Dir = outside
	cmd.Env = append(os.Environ(), "GO111MODULE=on", "GOWORK=off")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	outb, runErr := cmd.Output()
	var info struct{ Dir, Zip, Sum, Error string }
	if err := json.Unmarshal(outb, &info); err != nil {
		return Module{}, fmt.Errorf("go mod download %s@%s: %w (%v; %s)", module, version, err, runErr, strings.TrimSpace(stderr.String()))
	}
	newerGo := strings.Contains(info.Error, " requires go >= ")
	switch {
	case info.Error != "" && !newerGo:
		return Module{}, fmt.Errorf("go mod download %s@%s: %s", module, version, info.Error)
	case runErr != nil && !newerGo:
		return Module{}, fmt.Errorf("go mod download %s@%s: %w: %s", module, version, runErr, strings.TrimSpace(stderr.String()))
	case info.Zip == "" || info.Sum == "":
		return Module{}, fmt.Errorf("go mod download %s@%s: no verified zip (%s)", module, version, info.Error)
	}
	if _, err := os.Stat(info.Zip); err != nil {
		return Module{}, fmt.Errorf("go mod download %s@%s: %w", module, version, err)
	}
	return Module{Dir: info.Dir, Zip: info.Zip}, nil
}
