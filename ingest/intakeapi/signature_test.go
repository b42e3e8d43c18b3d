package intakeapi_test

import (
	"encoding/json"
	"strconv"
	"testing"

	"github.com/instroom/instroom/ingest/intakeapi"
)

func TestSignTestVector(t *testing.T) {
	got, err := intakeapi.Sign(vecSecret, vecID, vecTS, []byte(vecBody))
	if err != nil || got != vecSig {
		t.Errorf("Sign(test vector) = %q, %v, want %q", got, err, vecSig)
	}
}

func signed(id string, ts int64, sig string) map[string]string {
	return map[string]string{"webhook-id": id, "webhook-timestamp": strconv.FormatInt(ts, 10), "webhook-signature": sig}
}

func TestSignatures(t *testing.T) {
	f := newFixture(t, 1000, 1000, 1<<20)
	other, _ := intakeapi.Sign("whsec_"+"QUFB"+"QUFB"+"QUFB"+"QUFB"+"QUFB"+"QUFB"+"QUFB"+"QUFB", "msg_2", vecTS, []byte(vecBody))
	cases := []struct {
		name    string
		headers map[string]string
		body    string
		now     int64
		want    int
	}{
		{"test vector", signed(vecID, vecTS, vecSig), vecBody, vecTS, 202},
		{"several entries, v1a ignored", signed("msg_1", vecTS, "v1a,AAAA v1,bm90IGl0 "+mustSign(t, "msg_1", vecTS)), vecBody, vecTS, 202},
		{"second secret (rotation)", signed("msg_2", vecTS, other), vecBody, vecTS, 202},
		{"4m59s late", signed("msg_3", vecTS, mustSign(t, "msg_3", vecTS)), vecBody, vecTS + 299, 202},
		{"5m01s late", signed("msg_4", vecTS, mustSign(t, "msg_4", vecTS)), vecBody, vecTS + 301, 401},
		{"5m01s early", signed("msg_5", vecTS, mustSign(t, "msg_5", vecTS)), vecBody, vecTS - 301, 401},
		{"body changed", signed(vecID+"x", vecTS, vecSig), `{"test": 2432232315}`, vecTS, 401},
		{"no signature header", map[string]string{"webhook-id": "msg_6", "webhook-timestamp": strconv.Itoa(vecTS)}, vecBody, vecTS, 401},
		{"no headers", nil, vecBody, vecTS, 401},
		{"only v1a", signed("msg_7", vecTS, "v1a,"+mustSign(t, "msg_7", vecTS)[3:]), vecBody, vecTS, 401},
		{"bad id", signed("msg 8", vecTS, mustSign(t, "msg 8", vecTS)), vecBody, vecTS, 401},
		{"timestamp not a number", signed("msg_9", vecTS, mustSign(t, "msg_9", vecTS)), vecBody, vecTS, 202},
	}
	cases[len(cases)-1].headers["webhook-timestamp"] = "1614265330.0"
	cases[len(cases)-1].want = 401
	for _, tc := range cases {
		f.now.Store(tc.now)
		resp, body := f.do(t, req{method: "POST", path: "/v1/proeven", token: tokenSign, contentType: "application/json", body: tc.body, headers: tc.headers})
		checkHeaders(t, tc.name, resp)
		if resp.StatusCode != tc.want {
			t.Errorf("%s: POST = %d %s, want %d", tc.name, resp.StatusCode, body, tc.want)
			continue
		}
		if tc.want == 401 {
			checkProblem(t, tc.name, resp, body, intakeapi.CodeBadSignature)
			if resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s: 401 without WWW-Authenticate", tc.name)
			}
		}
	}
	// A vendor without webhook secrets is not asked for a signature.
	f.now.Store(vecTS)
	if resp, _ := f.do(t, req{method: "POST", path: "/v1/proeven", token: tokenScan, contentType: "application/json", body: vecBody}); resp.StatusCode != 202 {
		t.Errorf("unsigned POST of a vendor without secrets = %d, want 202", resp.StatusCode)
	}
	// The token comes before the signature: a bad token with a good signature is 401
	// niet-geauthenticeerd.
	resp, body := f.do(t, req{method: "POST", path: "/v1/proeven", token: "fout", contentType: "application/json", body: vecBody, headers: signed("msg_10", vecTS, mustSign(t, "msg_10", vecTS))})
	checkProblem(t, "bad token, good signature", resp, body, intakeapi.CodeUnauthenticated)
}

func mustSign(t *testing.T, id string, ts int64) string {
	t.Helper()
	s, err := intakeapi.Sign(vecSecret, id, ts, []byte(vecBody))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplays(t *testing.T) {
	f := newFixture(t, 1000, 1000, 1<<20)
	post := func(id string, now int64, body string) (int, string, map[string]any) {
		f.now.Store(now)
		sig, _ := intakeapi.Sign(vecSecret, id, vecTS, []byte(body))
		resp, b := f.do(t, req{method: "POST", path: "/v1/proeven", token: tokenSign, contentType: "application/json", body: body, headers: signed(id, vecTS, sig)})
		checkHeaders(t, "replay "+id, resp)
		var v map[string]any
		json.Unmarshal(b, &v)
		return resp.StatusCode, resp.Header.Get("Location"), v
	}
	s1, loc1, v1 := post("msg_a", vecTS, vecBody)
	s2, loc2, v2 := post("msg_a", vecTS+60, vecBody)
	if s1 != 202 || s2 != 202 || loc1 != loc2 || v1["call"] != v2["call"] {
		t.Errorf("replay of msg_a = %d %s %v, want the first answer %d %s %v again", s2, loc2, v2, s1, loc1, v1)
	}
	if f.calls.Load() != 1 {
		t.Errorf("handler ran %d times for a replayed webhook-id, want 1", f.calls.Load())
	}
	// A replay must still be validly signed: a changed body under the same id is 401.
	sigA, _ := intakeapi.Sign(vecSecret, "msg_a", vecTS, []byte(vecBody))
	resp, _ := f.do(t, req{method: "POST", path: "/v1/proeven", token: tokenSign, contentType: "application/json", body: `{"anders": true}`, headers: signed("msg_a", vecTS, sigA)})
	if resp.StatusCode != 401 {
		t.Errorf("reused webhook-id with an invalid signature = %d, want 401", resp.StatusCode)
	}
	// A new id is a new request.
	if s, _, v := post("msg_b", vecTS, vecBody); s != 202 || v["call"] != float64(2) {
		t.Errorf("new webhook-id = %d %v, want a new 202", s, v)
	}
	// Non-2xx answers are not remembered.
	f.now.Store(vecTS)
	sig, _ := intakeapi.Sign(vecSecret, "msg_c", vecTS, []byte(vecBody))
	resp, _ = f.do(t, req{method: "POST", path: "/v1/proeven", token: tokenSign, contentType: "text/plain", body: vecBody, headers: signed("msg_c", vecTS, sig)})
	if resp.StatusCode != 415 {
		t.Fatalf("text/plain = %d, want 415", resp.StatusCode)
	}
	if s, _, _ := post("msg_c", vecTS, vecBody); s != 202 {
		t.Errorf("retry after a 415 under the same webhook-id = %d, want 202 (4xx not remembered)", s)
	}
}
