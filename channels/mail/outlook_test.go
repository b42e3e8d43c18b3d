package mail

import (
	"bytes"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	netmail "net/mail"
	"net/textproto"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

const fixtureBody = "Geachte heer/mevrouw,\r\n\r\nik heb een vraag over mijn WOZ-beschikking.\r\n\r\nMet vriendelijke groet,\r\nJan de Vries\r\n"

// fixturePDF is PDF-like content of about n bytes.
func fixturePDF(n int) []byte {
	b := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n")
	for i := 0; len(b) < n-6; i++ {
		b = fmt.Appendf(b, "%% aanslag regel %05d\n", i)
	}
	return append(b, "%%EOF\n"...)
}

// fixtureMessage is the synthetic mail both writers encode: a citizen writing to the
// municipality, with a PDF and a forwarded message attached.
func fixtureMessage() *outlookMessage {
	return &outlookMessage{
		TransportHeaders: "Received: from mail.example.nl by mx.example.nl; Thu, 19 Nov 2026 15:30:01 +0100\r\n" +
			"From: Jan de Vries <jan.devries@example.nl>\r\nTo: gemeente@example.nl\r\n" +
			"Subject: Vraag over WOZ-beschikking\r\nMessage-ID: <20261119153000.4711@example.nl>\r\n",
		Subject:     "Vraag over WOZ-beschikking – café Dorpsstraat",
		FromName:    "Jan de Vries",
		FromAddress: "jan.devries@example.nl",
		To:          []string{"gemeente@example.nl", "kcc@example.nl"},
		Date:        time.Date(2026, 11, 19, 14, 30, 0, 0, time.UTC),
		MessageID:   "20261119153000.4711@example.nl",
		InReplyTo:   "20261101090000.1234@example.nl",
		Text:        fixtureBody,
		HTML:        "<html><body><p>Geachte heer/mevrouw,</p><p>ik heb een vraag over mijn WOZ-beschikking.</p><p>Met vriendelijke groet,<br>Jan de Vries</p></body></html>",
		Attachments: []outlookAttachment{
			{Name: "aanslag.pdf", ContentType: "application/pdf", Data: fixturePDF(6000)},
			{Name: "Doorgestuurd: aanslag 2025", ContentType: outlookMessageType, Embedded: &outlookMessage{
				Subject: "Aanslag 2025", FromName: "Gemeente", FromAddress: "belastingen@example.nl",
				To: []string{"jan.devries@example.nl"}, Date: time.Date(2025, 3, 1, 8, 0, 0, 0, time.UTC),
				MessageID: "aanslag-2025@example.nl", Text: "Hierbij uw aanslag.\r\n", HTML: "<p>Hierbij uw aanslag.</p>",
				Attachments: []outlookAttachment{{Name: "bijlage.txt", ContentType: "text/plain", Data: []byte("tekst")}},
			}},
		},
	}
}

// messageProps are the MAPI properties of m (not its recipients or attachments).
func messageProps(m *outlookMessage, fs fixtureStrings) []fixtureProp {
	ps := []fixtureProp{
		fs.prop(0x001A, "IPM.Note"), // PR_MESSAGE_CLASS
		fs.prop(pidSubject, m.Subject),
		fs.prop(pidSenderName, m.FromName),
		fs.prop(pidSenderAddrType, "EX"),
		fs.prop(pidSenderEmail, "/O=GEMEENTE/OU=EXCHANGE ADMINISTRATIVE GROUP/CN=RECIPIENTS/CN=JDEVRIES"),
		fs.prop(pidSenderSMTPAddress, m.FromAddress),
		fs.prop(pidInternetMessageID, "<"+m.MessageID+">"),
		fs.prop(pidBody, m.Text),
		{id: pidHTML, typ: ptBinary, val: []byte(m.HTML)},
		longProp(pidInternetCPID, 65001),
		timeProp(pidClientSubmitTime, m.Date),
		longProp(0x0E07, 1), // PR_MESSAGE_FLAGS
		{id: 0x8005, typ: ptInt32, val: le32(7), guid: bytes.Repeat([]byte{0x42}, 16)},
		{id: 0x0E1D, typ: ptUnicode | ptMulti, multi: [][]byte{utf16z("a"), utf16z("bc")}},
	}
	if fs.enc != nil {
		ps = append(ps, longProp(pidMessageCodepage, fs.cp))
	}
	if m.InReplyTo != "" {
		ps = append(ps, fs.prop(pidInReplyTo, "<"+m.InReplyTo+">"))
	}
	if m.TransportHeaders != "" {
		ps = append(ps, fs.prop(pidTransportHeaders, m.TransportHeaders))
	}
	return ps
}

func recipientProps(addr string, fs fixtureStrings) []fixtureProp {
	return []fixtureProp{
		longProp(pidRecipientType, recipientTypeTo),
		fs.prop(pidDisplayName, strings.Split(addr, "@")[0]),
		fs.prop(pidAddrType, "SMTP"),
		fs.prop(pidEmailAddress, addr),
		fs.prop(pidSMTPAddress, addr),
	}
}

func attachmentProps(a *outlookAttachment, fs fixtureStrings) []fixtureProp {
	if a.Embedded != nil {
		return []fixtureProp{longProp(pidAttachMethod, attachMethodEmbeddedMsg), fs.prop(pidDisplayName, a.Name)}
	}
	return []fixtureProp{
		longProp(pidAttachMethod, 1),
		fs.prop(pidAttachLongFilename, a.Name),
		fs.prop(pidAttachFilename, a.Name),
		fs.prop(pidAttachMimeTag, a.ContentType),
	}
}

// outlookDiff lists the fields in which got differs from want.
func outlookDiff(prefix string, got, want *outlookMessage) []string {
	if got == nil || want == nil {
		if got != want {
			return []string{fmt.Sprintf("%s = %v, want %v", prefix, got, want)}
		}
		return nil
	}
	var diffs []string
	gv, wv := reflect.ValueOf(*got), reflect.ValueOf(*want)
	for i := 0; i < gv.NumField(); i++ {
		name := gv.Type().Field(i).Name
		if name == "Attachments" {
			continue
		}
		if g, w := gv.Field(i).Interface(), wv.Field(i).Interface(); !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s.%s = %q, want %q", prefix, name, g, w))
		}
	}
	if len(got.Attachments) != len(want.Attachments) {
		return append(diffs, fmt.Sprintf("%s: %d attachments, want %d", prefix, len(got.Attachments), len(want.Attachments)))
	}
	for i, ga := range got.Attachments {
		wa, p := want.Attachments[i], fmt.Sprintf("%s.Attachments[%d]", prefix, i)
		if ga.Name != wa.Name || ga.ContentType != wa.ContentType || !bytes.Equal(ga.Data, wa.Data) {
			diffs = append(diffs, fmt.Sprintf("%s = %q %q (%d bytes), want %q %q (%d bytes)", p,
				ga.Name, ga.ContentType, len(ga.Data), wa.Name, wa.ContentType, len(wa.Data)))
		}
		diffs = append(diffs, outlookDiff(p+".Embedded", ga.Embedded, wa.Embedded)...)
	}
	return diffs
}

