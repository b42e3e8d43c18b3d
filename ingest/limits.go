package ingest

import (
	"net/mail"
	"regexp"
	"strings"
	"unicode/utf8"
)

// Limits of the Klantinteracties API (contracts/klantinteracties.md), counted in
// characters as Django counts them.
const (
	MaxOnderwerp          = 200
	MaxInhoud             = 1000
	MaxKanaal             = 50
	MaxDigitaalAdres      = 80
	MaxOmschrijvingAdres  = 40
	MaxGevraagdeHandeling = 200
	MaxToelichting        = 1000
	MaxMetadataValue      = 255
	MaxNaam               = 200
	MaxVoorletters        = 10
	MaxVoorvoegsel        = 10
	MaxAdresregel         = 80
	MaxTitel              = 200
	MaxBestandsnaam       = 255
)

// Truncate shortens s to at most max characters, cutting on a rune boundary. It reports
// whether s was shortened. Invalid UTF-8 is replaced first, so the result is always valid.
func Truncate(s string, max int) (string, bool) {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD") // a copy only when something is to be replaced
	}
	if len(s) <= max {
		return s, false // no more runes than bytes
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i], true // a rune past max starts at i
		}
		n++
	}
	return s, false
}

// Clip is Truncate without the report.
func Clip(s string, max int) string {
	s, _ = Truncate(s, max)
	return s
}

// ClipEllipsis shortens s to at most max characters, ending in "…" when shortened.
func ClipEllipsis(s string, max int) string {
	t, cut := Truncate(s, max)
	if !cut {
		return t
	}
	return Clip(t, max-1) + "…"
}

// Django's EmailValidator, which Open Klant applies to digitale adressen of soort email.
var (
	emailUser = regexp.MustCompile(`(?i)^([-!#$%&'*+/=?^_` + "`" + `{}|~0-9A-Z]+(\.[-!#$%&'*+/=?^_` + "`" + `{}|~0-9A-Z]+)*|"([\x01-\x08\x0b\x0c\x0e-\x1f!#-\[\]-\x7f]|\\[\x01-\x09\x0b\x0c\x0e-\x7f])*")$`)
	emailHost = regexp.MustCompile(`(?i)^((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+)(?:[a-z0-9-]{2,63}(?:[a-z0-9])?)$`)
)

// ValidEmail reports whether addr is an e-mail address Open Klant accepts as a digitaal
// adres: at most 80 characters and valid for Django's EmailValidator.
func ValidEmail(addr string) bool {
	if addr == "" || utf8.RuneCountInString(addr) > MaxDigitaalAdres || strings.ContainsAny(addr, " \t\r\n<>") {
		return false
	}
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 || at == len(addr)-1 {
		return false
	}
	user, host := addr[:at], addr[at+1:]
	if !emailUser.MatchString(user) {
		return false
	}
	if strings.HasSuffix(host, "-") || !emailHost.MatchString(host) {
		return false
	}
	// The TLD must not be all digits (Django's domain regex requires a letter).
	tld := host[strings.LastIndexByte(host, '.')+1:]
	if strings.Trim(tld, "0123456789") == "" {
		return false
	}
	_, err := mail.ParseAddress(addr)
	return err == nil
}

// NormaliseEmail returns the form in which an e-mail address is registered: trimmed and
// lower-cased, so that KCC staff find it by typing it as they would.
func NormaliseEmail(addr string) string {
	return strings.ToLower(strings.TrimSpace(addr))
}

// NormalisePhone normalises a phone number as the intake contract says: trimmed, "(0)"
// removed, spaces (also no-break), '-', '.', '/', '(' and ')' removed, a leading 00
// becomes +. ValidPhone tells whether the result is a telefoonnummer Open Klant accepts.
func NormalisePhone(p string) string {
	p = strings.ReplaceAll(strings.TrimSpace(p), "(0)", "")
	p = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\u00a0', '\u202f', '\t', '-', '.', '/', '(', ')':
			return -1
		}
		return r
	}, p)
	if strings.HasPrefix(p, "00") {
		p = "+" + p[2:]
	}
	return p
}
