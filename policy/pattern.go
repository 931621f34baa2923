package policy

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// pattern is a compiled glob: * matches any run of characters, ? one
// character; with variables, ${key} is replaced by the request's value of
// key when matching (a missing value matches nothing).
type pattern struct {
	raw     string
	lower   bool // case-insensitive: the pattern is lower-cased, subjects must be too
	literal bool // no wildcard and no variable: plain comparison
	toks    []token
	vars    bool
}

type tokKind uint8

const (
	tokLit tokKind = iota
	tokStar
	tokQuest
	tokVar
)

type token struct {
	kind tokKind
	s    string // literal text, or the variable's key (normalized)
}

// compilePattern compiles s; vars enables ${...} policy variables.
func compilePattern(s string, lower, vars bool) (pattern, error) {
	if lower {
		s = strings.ToLower(s)
	}
	p := pattern{raw: s, lower: lower}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			p.toks = append(p.toks, token{kind: tokLit, s: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '*':
			flush()
			if n := len(p.toks); n == 0 || p.toks[n-1].kind != tokStar {
				p.toks = append(p.toks, token{kind: tokStar})
			}
		case c == '?':
			flush()
			p.toks = append(p.toks, token{kind: tokQuest})
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return p, errors.New("unterminated policy variable ${")
			}
			name := s[i+2 : i+end]
			i += end
			switch name {
			case "*", "?", "$":
				lit.WriteString(name)
				continue
			}
			k, ok := normalizeKey(name)
			if !ok || !variableKeys[k] {
				return p, errors.New("unknown policy variable ${" + name + "}")
			}
			flush()
			p.toks = append(p.toks, token{kind: tokVar, s: k})
			p.vars = true
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	p.literal = len(p.toks) == 0 || len(p.toks) == 1 && p.toks[0].kind == tokLit
	return p, nil
}

// variableKeys are the keys a policy variable may name.
var variableKeys = map[string]bool{
	KeyUsername: true, KeyUserID: true, KeyPrincipalAccount: true,
	KeySourceIP: true, KeyCurrentTime: true, KeySecureTransport: true,
}

// match reports whether subject matches; vars supplies variable values.
func (p *pattern) match(subject string, vars map[string]string) bool {
	if p.literal {
		if len(p.toks) == 0 {
			return subject == ""
		}
		return subject == p.toks[0].s
	}
	toks := p.toks
	if p.vars {
		toks = make([]token, len(p.toks))
		for i, t := range p.toks {
			if t.kind == tokVar {
				v, ok := vars[t.s]
				if !ok {
					return false
				}
				if p.lower {
					v = strings.ToLower(v)
				}
				t = token{kind: tokLit, s: v}
			}
			toks[i] = t
		}
	}
	return globMatch(toks, subject)
}

// globMatch matches with the classic backtracking over the last star:
// linear in practice, O(len(toks)*len(s)) at worst.
func globMatch(toks []token, s string) bool {
	ti, si := 0, 0
	starTi, starSi := -1, 0
	for {
		if ti < len(toks) {
			t := toks[ti]
			switch t.kind {
			case tokStar:
				starTi, starSi = ti, si
				ti++
				continue
			case tokQuest:
				if si < len(s) {
					_, n := utf8.DecodeRuneInString(s[si:])
					si += n
					ti++
					continue
				}
			case tokLit:
				if strings.HasPrefix(s[si:], t.s) {
					si += len(t.s)
					ti++
					continue
				}
			}
		} else if si == len(s) {
			return true
		}
		if starTi < 0 || starSi >= len(s) {
			return false
		}
		// Let the last star eat one more character and retry after it.
		_, n := utf8.DecodeRuneInString(s[starSi:])
		starSi += n
		ti, si = starTi+1, starSi
	}
}
