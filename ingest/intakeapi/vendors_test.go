package intakeapi_test

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// SetVendors swaps tokens at once (rotation, revocation); a bad token hash changes
// nothing.
func TestSetVendorsRotatesTokens(t *testing.T) {
	s, err := intakeapi.New(intakeapi.Options{Vendors: []ingest.Vendor{{Key: "scanstraat", Channels: []string{"proef"}, TokenSHA256: []string{hash("oud")}, Rate: 10, Burst: 20}}})
	if err != nil {
		t.Fatal(err)
	}
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		intakeapi.WriteJSON(w, http.StatusOK, map[string]string{})
	})
	if err := s.Handle("proef", ingest.Route{Pattern: "GET /v1/proeven", Handler: ok}, 0); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	status := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/proeven", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if status("oud") != http.StatusOK || status("nieuw") != http.StatusUnauthorized {
		t.Fatal("before: want the old token only")
	}
	if err := s.SetVendors([]ingest.Vendor{{Key: "scanstraat", Channels: []string{"proef"}, TokenSHA256: []string{hash("nieuw")}, Rate: 10, Burst: 20}}); err != nil {
		t.Fatal(err)
	}
	if status("oud") != http.StatusUnauthorized || status("nieuw") != http.StatusOK {
		t.Error("after: want the new token only")
	}
	if err := s.SetVendors([]ingest.Vendor{{Key: "scanstraat", Channels: []string{"proef"}, TokenSHA256: []string{"geen-hash"}}}); err == nil {
		t.Error("a bad token hash was accepted")
	}
	if status("nieuw") != http.StatusOK {
		t.Error("a refused SetVendors changed the vendors")
	}
	if err := s.SetVendors(nil); err != nil {
		t.Fatal(err)
	}
	if status("nieuw") != http.StatusUnauthorized {
		t.Error("a vendor removed still has access")
	}
}
