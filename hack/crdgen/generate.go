package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"slices"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatekeep-dev/gatekeep/internal/moddownload"
	"github.com/gatekeep-dev/gatekeep/schema/crdcatalog"
)

// generate builds the catalog from the sources' modules.
func generate(srcs []source) (*crdcatalog.Catalog, error) {
	cat := &crdcatalog.Catalog{}
	type groupKind struct{ group, kind string }
	crds := map[groupKind]*crdcatalog.CRD{}
	schemaIndex := map[string]int{} // canonical JSON -> 1 + index
	for i, src := range srcs {
		files, err := moduleFiles(src.Module, src.Version, src.Files)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src.Project, err)
		}
		found := 0
		for _, f := range files {
			defs, err := crdsOf(f.data)
			if err != nil {
				return nil, fmt.Errorf("%s: %s@%s/%s: %w", src.Project, src.Module, src.Version, f.name, err)
			}
			for _, d := range defs {
				if len(src.Groups) > 0 && !slices.Contains(src.Groups, d.group) {
					continue
				}
				found++
				gk := groupKind{d.group, d.kind}
				crd := crds[gk]
				if crd == nil {
					crd = &crdcatalog.CRD{Group: d.group, Kind: d.kind, Scope: d.scope}
					crds[gk] = crd
				}
				for _, v := range d.versions {
					at := slices.IndexFunc(crd.Versions, func(e crdcatalog.Version) bool { return e.Name == v.name })
					if at >= 0 && (crd.Versions[at].Served || !v.served) {
						continue // an earlier source has it
					}
					cv := crdcatalog.Version{Name: v.name, Served: v.served, Source: i}
					if v.served {
						key, err := json.Marshal(v.schema)
						if err != nil {
							return nil, fmt.Errorf("%s: %s %s: %w", src.Project, d.group, d.kind, err)
						}
						if cv.Schema = schemaIndex[string(key)]; cv.Schema == 0 {
							cat.Schemas = append(cat.Schemas, key)
							cv.Schema = len(cat.Schemas)
							schemaIndex[string(key)] = cv.Schema
						}
					}
					if at >= 0 {
						crd.Versions[at] = cv
					} else {
						crd.Versions = append(crd.Versions, cv)
					}
				}
			}
		}
		if found == 0 {
			return nil, fmt.Errorf("%s: no CustomResourceDefinition in %s@%s %s", src.Project, src.Module, src.Version, strings.Join(src.Files, " "))
		}
		release := src.Release
		if release == "" {
			release = src.Project + " " + src.Version
		}
		cat.Sources = append(cat.Sources, crdcatalog.Source{
			Project: src.Project, Module: src.Module, Version: src.Version, Files: filesOf(files), Release: release, Note: src.Note,
		})
	}
	for _, crd := range crds {
		cat.CRDs = append(cat.CRDs, *crd)
	}
	sort.Slice(cat.CRDs, func(i, j int) bool {
		a, b := cat.CRDs[i], cat.CRDs[j]
		if a.Group != b.Group {
			return a.Group < b.Group
		}
		return a.Kind < b.Kind
	})
	return cat, nil
}

type moduleFile struct {
	name string // relative to the module's root
	data []byte
}

func filesOf(fs []moduleFile) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// moduleFiles returns the files of module@version matching patterns, in
// name order; every pattern must match.
func moduleFiles(module, version string, patterns []string) ([]moduleFile, error) {
	m, err := moddownload.Download(module, version)
	if err != nil {
		return nil, err
	}
	zr, err := zip.OpenReader(m.Zip)
	if err != nil {
		return nil, fmt.Errorf("%s@%s: %w", module, version, err)
	}
	defer zr.Close()
	prefix := module + "@" + version + "/"
	matched := make([]bool, len(patterns))
	var out []moduleFile
	for _, f := range zr.File {
		name, ok := strings.CutPrefix(f.Name, prefix)
		if !ok {
			continue
		}
		hit := false
		for i, p := range patterns {
			if ok, _ := path.Match(p, name); ok {
				matched[i], hit = true, true
			}
		}
		if !hit {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		data, err := io.ReadAll(rc)
		if cerr := rc.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Name, err)
		}
		out = append(out, moduleFile{name, data})
	}
	for i, p := range patterns {
		if !matched[i] {
			return nil, fmt.Errorf("%s@%s: no file matches %s", module, version, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// crd is what the catalog keeps of a CustomResourceDefinition.
type crd struct {
	group, kind, scope string
	versions           []crdVersion
}

type crdVersion struct {
	name   string
	served bool
	schema map[string]any
}

// crdsOf reads the apiextensions.k8s.io/v1 CustomResourceDefinitions of a
// YAML stream; other documents are skipped.
func crdsOf(data []byte) ([]crd, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var out []crd
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if doc["kind"] != "CustomResourceDefinition" {
			continue
		}
		if doc["apiVersion"] != "apiextensions.k8s.io/v1" {
			return nil, fmt.Errorf("%v CustomResourceDefinition: only apiextensions.k8s.io/v1 is read", doc["apiVersion"])
		}
		spec, _ := doc["spec"].(map[string]any)
		names, _ := spec["names"].(map[string]any)
		c := crd{}
		c.group, _ = spec["group"].(string)
		c.kind, _ = names["kind"].(string)
		c.scope, _ = spec["scope"].(string)
		if c.group == "" || c.kind == "" {
			return nil, fmt.Errorf("a CustomResourceDefinition without group or kind")
		}
		if p, _ := spec["preserveUnknownFields"].(bool); p {
			return nil, fmt.Errorf("%s %s: preserveUnknownFields is not kept in the catalog", c.group, c.kind)
		}
		versions, _ := spec["versions"].([]any)
		for _, v := range versions {
			vm, _ := v.(map[string]any)
			cv := crdVersion{}
			cv.name, _ = vm["name"].(string)
			cv.served, _ = vm["served"].(bool)
			if cv.served {
				s, ok := nestedMap(vm, "schema", "openAPIV3Schema")
				if !ok {
					return nil, fmt.Errorf("%s/%s %s: no openAPIV3Schema", c.group, cv.name, c.kind)
				}
				cv.schema = strip(s)
			}
			c.versions = append(c.versions, cv)
		}
		if len(c.versions) == 0 {
			return nil, fmt.Errorf("%s %s: no versions", c.group, c.kind)
		}
		out = append(out, c)
	}
}

func nestedMap(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		next, ok := m[k].(map[string]any)
		if !ok {
			return nil, false
		}
		m = next
	}
	return m, true
}

// validating are the schema keywords that decide whether an object is
// valid, and so what the catalog keeps; the rest (description, example,
// externalDocs, title, x-kubernetes-validations, x-kubernetes-map-type) is
// documentation, or CEL rules gatekeep does not evaluate. Keywords that
// hold schemas are walked.
var validating = map[string]bool{
	"type": true, "format": true, "nullable": true, "default": true, "enum": true,
	"required": true, "pattern": true,
	"minLength": true, "maxLength": true, "minItems": true, "maxItems": true,
	"minProperties": true, "maxProperties": true, "minimum": true, "maximum": true,
	"exclusiveMinimum": true, "exclusiveMaximum": true, "multipleOf": true, "uniqueItems": true,
	"x-kubernetes-preserve-unknown-fields": true, "x-kubernetes-embedded-resource": true,
	"x-kubernetes-int-or-string": true, "x-kubernetes-list-type": true, "x-kubernetes-list-map-keys": true,
	"properties": true, "additionalProperties": true, "items": true,
	"allOf": true, "anyOf": true, "oneOf": true, "not": true,
}

// strip returns the validating part of a schema.
func strip(s map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range s {
		if !validating[k] {
			continue
		}
		switch k {
		case "properties":
			props, _ := v.(map[string]any)
			m := make(map[string]any, len(props))
			for name, p := range props {
				if ps, ok := p.(map[string]any); ok {
					m[name] = strip(ps)
				}
			}
			v = m
		case "additionalProperties", "items", "not":
			if ps, ok := v.(map[string]any); ok {
				v = strip(ps)
			}
		case "allOf", "anyOf", "oneOf":
			list, _ := v.([]any)
			l := make([]any, 0, len(list))
			for _, e := range list {
				if es, ok := e.(map[string]any); ok {
					l = append(l, strip(es))
				}
			}
			v = l
		}
		out[k] = v
	}
	return out
}