func TestTNEFRoundTrip(t *testing.T) {
	want := fixtureMessage()
	got, err := readTNEF(bytes.NewReader(writeTNEF(want)), 1<<20)
	if err != nil {
		t.Fatalf("readTNEF(writeTNEF(fixture)) = %v", err)
	}
	for _, d := range outlookDiff("readTNEF", got, want) {
		t.Error(d)
	}
}

func TestTNEFAttributesOnly(t *testing.T) {
	// A stream with only the legacy attributes, in codepage 1250.
	b := append(le32(tnefSignature), le16(1)...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00069007, append(le32(1250), le32(0)...))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x00018004, append(encodeString8("Łódź", charmap.Windows1250), 0))...)
	b = append(b, tnefAttr(tnefLevelMessage, 0x0002800C, encodeString8("Dziękuję", charmap.Windows1250))...)
	b = append(b, tnefAttr(tnefLevelAttachment, 0x00018010, []byte("AANSLAG.PDF\x00"))...)
	b = append(b, tnefAttr(tnefLevelAttachment, 0x0006800F, []byte("%PDF-1.4"))...)
	b = append(b, 0, 0, 0) // zero padding at the end
	got, err := readTNEF(bytes.NewReader(b), 1<<20)
	if err != nil {
		t.Fatalf("readTNEF(attributes only) = %v", err)
	}
	want := &outlookMessage{Subject: "Łódź", Text: "Dziękuję", Attachments: []outlookAttachment{
		{Name: "AANSLAG.PDF", ContentType: "application/pdf", Data: []byte("%PDF-1.4")}}}
	for _, d := range outlookDiff("readTNEF", got, want) {
		t.Error(d)
	}
}

func TestMSGRoundTrip(t *testing.T) {
	tests := []struct {
		name string
		fs   fixtureStrings
		text string
	}{
		{"unicode", fixtureStrings{}, "café"},
		{"string8 1252", fixtureStrings{enc: charmap.Windows1252, cp: 1252}, "café – één"},
		{"string8 1250", fixtureStrings{enc: charmap.Windows1250, cp: 1250}, "Łódź"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := fixtureMessage()
			want.Subject = "Vraag " + tc.text
			want.Attachments[1].Embedded.FromName = "Gemeente " + tc.text
			raw := writeMSG(want, tc.fs)
			got, err := readMSG(bytes.NewReader(raw), int64(len(raw)), 1<<20)
			if err != nil {
				t.Fatalf("readMSG(writeMSG(fixture)) = %v", err)
			}
			for _, d := range outlookDiff("readMSG", got, want) {
				t.Error(d)
			}
		})
	}
}

