package ingest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Virus scanning. With a Scanner, the pipeline scans the original, the delivery metadata
// and every attachment of an item after parsing and before anything is stored. When
// anything is infected:
//
//   - the infected parts and the original (which holds them) are withheld: they get no
//     informatieobject and no bijlage, and are kept in the Quarantine instead;
//   - the klantcontact is registered with what is clean: the text, the clean attachments,
//     and the full text as an informatieobject (so the contact keeps a readable copy);
//   - a Dutch note for the colleague goes into the toelichting of its interne taken (a
//     task is added when routing chose none), and the intake carries SignalVirus, so a
//     routing rule can send such contacts elsewhere;
//   - the Observer's Infected (when it is a ScanObserver) counts the item and a warning
//     is logged with ids and the signature only, once per klantcontact per process.
//
// A scanner that cannot scan (unreachable, too slow) fails the item temporarily: it is
// retried, and nothing unscanned is ever stored.

// SignalVirus is the signal of an intake in which a virus was found; routing rules can
// match it (routing.rules[].when.signals).
const SignalVirus = "virus"

// Scanner scans content for viruses (clamd). Scan returns the name of the signature it
// found, or "" when the content is clean. An error means the content was not scanned;
// it is temporary unless it is a Permanenter.
type Scanner interface {
	Scan(ctx context.Context, r io.Reader) (signature string, err error)
}

// ScanObserver is implemented by an Observer that counts items found infected.
type ScanObserver interface {
	// Infected records one item of the channel in which a virus was found.
	Infected(channel string)
}

// Withheld marks the parts of an intake that are kept out of the blob store because a
// virus was found: they get no informatieobject and no bijlage. The pipeline sets it.
type Withheld struct {
	Original bool
	Delivery bool
	// Attachments are indexes into Intake.Attachments.
	Attachments map[int]bool
}

// Any reports whether anything is withheld.
func (w Withheld) Any() bool { return w.Original || w.Delivery || len(w.Attachments) > 0 }

// Quarantine keeps infected content out of the informatieobjecten: in a blob store,
// under its own prefix, one folder per klantcontact:
//
//	<prefix>/<klantcontact uuid>/origineel      the original item, as received
//	<prefix>/<klantcontact uuid>/aanlevering    the delivery metadata, when infected
//	<prefix>/<klantcontact uuid>/bijlage-<n>    the n-th attachment (from 1), when infected
//	<prefix>/<klantcontact uuid>/manifest.json  what each object is and what was found
//
// Every object is stored as application/octet-stream, without an extension. Keys are
// deterministic, so a retried item overwrites its own objects.
type Quarantine struct {
	Blobs  BlobStore
	Prefix string

	mu       sync.Mutex
	reported map[string]bool // klantcontacten already reported by this process
	order    []string        // the same, oldest first (bounded)
}

// maxReported bounds the klantcontacten a Quarantine remembers as reported.
const maxReported = 1024

// QuarantineKey is the key of one quarantined object (part "origineel", "aanlevering",
// "bijlage-<n>" or "manifest.json").
func QuarantineKey(prefix, klantcontactID, part string) string {
	key := klantcontactID + "/" + part
	if prefix = strings.Trim(prefix, "/"); prefix != "" {
		key = prefix + "/" + key
	}
	return key
}

