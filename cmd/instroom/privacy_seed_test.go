package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/instroom/instroom/ingest"
)

// Seeding, pushing and waiting for the log-privacy test (privacy_test.go).

// seedMail puts mail in the IMAP account, the Maildir and the drop folder.
func (r *privacyRun) seedMail() {
	imapMail, subj := privateMail(r.sec, "IMAP")
	damaged, dsubj := damagedMail(r.sec, "IMAP")
	r.srv.dovecot.Append(r.t, "priv"+r.format, "INBOX", imapMail, damaged, notAMail(r.sec, "IMAP"), unknownHeaders(r.sec, "IMAP"), largeMail(r.sec, "IMAP"))
	r.subject = append(r.subject, subj, dsubj)

	for _, sub := range []string{"new", "cur", "tmp"} {
		os.MkdirAll(filepath.Join(r.dir, "maildir", sub), 0o755)
	}
	mdMail, subj := privateMail(r.sec, "Maildir")
	r.write("maildir/new/1773300000.M1P1.privacy", mdMail)
	r.write("maildir/new/1773300001.M2P1.privacy", notAMail(r.sec, "Maildir"))
	r.write("maildir/new/1773300002.M3P1.privacy", largeMail(r.sec, "Maildir"))
	r.subject = append(r.subject, subj)

	dropMail, subj := privateMail(r.sec, "drop-folder")
	r.write("drop/"+r.sec.ref("drop-folder mail file name")+" Klacht over de buren.eml", dropMail)
	r.write("drop/"+r.sec.ref("drop-folder non-mail file name")+" Bezwaar.msg", unknownHeaders(r.sec, "drop-folder"))
	r.write("drop/mail-3.eml", largeMail(r.sec, "drop-folder"))
	r.subject = append(r.subject, subj)
}

func (r *privacyRun) scanID(name string) string {
	return "PRIV-" + strings.ToUpper(r.format) + "-" + name
}

// seedLetters puts letters in the scanstraat folder of the letter drop zone.
func (r *privacyRun) seedLetters() {
	const zone = "brieven/scanstraat/"
	scan, err := os.ReadFile("../../channels/brief/testdata/SCAN-20240312-000123.pdf")
	if err != nil {
		r.t.Fatal(err)
	}
	old := time.Now().Add(-time.Hour)
	// A complete letter.
	doc, bestand, subj := privateLetter(r.sec, "dropped", r.scanID("L1"))
	r.write(zone+bestand, scan)
	r.write(zone+r.scanID("L1")+".json", privacyJSON(doc))
	r.subject = append(r.subject, subj)
	// A letter whose scan never came, and a scan whose letter never came (named with a
	// secret, which its dead letter carries as ref): both past pair_timeout.
	doc, _, _ = privateLetter(r.sec, "scan-less", r.scanID("L2"))
	os.Chtimes(r.write(zone+r.scanID("L2")+".json", privacyJSON(doc)), old, old)
	os.Chtimes(r.write(zone+r.sec.ref("orphan scan file name")+".tiff", scan), old, old)
	// A sidecar that fails the schema, and one that is not JSON.
	r.write(zone+r.sec.ref("invalid sidecar file name")+".json", privacyJSON(invalidLetter(r.sec, "dropped", r.scanID("L4"))))
	r.write(zone+r.scanID("L5")+".json", fmt.Appendf(nil, `{"scanId": "%s", "afzender": {"naam": "%s"`, r.sec.word("non-JSON sidecar scanId"), r.sec.word("non-JSON sidecar naam")))
	// A letter whose "scan" is not an image or PDF at all.
	doc, bestand, _ = privateLetter(r.sec, "broken-scan", r.scanID("L6"))
	r.write(zone+bestand, fmt.Appendf(nil, "geen scan maar tekst: %s", r.sec.word("bytes of a broken scan")))
	r.write(zone+r.scanID("L6")+".json", privacyJSON(doc))
}

