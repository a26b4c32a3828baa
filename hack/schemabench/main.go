// Command schemabench times gatekeep's schema validation against
// kubeconform's validator library on the same manifests and the same
// schemas, in the same run:
//
//	go run ./hack/schemabench [-k 1.35] [-strict] [-runs 3] DIR
//
// gatekeep's embedded schemas for the version are first written in
// kubeconform's layout to a temporary directory, which kubeconform then
// uses as its only schema location (custom kinds without a schema are
// skipped by both). It prints objects per second for:
//
//   - gatekeep validate: schema.Validator over objects already loaded, the
//     cost the schema check adds to a gatekeep run (which loads every file
//     once for all of its checks);
//   - gatekeep parse+validate: manifest.Parse of every file, then validate;
//   - kubeconform: validator.Validate over every file (it splits, parses
//     and validates each resource).
//
// Each side runs on one goroutine; the best of -runs runs is reported.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/yannh/kubeconform/pkg/validator"

	"github.com/gatekeep-dev/gatekeep/kubeversion"
	"github.com/gatekeep-dev/gatekeep/manifest"
	"github.com/gatekeep-dev/gatekeep/schema"
)

func main() {
	k8s := flag.String("k", kubeversion.Latest.String(), "Kubernetes version")
	strict := flag.Bool("strict", false, "strict mode (unknown fields and duplicate keys)")
	runs := flag.Int("runs", 3, "runs of each side; the best is reported")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: schemabench [-k VERSION] [-strict] [-runs N] DIR\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(flag.Arg(0), *k8s, *strict, *runs); err != nil {
		fmt.Fprintln(os.Stderr, "schemabench:", err)
		os.Exit(1)
	}
}

type file struct {
	path string
	data []byte
}

func run(dir, k8s string, strict bool, runs int) error {
	ver, err := kubeversion.Parse(k8s)
	if err != nil {
		return err
	}
	var files []file
	err = filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || e.IsDir() {
			return err
		}
		switch strings.ToLower(filepath.Ext(p)) {
		case ".yaml", ".yml", ".json":
			b, err := os.ReadFile(p) //nolint:gosec // G122: a benchmark reading the schema tree its user names
			if err != nil {
				return err
			}
			files = append(files, file{p, b})
		}
		return nil
	})
	if err != nil {
		return err
	}

	// The objects gatekeep validates, loaded once as a gatekeep run does.
	var objs []*manifest.Object
	for _, f := range files {
		o, _ := manifest.Parse(f.path, f.data)
		objs = append(objs, o...)
	}
	if len(objs) == 0 {
		return fmt.Errorf("no Kubernetes objects under %s", dir)
	}

	tmp, err := os.MkdirTemp("", "schemabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	n, err := schema.WriteJSONSchemas(ver, tmp, strict)
	if err != nil {
		return err
	}
	fmt.Printf("%d files, %d objects; Kubernetes %s schemas (%d kinds) in kubeconform's layout at %s; strict=%v; GOMAXPROCS=%d\n",
		len(files), len(objs), ver.MinorString(), n, tmp, strict, runtime.GOMAXPROCS(0))

	best := func(f func() (int, int)) (time.Duration, int, int) {
		var bestD time.Duration
		var valid, invalid int
		for i := 0; i < runs; i++ {
			start := time.Now()
			valid, invalid = f()
			if d := time.Since(start); i == 0 || d < bestD {
				bestD = d
			}
		}
		return bestD, valid, invalid
	}

	validate := func(v *schema.Validator, o *manifest.Object) bool {
		r := v.Validate(o.Data)
		return len(r.Problems) == 0
	}
	dGK, okGK, badGK := best(func() (int, int) {
		v, err := schema.New(ver, schema.Strict(strict))
		if err != nil {
			panic(err)
		}
		ok, bad := 0, 0
		for _, o := range objs {
			if validate(v, o) {
				ok++
			} else {
				bad++
			}
		}
		return ok, bad
	})
	dGKP, _, _ := best(func() (int, int) {
		v, err := schema.New(ver, schema.Strict(strict))
		if err != nil {
			panic(err)
		}
		ok, bad := 0, 0
		for _, f := range files {
			os, _ := manifest.Parse(f.path, f.data)
			for _, o := range os {
				if validate(v, o) {
					ok++
				} else {
					bad++
				}
			}
		}
		return ok, bad
	})
	dKC, okKC, badKC := best(func() (int, int) {
		kv, err := validator.New([]string{filepath.Join(tmp, "{{ .ResourceKind }}{{ .KindSuffix }}.json")}, validator.Opts{
			Strict:               strict,
			IgnoreMissingSchemas: true,
			KubernetesVersion:    ver.MinorString() + ".0",
		})
		if err != nil {
			panic(err)
		}
		ok, bad := 0, 0
		for _, f := range files {
			for _, r := range kv.Validate(f.path, io.NopCloser(bytes.NewReader(f.data))) {
				switch r.Status {
				case validator.Valid:
					ok++
				case validator.Invalid, validator.Error:
					bad++
				}
			}
		}
		return ok, bad
	})

	rate := func(d time.Duration, count int) float64 { return float64(count) / d.Seconds() }
	fmt.Printf("%-26s %8.3fs %10.0f objects/s  valid %d, invalid %d\n", "gatekeep validate", dGK.Seconds(), rate(dGK, len(objs)), okGK, badGK)
	fmt.Printf("%-26s %8.3fs %10.0f objects/s\n", "gatekeep parse+validate", dGKP.Seconds(), rate(dGKP, len(objs)))
	fmt.Printf("%-26s %8.3fs %10.0f objects/s  valid %d, invalid %d\n", "kubeconform", dKC.Seconds(), rate(dKC, len(objs)), okKC, badKC)
	fmt.Printf("speed-up: %.1fx (validate), %.1fx (parse+validate)\n", dKC.Seconds()/dGK.Seconds(), dKC.Seconds()/dGKP.Seconds())
	return nil
}
