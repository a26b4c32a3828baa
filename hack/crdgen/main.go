// Command crdgen writes the CRD catalog gatekeep embeds
// (schema/crdcatalog/catalog.json.gz) from the CustomResourceDefinition YAML
// that each project ships in its Go module, fetched at a pinned version with
// `go mod download`, the catalog's table in the README, and the PolicyReport
// CRDs the Helm chart installs (charts/gatekeep/files/crds).
//
// Usage (from the repository root, as `make schemas` does):
//
//	go run ./hack/crdgen -out schema/crdcatalog/catalog.json.gz -readme README.md
//
// A test (go test ./hack/crdgen) runs the same generation and fails when
// the embedded catalog or the README's table differs from it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/gatekeep-dev/gatekeep/schema/crdcatalog"
)

func main() {
	out := flag.String("out", "schema/crdcatalog/"+crdcatalog.File, "file to write the catalog to")
	readme := flag.String("readme", "README.md", "README whose catalog table to rewrite (empty: none)")
	chart := flag.String("chart-crds", chartCRDDir, "folder to write the chart's PolicyReport CRDs to (empty: none)")
	flag.Parse()

	cat, err := generate(sources)
	if err != nil {
		fatal(err)
	}
	data, err := crdcatalog.Encode(cat)
	if err != nil {
		fatal(err)
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil { //nolint:gosec // G306: the catalog is committed to the repository
		fatal(err)
	}
	versions := 0
	for _, c := range cat.CRDs {
		versions += len(c.Served())
	}
	fmt.Printf("%s: %d sources, %d kinds, %d served versions, %d distinct schemas, %d bytes\n",
		*out, len(cat.Sources), len(cat.CRDs), versions, len(cat.Schemas), len(data))
	if *chart != "" {
		files, err := chartCRDFiles(chartCRDs)
		if err != nil {
			fatal(err)
		}
		if err := writeChartCRDs(*chart, files); err != nil {
			fatal(err)
		}
		fmt.Printf("%s: %d CRDs\n", *chart, len(files))
	}
	if *readme != "" {
		raw, err := os.ReadFile(*readme)
		if err != nil {
			fatal(err)
		}
		updated, err := crdcatalog.WithREADMETable(string(raw), cat.Table())
		if err != nil {
			fatal(fmt.Errorf("%s: %w", *readme, err))
		}
		if err := os.WriteFile(*readme, []byte(updated), 0o644); err != nil { //nolint:gosec // G306: the README is committed to the repository
			fatal(err)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "crdgen:", err)
	os.Exit(1)
}
