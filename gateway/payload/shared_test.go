package payload

import (
	"strings"
	"testing"

	"github.com/pgrealtime/realtime/gateway/authz"
	"github.com/pgrealtime/realtime/replication"
)

// Payloads with every column a role may see are rendered once per (view,
// binding ids) and their bytes shared; a column selection is rendered per
// channel; a refused row becomes the original's error payload, shared too.
func TestSharedRendersEachPayloadOnce(t *testing.T) {
	var s Shared
	ins := notesChange(replication.Insert)
	s.Reset(ins)
	whole := s.Whole(7)
	if !strings.HasPrefix(string(whole), `{"data":{"columns":`) || !strings.HasSuffix(string(whole), `,"ids":[7]}`) {
		t.Fatalf("payload: %s", whole)
	}
	same := func(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }
	if !same(whole, s.Whole(7)) || !same(whole, s.For([]uint32{7}, true, nil, nil)) {
		t.Fatal("one binding's whole payload was rendered twice")
	}
	two := s.For([]uint32{7, 8}, true, nil, nil)
	if same(two, whole) || !strings.HasSuffix(string(two), `,"ids":[7,8]}`) || !same(two, s.For([]uint32{7, 8}, true, nil, nil)) {
		t.Fatalf("two bindings: %s", two)
	}
	client := s.For([]uint32{7}, true, nil, clientView)
	if same(client, whole) || strings.Contains(string(client), "secret") || !same(client, s.For([]uint32{7}, true, nil, clientView)) {
		t.Fatalf("client view: %s", client)
	}
	picked := s.For([]uint32{7}, false, map[string]bool{"owner": true}, nil)
	if same(picked, s.For([]uint32{7}, false, map[string]bool{"owner": true}, nil)) || !strings.HasSuffix(string(picked), `,"ids":[7]}`) {
		t.Fatalf("a selection is rendered per channel: %s", picked)
	}
	refused := s.For([]uint32{7}, false, map[string]bool{"owner": true}, noKeyView)
	if !strings.Contains(string(refused), "Error 401: Unauthorized") || !same(refused, s.For([]uint32{7}, true, nil, noKeyView)) {
		t.Fatalf("refused: %s", refused)
	}
	// The next change starts afresh.
	s.Reset(notesChange(replication.Delete))
	if same(whole, s.Whole(7)) || !strings.Contains(string(s.Whole(7)), `"type":"DELETE"`) {
		t.Fatal("a new change reused the last one's payload")
	}
}

// The original's rules for the payload without the row: a role that may
// not read the key, or a table without a primary key, on inserts and
// updates; deletes are never refused.
func TestRefused(t *testing.T) {
	ins := notesChange(replication.Insert)
	if !Refused(noKeyView, ins) || !Refused(noPKView, ins) || Refused(clientView, ins) || Refused(noKeyView, notesChange(replication.Delete)) {
		t.Fatal("Refused() disagrees with the original's rules")
	}
	if noKeyView.Err != authz.ErrUnauthorized || noPKView.Err != authz.ErrNoPrimaryKey {
		t.Fatalf("errors: %q %q", noKeyView.Err, noPKView.Err)
	}
}
