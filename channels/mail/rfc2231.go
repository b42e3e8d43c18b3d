package mail

import (
	"sort"
	"strconv"
	"strings"
)

// rfc2231Section is one section of an RFC 2231 parameter: name*N or name*N*.
type rfc2231Section struct {
	value    string
	extended bool
}

// store keeps a parameter: plain ones in params (the first of duplicates wins), RFC 2231
// ones ("name*", "name*0", "name*1*") in p.ext until assemble.
func (p *mtParser) store(name, value string) {
	base, rest, is2231 := strings.Cut(name, "*")
	if base == "" {
		p.damaged() // "*=x": no name
		return
	}
	if !is2231 {
		if _, dup := p.params[name]; dup {
			p.damaged()
			return
		}
		if name != "boundary" {
			value = decodeHeaderText(value, p.r)
		}
		p.params[name] = value
		return
	}
	sec := rfc2231Section{value: value, extended: strings.HasSuffix(name, "*")}
	rest = strings.TrimSuffix(rest, "*")
	n := 0
	if rest != "" || !sec.extended {
		var err error
		if n, err = strconv.Atoi(rest); err != nil || n < 0 || n > 999 || (len(rest) > 1 && rest[0] == '0') {
			p.damaged() // not a section number
			return
		}
	}
	if p.ext == nil {
		p.ext = map[string]map[int]rfc2231Section{}
	}
	if p.ext[base] == nil {
		p.ext[base] = map[int]rfc2231Section{}
	}
	if _, dup := p.ext[base][n]; dup {
		p.damaged()
		return
	}
	p.ext[base][n] = sec
}

// assemble joins the sections of every RFC 2231 parameter and decodes them; the result
// replaces a plain parameter of the same name.
func (p *mtParser) assemble() {
	for base, secs := range p.ext {
		nums := make([]int, 0, len(secs))
		for n := range secs {
			nums = append(nums, n)
		}
		sort.Ints(nums)
		var raw []byte
		charset, extended := "", false
		for k, n := range nums {
			if n != k {
				p.damaged() // a missing section
			}
			sec := secs[n]
			if !sec.extended {
				raw = append(raw, sec.value...)
				continue
			}
			extended = true
			v := sec.value
			if k == 0 {
				var ok bool
				if charset, v, ok = splitExtValue(v); !ok {
					p.damaged()
				}
			}
			raw = p.unescape(raw, v)
		}
		switch {
		case base == "boundary":
			p.params[base] = string(raw)
		case !extended:
			p.params[base] = decodeHeaderText(string(raw), p.r) // name*0="=?utf-8?B?...", name*1="...?="
		default:
			p.params[base] = decodeText(raw, charset, p.r)
		}
	}
}

// splitExtValue splits an RFC 2231 ext-value "charset'language'value".
func splitExtValue(v string) (charset, value string, ok bool) {
	cs, rest, ok1 := strings.Cut(v, "'")
	_, value, ok2 := strings.Cut(rest, "'")
	if !ok1 || !ok2 {
		return "", v, false
	}
	return cs, value, true
}

// unescape appends the %XX-decoded v to dst; a '%' that starts no escape stays.
func (p *mtParser) unescape(dst []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		if v[i] == '%' {
			if i+2 < len(v) && unhex(v[i+1]) < 16 && unhex(v[i+2]) < 16 {
				dst = append(dst, unhex(v[i+1])<<4|unhex(v[i+2]))
				i += 2
				continue
			}
			p.damaged()
		}
		dst = append(dst, v[i])
	}
	return dst
}
