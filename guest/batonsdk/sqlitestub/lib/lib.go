// Package lib holds the one SQLite result code baton-sdk's dotc1z names.
package lib

// SQLITE_INTERRUPT is SQLite's result code 9.
const SQLITE_INTERRUPT = 9 //nolint:revive // SQLite's own name, as baton-sdk spells it
