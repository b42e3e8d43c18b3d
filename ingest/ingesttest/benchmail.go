package ingesttest

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"mime/quotedprintable"
)

// benchSentences are the Dutch text of BenchMail, repeated to its length.
var benchSentences = []string{
	"Geachte heer, mevrouw,",
	"Op 12 november heb ik een aanvraag ingediend voor een parkeervergunning voor bewoners in de wijk Oosterpark.",
	"Tot op heden heb ik geen ontvangstbevestiging of beslissing ontvangen, terwijl op uw website staat dat een aanvraag binnen vier weken wordt afgehandeld.",
	"Mijn auto staat inmiddels al drie weken op een betaalde parkeerplaats, wat mij per week ongeveer € 45 kost.",
	"Daarnaast is de straatverlichting vóór ons huis aan de Vondellaan sinds half oktober defect; het is 's avonds erg donker en onveilig voor de kinderen die naar de sportvereniging fietsen.",
	"Ik heb dit al eerder gemeld via het formulier op de website, maar de melding lijkt niet te zijn aangekomen: ik heb daarop geen reactie gehad.",
	"Bijgevoegd vindt u de scan van het aanvraagformulier en het betalingsbewijs van de leges.",
	"Zou u de aanvraag willen controleren en mij laten weten wanneer ik een beslissing kan verwachten?",
	"U kunt mij bereiken op 06-12345678 of per e-mail; overdag ben ik het best bereikbaar tussen 9.00 en 12.00 uur.",
	"Mocht er informatie ontbreken, dan hoor ik dat graag zo snel mogelijk, zodat ik het kan aanvullen.",
	"Ik reken op een spoedige reactie en dank u bij voorbaat voor de moeite.",
}

// BenchMail is the mail of the throughput benchmarks, about 20 KB, as a citizen writes to
// the municipality: 4 KB of Dutch text (UTF-8, quoted-printable, with accented letters)
// and a 14 KB attachment (a PDF of 10,500 bytes that do not compress, base64 in
// 76-character lines). It is deterministic in i: Message-ID <bench-i@example.nl>, the
// subject, the text and the attachment differ per i.
func BenchMail(i int) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "From: Burger %d <burger%d@example.nl>\r\nTo: info@gemeente.example\r\n", i, i)
	fmt.Fprintf(&b, "Subject: Aanvraag parkeervergunning, kenmerk %d\r\nDate: Fri, 20 Nov 2026 09:%02d:%02d +0100\r\n", i, i/60%60, i%60)
	fmt.Fprintf(&b, "Message-ID: <bench-%d@example.nl>\r\nMIME-Version: 1.0\r\n", i)
	b.WriteString("Content-Type: multipart/mixed; boundary=\"=_grens_0001\"\r\n\r\n--=_grens_0001\r\n" +
		"Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n")
	var text bytes.Buffer
	fmt.Fprintf(&text, "Kenmerk %d\r\n\r\n", i)
	for n := i; text.Len() < 4000; n++ {
		s := benchSentences[n%len(benchSentences)]
		text.WriteString(s)
		if n%3 == 2 {
			text.WriteString("\r\n\r\n")
		} else {
			text.WriteString(" ")
		}
	}
	fmt.Fprintf(&text, "\r\n\r\nMet vriendelijke groet,\r\n\r\nBurger %d\r\nVondellaan %d\r\n1234 AB Amsterdam\r\n", i, i%200+1)
	qp := quotedprintable.NewWriter(&b)
	qp.Write(text.Bytes())
	qp.Close()
	fmt.Fprintf(&b, "\r\n--=_grens_0001\r\nContent-Type: application/pdf; name=\"aanvraag-%d.pdf\"\r\n"+
		"Content-Disposition: attachment; filename=\"aanvraag-%d.pdf\"\r\nContent-Transfer-Encoding: base64\r\n\r\n", i, i)
	pdf := make([]byte, 10500)
	rng := rand.New(rand.NewPCG(uint64(i), 0x1b))
	for j := range pdf {
		pdf[j] = byte(rng.Uint32())
	}
	copy(pdf, "%PDF-1.7\n")
	enc := make([]byte, base64.StdEncoding.EncodedLen(57))
	for off := 0; off < len(pdf); off += 57 {
		chunk := pdf[off:min(off+57, len(pdf))]
		n := base64.StdEncoding.EncodedLen(len(chunk))
		base64.StdEncoding.Encode(enc[:n], chunk)
		b.Write(enc[:n])
		b.WriteString("\r\n")
	}
	b.WriteString("--=_grens_0001--\r\n")
	return b.Bytes()
}
