package chat

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// TestPushSigned: Standard Webhooks 1.0 for a vendor with secrets (§3).
func TestPushSigned(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	z := f.zones["ondertekend"]
	// §3's test vector passes the signature; its body is no transcript (400, not 401).
	a := f.do(t, "POST", pushPath, tokenSigned, map[string]string{
		"Content-Type": "application/json", "webhook-id": vectorID, "webhook-timestamp": strconv.Itoa(vectorTime), "webhook-signature": vectorSig,
	}, strings.NewReader(vectorBody))
	if a.status != 400 || a.problem.Type != "urn:instroom:probleem:ongeldig" {
		t.Errorf("§3 test vector = %d %+v, want the signature accepted (then 400 for the body)", a.status, a.problem)
	}
	body := readExample(t, "gesprek-c9853-whatsapp.json")
	want := map[string]any{"klantcontact": pushKlantcontactID("ondertekend", "wa-20240316-0042"), "status": "aanvaard"}
	bad := []struct {
		name string
		hdr  map[string]string
	}{
		{"no signature headers", map[string]string{}},
		{"no webhook-id", map[string]string{"webhook-id": ""}},
		{"bad webhook-id", map[string]string{"webhook-id": "msg 1"}},
		{"no timestamp", map[string]string{"webhook-timestamp": ""}},
		{"timestamp not a number", map[string]string{"webhook-timestamp": "gisteren"}},
		{"no signature", map[string]string{"webhook-signature": ""}},
		{"signature of another body", map[string]string{"webhook-signature": vectorSig}},
		{"only v1a entries", map[string]string{"webhook-signature": "v1a,bm9wZQ=="}},
		{"not base64", map[string]string{"webhook-signature": "v1,@@@"}},
	}
	for _, tc := range bad {
		ts := f.clock().Unix()
		sig, _ := intakeapi.Sign(testSecret, "msg_1", ts, body)
		h := map[string]string{"Content-Type": "application/json", "webhook-id": "msg_1", "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
		if tc.name == "no signature headers" {
			delete(h, "webhook-id")
			delete(h, "webhook-timestamp")
			delete(h, "webhook-signature")
		}
		for k, v := range tc.hdr {
			h[k] = v
		}
		if a := f.do(t, "POST", pushPath, tokenSigned, h, bytes.NewReader(body)); a.status != 401 || a.problem.Type != "urn:instroom:probleem:handtekening-ongeldig" || a.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s = %d %+v, want 401 handtekening-ongeldig", tc.name, a.status, a.problem)
		}
	}
	for _, skew := range []time.Duration{-5*time.Minute - time.Second, 5*time.Minute + time.Second} {
		if a := f.signed(t, "msg_2", testSecret, skew, body); a.status != 401 {
			t.Errorf("timestamp %s from the clock = %d, want 401", skew, a.status)
		}
	}
	if a := f.signed(t, "msg_3", "whsec_"+strings.Repeat("WllZ", 8), 0, body); a.status != 401 {
		t.Errorf("signed with another secret = %d, want 401", a.status)
	}
	if len(z.puts) != 0 {
		t.Fatalf("%d writes for refused signatures, want none", len(z.puts))
	}
	// Valid, just within the tolerance, under either secret (rotation).
	first := f.signed(t, "msg_ok", testSecret, 4*time.Minute, body)
	if first.status != 202 || first.body["klantcontact"] != want["klantcontact"] || len(z.puts) != 1 {
		t.Fatalf("signed push = %d %v %+v, want 202 with %v", first.status, first.body, first.problem, want)
	}
	// A replayed webhook-id gets the remembered answer, nothing is written; also with
	// another (validly signed) body.
	other := readExample(t, "gesprek-c5479-formulier.json")
	f.advance(time.Minute)
	for _, b := range [][]byte{body, other} {
		a := f.signed(t, "msg_ok", "whsec_"+strings.Repeat("QUJD", 8), 0, b)
		if a.status != 202 || a.body["klantcontact"] != first.body["klantcontact"] || a.header.Get("Location") != first.header.Get("Location") || len(z.puts) != 1 {
			t.Errorf("replayed webhook-id = %d %v, %d writes; want the first answer and nothing written", a.status, a.body, len(z.puts))
		}
	}
	// A replay whose signature does not hold is refused, not answered from memory.
	if a := f.signed(t, "msg_ok", "whsec_"+strings.Repeat("WllZ", 8), 0, body); a.status != 401 {
		t.Errorf("replayed webhook-id with a bad signature = %d, want 401", a.status)
	}
	// A new webhook-id for the same transcript is an ordinary repeat (202, nothing
	// written); non-2xx answers are not remembered.
	if a := f.signed(t, "msg_again", testSecret, 0, body); a.status != 202 || len(z.puts) != 1 {
		t.Errorf("same transcript, new webhook-id = %d, %d writes; want 202 and nothing written", a.status, len(z.puts))
	}
	if a := f.signed(t, "msg_inv", testSecret, 0, []byte(`{}`)); a.status != 400 {
		t.Errorf("signed invalid body = %d, want 400", a.status)
	}
	if a := f.signed(t, "msg_inv", testSecret, 0, other); a.status != 202 || len(z.puts) != 2 {
		t.Errorf("webhook-id of a 400 reused = %d, %d writes; want a new 202 (a 400 is not remembered)", a.status, len(z.puts))
	}
	// GETs are not signed.
	if s := f.status(t, tokenSigned, "wa-20240316-0042"); s.status != 200 || s.body["status"] != "aanvaard" {
		t.Errorf("GET of a signing vendor = %d %v, want 200 without a signature", s.status, s.body)
	}
}

