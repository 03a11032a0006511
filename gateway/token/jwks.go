package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// jwk is one key of a JSON Web Key Set (RFC 7517) as Supabase publishes
// them at /auth/v1/.well-known/jwks.json.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Alg string `json:"alg"`
	Use string `json:"use"`
	// RSA
	N string `json:"n"`
	E string `json:"e"`
	// EC and OKP
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
	// oct
	K string `json:"k"`
}

// Key is a parsed public (or shared) key and the algorithm family it may
// verify. Tying a key to its family is what refuses algorithm confusion:
// an RSA public key is never handed to HMAC.
type Key struct {
	kid    string
	family string // "HS", "RS" (RS* and PS*), "ES256"/"ES384"/"ES512", "EdDSA"
	key    any
}

// ParseJWKS reads JWT_JWKS: a key set {"keys":[...]} or a single key.
// Keys meant only for encryption ("use":"enc") are skipped.
func ParseJWKS(text string) ([]Key, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal([]byte(text), &set); err != nil {
		return nil, fmt.Errorf("not JSON: %v", err)
	}
	raw := set.Keys
	if raw == nil {
		raw = []json.RawMessage{json.RawMessage(text)}
	}
	var keys []Key
	var errs []error
	for i, r := range raw {
		var k jwk
		if err := json.Unmarshal(r, &k); err != nil {
			errs = append(errs, fmt.Errorf("key %d: %v", i, err))
			continue
		}
		if k.Use == "enc" {
			continue
		}
		vk, err := k.parse()
		if err != nil {
			errs = append(errs, fmt.Errorf("key %d (kid %q): %v", i, k.Kid, err))
			continue
		}
		keys = append(keys, vk)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New(`no signing key: want {"keys":[{"kty":"RSA"|"EC"|"OKP"|"oct",...}]}`)
	}
	return keys, nil
}

func (k jwk) parse() (Key, error) {
	vk := Key{kid: k.Kid}
	switch k.Kty {
	case "RSA":
		n, err1 := b64Int(k.N)
		e, err2 := b64Int(k.E)
		if err := errors.Join(err1, err2); err != nil {
			return vk, err
		}
		if !e.IsInt64() || e.Int64() < 3 || e.Int64() > 1<<31-1 {
			return vk, errors.New("RSA exponent out of range")
		}
		if n.BitLen() < 2048 {
			return vk, fmt.Errorf("RSA key of %d bits is too weak (at least 2048)", n.BitLen())
		}
		vk.family, vk.key = "RS", &rsa.PublicKey{N: n, E: int(e.Int64())}
	case "EC":
		var curve elliptic.Curve
		switch k.Crv {
		case "P-256":
			curve, vk.family = elliptic.P256(), "ES256"
		case "P-384":
			curve, vk.family = elliptic.P384(), "ES384"
		case "P-521":
			curve, vk.family = elliptic.P521(), "ES512"
		default:
			return vk, fmt.Errorf("EC curve %q: want P-256, P-384 or P-521", k.Crv)
		}
		size := (curve.Params().BitSize + 7) / 8
		x, err1 := b64Fixed(k.X, size)
		y, err2 := b64Fixed(k.Y, size)
		if err := errors.Join(err1, err2); err != nil {
			return vk, err
		}
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, append(append([]byte{4}, x...), y...))
		if err != nil {
			return vk, err
		}
		vk.key = pub
	case "OKP":
		if k.Crv != "Ed25519" {
			return vk, fmt.Errorf("OKP curve %q: want Ed25519", k.Crv)
		}
		x, err := b64Fixed(k.X, ed25519.PublicKeySize)
		if err != nil {
			return vk, err
		}
		vk.family, vk.key = "EdDSA", ed25519.PublicKey(x)
	case "oct":
		secret, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(k.K, "="))
		if err != nil || len(secret) == 0 {
			return vk, errors.New(`"k" is not base64url`)
		}
		vk.family, vk.key = "HS", secret
	default:
		return vk, fmt.Errorf("key type %q: want RSA, EC, OKP or oct", k.Kty)
	}
	return vk, nil
}

func b64Int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) == 0 {
		return nil, fmt.Errorf("%q is not a base64url number", s)
	}
	return new(big.Int).SetBytes(b), nil
}

func b64Fixed(s string, size int) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(s, "="))
	if err != nil || len(b) != size {
		return nil, fmt.Errorf("coordinate %q: want %d bytes of base64url", s, size)
	}
	return b, nil
}

// family maps a token's alg header to the key family that may verify it.
func family(alg string) string {
	switch {
	case strings.HasPrefix(alg, "HS"):
		return "HS"
	case strings.HasPrefix(alg, "RS"), strings.HasPrefix(alg, "PS"):
		return "RS"
	}
	return alg
}

// methodsFor lists the algorithms the configured keys can verify; any
// other alg header (none included) is refused before a key is looked up.
func methodsFor(keys []Key) []string {
	byFamily := map[string][]string{
		"HS":    {"HS256", "HS384", "HS512"},
		"RS":    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"},
		"ES256": {"ES256"}, "ES384": {"ES384"}, "ES512": {"ES512"},
		"EdDSA": {"EdDSA"},
	}
	seen := map[string]bool{}
	var out []string
	for _, k := range keys {
		if !seen[k.family] {
			seen[k.family] = true
			out = append(out, byFamily[k.family]...)
		}
	}
	return out
}
