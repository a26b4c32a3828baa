// Package charts holds the tests of gatekeep's Helm chart (charts/gatekeep):
// rendered with the Helm library for each way of installing it, linted,
// checked by gatekeep itself, and installed on a real API server whose
// webhook configurations then call a gatekeep the tests start.
package charts
