package s3

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// CORS: a bucket's cross-origin rules (?cors), the unsigned OPTIONS
// preflight they answer, and the Access-Control-* headers of actual
// requests. The rules are stored, canonical, in the container's opaque
// configuration map under corsConfigName (replicated through Raft like
// every container setting), so every node answers alike.

// corsConfigName is the container configuration entry holding the rules.
const corsConfigName = "cors"

// Limits of a CORS configuration, as S3 sets them.
const (
	corsMaxBody  = 64 << 10 // "The document is limited to 64 KB in size."
	corsMaxRules = 100
	corsMaxID    = 255
)

// corsMethods are the only methods a rule may allow (and a preflight ask
// for).
var corsMethods = map[string]bool{"GET": true, "PUT": true, "HEAD": true, "POST": true, "DELETE": true}

// corsVary is what a CORS answer varies on.
const corsVary = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"

// Errors of this file (each in errorTable).
var (
	errNoSuchCORSConfiguration = errors.New("s3: no CORS configuration")
	errCORSForbidden           = errors.New("s3: CORS request not allowed")
	errCORSBadRequest          = errors.New("s3: malformed CORS preflight")
)

// The messages of S3's preflight refusals.
const (
	corsMsgNoBucket   = "CORSResponse: Bucket not found"
	corsMsgNotEnabled = "CORSResponse: CORS is not enabled for this bucket."
	corsMsgNotAllowed = "CORSResponse: This CORS request is not allowed. This is usually because the evalution of Origin, request method / Access-Control-Request-Method or Access-Control-Request-Headers are not whitelisted by the resource's CORS spec."
)

// corsDenied is a refused preflight: S3's AccessForbidden document names
// the method asked for and whether a bucket or an object was addressed.
type corsDenied struct {
	msg, method, resource string
}

func (e *corsDenied) Error() string         { return errCORSForbidden.Error() + ": " + e.msg }
func (e *corsDenied) Unwrap() error         { return errCORSForbidden }
func (e *corsDenied) ClientMessage() string { return e.msg }

// corsErrorFields adds the elements S3's CORS errors carry to an error
// document.
func corsErrorFields(eb *errorBody, err error, rc *reqCtx) {
	var d *corsDenied
	if errors.As(err, &d) {
		eb.Method, eb.ResourceType = d.method, d.resource
	}
	if errors.Is(err, errNoSuchCORSConfiguration) {
		eb.BucketName = rc.ep.Container
	}
}

// corsConfig is a CORSConfiguration document.
type corsConfig struct {
	XMLName xml.Name   `xml:"CORSConfiguration"`
	NS      string     `xml:"xmlns,attr,omitempty"`
	Rules   []corsRule `xml:"CORSRule"`
}

// corsRule is one CORSRule, its elements in the order S3 writes them.
type corsRule struct {
	ID             string   `xml:"ID,omitempty"`
	AllowedHeaders []string `xml:"AllowedHeader"`
	AllowedMethods []string `xml:"AllowedMethod"`
	AllowedOrigins []string `xml:"AllowedOrigin"`
	ExposeHeaders  []string `xml:"ExposeHeader"`
	MaxAgeSeconds  *int     `xml:"MaxAgeSeconds"`
}

// corsRuleElements are the elements a CORSRule may hold; once: at most
// one of them.
var corsRuleElements = map[string]struct{ once bool }{
	"ID": {true}, "AllowedHeader": {}, "AllowedMethod": {}, "AllowedOrigin": {},
	"ExposeHeader": {}, "MaxAgeSeconds": {true},
}

