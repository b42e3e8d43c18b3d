package mail

import (
	"strings"

	"golang.org/x/net/html"
)

// htmlText renders an HTML body (already UTF-8) as readable plain text for mail that has
// no text part: paragraphs and <br> as line breaks, lists as "- " lines, links as
// "text (url)" when the url differs from the text, table rows as lines with the non-empty
// cells separated by " | " (a row whose cells hold several lines, a layout table, gives
// the cells as blocks instead), no <style>, <script>, <head> or <title> content, entities
// decoded, runs of blank lines collapsed to one, trimmed.
//
// It streams over the golang.org/x/net/html tokenizer, so broken HTML (unclosed tags,
// Outlook conditional comments, Word's <o:p>) costs nothing special, time is linear and
// memory is the size of the text plus the cells of open tables. Outlook's paragraphs
// (class=MsoNormal, margin 0) are lines, and an empty one a blank line, as they look.
func htmlText(s string) string {
	z := html.NewTokenizer(strings.NewReader(s))
	h := &htmlRenderer{}
	for {
		switch tt := z.Next(); tt {
		case html.ErrorToken:
			return h.finish()
		case html.TextToken:
			h.text(string(z.Text()))
		case html.StartTagToken, html.SelfClosingTagToken:
			name, hasAttr := z.TagName()
			var attrs map[string]string
			if hasAttr {
				attrs = tagAttrs(z)
			}
			h.start(string(name), attrs, tt == html.SelfClosingTagToken)
		case html.EndTagToken:
			name, _ := z.TagName()
			h.end(string(name))
		}
	}
}

// tagAttrs returns the attributes htmlText uses.
func tagAttrs(z *html.Tokenizer) map[string]string {
	var m map[string]string
	for more := true; more; {
		var k, v []byte
		k, v, more = z.TagAttr()
		switch string(k) {
		case "href", "alt", "class":
			if m == nil {
				m = map[string]string{}
			}
			m[string(k)] = string(v)
		}
	}
	return m
}

// Elements whose content is not text to read.
var htmlSkip = map[string]bool{
	"script": true, "style": true, "title": true, "noscript": true, "template": true,
	"xml": true, "iframe": true, "object": true, "noembed": true, "noframes": true,
}

// Elements that break the line (1) or start a paragraph (2), before and after.
var htmlBlock = map[string]int{
	"div": 1, "li": 1, "dt": 1, "dd": 1, "address": 1, "section": 1, "article": 1,
	"header": 1, "footer": 1, "nav": 1, "aside": 1, "main": 1, "figure": 1, "form": 1,
	"fieldset": 1, "caption": 1, "center": 1, "figcaption": 1, "details": 1, "summary": 1,
	"p": 2, "h1": 2, "h2": 2, "h3": 2, "h4": 2, "h5": 2, "h6": 2, "blockquote": 2,
	"pre": 2, "dl": 2, "hr": 2, "ul": 2, "ol": 2,
}

// maxListIndent is the deepest list indentation (each level two spaces).
const maxListIndent = 4

// maxTableDepth is how deep tables nest before inner ones are read as plain blocks (this
// bounds the copying of cell text).
const maxTableDepth = 8

// htmlRenderer is the state of htmlText.
type htmlRenderer struct {
	root   textBuf
	tables []*htmlTable
	deep   int // tables nested beyond maxTableDepth
	skip   int
	pre    int
	lists  int
	inHead bool
	para   struct { // the open <p>
		line bool // an Outlook MsoNormal paragraph: a line
		buf  *textBuf
		at   int
	}
	link struct {
		active bool
		href   string
		buf    *textBuf
		at     int
	}
}

// htmlTable is an open table: the cells of its current row.
type htmlTable struct {
	parent *textBuf
	cell   *textBuf
	cells  []string
}

// cur returns the buffer text goes to.
func (h *htmlRenderer) cur() *textBuf {
	if n := len(h.tables); n > 0 {
		if t := h.tables[n-1]; t.cell != nil {
			return t.cell
		}
		return h.tables[n-1].parent
	}
	return &h.root
}

func (h *htmlRenderer) text(s string) {
	if h.skip > 0 {
		return
	}
	if h.inHead {
		if strings.TrimSpace(s) == "" {
			return
		}
		h.inHead = false
	}
	if h.pre > 0 {
		h.cur().raw(s)
	} else {
		h.cur().words(s)
	}
}

func (h *htmlRenderer) start(name string, attrs map[string]string, selfClosing bool) {
	switch {
	case name == "head":
		h.inHead = true
		return
	case name == "body":
		h.inHead, h.skip = false, 0
		return
	case htmlSkip[name]:
		if !selfClosing {
			h.skip++
		}
		return
	case h.inHead && !isHeadElement(name):
		h.inHead = false
	}
	if h.skip > 0 || h.inHead {
		return
	}
	h.startElement(name, attrs)
}

// listBreak is the break around a list: a paragraph, or a line for a nested list.
func listBreak(depth int) int {
	if depth > 1 {
		return 1
	}
	return 2
}

func isHeadElement(name string) bool {
	switch name {
	case "meta", "link", "base", "basefont", "bgsound":
		return true
	}
	return strings.Contains(name, ":") // <o:shapedefaults> and the like
}

