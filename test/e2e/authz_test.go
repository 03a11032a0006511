package e2e

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/pgrealtime/realtime/test/harness"
)

const (
	user1 = "11111111-1111-1111-1111-111111111111"
	user2 = "22222222-2222-2222-2222-222222222222"
)

func projectToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	claims["exp"] = time.Now().Add(time.Hour).Unix()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// received returns, as one line each, the changes c's channels got from
// mark on, up to the INSERT of marker into open (which is left out). The
// gateway sends a socket's changes in commit order: what was not there by
// the marker was not sent.
func received(t *testing.T, c *client, mark, marker int) string {
	t.Helper()
	c.expect(t, fmt.Sprintf("marker %d", marker), waitChange, isEvent("realtime:public:open", "INSERT", func(ch change) bool {
		return ch.Record["id"] == fmt.Sprint(marker)
	}))
	var out []string
	for _, l := range c.all(mark, isKind("event")) {
		ch := l.change(t)
		if l.Topic == "realtime:public:open" {
			continue
		}
		var cols []string
		for _, col := range ch.Columns {
			cols = append(cols, fmt.Sprint(col["name"]))
		}
		s := fmt.Sprintf("%s %s record=%v old=%v columns=%v", strings.TrimPrefix(l.Topic, "realtime:public:"), ch.Type, brief(ch.Record), brief(ch.OldRecord), cols)
		if string(ch.Errors) != "" && string(ch.Errors) != "null" {
			s += " errors=" + string(ch.Errors)
		}
		out = append(out, s)
	}
	return strings.Join(out, "\n")
}

// brief shows a record with sorted keys and values cut to 8 characters.
func brief(m map[string]any) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var parts []string
	for _, k := range keys {
		v := fmt.Sprint(m[k])
		if len(v) > 8 {
			v = v[:8]
		}
		parts = append(parts, k+":"+v)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// realtime-js 1.7.5 topics are no way around authorization: the same
// rules as postgres_changes, with the user_token of each channel deciding
// its rights on a socket opened with the anon key.
func TestV1Authorization(t *testing.T) {
	t.Parallel()
	if skipNode != "" {
		t.Skip(skipNode)
	}
	db := newDatabase(t, harness.SupabaseRoles, harness.SupabaseAuth, harness.NotesTables)
	gw := startGateway(t, db.url, "SECURE_CHANNELS=true", "JWT_SECRET="+jwtSecret)
	anonKey := projectToken(t, jwt.MapClaims{"role": "anon"})
	tokens := map[string]string{
		"user 1":       projectToken(t, jwt.MapClaims{"role": "authenticated", "sub": user1}),
		"user 2":       projectToken(t, jwt.MapClaims{"role": "authenticated", "sub": user2}),
		"anon":         anonKey,
		"service_role": projectToken(t, jwt.MapClaims{"role": "service_role"}),
	}
	topics := []string{"realtime:public:notes", "realtime:public:notes:secret=eq.s1", "realtime:public:private", "realtime:public:open"}
	clients := map[string]*client{}
	for who, token := range tokens {
		var chans []channel
		for _, topic := range topics {
			chans = append(chans, channel{Topic: topic, Events: []string{"*"}, Params: map[string]string{"user_token": token}})
		}
		clients[who] = gw.startClient(t, who, clientConfig{Params: map[string]string{"apikey": anonKey}, Channels: chans})
	}
	for _, c := range clients {
		c.joined(t, topics...)
	}
	noRole := gw.startClient(t, "no role", clientConfig{Params: map[string]string{"apikey": anonKey},
		Channels: []channel{{Topic: "realtime:public:notes", Events: []string{"*"}, Params: map[string]string{"user_token": projectToken(t, jwt.MapClaims{"sub": user1})}}}})
	if l := noRole.expect(t, "the refusal", waitJoin, isKind("joined", "join_error")); l.Kind != "join_error" ||
		!strings.Contains(string(l.Response), "Fields `role` and `exp` are required in JWT") {
		t.Fatalf("user_token without role: %v", l)
	}
	marks := map[string]int{}
	for who, c := range clients {
		marks[who] = c.mark()
	}
	db.exec(t, fmt.Sprintf(`INSERT INTO notes VALUES (1, '%s', 'one', 's1'); INSERT INTO notes VALUES (2, '%s', 'two', 's2');
INSERT INTO private VALUES (1, 'p'); INSERT INTO open VALUES (100, 'marker')`, user1, user2))
	want := map[string]string{
		"user 1": "notes INSERT record={body:one id:1 owner:11111111} old={} columns=[id owner body]\n" +
			"private INSERT record={} old={} columns=[] errors=[\"Error 401: Unauthorized\"]",
		"user 2": "notes INSERT record={body:two id:2 owner:22222222} old={} columns=[id owner body]\n" +
			"private INSERT record={} old={} columns=[] errors=[\"Error 401: Unauthorized\"]",
		"anon": "private INSERT record={} old={} columns=[] errors=[\"Error 401: Unauthorized\"]",
		"service_role": "notes INSERT record={body:one id:1 owner:11111111 secret:s1} old={} columns=[id owner body secret]\n" +
			"notes:secret=eq.s1 INSERT record={body:one id:1 owner:11111111 secret:s1} old={} columns=[id owner body secret]\n" +
			"notes INSERT record={body:two id:2 owner:22222222 secret:s2} old={} columns=[id owner body secret]\n" +
			"private INSERT record={body:p id:1} old={} columns=[id body]",
	}
	for who, c := range clients {
		if got := received(t, c, marks[who], 100); got != want[who] {
			t.Errorf("%s received:\n%s\nwant:\n%s", who, got, want[who])
		}
		marks[who] = c.mark()
	}

	db.exec(t, `DELETE FROM notes WHERE id = 2; INSERT INTO open VALUES (101, 'marker')`)
	for who, c := range clients {
		want := "notes DELETE record={} old={id:2} columns=[id owner body]"
		if who == "service_role" {
			want = "notes DELETE record={} old={id:2} columns=[id owner body secret]"
		}
		if got := received(t, c, marks[who], 101); got != want {
			t.Errorf("%s received after DELETE:\n%s\nwant:\n%s", who, got, want)
		}
	}
}
