package mail

import (
	"encoding/base64"
	"testing"

	"golang.org/x/text/encoding/japanese"
)

func TestWordsDecodeHeaderText(t *testing.T) {
	// "één" split inside the first "é" (C3 A9) across two words.
	raw := []byte("één vraag")
	split := "=?utf-8?B?" + base64.StdEncoding.EncodeToString(raw[:1]) + "?= =?UTF-8?B?" + base64.StdEncoding.EncodeToString(raw[1:]) + "?="
	jis := mustEncode(t, japanese.ISO2022JP, "こんにちは")
	tests := []struct {
		name, in, want string
		repairs        repair
	}{
		{"plain", "Vraag over de WOZ-beschikking", "Vraag over de WOZ-beschikking", 0},
		{"B", "=?UTF-8?B?w6nDqW4gdnJhYWc=?=", "één vraag", 0},
		{"lower-case b", "=?utf-8?b?w6nDqW4gdnJhYWc=?=", "één vraag", 0},
		{"Q", "=?UTF-8?Q?=C3=A9=C3=A9n_vraag?=", "één vraag", 0},
		{"lower-case q and hex", "=?utf-8?q?=c3=a9=c3=a9n_vraag?=", "één vraag", 0},
		{"iso-8859-1 Q", "=?iso-8859-1?Q?caf=E9?=", "café", 0},
		{"iso-2022-jp B", "=?ISO-2022-JP?B?" + base64.StdEncoding.EncodeToString([]byte(jis)) + "?=", "こんにちは", 0},
		{"adjacent words", "=?utf-8?Q?een?= =?utf-8?Q?_vraag?=", "een vraag", 0},
		{"adjacent folded", "=?utf-8?Q?een?=\r\n =?utf-8?Q?_vraag?=", "een vraag", 0},
		{"split character", split, "één vraag", 0},
		{"adjacent, other charsets", "=?iso-8859-1?Q?caf=E9?= =?utf-8?Q?_=C3=A9?=", "café é", 0},
		{"text around words", "Re: =?utf-8?Q?caf=C3=A9?= - =?utf-8?Q?b?= x", "Re: café - b x", 0},
		{"in a quoted string", `"=?utf-8?Q?Jan_Jansen?=" <jan@example.nl>`, `"Jan Jansen" <jan@example.nl>`, 0},
		{"inside a word", "Re:=?utf-8?Q?caf=C3=A9?=s", "Re:cafés", 0},
		{"RFC 2231 language", "=?utf-8*nl?Q?caf=C3=A9?=", "café", 0},
		{"raw UTF-8", "één vraag", "één vraag", 0},
		{"raw windows-1252", "caf\xe9 \x80", "café €", 0},
		{"not a word", "a =? b ?= c =?x?y?z", "a =? b ?= c =?x?y?z", 0},
		{"encoded line break", "=?utf-8?Q?a=0D=0Ab?=", "a b", 0},
		{"missing ?=", "=?utf-8?Q?caf=C3=A9", "café", repairWords},
		{"missing =", "=?utf-8?B?w6nDqW4=?", "één", repairWords},
		{"missing ?= then text", "=?utf-8?B?w6nDqW4= vraag", "één vraag", repairWords},
		{"missing ?= before a word", "=?utf-8?Q?een =?utf-8?Q?vraag?=", "een vraag", repairWords},
		{"spaces inside B", "=?utf-8?B?w6nDqW4g dnJhYWc=?=", "één vraag", repairWords},
		{"spaces inside Q", "=?iso-8859-1?Q?Re: aanvraag caf=E9?=", "Re: aanvraag café", repairWords},
		{"base64 without padding", "=?utf-8?B?w6k?=", "é", repairWords},
		{"base64 with junk", "=?utf-8?B?w6k*=?=", "é", repairWords},
		{"Q bad escape", "=?utf-8?Q?100=ZZ?=", "100=ZZ", repairWords},
		{"empty charset", "=??Q?abc?=", "abc", repairWords},
		{"unknown charset", "=?x-foo?Q?caf=E9?=", "café", repairCharsetUnknown},
		{"charset lied", "=?utf-8?Q?caf=E9?=", "café", repairCharset},
		{"control", "a\x01b\x7f", "ab", repairControl},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var rep repairs
			if got := decodeHeaderText(tc.in, &rep); got != tc.want {
				t.Errorf("decodeHeaderText(%q) = %q, want %q", tc.in, got, tc.want)
			}
			checkRepairs(t, "decodeHeaderText("+tc.in+")", &rep, tc.repairs)
		})
	}
}