func (h *htmlRenderer) startElement(name string, attrs map[string]string) {
	t := h.cur()
	switch name {
	case "br":
		t.lineBreak()
	case "a":
		h.endLink()
		h.link.active, h.link.href, h.link.buf, h.link.at = true, attrs["href"], t, t.b.Len()
	case "img":
		if h.link.active {
			t.words(attrs["alt"])
		}
	case "table", "tr", "td", "th":
		h.tableStart(name)
	case "p":
		h.endPara()
		h.para.line = strings.HasPrefix(strings.ToLower(attrs["class"]), "mso")
		if h.para.line {
			t.brk(1)
		} else {
			t.brk(2)
		}
		h.para.buf, h.para.at = t, t.b.Len()
	case "ul", "ol":
		h.lists++
		t.brk(listBreak(h.lists))
	case "li":
		t.brk(1)
		t.put(strings.Repeat("  ", min(max(h.lists-1, 0), maxListIndent)) + "- ")
	case "pre":
		h.pre++
		t.brk(2)
	default:
		t.brk(htmlBlock[name])
	}
}

func (h *htmlRenderer) end(name string) {
	switch {
	case name == "head":
		h.inHead = false
		return
	case htmlSkip[name]:
		h.skip = max(h.skip-1, 0)
		return
	case h.skip > 0 || h.inHead:
		return
	}
	t := h.cur()
	switch name {
	case "a":
		h.endLink()
	case "table", "tr", "td", "th":
		h.tableEnd(name)
	case "p":
		h.endPara()
	case "ul", "ol":
		t.brk(listBreak(h.lists))
		h.lists = max(h.lists-1, 0)
	case "pre":
		h.pre = max(h.pre-1, 0)
		t.brk(2)
	default:
		t.brk(htmlBlock[name])
	}
}

// endPara ends the open paragraph; an Outlook paragraph that held no text is a blank line.
func (h *htmlRenderer) endPara() {
	t := h.para.buf
	if t == nil {
		return
	}
	switch {
	case !h.para.line:
		t.brk(2)
	case t.b.Len() == h.para.at:
		t.blank()
	default:
		t.brk(1)
	}
	h.para.buf = nil
}

// endLink ends the open link: its url follows the text unless the text says the same.
func (h *htmlRenderer) endLink() {
	l := &h.link
	if !l.active {
		return
	}
	l.active = false
	t := l.buf
	if t != h.cur() || l.at > t.b.Len() {
		return
	}
	text := strings.TrimSpace(t.b.String()[l.at:])
	href := strings.TrimSpace(l.href)
	lower := strings.ToLower(href)
	if text == "" || href == "" || strings.HasPrefix(href, "#") || strings.HasPrefix(lower, "javascript:") || sameLink(text, href) {
		return
	}
	if strings.HasPrefix(lower, "mailto:") {
		href = href[len("mailto:"):]
	}
	t.space = true
	t.put("(" + href + ")")
}

// sameLink reports whether a link's text is its url, give or take the scheme, "mailto:"
// and a trailing slash.
func sameLink(text, href string) bool {
	norm := func(s string) string {
		s = strings.ToLower(s)
		for _, p := range []string{"mailto:", "https://", "http://"} {
			s = strings.TrimPrefix(s, p)
		}
		return strings.TrimSuffix(s, "/")
	}
	return norm(text) == norm(href)
}

func (h *htmlRenderer) finish() string {
	h.endLink()
	h.endPara()
	for len(h.tables) > 0 {
		h.tableEnd("table")
	}
	return tidyLines(h.root.b.String())
}

// textBuf collects text with pending white space and line breaks.
type textBuf struct {
	b        strings.Builder
	nl       int  // line breaks due before the next text: 1 a line, 2 a paragraph
	space    bool // a space is due before the next text
	endSpace bool // the text ends with a space
}

// brk asks for a line break (1) or a paragraph break (2) before the next text.
func (t *textBuf) brk(n int) {
	t.nl = max(t.nl, n)
}

// lineBreak adds a line break (<br>): two in a row leave a blank line.
func (t *textBuf) lineBreak() { t.nl = min(t.nl+1, 2) }

// blank asks for a blank line before the next text, also at the start of the text.
func (t *textBuf) blank() { t.nl = 2 }

// put writes s after the pending breaks or space.
func (t *textBuf) put(s string) {
	if s == "" {
		return
	}
	switch {
	case t.nl > 0 && t.b.Len() > 0:
		t.b.WriteString("\n\n"[:t.nl])
	case t.space && t.b.Len() > 0 && !t.endSpace:
		t.b.WriteByte(' ')
	}
	t.nl, t.space, t.endSpace = 0, false, s[len(s)-1] == ' '
	t.b.WriteString(s)
}

// words writes text with its white space collapsed.
func (t *textBuf) words(s string) {
	f := strings.Fields(s)
	if len(f) == 0 && s != "" || strings.TrimLeftFunc(s, isHTMLSpace) != s {
		t.space = true
	}
	for i, w := range f {
		if i > 0 {
			t.space = true
		}
		t.put(w)
	}
	if len(f) > 0 {
		t.space = strings.TrimRightFunc(s, isHTMLSpace) != s
	}
}

func isHTMLSpace(r rune) bool {
	return r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\f' || r == '\u00a0'
}

// raw writes preformatted text: spaces kept, newlines as line breaks.
func (t *textBuf) raw(s string) {
	for i, line := range strings.Split(strings.ReplaceAll(s, "\r\n", "\n"), "\n") {
		if i > 0 {
			t.lineBreak()
		}
		t.put(strings.ReplaceAll(line, "\u00a0", " "))
	}
}

// tidyLines trims the end of every line, collapses runs of blank lines to one and trims
// the whole.
func tidyLines(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	blank := false
	for line := range strings.SplitSeq(s, "\n") {
		line = strings.TrimRightFunc(line, isHTMLSpace)
		if line == "" {
			blank = b.Len() > 0
			continue
		}
		if b.Len() > 0 {
			b.WriteByte('\n')
			if blank {
				b.WriteByte('\n')
			}
		}
		blank = false
		b.WriteString(line)
	}
	return strings.TrimSpace(b.String())
}