// seedTranscripts puts transcripts in the chatleverancier folder of the transcript zone.
func (r *privacyRun) seedTranscripts() {
	const zone = "gesprekken/chatleverancier/"
	id := "priv-" + r.format + "-c1"
	doc, subj := privateTranscript(r.sec, "dropped", id)
	r.write(zone+id+".json", privacyJSON(doc))
	r.subject = append(r.subject, subj)
	id = "priv-" + r.format + "-c2"
	r.write(zone+r.sec.ref("invalid transcript file name")+".json", privacyJSON(invalidTranscript(r.sec, "dropped", id)))
	r.write(zone+"priv-"+r.format+"-c3.json", fmt.Appendf(nil, `{"gesprekId": "%s", "klant": {"naam": "%s"`, r.sec.word("non-JSON transcript gesprekId"), r.sec.word("non-JSON transcript naam")))
	id = "priv-" + r.format + "-c4"
	r.write(zone+id+".json", privacyJSON(fetchFailTranscript(r.sec, "dropped", id, privacyFetchHost)))
}

// push delivers over the intake API: a letter and a transcript that are accepted, an
// invalid one of each, one of each with an unknown token, and a transcript over the limit.
// The vendor may see its own content in a problem response; the logs may not.
func (r *privacyRun) push() {
	t := r.t
	scan, _ := os.ReadFile("../../channels/brief/testdata/SCAN-20240312-000123.pdf")
	doc, bestand, subj := privateLetter(r.sec, "pushed", r.scanID("L7"))
	r.subject = append(r.subject, subj)
	expect := func(what string, resp *http.Response, want int) {
		t.Helper()
		if resp.StatusCode != want {
			t.Errorf("%s: status %d, want %d", what, resp.StatusCode, want)
		}
		resp.Body.Close()
	}
	expect("pushed letter", pushLetter(t, r.intake, privacyBriefToken, privacyJSON(doc), scan, bestand), http.StatusAccepted)
	doc["ocrTekst"] = r.sec.word("pushed letter: ocrTekst of a conflicting repeat")
	expect("conflicting repeat of the pushed letter", pushLetter(t, r.intake, privacyBriefToken, privacyJSON(doc), scan, bestand), http.StatusConflict)
	bad := invalidLetter(r.sec, "pushed", r.scanID("L8"))
	expect("pushed invalid letter", pushLetter(t, r.intake, privacyBriefToken, privacyJSON(bad), scan, r.sec.word("pushed invalid letter multipart file name")+".pdf"), http.StatusBadRequest)
	doc, bestand, _ = privateLetter(r.sec, "unknown-token", r.scanID("L9"))
	expect("letter with an unknown token", pushLetter(t, r.intake, r.sec.word("unknown letter token"), privacyJSON(doc), scan, bestand), http.StatusUnauthorized)
	resp, _ := send(t, http.MethodGet, r.intake+"/v1/brieven/"+r.scanID("L7"), privacyBriefToken, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET of the pushed letter: status %d", resp.StatusCode)
	}

	id := "priv-" + r.format + "-c5"
	tdoc, subj := privateTranscript(r.sec, "pushed", id)
	r.subject = append(r.subject, subj)
	for _, p := range []struct {
		what  string
		token string
		body  []byte
		want  int
	}{
		{"pushed transcript", privacyChatToken, privacyJSON(tdoc), http.StatusAccepted},
		{"pushed invalid transcript", privacyChatToken, privacyJSON(invalidTranscript(r.sec, "pushed", "priv-"+r.format+"-c6")), http.StatusBadRequest},
		{"pushed non-JSON transcript", privacyChatToken, fmt.Appendf(nil, `{"gesprekId": "%s"`, r.sec.word("pushed non-JSON transcript")), http.StatusBadRequest},
		{"transcript with an unknown token", r.sec.word("unknown transcript token"), privacyJSON(tdoc), http.StatusUnauthorized},
		{"transcript over max_gesprek_bytes", privacyChatToken, privacyJSON(r.largeTranscript()), http.StatusRequestEntityTooLarge},
	} {
		resp, err := pushGesprek(http.DefaultClient, r.intake, p.token, "", "", p.body)
		if err != nil {
			t.Fatal(err)
		}
		expect(p.what, resp, p.want)
	}
	resp, _ = send(t, http.MethodGet, r.intake+"/v1/gesprekken/"+id, privacyChatToken, "", nil)
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET of the pushed transcript: status %d", resp.StatusCode)
	}
}

