package mail

import (
	"strings"
	"testing"
	"time"
)

// outlookHTML is an HTML-only mail as Outlook (Word) writes it.
const outlookHTML = `<html xmlns:o="urn:schemas-microsoft-com:office:office"><head>
<meta http-equiv=Content-Type content="text/html; charset=utf-8"><title>WOZ</title>
<style><!--
p.MsoNormal {margin:0cm; font-family:"Calibri",sans-serif;}
--></style><!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]-->
</head><body lang=NL link="#0563C1"><div class=WordSection1>
<p class=MsoNormal>Geachte heer/mevrouw,<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>Hierbij maak ik bezwaar tegen de WOZ-beschikking van mijn woning aan de <b>Dorpsstraat&nbsp;12</b>.
Zie <a href="https://www.wozwaardeloket.nl/">het WOZ-waardeloket</a> en <a href="mailto:belastingen@gemeente.nl">belastingen@gemeente.nl</a>.<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<table class=MsoTableGrid border=1><tr><td><p class=MsoNormal>Kenmerk<o:p></o:p></p></td><td><p class=MsoNormal>2026-123<o:p></o:p></p></td></tr>
<tr><td><p class=MsoNormal>Bedrag</p></td><td></td><td><p class=MsoNormal>&euro; 1.234<o:p></o:p></p></td></tr></table>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoListParagraph><![if !supportLists]><span style='font-family:Symbol'>·<span style='font:7.0pt "Times New Roman"'>&nbsp;&nbsp;&nbsp; </span></span><![endif]>taxatieverslag<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<p class=MsoNormal>Met vriendelijke groet,<o:p></o:p></p>
<p class=MsoNormal>Jan Jansen<o:p></o:p></p>
<p class=MsoNormal><o:p>&nbsp;</o:p></p>
<div><div style='border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm'>
<p class=MsoNormal><b>Van:</b> Gemeente &lt;info@gemeente.nl&gt; <br><b>Verzonden:</b> maandag 3 november 2026 10:12<br><b>Onderwerp:</b> Uw aanslag<o:p></o:p></p>
</div></div></div></body></html>`

const outlookText = `Geachte heer/mevrouw,

Hierbij maak ik bezwaar tegen de WOZ-beschikking van mijn woning aan de Dorpsstraat 12. Zie het WOZ-waardeloket (https://www.wozwaardeloket.nl/) en belastingen@gemeente.nl.

Kenmerk | 2026-123
Bedrag | € 1.234

· taxatieverslag

Met vriendelijke groet,
Jan Jansen

Van: Gemeente <info@gemeente.nl>
Verzonden: maandag 3 november 2026 10:12
Onderwerp: Uw aanslag`