// TestPushZoneFails: a failed write answers 503 with Retry-After, leaves nothing, and a
// retry succeeds.
func TestPushZoneFails(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	z := f.zones["chatleverancier"]
	body := readExample(t, "gesprek-c1242-beantwoord.json")
	name := exampleC1242ID + ".json"
	for _, fail := range []map[string]error{z.failPut, z.lostPut} {
		fail[name] = errors.New("schijf vol")
		a := f.push(t, tokenChat, body)
		if a.status != 503 || a.header.Get("Retry-After") != "30" || a.problem.Type != "urn:instroom:probleem:niet-beschikbaar" {
			t.Errorf("write fails = %d %v, want 503 with Retry-After 30", a.status, a.header)
		}
		if z.get(ingest.PlaceTop, name) != nil {
			t.Errorf("after a failed write the transcript is in the zone, want nothing left")
		}
		delete(fail, name)
	}
	if a := f.push(t, tokenChat, body); a.status != 202 {
		t.Errorf("retry after the zone is back = %d, want 202", a.status)
	}
	// No zone for the vendor (no transcript source): 503, never a 202.
	g := newPushFixture(t, 5<<20)
	g.rt.mu.Lock()
	delete(g.rt.zones, "andere")
	g.rt.mu.Unlock()
	if a := g.push(t, tokenOther, body); a.status != 503 {
		t.Errorf("vendor without a drop zone = %d, want 503", a.status)
	}
}

func TestGetGesprekStatus(t *testing.T) {
	f := newPushFixture(t, 5<<20)
	f.push(t, tokenChat, readExample(t, "gesprek-c1242-beantwoord.json"))
	for _, p := range []struct{ token, id string }{
		{tokenOther, exampleC1242ID}, // another vendor's id
		{tokenChat, "onbekend"},
		{tokenChat, ".verborgen"},
		{tokenChat, "a%2Fb"},
		{tokenChat, "a%00b"},
		{tokenChat, strings.Repeat("a", 65)},
	} {
		if a := f.status(t, p.token, p.id); a.status != 404 || a.problem.Type != "urn:instroom:probleem:niet-gevonden" {
			t.Errorf("GET %s = %d, want 404", p.id, a.status)
		}
	}
	if a := f.status(t, tokenBrief, exampleC1242ID); a.status != 403 {
		t.Errorf("GET by a letters-only vendor = %d, want 403", a.status)
	}
	if a := f.status(t, "", exampleC1242ID); a.status != 401 {
		t.Errorf("GET without a token = %d, want 401", a.status)
	}
}
