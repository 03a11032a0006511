// Package token verifies the JWTs clients present: the socket's apikey,
// a channel's user_token or access_token, and the HTTP API's bearer
// token. It owns the signature check (golang-jwt/jwt/v5, with the
// accepted algorithms pinned to the families of the configured keys),
// the key set of JWT_SECRET and JWT_JWKS, expiry without grace, and the
// JWT_CLAIM_VALIDATORS equality checks. Its errors read as the original
// server's reply texts, so the gateway sends them to clients unchanged.
//
// What a verified token makes its bearer in the database (role, claims
// as request.jwt.claims) is not decided here: the gateway hands the claims
// VerifyClaims returns to authz.NewSubject. This package answers "is this
// token genuine and current", authz "what may its bearer see".
//
// # Concurrency
//
// A Verifier is immutable after NewVerifier and safe for concurrent use;
// it starts no goroutines. JWT_JWKS is a static key set read once from the
// configuration (there is no JWKS URL to poll), so rotating keys means
// restarting the gateway with the new set.
package token
