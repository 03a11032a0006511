package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// selfHostEnv reads the variables of the supabase/realtime 2.x image that
// mean something here (see gateway/httpapi's tenant.go and cors.go for what they
// do). get and secret are FromEnv's readers.
func (c *Config) selfHostEnv(get func(string) (string, bool), secret func(string, *string)) []error {
	var errs []error
	// The 2.x image names the JWT secret and key set differently from v1;
	// accept either name, but never guess which of two different values
	// was meant.
	alias := func(v1, v2 string, dst *string) {
		var v string
		secret(v2, &v)
		switch {
		case v == "":
		case *dst == "":
			*dst = v
		case *dst != v:
			errs = append(errs, fmt.Errorf("%s and %s are both set, to different values: they are the v1 and 2.x names of the same setting, set one of them", v1, v2))
		}
	}
	alias("JWT_SECRET", "API_JWT_SECRET", &c.JWTSecret)
	alias("JWT_JWKS", "API_JWT_JWKS", &c.JWKS)
	// Supabase's compose passes API_JWT_JWKS: ${JWT_JWKS:-{"keys":[]}}: an
	// empty set until asymmetric keys are generated. It means "no keys",
	// not a broken setting.
	if emptyKeySet(c.JWKS) {
		c.JWKS = ""
	}

	// The 2.x image's per-tenant channel cap is ours per socket: with one
	// tenant they are the same setting.
	if v, ok := get("TENANT_MAX_CHANNELS_PER_CLIENT"); ok {
		n, err := strconv.Atoi(v)
		switch v1, set := get("MAX_CHANNELS_PER_CLIENT"); {
		case err != nil || n < 0:
			errs = append(errs, fmt.Errorf("TENANT_MAX_CHANNELS_PER_CLIENT=%q: want a non-negative whole number", v))
		case set && v1 != v:
			errs = append(errs, errors.New("MAX_CHANNELS_PER_CLIENT and TENANT_MAX_CHANNELS_PER_CLIENT are both set, to different values: they are the v1 and 2.x names of the same setting, set one of them"))
		default:
			c.MaxChannelsPerSocket = n
		}
	}
	if v, ok := get("SEED_SELF_HOST"); ok && strings.EqualFold(v, "true") {
		c.TenantFromHost = true
	}
	if v, ok := get("SELF_HOST_TENANT_NAME"); ok {
		if strings.ContainsAny(v, "./: ") {
			errs = append(errs, fmt.Errorf("SELF_HOST_TENANT_NAME=%q: want one host name label such as realtime-dev (the tenant is the first label of the Host header)", v))
		} else {
			c.Tenant = v
			c.TenantFromHost = true
		}
	}
	if v, ok := get("DB_AFTER_CONNECT_QUERY"); ok {
		c.AfterConnectQuery = v
	}
	if v, ok := get("CORS_ALLOWED_ORIGINS"); ok {
		origins, err := parseOrigins(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("CORS_ALLOWED_ORIGINS=%q: %w", v, err))
		} else {
			c.CORSOrigins = origins
		}
	}
	return errs
}

// emptyKeySet reports whether s is a JSON Web Key Set with no keys.
func emptyKeySet(s string) bool {
	var set struct {
		Keys *[]json.RawMessage `json:"keys"`
	}
	return json.Unmarshal([]byte(s), &set) == nil && set.Keys != nil && len(*set.Keys) == 0
}

// parseOrigins reads a comma-separated list of browser origins
// (scheme://host[:port]), or "*" for any origin.
func parseOrigins(v string) ([]string, error) {
	var out []string
	for o := range strings.SplitSeq(v, ",") {
		o = strings.TrimSpace(o)
		if o == "" {
			continue
		}
		if o == "*" {
			out = append(out, o)
			continue
		}
		u, err := url.Parse(o)
		if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.User != nil {
			return nil, fmt.Errorf("%q is not an origin: want * or scheme://host[:port] such as https://app.example.com, comma-separated", o)
		}
		// Browsers send origins in lower case and without a trailing slash.
		out = append(out, strings.ToLower(u.Scheme+"://"+u.Host))
	}
	if len(out) == 0 {
		return nil, errors.New("no origin: want * or a comma-separated list such as https://app.example.com")
	}
	return out, nil
}

// ignoredEnv lists the variables of the supabase/realtime 2.x image that
// configure its Erlang runtime or its tenant database, and why they mean
// nothing here. Supabase's compose file sets all of them.
var ignoredEnv = []struct{ name, why string }{
	{"DB_ENC_KEY", "encrypts tenant rows of the 2.x control database; there is none here, the tenant's database is DB_*"},
	{"SECRET_KEY_BASE", "signs Phoenix sessions; there are none"},
	{"METRICS_JWT_SECRET", "/metrics is served without a token when EXPOSE_METRICS=true"},
	{"ERL_AFLAGS", "Erlang VM flags"},
	{"DNS_NODES", "Erlang clustering; use CLUSTER_NATS_URL"},
	{"RLIMIT_NOFILE", "the 2.x start script raises the open-file limit; set ulimits.nofile in compose instead"},
	{"APP_NAME", "Erlang node name"},
	{"RUN_JANITOR", "cleans the 2.x control database; there is none"},
	{"DISABLE_HEALTHCHECK_LOGGING", "health checks are never logged"},
	{"DB_IP_VERSION", "the database host is resolved as the system resolves it"},
	{"MAX_HEADER_LENGTH", "request headers may take up to 1 MiB"},
}

// IgnoredEnv returns "NAME: why" for each variable of the supabase/realtime
// 2.x image that is set in the environment and ignored by this gateway,
// for one startup log line.
func IgnoredEnv(lookup func(string) (string, bool)) []string {
	var out []string
	for _, e := range ignoredEnv {
		if _, ok := lookup(e.name); ok {
			out = append(out, e.name+": "+e.why)
		}
	}
	return out
}
