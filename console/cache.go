package console

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Console work is kept from slowing S3 traffic on the same node in three
// ways (docs/design.md, "Console and S3 on one node"):
//
//   - pageCache keeps the rendered content of the object browser's pages
//     (the costly ones: a listing and a hundred rows of template) and of
//     the usage page for cacheTTL, shared by the tenant's users, so users
//     refreshing the same page do not each read and render it;
//   - templates execute at most renderSlots at a time (execute), so
//     console rendering never holds more than one core, however many
//     users refresh at once;
//   - static assets are linked by versioned URLs cached as immutable
//     (serveAsset), so a reload fetches only the page.

const (
	// cacheTTL is how long a rendered listing is served again. A listing
	// changed through S3 or another node's console shows after at most
	// this long; this node's console writes show at once.
	cacheTTL = 2 * time.Second
	// cacheBytes bounds the cache's memory (a page of long keys is large:
	// a hundred 1 KiB keys, each written several times over).
	cacheBytes = 16 << 20
	// renderSlots is how many console pages render at once.
	renderSlots = 1
)

// pageCache holds rendered page content by tenant and page. Content is
// rendered with a placeholder for the anti-forgery token (mark) that is
// replaced by the viewer's own token on the way out, so one rendering
// serves every session of the tenant.
//
// Writes made through this console keep it exact for this node: a
// write bumps the tenant's generation before and after it runs, an entry
// is stored only if the generation did not move while it was rendered,
// and served only while its generation is current. So nothing read before
// a write ends is served after it.
type pageCache struct {
	mark string // random per server, so no object key can hold it
	mu   struct {
		sync.Mutex
		tenants map[string]*tenantCache
		gen     uint64 // bumped by operator writes: every tenant's entries go
		bytes   int
	}
}

type tenantCache struct {
	gen   uint64
	pages map[string]cachedPage
}

type cachedPage struct {
	content string
	gen     uint64
	at      time.Time
}

func newPageCache() *pageCache {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	c := &pageCache{mark: "csrf" + hex.EncodeToString(b[:])}
	c.mu.tenants = map[string]*tenantCache{}
	return c
}

// tenant returns the tenant's entry. REQUIRES: c.mu.
func (c *pageCache) tenant(t string) *tenantCache {
	tc := c.mu.tenants[t]
	if tc == nil {
		tc = &tenantCache{pages: map[string]cachedPage{}}
		c.mu.tenants[t] = tc
	}
	return tc
}

// get returns a page's content if it is current, else (ok false) the
// generation a fresh rendering is to be stored under. A tenant's
// generation is its own plus the operators' (both only grow).
func (c *pageCache) get(tenant, key string, now time.Time) (content string, gen uint64, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc := c.tenant(tenant)
	gen = tc.gen + c.mu.gen
	if p, hit := tc.pages[key]; hit && p.gen == gen && now.Sub(p.at) < cacheTTL {
		return p.content, gen, true
	}
	return "", gen, false
}

// put stores a page rendered at generation gen, unless a write began
// since.
func (c *pageCache) put(tenant, key string, content string, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	tc := c.tenant(tenant)
	if tc.gen+c.mu.gen != gen || len(content) > cacheBytes/4 {
		return
	}
	if c.mu.bytes+len(content) > cacheBytes {
		c.prune(now)
	}
	if old, ok := tc.pages[key]; ok {
		c.mu.bytes -= len(old.content)
	}
	tc.pages[key] = cachedPage{content: content, gen: gen, at: now}
	c.mu.bytes += len(content)
}

// prune drops stale entries, and every entry if that is not enough. A
// tenant's generation stays (a render in flight must not find it reset).
// REQUIRES: c.mu.
func (c *pageCache) prune(now time.Time) {
	all := false
	for pass := 0; pass < 2; pass++ {
		for _, tc := range c.mu.tenants {
			for k, p := range tc.pages {
				if all || p.gen != tc.gen+c.mu.gen || now.Sub(p.at) >= cacheTTL {
					c.mu.bytes -= len(p.content)
					delete(tc.pages, k)
				}
			}
		}
		if c.mu.bytes <= cacheBytes/2 {
			return
		}
		all = true
	}
}

// writing marks a write of a tenant ("" for an operator's write, which
// may touch any tenant); the returned func marks its end. Both bump the
// generation.
func (c *pageCache) writing(tenant string) (done func()) {
	bump := func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if tenant == "" {
			c.mu.gen++
			return
		}
		c.tenant(tenant).gen++
	}
	bump()
	return bump
}

// personal puts the viewer's anti-forgery token into cached content.
func (c *pageCache) personal(content, csrf string) string {
	return strings.ReplaceAll(content, c.mark, csrf)
}

// execute runs a template when a render slot is free: page rendering
// (pure CPU: the data is read before) takes its turn rather than the
// node's cores. The answer is written after the slot is released, so a
// slow client holds none.
func (s *Server) execute(t *template.Template, buf *bytes.Buffer, block string, data any) error {
	s.renders <- struct{}{}
	defer func() { <-s.renders }()
	return t.ExecuteTemplate(buf, block, data)
}

// Static assets are embedded, so their content is known at start: each
// has a version (a hash of its content) that pages put in its URL
// (/static/console.css?v=...). A URL with the current version never
// changes, so it is cached as immutable and a browser's reload does not
// even revalidate it; other URLs are cached for an hour and revalidate
// with the version as a strong ETag (embedded files have no modification
// time, so http.FileServer alone sends no validator).
const (
	assetCacheVersioned = "public, max-age=31536000, immutable"
	assetCacheOther     = "public, max-age=3600"
)

// assetVersions is the version of each static asset, by path under
// static/.
var assetVersions = func() map[string]string {
	sub, err := fs.Sub(staticFS, "static")
	if err != nil {
		panic(err)
	}
	v := map[string]string{}
	err = fs.WalkDir(sub, ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, path)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		v[path] = hex.EncodeToString(sum[:12])
		return nil
	})
	if err != nil {
		panic(err)
	}
	return v
}()

// assetURL is the versioned URL of a static asset (the template func
// "asset").
func assetURL(name string) (string, error) {
	v, ok := assetVersions[name]
	if !ok {
		return "", fmt.Errorf("console: no static asset %q", name)
	}
	return "/static/" + name + "?v=" + v, nil
}

// serveAsset serves a static asset with its caching headers.
func (s *Server) serveAsset(w http.ResponseWriter, r *http.Request, name string) {
	if v, ok := assetVersions[name]; ok {
		w.Header().Set("ETag", `"`+v+`"`)
		if r.URL.Query().Get("v") == v {
			w.Header().Set("Cache-Control", assetCacheVersioned)
		} else {
			w.Header().Set("Cache-Control", assetCacheOther)
		}
	}
	s.static.ServeHTTP(w, r)
}
