package intakeapi

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/instroom/instroom/ingest"
)

// APIVersion is the version of the intake API, in the API-Version header and the
// OpenAPI document.
const APIVersion = "1.0.0"

// Observer receives one call per answered request. Its label values are bounded: vendor
// is a configured key ("" before authentication), resource a route's fixed name ("" for
// an unknown path), status the HTTP status code.
type Observer interface {
	IntakeRequest(vendor, resource string, status int, d time.Duration)
}

// Options configure a Server.
type Options struct {
	// Vendors are the configured vendors; those with tokens can use the API.
	Vendors []ingest.Vendor
	// TLS is set when Instroom terminates TLS: responses then carry HSTS.
	TLS bool
	// SpoolDir holds signed bodies while their signature is checked (default os.TempDir()).
	SpoolDir string
	// Observer, when set, is told about every answer.
	Observer Observer
	// Logger logs unexpected failures (never request content).
	Logger *slog.Logger
	// Now is the clock for signatures, replays and rate limits (default time.Now).
	Now func() time.Time
}

// vendorState is one vendor with what the Server keeps for it.
type vendorState struct {
	v      ingest.Vendor
	keys   [][]byte // decoded webhook secrets
	bucket *bucket
}

// Server is the intake API's front door: an http.Handler serving the channels' routes
// and the OpenAPI document, with authentication, authorisation, rate limits, signatures,
// replays, problem details and the headers of the contract on every answer.
type Server struct {
	opts    Options
	vendors atomic.Pointer[vendorTable] // replaced as a whole by SetVendors
	replays *replayCache
	routes  []*route
}

// vendorTable is the vendors with their tokens, as one value so a reload swaps both.
type vendorTable struct {
	vendors []*vendorState
	tokens  tokenTable
}

