package s3

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
)

func corsDoc(rules ...string) string {
	return `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` + strings.Join(rules, "") + `</CORSConfiguration>`
}

func TestParseCORS(t *testing.T) {
	rule := `<CORSRule><AllowedOrigin>https://a.example</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`
	var many strings.Builder
	for i := 0; i <= corsMaxRules; i++ {
		many.WriteString(rule)
	}
	cases := []struct {
		name string
		doc  string
		err  error  // nil: valid
		msg  string // part of the client message
	}{
		{"minimal", corsDoc(rule), nil, ""},
		{"no namespace", `<CORSConfiguration>` + rule + `</CORSConfiguration>`, nil, ""},
		{"every element", corsDoc(`<CORSRule><ID>r1</ID><AllowedHeader>x-amz-*</AllowedHeader><AllowedHeader>*</AllowedHeader><AllowedMethod>GET</AllowedMethod><AllowedMethod>PUT</AllowedMethod><AllowedMethod>HEAD</AllowedMethod><AllowedMethod>POST</AllowedMethod><AllowedMethod>DELETE</AllowedMethod><AllowedOrigin>http://*.example.com</AllowedOrigin><AllowedOrigin>*</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds> 3000 </MaxAgeSeconds></CORSRule>`), nil, ""},
		{"empty origin", corsDoc(`<CORSRule><AllowedOrigin></AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), nil, ""},
		{"100 rules", corsDoc(strings.Repeat(rule, corsMaxRules)), nil, ""},
		{"empty body", "", errMalformedXML, ""},
		{"no rules", corsDoc(), errMalformedXML, ""},
		{"empty rule", corsDoc(`<CORSRule/>`), errMalformedXML, ""},
		{"no origin", corsDoc(`<CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>`), errMalformedXML, ""},
		{"no method", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin></CORSRule>`), errMalformedXML, ""},
		{"wrong root", `<CORS>` + rule + `</CORS>`, errMalformedXML, ""},
		{"unknown element", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><Allowed>x</Allowed></CORSRule>`), errMalformedXML, ""},
		{"unknown rule-level element", corsDoc(rule, `<Other/>`), errMalformedXML, ""},
		{"nested element", corsDoc(`<CORSRule><AllowedOrigin><x/></AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), errMalformedXML, ""},
		{"two IDs", corsDoc(`<CORSRule><ID>a</ID><ID>b</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), errMalformedXML, ""},
		{"two max ages", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>1</MaxAgeSeconds><MaxAgeSeconds>2</MaxAgeSeconds></CORSRule>`), errMalformedXML, ""},
		{"max age not a number", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>soon</MaxAgeSeconds></CORSRule>`), errMalformedXML, ""},
		{"text in rule", corsDoc(`<CORSRule>x<AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), errMalformedXML, ""},
		{"truncated", corsDoc(rule)[:40], errMalformedXML, ""},
		{"trailing element", corsDoc(rule) + "<x/>", errMalformedXML, ""},
		{"101 rules", corsDoc(many.String()), errInvalidRequest, "should not exceed allowed limit of 100 rules"},
		{"bad method", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>MYMETHOD</AllowedMethod></CORSRule>`), errInvalidRequest, "Unsupported method is MYMETHOD"},
		{"OPTIONS method", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>OPTIONS</AllowedMethod></CORSRule>`), errInvalidRequest, "Unsupported method is OPTIONS"},
		{"lower-case method", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>get</AllowedMethod></CORSRule>`), errInvalidRequest, "Unsupported method is get"},
		{"empty method", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod></AllowedMethod></CORSRule>`), errInvalidRequest, "Unsupported method is "},
		{"two origin wildcards", corsDoc(`<CORSRule><AllowedOrigin>*example*.com</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), errInvalidRequest, `AllowedOrigin "*example*.com" can not have more than one wildcard.`},
		{"two header wildcards", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedHeader>x-*-*</AllowedHeader></CORSRule>`), errInvalidRequest, `AllowedHeader "x-*-*" can not have more than one wildcard.`},
		{"expose wildcard", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><ExposeHeader>*</ExposeHeader></CORSRule>`), errInvalidRequest, "We currently do not support wildcard for ExposeHeader."},
		{"long ID", corsDoc(`<CORSRule><ID>` + strings.Repeat("i", corsMaxID+1) + `</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod></CORSRule>`), errInvalidRequest, "no more than 255"},
		{"negative max age", corsDoc(`<CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><MaxAgeSeconds>-1</MaxAgeSeconds></CORSRule>`), errInvalidRequest, "MaxAgeSeconds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := parseCORS([]byte(tc.doc))
			if tc.err == nil {
				if err != nil {
					t.Fatal(err)
				}
				// The canonical form parses back to the same rules.
				again, err := parseCORS([]byte(c.encode()))
				if err != nil || again.encode() != c.encode() {
					t.Fatalf("canonical form %q: %v", c.encode(), err)
				}
				return
			}
			if !errors.Is(err, tc.err) {
				t.Fatalf("err %v, want %v", err, tc.err)
			}
			row, _ := lookupError(err)
			if !strings.Contains(row.message, tc.msg) {
				t.Fatalf("message %q, want it to contain %q", row.message, tc.msg)
			}
		})
	}
}

func TestCORSCanonicalOrder(t *testing.T) {
	c, err := parseCORS([]byte(corsDoc(`<CORSRule><MaxAgeSeconds>5</MaxAgeSeconds><AllowedOrigin>https://b</AllowedOrigin><AllowedOrigin>https://a</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><ID>x</ID><AllowedHeader>X-Amz-Meta-A</AllowedHeader></CORSRule>`)))
	if err != nil {
		t.Fatal(err)
	}
	want := `<CORSConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><CORSRule><ID>x</ID><AllowedHeader>X-Amz-Meta-A</AllowedHeader><AllowedMethod>PUT</AllowedMethod><AllowedOrigin>https://b</AllowedOrigin><AllowedOrigin>https://a</AllowedOrigin><MaxAgeSeconds>5</MaxAgeSeconds></CORSRule></CORSConfiguration>`
	if got := c.encode(); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

func TestWildcardMatch(t *testing.T) {
	cases := []struct {
		pattern, s string
		want       bool
	}{
		{"*", "", true},
		{"*", "http://anything:1", true},
		{"https://a.example", "https://a.example", true},
		{"https://a.example", "HTTPS://A.EXAMPLE", true},
		{"https://a.example", "http://a.example", false},
		{"https://a.example", "https://a.example:443", false},
		{"https://a.example", "https://a.example/", false},
		{"http://*.example.com", "http://test.example.com", true},
		{"http://*.example.com", "http://.example.com", true},
		{"http://*.example.com", "http://example.com", false},
		{"http://*.example.com", "http://a.example.com.evil", false},
		{"*suffix", "foo.suffix", true},
		{"start*end", "startend", true},
		{"start*end", "start12end", true},
		{"start*end", "0start12end", false},
		{"start*end", "startxend0", false},
		{"prefix*", "prefix", true},
		{"prefix*", "bla.prefix", false},
		{"ab*ba", "aba", false}, // prefix and suffix must not overlap
		{"x-amz-*", "x-amz-date", true},
		{"X-AMZ-*", "x-amz-date", true},
		{"x-amz-*", "content-type", false},
	}
	for _, tc := range cases {
		if got := wildcardMatch(tc.pattern, tc.s); got != tc.want {
			t.Errorf("wildcardMatch(%q, %q) = %v, want %v", tc.pattern, tc.s, got, tc.want)
		}
	}
}

func TestCORSMatch(t *testing.T) {
	c, err := parseCORS([]byte(corsDoc(
		`<CORSRule><ID>put</ID><AllowedOrigin>https://app.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedHeader>content-type</AllowedHeader><AllowedHeader>x-amz-*</AllowedHeader><ExposeHeader>ETag</ExposeHeader><ExposeHeader>x-amz-request-id</ExposeHeader><MaxAgeSeconds>3000</MaxAgeSeconds></CORSRule>`,
		`<CORSRule><ID>get</ID><AllowedOrigin>*</AllowedOrigin><AllowedMethod>GET</AllowedMethod><AllowedMethod>HEAD</AllowedMethod></CORSRule>`,
		`<CORSRule><ID>any-put</ID><AllowedOrigin>http://*.dev.example</AllowedOrigin><AllowedMethod>PUT</AllowedMethod><AllowedMethod>GET</AllowedMethod><AllowedHeader>*</AllowedHeader></CORSRule>`,
	)))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		req  corsRequest
		want string // rule ID, "" for no match
		hdr  map[string]string
	}{
		{corsRequest{"https://app.example", "PUT", nil}, "put", map[string]string{
			"Access-Control-Allow-Origin": "https://app.example", "Access-Control-Allow-Credentials": "true",
			"Access-Control-Allow-Methods": "PUT", "Access-Control-Expose-Headers": "ETag, x-amz-request-id",
			"Access-Control-Max-Age": "3000", "Vary": corsVary, "Access-Control-Allow-Headers": "",
		}},
		{corsRequest{"https://app.example", "PUT", []string{"content-type", "x-amz-date"}}, "put", map[string]string{
			"Access-Control-Allow-Headers": "content-type, x-amz-date",
		}},
		// A header the first rule does not allow: no rule allows PUT from
		// that origin with it.
		{corsRequest{"https://app.example", "PUT", []string{"authorization"}}, "", nil},
		{corsRequest{"https://app.example", "GET", nil}, "get", map[string]string{
			"Access-Control-Allow-Origin": "*", "Access-Control-Allow-Credentials": "",
			"Access-Control-Allow-Methods": "GET, HEAD", "Access-Control-Max-Age": "", "Access-Control-Expose-Headers": "",
		}},
		// A rule without AllowedHeader allows no requested header.
		{corsRequest{"https://other.example", "GET", []string{"x-amz-date"}}, "", nil},
		{corsRequest{"https://other.example", "DELETE", nil}, "", nil},
		{corsRequest{"http://a.dev.example", "PUT", []string{"authorization", "x-anything"}}, "any-put", map[string]string{
			"Access-Control-Allow-Origin": "http://a.dev.example", "Access-Control-Allow-Methods": "PUT, GET",
		}},
		{corsRequest{"https://a.dev.example", "PUT", nil}, "", nil},
		{corsRequest{"", "PUT", nil}, "", nil},
	}
	for i, tc := range cases {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			r := c.match(tc.req)
			if tc.want == "" {
				if r != nil {
					t.Fatalf("matched rule %q", r.ID)
				}
				return
			}
			if r == nil || r.ID != tc.want {
				t.Fatalf("matched %v, want %q", r, tc.want)
			}
			h := http.Header{}
			r.setHeaders(h, tc.req)
			for k, v := range tc.hdr {
				if got := h.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
		})
	}
}