func TestHTMLText(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"Outlook", outlookHTML, outlookText},
		{"paragraphs", "<p>Eén</p><p>Twee</p>", "Eén\n\nTwee"},
		{"br", "regel 1<br>regel 2<br/>regel 3", "regel 1\nregel 2\nregel 3"},
		{"br run", "a<br><br><br><br>b", "a\n\nb"},
		{"divs", "<div>a</div><div>b</div><div><br></div><div>c</div>", "a\nb\n\nc"},
		{"white space", "  een\n\t twee&nbsp;&nbsp;drie  ", "een twee drie"},
		{"inline tags", "<b>vet</b> en <i>schuin</i>, <span>los</span>", "vet en schuin, los"},
		{"list", "<p>Lijst:</p><ul><li>een</li><li>twee</li></ul><p>Na</p>", "Lijst:\n\n- een\n- twee\n\nNa"},
		{"nested list", "<ul><li>een<ol><li>a</li></ol></li><li>twee</li></ul>", "- een\n  - a\n- twee"},
		{"link", `Zie <a href="https://www.gemeente.nl/woz">de site</a>.`, "Zie de site (https://www.gemeente.nl/woz)."},
		{"link is url", `<a href="https://www.gemeente.nl/">https://www.gemeente.nl/</a>`, "https://www.gemeente.nl/"},
		{"link without scheme", `<a href="http://www.gemeente.nl">www.gemeente.nl</a>`, "www.gemeente.nl"},
		{"mailto", `<a href="mailto:kcc@gemeente.nl">Mail ons</a>`, "Mail ons (kcc@gemeente.nl)"},
		{"anchor link", `<a href="#top">boven</a>`, "boven"},
		{"image link", `<a href="https://x.nl/"><img src="logo.png" alt="Logo"></a>`, "Logo (https://x.nl/)"},
		{"image without alt", `<a href="https://x.nl/"><img src="pixel.gif"></a>tekst`, "tekst"},
		{"unclosed link", `<a href="https://x.nl/a">klik`, "klik (https://x.nl/a)"},
		{"table", "<table><tr><th>Naam</th><th>Waarde</th></tr><tr><td>a</td><td></td><td>b</td></tr></table>", "Naam | Waarde\na | b"},
		{"layout table", "<table><tr><td><p>Alinea 1</p><p>Alinea 2</p></td><td>Zijkant</td></tr></table>", "Alinea 1\n\nAlinea 2\n\nZijkant"},
		{"nested table", "<table><tr><td><table><tr><td>a</td><td>b</td></tr></table></td></tr></table>", "a | b"},
		{"unclosed table", "<table><tr><td>a<td>b<tr><td>c", "a | b\nc"},
		{"cell without table", "<td>a</td><td>b</td>", "a\nb"},
		{"head, style and script", "<head><title>Titel</title><style>p{}</style></head><body><script>alert(1)</script>tekst</body>", "tekst"},
		{"unclosed head", "<head><title>Titel</title>Hallo", "Hallo"},
		{"conditional comments", "<!--[if mso]><p>alleen Outlook</p><![endif]--><!--[if !mso]><!-->tekst<!--<![endif]-->", "tekst"},
		{"Word o:p", "<p class=MsoNormal>a<o:p></o:p></p><p class=MsoNormal>b<o:p>&nbsp;</o:p></p>", "a\nb"},
		{"entities", "&amp; &lt;b&gt; &euro; &eacute;&#233;&#x20AC; &quot;", "& <b> € éé€ \""},
		{"blank line runs", "<p>a</p><p></p><p>&nbsp;</p><br><br><div></div><p>b</p>", "a\n\nb"},
		{"unclosed tags", "<p>a<p>b<div>c", "a\n\nb\nc"},
		{"pre", "voor<pre>  code\n    meer\n\n</pre>na", "voor\n\n  code\n    meer\n\nna"},
		{"pre first", "<pre>  code</pre>", "code"},
		{"blockquote", "<p>Antwoord</p><blockquote><p>Vraag</p></blockquote>", "Antwoord\n\nVraag"},
		{"headings", "<h1>Kop</h1>tekst", "Kop\n\ntekst"},
		{"broken markup", "<p <b>>a</b> < c <", ">a < c <"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := htmlText(tc.in); got != tc.want {
				t.Errorf("htmlText(%q) =\n%q\nwant\n%q", tc.in, got, tc.want)
			}
		})
	}
}

// TestHTMLTextLinear checks that deeply nested and unclosed markup stays fast.
func TestHTMLTextLinear(t *testing.T) {
	for _, unit := range []string{"<div>", "<table><tr><td>", "<ul><li>", "<a href=x>a", "<p class=MsoNormal>", "<td>x", "<tr>"} {
		in := strings.Repeat(unit, 50_000)
		start := time.Now()
		out := htmlText(in)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("htmlText(%q x 50000) took %v", unit, d)
		}
		if len(out) > 20*len(in) {
			t.Errorf("htmlText(%q x 50000) is %d bytes for %d bytes of HTML", unit, len(out), len(in))
		}
	}
}
