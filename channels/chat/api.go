package chat

import (
	"io"
	"net/http"
	"regexp"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// This file is the transcript endpoints of the intake API (contract §4): POST
// /v1/gesprekken and GET /v1/gesprekken/{gesprekId}. The host serves them behind
// intakeapi.Server, which has already checked path, method, token, channel and rate
// limit (§5 steps 1–4); the handlers do the rest. A pushed transcript is written
// unchanged as <gesprekId>.json into the vendor's folder of the transcript drop zone,
// where the drop-zone source registers it like a delivered file.

// gesprekIDRE is the gesprekId pattern of gesprek.schema.json.
var gesprekIDRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// pushAccepted is the body of a 202 (and of a repeat).
type pushAccepted struct {
	Klantcontact string `json:"klantcontact"`
	Status       string `json:"status"`
}

// pushStatus is the body of GET /v1/gesprekken/{gesprekId}.
type pushStatus struct {
	GesprekID    string `json:"gesprekId"`
	Klantcontact string `json:"klantcontact"`
	Status       string `json:"status"`
	Reden        string `json:"reden,omitempty"`
}

// pushKlantcontactID is the klantcontact uuid of a transcript (§10).
func pushKlantcontactID(vendor, gesprekID string) string {
	return ingest.KlantcontactID(Channel, vendor+"\x1f"+gesprekID)
}

// apiRoutes returns the transcript endpoints of the intake API.
func (rt *chatRuntime) apiRoutes() []ingest.Route {
	gs := &gesprekStore{}
	return []ingest.Route{
		{Pattern: "POST /v1/gesprekken", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.postGesprek(w, r, gs) })},
		{Pattern: "GET /v1/gesprekken/{gesprekId}", Handler: http.HandlerFunc(rt.getGesprek)},
	}
}

// pushStore returns the vendor's folder of the transcript drop zone as a DropStore.
func (rt *chatRuntime) pushStore(vendor string) (ingest.DropStore, bool) {
	s, ok := rt.vendorZone(vendor).(ingest.DropStore)
	return s, ok
}

// postGesprek is POST /v1/gesprekken: §5 steps 5–12.
func (rt *chatRuntime) postGesprek(w http.ResponseWriter, r *http.Request, gs *gesprekStore) {
	body, ok := intakeapi.Body(w, r, "application/json")
	if !ok {
		return
	}
	v, _ := intakeapi.VendorFrom(r.Context())
	b, err := io.ReadAll(body)
	if err != nil {
		intakeapi.WriteReadError(w, r, err)
		return
	}
	g, bad := decodeGesprek(b)
	if len(bad) > 0 || g == nil {
		intakeapi.WriteInvalid(w, bad)
		return
	}
	zone, ok := rt.pushStore(v.Key)
	if !ok {
		rt.env.Logger.Error("intake: no transcript drop zone for vendor", "channel", Channel, "vendor", v.Key)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "Probeer het later opnieuw.", nil)
		return
	}
	id := g.GesprekID
	unlock := gs.locks.lock(v.Key + "\x1f" + id)
	out, err := gs.store(r.Context(), zone, id+".json", b)
	unlock()
	switch {
	case err != nil:
		rt.env.Logger.Warn("intake: transcript not stored", "channel", Channel, "vendor", v.Key, "err", err)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "De aanlevering kon niet worden opgeslagen; probeer het later opnieuw.", nil)
	case out == pushConflict:
		intakeapi.WriteProblem(w, intakeapi.CodeConflict, "Deze gesprekId is al met andere inhoud aangeleverd.", nil)
	default:
		rt.env.Logger.Debug("intake: transcript accepted", "channel", Channel, "vendor", v.Key, "repeat", out == pushRepeated, "bytes", len(b))
		w.Header().Set("Location", "/v1/gesprekken/"+id)
		intakeapi.WriteJSON(w, http.StatusAccepted, pushAccepted{Klantcontact: pushKlantcontactID(v.Key, id), Status: "aanvaard"})
	}
}

// getGesprek is GET /v1/gesprekken/{gesprekId}: where the transcript is in the vendor's
// drop zone.
func (rt *chatRuntime) getGesprek(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("gesprekId")
	v, _ := intakeapi.VendorFrom(r.Context())
	if !gesprekIDRE.MatchString(id) {
		intakeapi.WriteProblem(w, intakeapi.CodeNotFound, "", nil)
		return
	}
	zone, ok := rt.pushStore(v.Key)
	if !ok {
		intakeapi.WriteProblem(w, intakeapi.CodeNotFound, "", nil)
		return
	}
	place, reason, err := zone.Locate(r.Context(), id+".json")
	if err != nil {
		rt.env.Logger.Warn("intake: transcript status unavailable", "channel", Channel, "vendor", v.Key, "err", err)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "Probeer het later opnieuw.", nil)
		return
	}
	st := pushStatus{GesprekID: id, Klantcontact: pushKlantcontactID(v.Key, id)}
	switch place {
	case ingest.PlaceTop:
		st.Status = "aanvaard"
	case ingest.PlaceProcessed:
		st.Status = "verwerkt"
	case ingest.PlaceFailed:
		st.Status, st.Reden = "mislukt", reason
		if st.Reden == "" {
			st.Reden = "unreadable"
		}
	default:
		intakeapi.WriteProblem(w, intakeapi.CodeNotFound, "", nil)
		return
	}
	intakeapi.WriteJSON(w, http.StatusOK, st)
}