// New returns a Server for the vendors of opts. It fails on a token hash or webhook
// secret that cannot be used (config validates them first). It does no I/O.
func New(opts Options) (*Server, error) {
	s := &Server{opts: opts, replays: newReplayCache()}
	if s.opts.Now == nil {
		s.opts.Now = time.Now
	}
	if s.opts.SpoolDir == "" {
		s.opts.SpoolDir = os.TempDir()
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := s.SetVendors(opts.Vendors); err != nil {
		return nil, err
	}
	return s, nil
}

// SetVendors replaces the vendors, their tokens, webhook secrets and rate limits (a
// configuration reload). Requests being served finish with the vendor they started with;
// a vendor whose rate and burst are unchanged keeps its bucket. On an error nothing
// changes.
func (s *Server) SetVendors(vendors []ingest.Vendor) error {
	old := s.vendors.Load()
	t := &vendorTable{}
	for i, v := range vendors {
		vs := &vendorState{v: v, bucket: newBucket(v.Rate, v.Burst)}
		if prev := old.find(v.Key); prev != nil && prev.v.Rate == v.Rate && prev.v.Burst == v.Burst {
			vs.bucket = prev.bucket
		}
		for _, h := range v.TokenSHA256 {
			if err := t.tokens.add(i, h); err != nil {
				return fmt.Errorf("intake vendor %s: %w", v.Key, err)
			}
		}
		for _, sec := range v.WebhookSecrets {
			k, err := decodeSecret(sec)
			if err != nil {
				return fmt.Errorf("intake vendor %s: %w", v.Key, err)
			}
			vs.keys = append(vs.keys, k)
		}
		t.vendors = append(t.vendors, vs)
	}
	s.vendors.Store(t)
	return nil
}

// find returns the vendor with key, or nil.
func (t *vendorTable) find(key string) *vendorState {
	if t == nil {
		return nil
	}
	for _, vs := range t.vendors {
		if vs.v.Key == key {
			return vs
		}
	}
	return nil
}

// Handle serves a channel's route: only vendors allowed on channel may use it, and a
// request body may hold at most maxBytes (for Body).
func (s *Server) Handle(channel string, r ingest.Route, maxBytes int64) error {
	if channel == "" {
		return fmt.Errorf("intake route %q: no channel", r.Pattern)
	}
	return s.add(r.Pattern, channel, maxBytes, r.Handler)
}

// HandlePublic serves a route without authentication (the OpenAPI document).
func (s *Server) HandlePublic(pattern string, h http.Handler) error {
	return s.add(pattern, "", 0, h)
}

func (s *Server) add(pattern, channel string, maxBytes int64, h http.Handler) error {
	method, path, segs, err := parsePattern(pattern)
	if err != nil {
		return err
	}
	for _, rt := range s.routes {
		if rt.method == method && rt.path == path {
			return fmt.Errorf("intake route %q: registered twice", pattern)
		}
	}
	s.routes = append(s.routes, &route{method: method, path: path, segs: segs, channel: channel,
		resource: resourceOf(path), maxBytes: maxBytes, handler: h})
	return nil
}

// ServeHTTP implements http.Handler: steps 1–4 of the contract's §5, then the route's
// handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := s.opts.Now()
	s.setHeaders(w.Header())
	st := &state{server: s}
	rw := &recorder{ResponseWriter: w, st: st}
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.opts.Logger.Error("intake handler panicked", "resource", st.resource, "vendor", st.vendorKey())
			if rw.status == 0 {
				WriteProblem(rw, CodeInternal, "", nil)
			}
		}
		st.cleanup()
		if rw.status == 0 { // a handler that wrote nothing
			WriteProblem(rw, CodeInternal, "", nil)
		}
		if s.opts.Observer != nil {
			s.opts.Observer.IntakeRequest(st.vendorKey(), st.resource, rw.status, s.opts.Now().Sub(start))
		}
	}()
	rt, vals, allow := match(s.routes, r)
	if rt == nil {
		if len(allow) > 0 {
			rw.Header().Set("Allow", strings.Join(allow, ", "))
			WriteProblem(rw, CodeMethodNotAllowed, "Deze methode is hier niet toegestaan.", nil)
			return
		}
		WriteProblem(rw, CodeNotFound, "", nil)
		return
	}
	for k, v := range vals {
		r.SetPathValue(k, v)
	}
	st.resource, st.maxBytes = rt.resource, rt.maxBytes
	if rt.channel != "" && !s.admit(rw, r, rt, st) {
		return
	}
	rt.handler.ServeHTTP(rw, r.WithContext(context.WithValue(r.Context(), stateKey{}, st)))
	if st.signed != nil && rw.status >= 200 && rw.status < 300 && rw.keep && !st.replayed {
		now := s.opts.Now()
		s.replays.put(st.vendor.v.Key, st.signed.id, &answer{
			status: rw.status, contentType: rw.Header().Get("Content-Type"), location: rw.Header().Get("Location"),
			body: rw.body, expires: now.Add(ReplayWindow),
		}, now)
	}
}

// admit runs steps 2–4: token (401), channel (403), rate limit (429).
func (s *Server) admit(w http.ResponseWriter, r *http.Request, rt *route, st *state) bool {
	tok, sent := bearerToken(r)
	vt := s.vendors.Load()
	idx, ok := vt.tokens.lookup(tok)
	if !sent || !ok {
		writeUnauthenticated(w, sent)
		return false
	}
	st.vendor = vt.vendors[idx]
	if !st.vendor.v.Allows(rt.channel) {
		WriteProblem(w, CodeForbidden, "Deze leverancier mag dit kanaal niet gebruiken.", nil)
		return false
	}
	if ok, wait := st.vendor.bucket.take(s.opts.Now()); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(wait))
		WriteProblem(w, CodeTooManyRequests, "Probeer het later opnieuw.", nil)
		return false
	}
	return true
}

// setHeaders sets the headers of §2 that every response has.
func (s *Server) setHeaders(h http.Header) {
	h.Set("API-Version", APIVersion)
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "frame-ancestors 'none'")
	if s.opts.TLS {
		h.Set("Strict-Transport-Security", "max-age=31536000")
	}
}

// recorder notes the status of an answer and, for replays, keeps a small body.
type recorder struct {
	http.ResponseWriter
	st     *state
	status int
	body   []byte
	keep   bool // body still complete (within maxRecordedBody)
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status, r.keep = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.WriteHeader(http.StatusOK)
	}
	if r.keep && r.st.signed == nil {
		r.keep = false // only answers to signed requests are replayed
	}
	if r.keep {
		if len(r.body)+len(b) > maxRecordedBody {
			r.keep, r.body = false, nil
		} else {
			r.body = append(r.body, b...)
		}
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }
