package schema

import "regexp"

// typeSet is the set of JSON types a node accepts; 0 accepts any value.
type typeSet uint8

const (
	tsNull typeSet = 1 << iota
	tsBoolean
	tsInteger // integers, and numbers with no fraction
	tsNumber  // any number
	tsString
	tsObject
	tsArray
)

// format is a check on a value beyond its JSON type.
type format uint8

const (
	fmtNone     format = iota
	fmtInt32           // integer in int32 range (the API server decodes into int32)
	fmtInt64           // integer in int64 range
	fmtIntOrStr        // IntOrString: a string, or an integer in int32 range
	fmtQuantity        // resource.Quantity: a number, or a string ParseQuantity accepts
	fmtDateTime        // RFC 3339 date-time
	fmtDate            // RFC 3339 full-date
	fmtByte            // base64
	fmtUUID
	fmtIPv4
	fmtIPv6
	fmtCIDR
	fmtMAC
)

// node is one compiled schema. Nodes are immutable once compiled and are
// shared by every goroutine validating with them.
type node struct {
	types  typeSet
	format format

	// nullable: null is accepted whatever the types say (built-in kinds:
	// the API server decodes null into the zero value; CRDs: nullable: true).
	nullable bool
	// pruneNull: as a property, null is dropped by the API server before
	// validation (CRD fields that are not nullable), so it counts as absent.
	pruneNull bool
	// hasDefault: the API server fills the field in when it is absent (CRDs).
	hasDefault bool

	props      map[string]*node
	required   []string
	additional *node // schema of keys not in props (maps)
	items      *node

	// open: unknown fields are kept even in strict mode
	// (x-kubernetes-preserve-unknown-fields, or an object with no schema for
	// its fields in a built-in or JSON Schema document).
	open bool
	// closed: unknown fields are an error even when not strict
	// (additionalProperties: false in a JSON Schema document).
	closed bool
	// embedded: x-kubernetes-embedded-resource; apiVersion and kind are
	// required and metadata is ObjectMeta.
	embedded bool

	extra *constraints
}

// constraints are the value validations of CRD and JSON Schema documents.
type constraints struct {
	enum                  []any
	pattern               *regexp.Regexp
	patternText           string
	minLength, maxLength  int64 // -1: unset
	minItems, maxItems    int64
	minProps, maxProps    int64
	minimum, maximum      *float64
	exclusiveMin, exclMax bool
	multipleOf            float64
	uniqueItems           bool
	listType              string // set or map (x-kubernetes-list-type)
	listMapKeys           []string
	allOf, anyOf, oneOf   []*node
	not                   *node
}

func newConstraints() *constraints {
	return &constraints{minLength: -1, maxLength: -1, minItems: -1, maxItems: -1, minProps: -1, maxProps: -1}
}

// anyNode accepts every value.
var anyNode = &node{nullable: true, open: true}

// trivial reports whether the node accepts every value.
func (n *node) trivial() bool {
	return n == nil || (n.types == 0 && n.extra == nil && n.format == fmtNone && n.props == nil &&
		n.additional == nil && n.items == nil && !n.closed && n.open && !n.embedded && len(n.required) == 0)
}