func TestRequestedHeaders(t *testing.T) {
	h := http.Header{}
	h.Add("Access-Control-Request-Headers", "X-Amz-Date,content-type")
	h.Add("Access-Control-Request-Headers", " , X-Amz-Meta-A ,")
	got := strings.Join(requestedHeaders(h), "|")
	if got != "x-amz-date|content-type|x-amz-meta-a" {
		t.Fatal(got)
	}
}

func FuzzCORSXML(f *testing.F) {
	f.Add([]byte(corsDoc(`<CORSRule><ID>r</ID><AllowedHeader>*</AllowedHeader><AllowedMethod>GET</AllowedMethod><AllowedOrigin>http://*.x</AllowedOrigin><ExposeHeader>ETag</ExposeHeader><MaxAgeSeconds>10</MaxAgeSeconds></CORSRule>`)))
	f.Add([]byte(`<CORSConfiguration><CORSRule/></CORSConfiguration>`))
	f.Add([]byte(`<?xml version="1.0"?><CORSConfiguration><CORSRule><AllowedOrigin>**</AllowedOrigin></CORSRule></CORSConfiguration>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := parseCORS(data)
		if err != nil {
			if !errors.Is(err, errMalformedXML) && !errors.Is(err, errInvalidRequest) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if len(c.Rules) == 0 || len(c.Rules) > corsMaxRules {
			t.Fatalf("%d rules", len(c.Rules))
		}
		for _, r := range c.Rules {
			if len(r.AllowedOrigins) == 0 || len(r.AllowedMethods) == 0 {
				t.Fatalf("rule %+v", r)
			}
			for _, m := range r.AllowedMethods {
				if !corsMethods[m] {
					t.Fatalf("method %q", m)
				}
			}
			for _, o := range r.AllowedOrigins {
				if strings.Count(o, "*") > 1 {
					t.Fatalf("origin %q", o)
				}
			}
		}
		// What is stored parses back to itself.
		enc := c.encode()
		again, err := parseCORS([]byte(enc))
		if err != nil || again.encode() != enc {
			t.Fatalf("canonical form %q does not round-trip: %v", enc, err)
		}
	})
}