func TestIsMSG(t *testing.T) {
	tests := []struct {
		in   []byte
		want bool
	}{
		{cfbMagic, true},
		{append(append([]byte{}, cfbMagic...), 0, 1, 2), true},
		{cfbMagic[:7], false},
		{nil, false},
		{[]byte("From: a@example.nl\r\n"), false},
		{le32(tnefSignature), false},
	}
	for _, tc := range tests {
		if got := isMSG(tc.in); got != tc.want {
			t.Errorf("isMSG(% x) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

var updateOutlook = flag.Bool("update-outlook", false, "rewrite testdata/40-winmail-dat.eml and testdata/41-outlook.msg")

// winmailFixture is the TNEF content of testdata/40-winmail-dat.eml.
func winmailFixture() *outlookMessage {
	m := fixtureMessage()
	m.TransportHeaders, m.InReplyTo, m.To = "", "", []string{"gemeente@example.nl"}
	m.Subject = "Vraag over WOZ-beschikking"
	m.Attachments = []outlookAttachment{{Name: "aanslag.pdf", ContentType: "application/pdf", Data: fixturePDF(2000)}}
	return m
}

// winmailEML wraps a winmail.dat as Outlook sends it: a plain text part and the TNEF
// stream as an application/ms-tnef attachment.
func winmailEML(tnef []byte) []byte {
	var b bytes.Buffer
	b.WriteString("From: Jan de Vries <jan.devries@example.nl>\r\nTo: Gemeente Voorbeeld <gemeente@example.nl>\r\n" +
		"Date: Thu, 19 Nov 2026 15:30:00 +0100\r\nSubject: Vraag over WOZ-beschikking\r\n" +
		"Message-ID: <20261119153000.4711@example.nl>\r\nMIME-Version: 1.0\r\n" +
		"Content-Type: multipart/mixed; boundary=\"----=_NextPart_000_0040\"\r\n\r\n")
	w := multipart.NewWriter(&b)
	if err := w.SetBoundary("----=_NextPart_000_0040"); err != nil {
		panic(err)
	}
	text, _ := w.CreatePart(textproto.MIMEHeader{"Content-Type": {"text/plain; charset=us-ascii"}, "Content-Transfer-Encoding": {"7bit"}})
	io.WriteString(text, fixtureBody)
	att, _ := w.CreatePart(textproto.MIMEHeader{
		"Content-Type":              {`application/ms-tnef; name="winmail.dat"`},
		"Content-Transfer-Encoding": {"base64"},
		"Content-Disposition":       {`attachment; filename="winmail.dat"`},
	})
	enc := base64.StdEncoding.EncodeToString(tnef)
	for len(enc) > 76 {
		io.WriteString(att, enc[:76]+"\r\n")
		enc = enc[76:]
	}
	io.WriteString(att, enc+"\r\n")
	w.Close()
	return b.Bytes()
}

// tnefFromEML reads the winmail.dat out of a mail with the standard library only.
func tnefFromEML(raw []byte) (*outlookMessage, error) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return nil, err
	}
	_, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil {
		return nil, err
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if err != nil {
			return nil, err
		}
		if strings.HasPrefix(p.Header.Get("Content-Type"), "application/ms-tnef") {
			return readTNEF(base64.NewDecoder(base64.StdEncoding, p), 1<<20)
		}
	}
}

func TestOutlookTestdata(t *testing.T) {
	files := []struct {
		name string
		data []byte
		read func([]byte) (*outlookMessage, error)
		want *outlookMessage
	}{
		{"40-winmail-dat.eml", winmailEML(writeTNEF(winmailFixture())), tnefFromEML, winmailFixture()},
		{"41-outlook.msg", writeMSG(fixtureMessage(), fixtureStrings{}), func(b []byte) (*outlookMessage, error) {
			return readMSG(bytes.NewReader(b), int64(len(b)), 1<<20)
		}, fixtureMessage()},
	}
	for _, f := range files {
		path := filepath.Join("testdata", f.name)
		if *updateOutlook {
			if err := os.WriteFile(path, f.data, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || !bytes.Equal(got, f.data) {
			t.Errorf("%s is not what the writers produce (%v); run go test ./channels/mail -run OutlookTestdata -update-outlook", path, err)
			continue
		}
		m, err := f.read(got)
		if err != nil {
			t.Fatalf("reading %s = %v", path, err)
		}
		for _, d := range outlookDiff(f.name, m, f.want) {
			t.Error(d)
		}
	}
}
