package mail

// repair is one kind of damage the parser found and worked around. Each kind gives at
// most one note per mail, in Dutch, for the KCC colleague who handles the task; a mail
// with nothing repaired gets no note.
type repair uint32

const (
	repairHeader         repair = 1 << iota // header section not per RFC 5322 (obsolete syntax, stray lines)
	repairControl                           // NUL bytes or other control characters removed
	repairEncoding                          // unknown or invalid Content-Transfer-Encoding, read as well as possible
	repairTruncated                         // missing closing boundary, truncated base64, cut-off message
	repairMIME                              // damaged MIME structure (missing or unparseable boundary, bad Content-Type)
	repairCharset                           // declared charset did not match the bytes (the label lied)
	repairCharsetUnknown                    // unknown charset; text decoded as a best guess
	repairWords                             // broken RFC 2047 encoded words in headers
	repairLimits                            // more parts or nesting than the parser reads; the rest is in the original
	repairTextCut                           // body text too long to keep whole as text; the original has it all
	noteSigned                              // signed (S/MIME or PGP); the signature is not checked
	noteEncrypted                           // encrypted part kept as it came
)

// notes are the texts of the repairs, in the order they are listed.
var repairNotes = []struct {
	r    repair
	text string
}{
	{repairHeader, "De kopregels van het bericht waren niet volgens de standaard opgemaakt en zijn hersteld; controleer afzender en onderwerp in het originele bericht."},
	{repairControl, "Het bericht bevatte ongeldige stuurtekens (zoals NUL-tekens); die zijn weggelaten."},
	{repairEncoding, "Een deel van het bericht had een onbekende of ongeldige overdrachtscodering en is zo goed mogelijk gelezen; controleer het originele bericht."},
	{repairTruncated, "Het bericht was onvolledig of afgebroken; wat leesbaar was is geregistreerd. Controleer het originele bericht."},
	{repairMIME, "De MIME-opbouw van het bericht was beschadigd en is hersteld; controleer of tekst en bijlagen compleet zijn."},
	{repairCharset, "De tekenset van (een deel van) het bericht klopte niet met wat het bericht opgaf en is hersteld; controleer de tekst in het originele bericht."},
	{repairCharsetUnknown, "Het bericht gebruikte een onbekende tekenset; de tekst is zo goed mogelijk omgezet. Controleer de tekst in het originele bericht."},
	{repairWords, "Gecodeerde woorden in de kopregels (zoals het onderwerp) waren beschadigd en zijn zo goed mogelijk gelezen."},
	{repairLimits, "Het bericht had meer onderdelen of een diepere opbouw dan automatisch worden gelezen; zie het originele bericht voor de rest."},
	{repairTextCut, "De tekst van het bericht was te lang om volledig als tekst te bewaren; het originele bericht bevat alles."},
	{noteSigned, "Het bericht was digitaal ondertekend; de handtekening is niet gecontroleerd."},
	{noteEncrypted, "Het bericht (of een deel ervan) was versleuteld en kon niet worden gelezen; het versleutelde deel is ongewijzigd als bijlage bewaard."},
}

// repairs collects what was repaired while parsing one mail. The zero value is empty and
// ready to use; a nil *repairs ignores every add.
type repairs struct{ set repair }

func (r *repairs) add(k repair) {
	if r != nil {
		r.set |= k
	}
}

// notes returns the note of every repair made, in a fixed order.
func (r *repairs) notes() []string {
	if r == nil || r.set == 0 {
		return nil
	}
	var out []string
	for _, n := range repairNotes {
		if r.set&n.r != 0 {
			out = append(out, n.text)
		}
	}
	return out
}
