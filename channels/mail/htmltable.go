package mail

import "strings"

// Tables of the HTML renderer (html.go): rows as lines, cells separated by " | ".

func (h *htmlRenderer) tableStart(name string) {
	if name == "table" && (h.deep > 0 || len(h.tables) >= maxTableDepth) {
		h.deep++
	}
	if h.deep > 0 || len(h.tables) == 0 && name != "table" {
		h.cur().brk(1) // a cell without a table, or too deep: a block
		return
	}
	if name == "table" {
		h.endPara()
		t := h.cur()
		t.brk(1)
		h.tables = append(h.tables, &htmlTable{parent: t})
		return
	}
	tb := h.tables[len(h.tables)-1]
	h.closeCell(tb)
	if name == "tr" {
		h.closeRow(tb)
		return
	}
	tb.cell = &textBuf{}
}

func (h *htmlRenderer) tableEnd(name string) {
	switch {
	case h.deep > 0:
		if name == "table" {
			h.deep--
		}
		h.cur().brk(1)
		return
	case len(h.tables) == 0:
		return
	}
	tb := h.tables[len(h.tables)-1]
	h.closeCell(tb)
	if name == "td" || name == "th" {
		return
	}
	h.closeRow(tb)
	if name == "table" {
		h.tables = h.tables[:len(h.tables)-1]
		tb.parent.brk(1)
	}
}

func (h *htmlRenderer) closeCell(tb *htmlTable) {
	if tb.cell == nil {
		return
	}
	if h.link.active && h.link.buf == tb.cell {
		h.endLink()
	}
	if h.para.buf == tb.cell {
		h.endPara()
	}
	if s := tidyLines(tb.cell.b.String()); s != "" {
		tb.cells = append(tb.cells, s)
	}
	tb.cell = nil
}

// closeRow writes the cells of the row: on one line with " | " if each is one line, else
// as blocks.
func (h *htmlRenderer) closeRow(tb *htmlTable) {
	if len(tb.cells) == 0 {
		return
	}
	t, sep := tb.parent, 1
	for _, c := range tb.cells {
		if strings.Contains(c, "\n") {
			sep = 2
		}
	}
	t.brk(1)
	if sep == 1 {
		t.put(strings.Join(tb.cells, " | "))
	} else {
		for _, c := range tb.cells {
			t.brk(2)
			t.put(c)
		}
	}
	t.brk(sep)
	tb.cells = tb.cells[:0]
}
