// Package recur holds Recur's domain: the records a billing system imports
// (data sources, customers, plans, invoices with their line items and
// transactions, subscription events), the bulk imports that carry them, the
// identifiers they are known by, the rules that make a single record valid,
// and the one error type every layer returns.
//
// The package imports none of Recur's other packages. Storage (package store),
// the bulk payload (package bulk), the workers (package importer), analytics
// and the HTTP API (package api) all depend on it, never the other way round.
//
// Validation lives here so that the bulk import and the single-object
// endpoints apply one rule set with one set of messages: a record valid in one
// path is valid in the other.
package recur
