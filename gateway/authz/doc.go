// Package authz decides which subscribers may receive a row change, by
// asking PostgreSQL under each subscriber's role and JWT claims.
package authz