// firstReport reports whether the klantcontact was not reported before (a retried item
// is counted once). A nil Quarantine remembers nothing.
func (q *Quarantine) firstReport(kcID string) bool {
	if q == nil {
		return true
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.reported[kcID] {
		return false
	}
	if q.reported == nil {
		q.reported = map[string]bool{}
	}
	if len(q.order) >= maxReported {
		delete(q.reported, q.order[0])
		q.order = q.order[1:]
	}
	q.reported[kcID] = true
	q.order = append(q.order, kcID)
	return true
}

// scanPart is one part of an intake to scan.
type scanPart struct {
	name    string // "origineel", "aanlevering", "bijlage-<n>": never a file name
	index   int    // into Intake.Attachments; -1 for the others
	content Content
	sig     string // what the scanner found; "" clean
}

// scanParts lists what of an intake is stored: the original, the delivery metadata and
// the attachments.
func scanParts(in *Intake) []scanPart {
	parts := []scanPart{{name: "origineel", index: -1, content: in.Original}}
	if in.Delivery != nil && in.Delivery.Open != nil {
		parts = append(parts, scanPart{name: "aanlevering", index: -1, content: *in.Delivery})
	}
	for i, a := range in.Attachments {
		parts = append(parts, scanPart{name: fmt.Sprintf("bijlage-%d", i+1), index: i, content: a})
	}
	return parts
}

// screen scans the intake's parts and, when a virus is found, quarantines and withholds
// them and adds the note and the signal. It changes nothing when everything is clean.
func (p *Pipeline) screen(ctx context.Context, in *Intake, item *Item) error {
	if p.Scanner == nil || in.Channel == "" || in.Identity == "" || in.Original.Open == nil {
		return nil // no scanning; or Map refuses the intake before anything is stored
	}
	parts := scanParts(in)
	infected := false
	for i := range parts {
		sig, err := p.scanOne(ctx, parts[i].content)
		if err != nil {
			return fmt.Errorf("scanning %s: %w", parts[i].name, err)
		}
		parts[i].sig = sig
		infected = infected || sig != ""
	}
	if !infected {
		return nil
	}
	kcID := KlantcontactID(in.Channel, in.Identity)
	if p.Quarantine != nil {
		if err := p.Quarantine.keep(ctx, kcID, in, item, parts); err != nil {
			return fmt.Errorf("quarantining infected content: %w", err)
		}
	}
	withhold(in, parts, kcID, p.Quarantine != nil)
	if p.Quarantine.firstReport(kcID) {
		if obs, ok := p.observer().(ScanObserver); ok {
			obs.Infected(in.Channel)
		}
		p.logger().Warn("virus found; the original is quarantined and the klantcontact registered without the infected content",
			"source_id", item.LogID(), "signature", strings.Join(signatures(parts), ","), "klantcontact_id", kcID)
	}
	return nil
}

func (p *Pipeline) scanOne(ctx context.Context, c Content) (string, error) {
	r, err := c.Open(ctx)
	if err != nil {
		return "", fmt.Errorf("opening content: %w", err)
	}
	defer r.Close()
	return p.Scanner.Scan(ctx, r)
}

// signatures lists the distinct signatures found, sorted.
func signatures(parts []scanPart) []string {
	seen := map[string]bool{}
	var out []string
	for _, pt := range parts {
		if pt.sig != "" && !seen[pt.sig] {
			seen[pt.sig] = true
			out = append(out, pt.sig)
		}
	}
	sort.Strings(out)
	return out
}

// quarantined is one entry of a quarantine manifest.
type quarantined struct {
	Part        string `json:"part"`
	Key         string `json:"key"`
	Filename    string `json:"filename,omitempty"`
	ContentType string `json:"contentType,omitempty"`
	Size        int64  `json:"size"`
	SHA256      string `json:"sha256"`
	Signature   string `json:"signature,omitempty"`
}

// manifest describes one klantcontact's folder in the quarantine.
type manifest struct {
	Klantcontact string        `json:"klantcontact"`
	Channel      string        `json:"channel"`
	SourceID     string        `json:"sourceId"`
	LogID        string        `json:"logId"` // how the logs name the item
	ReceivedAt   time.Time     `json:"receivedAt"`
	Objects      []quarantined `json:"objects"`
}

// keep stores the original, every infected part and the manifest.
func (q *Quarantine) keep(ctx context.Context, kcID string, in *Intake, item *Item, parts []scanPart) error {
	m := manifest{Klantcontact: kcID, Channel: in.Channel, SourceID: item.Ref, LogID: item.LogID(), ReceivedAt: in.ReceivedAt.UTC().Truncate(time.Second)}
	for _, pt := range parts {
		if pt.sig == "" && pt.name != "origineel" {
			continue
		}
		key := QuarantineKey(q.Prefix, kcID, pt.name)
		if err := q.put(ctx, key, pt.content); err != nil {
			return err
		}
		m.Objects = append(m.Objects, quarantined{Part: pt.name, Key: key, Filename: pt.content.Filename, ContentType: pt.content.ContentType,
			Size: pt.content.Size, SHA256: pt.content.SHA256, Signature: pt.sig})
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	c := BytesContent("manifest.json", "application/json", append(b, '\n'))
	r, _ := c.Open(ctx)
	return q.Blobs.Put(ctx, QuarantineKey(q.Prefix, kcID, "manifest.json"), r, c.Size, c.ContentType)
}

func (q *Quarantine) put(ctx context.Context, key string, c Content) error {
	r, err := c.Open(ctx)
	if err != nil {
		return fmt.Errorf("opening content: %w", err)
	}
	defer r.Close()
	return q.Blobs.Put(ctx, key, r, c.Size, "application/octet-stream")
}

// withhold marks the original and the infected parts withheld, asks for the full text
// to be kept, and adds the signal and the note (first, so the toelichting's limit never
// cuts it).
func withhold(in *Intake, parts []scanPart, kcID string, kept bool) {
	w := Withheld{Original: true, Attachments: map[int]bool{}}
	for _, pt := range parts {
		switch {
		case pt.sig == "":
		case pt.name == "aanlevering":
			w.Delivery = true
		case pt.index >= 0:
			w.Attachments[pt.index] = true
		}
	}
	in.Withheld = w
	in.Signals = append(in.Signals, SignalVirus)
	in.Notes = append([]string{virusNote(in, parts, kcID, kept)}, in.Notes...)
}

// maxNamedAttachments bounds the attachments a note names.
const maxNamedAttachments = 5

// virusNote is the note for the colleague: what was found where, and where the original
// is. It names attachments by their (sender-given) file names.
func virusNote(in *Intake, parts []scanPart, kcID string, kept bool) string {
	var found []string
	named, others := 0, 0
	for _, pt := range parts {
		switch {
		case pt.sig == "":
		case pt.name == "origineel":
			if infectedParts(parts) > 1 {
				continue // it holds the infected parts named below
			}
			found = append(found, fmt.Sprintf("in het originele bestand (%s)", pt.sig))
		case pt.name == "aanlevering":
			found = append(found, fmt.Sprintf("in de aanleveringsgegevens (%s)", pt.sig))
		case named < maxNamedAttachments:
			named++
			found = append(found, fmt.Sprintf("in bijlage \"%s\" (%s)", ClipEllipsis(SafeFilename(in.Attachments[pt.index].Filename), 80), pt.sig))
		default:
			others++
		}
	}
	if others > 0 {
		found = append(found, fmt.Sprintf("in nog %d bijlagen", others))
	}
	var b strings.Builder
	b.WriteString("Virus gevonden ")
	b.WriteString(strings.Join(found, "; "))
	b.WriteString(". Besmette bestanden zijn niet bij dit klantcontact opgeslagen; vraag de afzender zo nodig om een schone versie.")
	if kept {
		fmt.Fprintf(&b, " Het originele bestand staat in quarantaine bij functioneel beheer (kenmerk %s).", kcID)
	} else {
		b.WriteString(" Het originele bestand is niet bewaard.")
	}
	return b.String()
}

func infectedParts(parts []scanPart) int {
	n := 0
	for _, pt := range parts {
		if pt.sig != "" {
			n++
		}
	}
	return n
}

// noteTasks are the tasks that carry the virus note when routing chose none: the
// channel's default, else routing's default, else one task for eenheid kcc (or the first
// eenheid configured).
func noteTasks(in *Intake, o *MapOptions) []TaskSpec {
	if len(in.DefaultTasks) > 0 {
		return in.DefaultTasks
	}
	if o.Router != nil && len(o.Router.Default) > 0 {
		return o.Router.Default
	}
	t := TaskSpec{GevraagdeHandeling: "Virusmelding beoordelen", Toelichting: "Aangemaakt omdat de virusscanner een besmet bestand vond."}
	keys := make([]string, 0, len(o.Eenheden))
	for k := range o.Eenheden {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	switch _, kcc := o.Eenheden["kcc"]; {
	case kcc:
		t.EenheidKeys = []string{"kcc"}
	case len(keys) > 0:
		t.EenheidKeys = keys[:1]
	default:
		t.Actors = []ActorSpec{{Naam: "KCC", SoortActor: "organisatorische_eenheid", Omschrijving: "Klant Contact Centrum"}}
	}
	return []TaskSpec{t}
}
