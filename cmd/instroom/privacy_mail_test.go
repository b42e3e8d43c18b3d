package main

import (
	"fmt"
	"strings"
)

// Mails for the log-privacy test: every header and part a person writes holds a secret.

// privateMail is an ordinary mail: display names, addresses, subject, Message-ID, the
// text and HTML bodies, and the names and contents of two attachments (one name in RFC
// 2231 form) are secrets. It returns the mail and its subject secret.
func privateMail(s *secretSet, where string) ([]byte, string) {
	subject := s.word(where + " mail subject")
	var b strings.Builder
	fmt.Fprintf(&b, "From: \"%s Burger\" <%s>\r\n", s.word(where+" From display name"), s.email(where+" From address"))
	fmt.Fprintf(&b, "To: \"%s\" <%s>\r\n", s.word(where+" To display name"), s.email(where+" To address"))
	fmt.Fprintf(&b, "Cc: %s\r\nReply-To: %s\r\n", s.email(where+" Cc address"), s.email(where+" Reply-To address"))
	fmt.Fprintf(&b, "Subject: Melding %s over de straat\r\n", subject)
	fmt.Fprintf(&b, "Date: Fri, 20 Nov 2026 09:14:07 +0100\r\nMessage-ID: <%s@mail.example>\r\nMIME-Version: 1.0\r\n", s.word(where+" Message-ID"))
	b.WriteString("Content-Type: multipart/mixed; boundary=\"buiten\"\r\n\r\n")
	b.WriteString("--buiten\r\nContent-Type: multipart/alternative; boundary=\"binnen\"\r\n\r\n")
	fmt.Fprintf(&b, "--binnen\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGeachte gemeente,\r\n\r\n%s. Bel mij op %s.\r\n\r\n", s.word(where+" text body"), s.phone(where+" phone in the body"))
	fmt.Fprintf(&b, "--binnen\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>%s</p><table><tr><td>%s</td></tr></table></body></html>\r\n", s.word(where+" HTML body"), s.word(where+" HTML table cell"))
	b.WriteString("--binnen--\r\n")
	fmt.Fprintf(&b, "--buiten\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename=\"%s.pdf\"\r\n\r\n%%PDF-1.4 %s\r\n", s.word(where+" attachment file name"), s.word(where+" attachment content"))
	fmt.Fprintf(&b, "--buiten\r\nContent-Type: text/plain; name*=utf-8''%s%%20notitie.txt\r\nContent-Disposition: attachment; filename*=utf-8''%s%%20notitie.txt\r\n\r\n%s\r\n",
		s.word(where+" attachment name (RFC 2231, Content-Type)"), s.word(where+" attachment file name (RFC 2231)"), s.word(where+" text attachment content"))
	b.WriteString("--buiten--\r\n")
	return []byte(b.String()), subject
}

// damagedMail is a mail the parser repairs: a header line without a colon, an unknown
// charset, an encoded word that does not decode, an attachment that is not valid base64,
// and no closing boundary. Each holds a secret. It is still registered.
func damagedMail(s *secretSet, where string) ([]byte, string) {
	subject := s.word(where + " damaged mail subject")
	var b strings.Builder
	fmt.Fprintf(&b, "From: %s <%s>\r\n", s.word(where+" damaged From name"), s.email(where+" damaged From address"))
	fmt.Fprintf(&b, "Subject: =?utf-8?q?%s_kapot?= =?x-%s?b?!!!?=\r\n", subject, strings.ToLower(s.word(where+" charset of an encoded word")))
	fmt.Fprintf(&b, "%s deze regel heeft geen dubbele punt\r\n", s.word(where+" header line without a colon"))
	b.WriteString("Date: Fri, 20 Nov 2026 10:00:00 +0100\r\nContent-Type: multipart/mixed; boundary=\"x\"\r\n\r\n")
	fmt.Fprintf(&b, "--x\r\nContent-Type: text/plain; charset=x-%s\r\n\r\n%s \xff\xfe\r\n", strings.ToLower(s.word(where+" unknown body charset")), s.word(where+" damaged body"))
	fmt.Fprintf(&b, "--x\r\nContent-Type: application/octet-stream; name=\"%s.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n!!!%s!!!\r\n", s.word(where+" damaged attachment name"), s.word(where+" invalid base64"))
	return []byte(b.String()), subject
}

// notAMail is refused as unparseable: no header section, secrets in what there is.
func notAMail(s *secretSet, where string) []byte {
	return fmt.Appendf(nil, "%%PDF-1.4\x00\x01 %s\r\n%s: %s\r\n", s.word(where+" bytes of a non-mail"), s.word(where+" header-like key of a non-mail"), s.word(where+" header-like value of a non-mail"))
}

// unknownHeaders is refused as unparseable: a header section without one known field,
// with secrets in the field names and values.
func unknownHeaders(s *secretSet, where string) []byte {
	return fmt.Appendf(nil, "X-%s: %s\r\nX-Kenmerk: %s\r\n\r\n%s\r\n", s.word(where+" unknown header name"), s.word(where+" unknown header value"), s.email(where+" address in an unknown header"), s.word(where+" body after unknown headers"))
}

// largeMail is over limits.max_message_bytes (256 KiB in the test).
func largeMail(s *secretSet, where string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "From: \"%s\" <%s>\r\nSubject: %s\r\nDate: Fri, 20 Nov 2026 11:00:00 +0100\r\n", s.word(where+" large mail From name"), s.email(where+" large mail From address"), s.word(where+" large mail subject"))
	fmt.Fprintf(&b, "Content-Type: text/plain\r\n\r\n%s\r\n", s.word(where+" large mail body"))
	for b.Len() < 300<<10 {
		b.WriteString(strings.Repeat("Lange tekst van een te grote mail. ", 2) + "\r\n")
	}
	return []byte(b.String())
}