// parseCORS parses and validates a PutBucketCors document: MalformedXML
// for anything S3's schema refuses (an unknown or repeated element, a
// rule without an origin or a method, no rule at all), InvalidRequest
// with S3's message for a rule S3 refuses.
func parseCORS(data []byte) (*corsConfig, error) {
	if err := checkCORSShape(data); err != nil {
		return nil, err
	}
	var c corsConfig
	if err := decodeXML(data, &c); err != nil {
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// checkCORSShape refuses elements the schema does not have, which
// encoding/xml would silently skip.
func checkCORSShape(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	var path []string
	var seen map[string]bool // once-elements of the current rule
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return errMalformedXML
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			switch len(path) {
			case 0:
				if name != "CORSConfiguration" {
					return errMalformedXML
				}
			case 1:
				if name != "CORSRule" {
					return errMalformedXML
				}
				seen = map[string]bool{}
			case 2:
				el, ok := corsRuleElements[name]
				if !ok || el.once && seen[name] {
					return errMalformedXML
				}
				seen[name] = true
			default:
				return errMalformedXML
			}
			path = append(path, name)
		case xml.EndElement:
			path = path[:len(path)-1]
		case xml.CharData:
			if len(path) < 3 && len(bytes.TrimSpace(t)) != 0 {
				return errMalformedXML
			}
		}
	}
}

// validate applies S3's rules to a parsed document.
func (c *corsConfig) validate() error {
	if len(c.Rules) == 0 {
		return errMalformedXML
	}
	if len(c.Rules) > corsMaxRules {
		return withMessage(errInvalidRequest, "The number of CORS rules should not exceed allowed limit of %d rules.", corsMaxRules)
	}
	for _, r := range c.Rules {
		if len(r.AllowedOrigins) == 0 || len(r.AllowedMethods) == 0 {
			return errMalformedXML
		}
		if len(r.ID) > corsMaxID {
			return withMessage(errInvalidRequest, "The ID of a CORSRule must be no more than %d characters.", corsMaxID)
		}
		for _, m := range r.AllowedMethods {
			if !corsMethods[m] {
				return withMessage(errInvalidRequest, "Found unsupported HTTP method in CORS config. Unsupported method is %s", m)
			}
		}
		for _, o := range r.AllowedOrigins {
			if strings.Count(o, "*") > 1 {
				return withMessage(errInvalidRequest, "AllowedOrigin %q can not have more than one wildcard.", o)
			}
		}
		for _, h := range r.AllowedHeaders {
			if strings.Count(h, "*") > 1 {
				return withMessage(errInvalidRequest, "AllowedHeader %q can not have more than one wildcard.", h)
			}
		}
		for _, h := range r.ExposeHeaders {
			if strings.Contains(h, "*") {
				return withMessage(errInvalidRequest, "ExposeHeader %q contains wildcard. We currently do not support wildcard for ExposeHeader.", h)
			}
		}
		if r.MaxAgeSeconds != nil && *r.MaxAgeSeconds < 0 {
			return withMessage(errInvalidRequest, "MaxAgeSeconds must not be negative.")
		}
	}
	return nil
}

// encode is the canonical form stored and returned by GetBucketCors.
func (c *corsConfig) encode() string {
	out := corsConfig{NS: s3NS, Rules: c.Rules}
	b, err := xml.Marshal(out)
	if err != nil {
		panic(err) // strings and ints only
	}
	return string(b)
}

// wildcardMatch matches s against a pattern with at most one '*', which
// matches any run of characters (the empty one too), ASCII case
// insensitively.
func wildcardMatch(pattern, s string) bool {
	pre, suf, wild := strings.Cut(pattern, "*")
	if !wild {
		return strings.EqualFold(pattern, s)
	}
	return len(s) >= len(pre)+len(suf) &&
		strings.EqualFold(s[:len(pre)], pre) && strings.EqualFold(s[len(s)-len(suf):], suf)
}

// corsRequest is what rule matching looks at.
type corsRequest struct {
	origin  string
	method  string   // Access-Control-Request-Method, or the actual method
	headers []string // Access-Control-Request-Headers, lower case
}

// requestedHeaders splits Access-Control-Request-Headers into lower-case
// names, skipping empty list elements.
func requestedHeaders(h http.Header) []string {
	var out []string
	for _, v := range h.Values("Access-Control-Request-Headers") {
		for _, name := range strings.Split(v, ",") {
			if name = strings.ToLower(strings.TrimSpace(name)); name != "" {
				out = append(out, name)
			}
		}
	}
	return out
}

// match returns the first rule that allows req, or nil.
func (c *corsConfig) match(req corsRequest) *corsRule {
	for i := range c.Rules {
		if c.Rules[i].allows(req) {
			return &c.Rules[i]
		}
	}
	return nil
}

