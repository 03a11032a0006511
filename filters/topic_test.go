package filters

import (
	"errors"
	"strings"
	"testing"
)

func TestParseTopic(t *testing.T) {
	tests := []struct {
		in   string
		want Topic
	}{
		{"realtime:*", Topic{Schema: "*"}},
		{"realtime:public", Topic{Schema: "public"}},
		{"realtime:public:service", Topic{Schema: "public", Table: "service"}},
		{"realtime:public:*", Topic{Schema: "public", Table: "*"}},
		{"realtime:public:service:status_id=eq.2", Topic{Schema: "public", Table: "service", Column: "status_id", Value: "2"}},
		{"realtime:public:t:created=eq.2021-02-16T23:47:47.51613Z", Topic{Schema: "public", Table: "t", Column: "created", Value: "2021-02-16T23:47:47.51613Z"}},
		{"realtime:public:t:name=eq.a=eq.b", Topic{Schema: "public", Table: "t", Column: "name", Value: "a=eq.b"}},
		{"realtime:public:t:name=eq.", Topic{Schema: "public", Table: "t", Column: "name", Value: ""}},
	}
	for _, tc := range tests {
		got, err := ParseTopic(tc.in)
		if err != nil {
			t.Fatalf("ParseTopic(%q): %v", tc.in, err)
		}
		tc.want.Name = tc.in
		if got != tc.want {
			t.Fatalf("ParseTopic(%q) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

func TestParseTopicErrors(t *testing.T) {
	for in, wantIn := range map[string]string{
		"room1":                             "start with",
		"realtime:":                         "required",
		"realtime::t":                       "schema is empty",
		"realtime:public:":                  "table is empty",
		"realtime:*:service":                "takes no table",
		"realtime:public:service:status_id": "column=eq.value",
		"realtime:public:service:=eq.1":     "column=eq.value",
		"realtime:public:service:id=1":      "no operator",
		"realtime:public:service:id=neq.1":  `operator "neq"`,
		"realtime:public:*:id=eq.1":         "needs a table",
	} {
		_, err := ParseTopic(in)
		var te *TopicError
		if !errors.As(err, &te) || !strings.Contains(err.Error(), wantIn) {
			t.Fatalf("ParseTopic(%q) err = %v, want a TopicError containing %q", in, err, wantIn)
		}
	}
}

func FuzzParseTopic(f *testing.F) {
	for _, s := range []string{"realtime:*", "realtime:public:service:status_id=eq.2", "realtime:a:b:c=eq.d:e.f", "realtime:", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tp, err := ParseTopic(s)
		if err != nil {
			return
		}
		if tp.Name != s || tp.Schema == "" {
			t.Fatalf("ParseTopic(%q) = %+v", s, tp)
		}
		// A parsed filter topic must be exactly what the matcher would generate.
		if tp.Column != "" && TopicPrefix+tp.Schema+":"+tp.Table+":"+tp.Column+"=eq."+tp.Value != s {
			t.Fatalf("ParseTopic(%q) = %+v does not rebuild the topic", s, tp)
		}
	})
}

// A filter value the index can never match is refused at parse time.
func TestTopicFilterValueTooLong(t *testing.T) {
	if _, err := ParseTopic("realtime:public:t:c=eq." + strings.Repeat("é", 99)); err != nil {
		t.Fatalf("99 characters: %v", err)
	}
	_, err := ParseTopic("realtime:public:t:c=eq." + strings.Repeat("é", 100))
	if err == nil || !strings.Contains(err.Error(), "never match") {
		t.Fatalf("100 characters: %v", err)
	}
}