func (r *privacyRun) largeTranscript() map[string]any {
	doc, _ := privateTranscript(r.sec, "over-the-limit", "priv-"+r.format+"-c8")
	doc["berichten"] = append(doc["berichten"].([]any), map[string]any{"van": "klant", "tijdstip": "2026-03-14T19:53:00+01:00",
		"tekst": strings.Repeat(r.sec.word("over-long message text")+" ", 5000)})
	return doc
}

// waitDone waits until every item has been settled (processed or failed), but for the
// transcript whose attachment cannot be fetched, which must have failed at least once.
func (r *privacyRun) waitDone() {
	d := r.srv.dovecot
	user := "priv" + r.format
	files := func(rel string) []string {
		ents, _ := os.ReadDir(filepath.Join(r.dir, rel))
		var out []string
		for _, e := range ents {
			if !e.IsDir() {
				out = append(out, e.Name())
			}
		}
		return out
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		waiting := map[string]int{
			"IMAP INBOX":      d.Count(r.t, user, "INBOX"),
			"IMAP settled":    5 - d.Count(r.t, user, "Verwerkt") - d.Count(r.t, user, "Mislukt"),
			"Maildir new":     len(files("maildir/new")),
			"drop folder":     len(files("drop")),
			"letters":         len(files("brieven/scanstraat")),
			"transcripts":     len(files("gesprekken/chatleverancier")) - 1,
			"fetch not tried": 1 - strings.Count(r.stderr.String(), "fetching attachment"),
		}
		busy := false
		for _, n := range waiting {
			busy = busy || n > 0
		}
		if !busy {
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("items still waiting after 2 minutes: %v (transcripts %v)\nworker log:\n%s", waiting, files("gesprekken/chatleverancier"), tail(r.stderr.String(), 8000))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// checkEvents checks that the work was done (every item that must be registered is a
// klantcontact holding its subject secret, the failed ones are dead letters) and that no
// dead letter holds a secret: their error texts are the ones the log shows.
func (r *privacyRun) checkEvents() {
	t := r.t
	kcs := readTopic(t, r.srv.kafka.Addr, "klantcontacten-"+r.format, len(r.subject))
	var all bytes.Buffer
	ids := map[string]bool{}
	for _, m := range kcs {
		all.Write(m.Value)
		ids[string(m.Key)] = true
	}
	for _, s := range r.subject {
		if !r.sec.contains(all.String(), s) {
			t.Errorf("no klantcontact holds subject %s: its item was not registered", s)
		}
	}
	if len(ids) != len(r.subject) {
		t.Errorf("%d klantcontacten, want %d", len(ids), len(r.subject))
	}
	reasons, seen := map[string]int{}, map[string]bool{}
	for _, m := range readTopic(t, r.srv.kafka.Addr, "deadletter-"+r.format, 14) {
		var dl ingest.DeadLetterEvent
		if err := json.Unmarshal(m.Value, &dl); err != nil {
			t.Fatal(err)
		}
		if !seen[dl.Source+"\x1f"+dl.Ref] {
			seen[dl.Source+"\x1f"+dl.Ref] = true
			reasons[dl.Reason]++
		}
		for _, l := range r.sec.leaks(string(m.Value)) {
			t.Errorf("dead letter %s (%s) holds a secret from the %s", dl.Ref, dl.Reason, l)
		}
	}
	// IMAP: a non-mail, unknown headers, too large; Maildir: a non-mail, too large; drop
	// folder: unknown headers, too large; letters: invalid, not JSON, not a scan, a
	// sidecar without its scan, a scan without its sidecar; transcripts: invalid, not JSON.
	if want := map[string]int{"unparseable": 6, "too_large": 3, "invalid": 2, "unsupported_format": 1, "missing_scan": 1, "missing_sidecar": 1}; fmt.Sprint(reasons) != fmt.Sprint(want) {
		t.Errorf("dead letters by reason: %v, want %v", reasons, want)
	}
}
