package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/instroom/instroom/config"
	"github.com/instroom/instroom/ingest"
)

// fakeRuntime is a channel runtime that contributes one route.
type fakeRuntime struct{}

func (fakeRuntime) Parser() ingest.Parser { return nil }
func (fakeRuntime) Sources(context.Context, ingest.SourceConfig) ([]ingest.NamedSource, error) {
	return nil, nil
}
func (fakeRuntime) Routes() []ingest.Route {
	return []ingest.Route{{Pattern: "POST /v1/proef", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusAccepted)
		w.Write(append([]byte("ontvangen: "), b...))
	})}}
}

// TestIntakeServerServesChannelRoutes: the one intake server serves the routes the
// channels contribute, and nothing else.
func TestIntakeServerServesChannelRoutes(t *testing.T) {
	c, err := config.Parse([]byte("sources: [{type: dir, path: x}]\nintake: {listen: 127.0.0.1:0}\n"), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	cs := &channelSet{list: []ingest.Channel{{Name: "proef"}}, runtimes: map[string]ingest.Runtime{"proef": fakeRuntime{}}}
	srv, err := startIntake(context.Background(), c, cs, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer srv.stop(context.Background())
	base := "http://" + srv.Addr().String()
	resp, err := http.Post(base+"/v1/proef", "text/plain", strings.NewReader("brief"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted || string(b) != "ontvangen: brief" {
		t.Errorf("POST /v1/proef = %d %q, want 202 from the channel's handler", resp.StatusCode, b)
	}
	for _, probe := range []struct{ method, path string }{{"GET", "/v1/proef"}, {"GET", "/metrics"}, {"POST", "/v1/anders"}} {
		req, _ := http.NewRequest(probe.method, base+probe.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s %s = %d, want 404 or 405", probe.method, probe.path, resp.StatusCode)
		}
	}
}
