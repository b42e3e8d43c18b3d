package brief

import (
	"errors"
	"net/http"
	"regexp"

	"github.com/instroom/instroom/ingest"
	"github.com/instroom/instroom/ingest/intakeapi"
)

// This file is the letter endpoints of the intake API (contract §4): POST /v1/brieven
// and GET /v1/brieven/{scanId}. The host serves them behind intakeapi.Server, which has
// already checked path, method, token, channel and rate limit (§5 steps 1–4); the
// handlers do the rest.

// scanIDRE is the scanId pattern of brief.schema.json.
var scanIDRE = regexp.MustCompile(`^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$`)

// accepted is the body of a 202 (and of a repeat).
type accepted struct {
	Klantcontact string `json:"klantcontact"`
	Status       string `json:"status"`
}

// letterStatus is the body of GET /v1/brieven/{scanId}.
type letterStatus struct {
	ScanID       string `json:"scanId"`
	Klantcontact string `json:"klantcontact"`
	Status       string `json:"status"`
	Reden        string `json:"reden,omitempty"`
}

// klantcontactID is the klantcontact uuid of a letter (§10).
func klantcontactID(vendor, scanID string) string {
	return ingest.KlantcontactID(Channel, vendor+"\x1f"+scanID)
}

// apiRoutes returns the letter endpoints of the intake API.
func (rt *briefRuntime) apiRoutes() []ingest.Route {
	ls := &letterStore{}
	return []ingest.Route{
		{Pattern: "POST /v1/brieven", Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rt.postLetter(w, r, ls) })},
		{Pattern: "GET /v1/brieven/{scanId}", Handler: http.HandlerFunc(rt.getLetter)},
	}
}

// store returns the vendor's folder of the letter drop zone as a DropStore.
func (rt *briefRuntime) store(vendor string) (ingest.DropStore, bool) {
	s, ok := rt.vendorZone(vendor).(ingest.DropStore)
	return s, ok
}

// postLetter is POST /v1/brieven: §5 steps 5–12.
func (rt *briefRuntime) postLetter(w http.ResponseWriter, r *http.Request, ls *letterStore) {
	body, ok := intakeapi.Body(w, r, "multipart/form-data")
	if !ok {
		return
	}
	v, _ := intakeapi.VendorFrom(r.Context())
	p, err := readPush(r, body, spoolDir(rt.env))
	if err != nil {
		rt.writePushError(w, r, err)
		return
	}
	defer p.close()
	if p.unsupported != "" {
		intakeapi.WriteProblem(w, intakeapi.CodeUnsupported, p.unsupported, nil)
		return
	}
	var sc *Sidecar
	if p.hasMetadata {
		var bad []intakeapi.InvalidParam
		sc, bad = decodeSidecar(p.metadata)
		p.problems = append(p.problems, bad...)
	}
	if len(p.problems) > 0 {
		intakeapi.WriteInvalid(w, p.problems)
		return
	}
	zone, ok := rt.store(v.Key)
	if !ok {
		rt.env.Logger.Error("intake: no letter drop zone for vendor", "channel", Channel, "vendor", v.Key)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "Probeer het later opnieuw.", nil)
		return
	}
	unlock := ls.locks.lock("scan\x1f" + v.Key + "\x1f" + sc.ScanID)
	out, err := ls.store(r.Context(), zone, v.Key, sc, p)
	unlock()
	switch {
	case err != nil:
		rt.env.Logger.Warn("intake: letter not stored", "channel", Channel, "vendor", v.Key, "err", err)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "De aanlevering kon niet worden opgeslagen; probeer het later opnieuw.", nil)
	case out == conflict:
		intakeapi.WriteProblem(w, intakeapi.CodeConflict, "Deze scanId of dit bestand is al met andere inhoud aangeleverd.", nil)
	default:
		rt.env.Logger.Debug("intake: letter accepted", "channel", Channel, "vendor", v.Key, "repeat", out == repeated, "bytes", p.scanSize)
		w.Header().Set("Location", "/v1/brieven/"+sc.ScanID)
		intakeapi.WriteJSON(w, http.StatusAccepted, accepted{Klantcontact: klantcontactID(v.Key, sc.ScanID), Status: "aanvaard"})
	}
}

func (rt *briefRuntime) writePushError(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case intakeapi.TooLarge(r):
		intakeapi.WriteProblem(w, intakeapi.CodeTooLarge, "Het verzoek is groter dan toegestaan.", nil)
	case errors.Is(err, errMetadataTooLarge): // within the body limit, but no valid document
		intakeapi.WriteInvalid(w, []intakeapi.InvalidParam{{Name: "metadata", Code: "maxLength", Reason: "Het deel is groter dan een geldig document kan zijn."}})
	case errors.Is(err, errSpool):
		rt.env.Logger.Error("intake: spooling a scan failed", "channel", Channel, "err", err)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "Probeer het later opnieuw.", nil)
	case errors.Is(err, errNotMultipart):
		intakeapi.WriteInvalid(w, []intakeapi.InvalidParam{{Name: "", Code: "multipart", Reason: "Geen geldige multipart/form-data."}})
	default:
		intakeapi.WriteReadError(w, r, err)
	}
}

// getLetter is GET /v1/brieven/{scanId}: where the letter is in the vendor's drop zone.
func (rt *briefRuntime) getLetter(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("scanId")
	v, _ := intakeapi.VendorFrom(r.Context())
	if !scanIDRE.MatchString(id) {
		intakeapi.WriteProblem(w, intakeapi.CodeNotFound, "", nil)
		return
	}
	zone, ok := rt.store(v.Key)
	if !ok {
		intakeapi.WriteProblem(w, intakeapi.CodeNotFound, "", nil)
		return
	}
	place, reason, err := zone.Locate(r.Context(), id+".json")
	if err != nil {
		rt.env.Logger.Warn("intake: letter status unavailable", "channel", Channel, "vendor", v.Key, "err", err)
		intakeapi.WriteProblem(w, intakeapi.CodeUnavailable, "Probeer het later opnieuw.", nil)
		return
	}
	st := letterStatus{ScanID: id, Klantcontact: klantcontactID(v.Key, id)}
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