func (r *corsRule) allows(req corsRequest) bool {
	methodOK := false
	for _, m := range r.AllowedMethods {
		if m == req.method {
			methodOK = true
			break
		}
	}
	if !methodOK || !r.allowsOrigin(req.origin) {
		return false
	}
	for _, h := range req.headers {
		ok := false
		for _, p := range r.AllowedHeaders {
			if wildcardMatch(p, h) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (r *corsRule) allowsOrigin(origin string) bool {
	for _, p := range r.AllowedOrigins {
		if wildcardMatch(p, origin) {
			return true
		}
	}
	return false
}

// anyOrigin reports whether the rule allows every origin ("*"): S3 then
// answers Access-Control-Allow-Origin: * and no credentials.
func (r *corsRule) anyOrigin() bool {
	for _, p := range r.AllowedOrigins {
		if p == "*" {
			return true
		}
	}
	return false
}

// setHeaders writes the Access-Control-* headers of a matched rule, as S3
// does: the origin (or *), credentials for a named origin, the rule's
// methods, the requested headers (a preflight's, lower case), the exposed
// headers, the max age and Vary.
func (r *corsRule) setHeaders(h http.Header, req corsRequest) {
	if r.anyOrigin() {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", req.origin)
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	h.Set("Access-Control-Allow-Methods", strings.Join(r.AllowedMethods, ", "))
	if len(req.headers) > 0 {
		h.Set("Access-Control-Allow-Headers", strings.Join(req.headers, ", "))
	}
	if len(r.ExposeHeaders) > 0 {
		h.Set("Access-Control-Expose-Headers", strings.Join(r.ExposeHeaders, ", "))
	}
	if r.MaxAgeSeconds != nil {
		h.Set("Access-Control-Max-Age", strconv.Itoa(*r.MaxAgeSeconds))
	}
	h.Set("Vary", corsVary)
}

// --- Put/Get/DeleteBucketCors ---

func (s *Server) putBucketCors(ctx context.Context, w http.ResponseWriter, r *http.Request, rc *reqCtx) error {
	b, err := s.openBody(r, rc, s.cfg.MaxPutSize)
	if err != nil {
		return err
	}
	if !b.hasChecksum {
		// S3 requires an integrity check of the rules: Content-MD5, or
		// the x-amz-checksum-* the current SDKs send instead.
		return withMessage(errInvalidRequest, "Missing required header for this request: Content-MD5")
	}
	data, err := readAllVerified(b, corsMaxBody)
	if err != nil {
		return err
	}
	c, err := parseCORS(data)
	if err != nil {
		return err
	}
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, corsConfigName, c.encode()); err != nil {
		return err
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
	return nil
}

func (s *Server) getBucketCors(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	v, err := s.eng.ContainerConfig(ctx, rc.tenant, rc.ep.Container, corsConfigName)
	if err != nil {
		return err
	}
	if v == "" {
		return errNoSuchCORSConfiguration
	}
	w.Header().Set("Content-Type", "application/xml")
	w.Header().Set("Content-Length", strconv.Itoa(len(xml.Header)+len(v)))
	w.WriteHeader(http.StatusOK)
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	_, err = io.WriteString(w, v)
	return err
}

func (s *Server) deleteBucketCors(ctx context.Context, w http.ResponseWriter, _ *http.Request, rc *reqCtx) error {
	if err := s.eng.SetContainerConfig(ctx, rc.tenant, rc.ep.Container, corsConfigName, ""); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// storedCORS returns a tenant's rules for a bucket: nil when it has
// none, node.ErrContainerNotFound when the bucket does not exist.
func (s *Server) storedCORS(ctx context.Context, tenant, container string) (*corsConfig, error) {
	v, err := s.eng.ContainerConfig(ctx, tenant, container, corsConfigName)
	if err != nil || v == "" {
		return nil, err
	}
	var c corsConfig
	if err := xml.Unmarshal([]byte(v), &c); err != nil {
		return nil, err // written by encode: never
	}
	return &c, nil
}
