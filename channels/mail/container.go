package mail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// S/MIME and Outlook containers: what is inside them is the message.

func isPKCS7(mt string) bool {
	return mt == "application/pkcs7-mime" || mt == "application/x-pkcs7-mime"
}

// isSMIMESigned reports an opaque-signed S/MIME entity (RFC 8551 §3.5.2).
func isSMIMESigned(mt string, params map[string]string, name string) bool {
	st := strings.ToLower(params["smime-type"])
	return isPKCS7(mt) && (st == "signed-data" || (st == "" && strings.HasSuffix(strings.ToLower(name), ".p7m")))
}

// isSMIMEEncrypted reports an encrypted S/MIME entity.
func isSMIMEEncrypted(mt string, params map[string]string, name string) bool {
	st := strings.ToLower(params["smime-type"])
	return isPKCS7(mt) && (st == "enveloped-data" || st == "authenveloped-data")
}

func isTNEF(mt, name string) bool {
	return mt == "application/ms-tnef" || mt == "application/vnd.ms-tnef" || strings.EqualFold(name, "winmail.dat")
}

// readBounded reads r into memory when it is at most max bytes; otherwise it returns the
// bytes read so far and the rest of r, for keeping the whole as an attachment.
func readBounded(r io.Reader, max int) ([]byte, io.Reader, bool, error) {
	b, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, nil, false, err
	}
	if len(b) > max {
		return nil, io.MultiReader(bytes.NewReader(b), r), false, nil
	}
	return b, nil, true, nil
}

// smimeSigned unpacks opaque-signed S/MIME: the signed content is the message (its text
// and attachments); the signature is not a customer attachment.
func (w *walker) smimeSigned(r io.Reader, name, mt string, depth int) error {
	b, rest, ok, err := readBounded(r, maxContainerBytes)
	if err != nil {
		return err
	}
	if !ok {
		return w.attachment(rest, nonEmpty(name, "smime.p7m"), mt)
	}
	inner, err := signedContent(b)
	if err != nil {
		// Encrypted (a .p7m without smime-type), or damaged: keep it as it came.
		if isEnveloped(b) {
			w.rep.add(noteEncrypted)
		} else {
			w.rep.add(repairMIME)
		}
		return w.attachment(bytes.NewReader(b), nonEmpty(name, "smime.p7m"), mt)
	}
	w.rep.add(noteSigned)
	if depth >= maxDepth {
		w.rep.add(repairLimits)
		return nil
	}
	return w.inner(bytes.NewReader(inner), depth)
}

// tnef unpacks an Outlook winmail.dat: its body and its attachments.
func (w *walker) tnef(r io.Reader, name, mt string) error {
	b, rest, ok, err := readBounded(r, maxContainerBytes)
	if err != nil {
		return err
	}
	if !ok {
		return w.attachment(rest, nonEmpty(name, "winmail.dat"), mt)
	}
	om, err := readTNEF(bytes.NewReader(b), maxContainerBytes)
	if err != nil {
		w.rep.add(repairMIME)
		return w.attachment(bytes.NewReader(b), nonEmpty(name, "winmail.dat"), mt)
	}
	if len(w.plain) > 0 {
		// The mail's own text/plain part is Outlook's rendering of the same body.
		om.Text, om.HTML = "", ""
	}
	return w.outlook(om)
}

// outlook adds what an Outlook container holds: its text and its attachments.
func (w *walker) outlook(om *outlookMessage) error {
	if t := strings.TrimSpace(strings.ReplaceAll(om.Text, "\r\n", "\n")); t != "" {
		w.plain = append(w.plain, t)
	} else if om.HTML != "" {
		w.html = append(w.html, om.HTML)
	}
	for _, a := range om.Attachments {
		if a.Embedded != nil {
			text := renderEmbedded(a.Embedded)
			if err := w.attachment(strings.NewReader(text), nonEmpty(a.Name, "bijgevoegd-bericht")+".txt", "text/plain; charset=utf-8"); err != nil {
				return err
			}
			continue
		}
		if err := w.attachment(bytes.NewReader(a.Data), a.Name, a.ContentType); err != nil {
			return err
		}
	}
	return nil
}

// renderEmbedded renders an attached Outlook message as text.
func renderEmbedded(m *outlookMessage) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "Van: %s <%s>\nOnderwerp: %s\n", m.FromName, m.FromAddress, m.Subject)
	if !m.Date.IsZero() {
		fmt.Fprintf(&sb, "Datum: %s\n", m.Date.Format("2006-01-02 15:04"))
	}
	text := m.Text
	if strings.TrimSpace(text) == "" && m.HTML != "" {
		text = htmlText(m.HTML)
	}
	sb.WriteString("\n" + text + "\n")
	return sb.String()
}

// signedContent returns the encapsulated content of a CMS/PKCS #7 SignedData
// ContentInfo (DER or BER, including indefinite lengths and constructed OCTET STRINGs).
func signedContent(b []byte) ([]byte, error) {
	ci, _, err := berNext(b)
	if err != nil || ci.tag != 0x30 {
		return nil, errors.New("smime: not a ContentInfo")
	}
	kids, err := berChildren(ci)
	if err != nil || len(kids) < 2 || kids[0].tag != 0x06 || !bytes.Equal(kids[0].content, oidSignedData) || kids[1].tag != 0xa0 {
		return nil, errors.New("smime: not signed data")
	}
	sd, err := berFirst(kids[1])
	if err != nil || sd.tag != 0x30 {
		return nil, errors.New("smime: bad SignedData")
	}
	fields, err := berChildren(sd)
	if err != nil || len(fields) < 3 || fields[2].tag != 0x30 {
		return nil, errors.New("smime: bad SignedData")
	}
	encap, err := berChildren(fields[2])
	if err != nil || len(encap) < 2 || encap[1].tag != 0xa0 {
		return nil, errors.New("smime: no encapsulated content (detached signature)")
	}
	os, err := berFirst(encap[1])
	if err != nil {
		return nil, err
	}
	return berOctets(os)
}

var (
	oidSignedData        = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02}
	oidEnvelopedData     = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x03}
	oidAuthEnvelopedData = []byte{0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x09, 0x10, 0x01, 0x17}
)

// isEnveloped reports whether b is a CMS ContentInfo of (auth)enveloped, that is
// encrypted, data.
func isEnveloped(b []byte) bool {
	ci, _, err := berNext(b)
	if err != nil || ci.tag != 0x30 {
		return false
	}
	oid, _, err := berNext(ci.content)
	return err == nil && oid.tag == 0x06 && (bytes.Equal(oid.content, oidEnvelopedData) || bytes.Equal(oid.content, oidAuthEnvelopedData))
}
