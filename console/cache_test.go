package console

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/node"
)

func TestPageCacheGenerations(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	for _, c := range []struct {
		name string
		run  func(c *pageCache) (hit bool)
	}{
		{"stored then served", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", "x", g, now)
			_, _, hit := c.get("acme", "k", now.Add(cacheTTL-time.Millisecond))
			return hit
		}},
		{"expired", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", "x", g, now)
			_, _, hit := c.get("acme", "k", now.Add(cacheTTL))
			return hit
		}},
		{"a write began while rendering: not stored", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			done := c.writing("acme")
			c.put("acme", "k", "x", g, now)
			done()
			_, g, _ = c.get("acme", "k", now)
			_, _, hit := c.get("acme", "k", now)
			return hit
		}},
		{"rendered during a write: not served after it", func(c *pageCache) bool {
			done := c.writing("acme")
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", "x", g, now)
			done()
			_, _, hit := c.get("acme", "k", now)
			return hit
		}},
		{"another tenant's write changes nothing", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", "x", g, now)
			c.writing("beta")()
			_, _, hit := c.get("acme", "k", now)
			return hit
		}},
		{"an operator's write drops every tenant's", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", "x", g, now)
			c.writing("")()
			_, _, hit := c.get("acme", "k", now)
			return hit
		}},
		{"tenants apart", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", "x", g, now)
			_, _, hit := c.get("beta", "k", now)
			return hit
		}},
		{"too large for the cache", func(c *pageCache) bool {
			_, g, _ := c.get("acme", "k", now)
			c.put("acme", "k", strings.Repeat("x", cacheBytes/4+1), g, now)
			_, _, hit := c.get("acme", "k", now)
			return hit
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := c.name == "stored then served" || c.name == "another tenant's write changes nothing"
			if got := c.run(newPageCache()); got != want {
				t.Errorf("hit %v, want %v", got, want)
			}
		})
	}
}

// The cache never holds more than cacheBytes: filling it past that drops
// entries, and what is kept is still served correctly.
func TestPageCacheBounded(t *testing.T) {
	c := newPageCache()
	now := time.Unix(1_700_000_000, 0)
	page := strings.Repeat("r", cacheBytes/16)
	for i := 0; i < 100; i++ {
		k := fmt.Sprint(i)
		_, g, _ := c.get("acme", k, now)
		c.put("acme", k, page, g, now)
		if c.mu.bytes > cacheBytes {
			t.Fatalf("after %d pages: %d bytes", i+1, c.mu.bytes)
		}
		if got, _, hit := c.get("acme", k, now); !hit || got != page {
			t.Fatalf("page %d just stored is not served", i)
		}
	}
}

// Users of a tenant share the rendering of a folder, each with their own
// anti-forgery token; another tenant's bucket of the same name is its own;
// a delete through the console shows at once.
func TestBucketPageCache(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	for _, ten := range []string{"acme", "beta"} {
		if ten == "beta" {
			if _, err := e.eng.CreateTenant(ctx, "beta", "Beta", "standard"); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []string{"bob", "carol"} {
			if _, err := e.eng.CreateUser(ctx, ten, u, "a password"); err != nil {
				t.Fatal(err)
			}
		}
		if err := e.eng.CreateContainer(ctx, ten, node.CreateContainerInput{Name: "photos"}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if _, err := e.eng.PutArtifact(ctx, ten, node.PutInput{Container: "photos", Key: fmt.Sprintf("%s-%d.jpg", ten, i), Body: strings.NewReader("x"), Size: 1}); err != nil {
				t.Fatal(err)
			}
		}
	}
	users := map[string]*browser{}
	for _, id := range []string{"acme/bob", "acme/carol", "beta/bob"} {
		ten, u, _ := strings.Cut(id, "/")
		b := e.browser()
		if r := b.login(ten, u, "a password"); r.status != http.StatusSeeOther || b.csrf == "" {
			t.Fatalf("%s: login %d", id, r.status)
		}
		users[id] = b
	}
	if users["acme/bob"].csrf == users["acme/carol"].csrf {
		t.Fatal("two sessions with one token")
	}
	for round := 0; round < 2; round++ { // the second round is served from the cache
		for id, b := range users {
			ten, _, _ := strings.Cut(id, "/")
			r := b.get("/buckets/photos")
			if r.status != 200 {
				t.Fatalf("%s: %d", id, r.status)
			}
			if strings.Contains(r.body, e.con.cache.mark) {
				t.Errorf("%s: the token placeholder reached the page", id)
			}
			for other, ob := range users {
				if other != id && strings.Contains(r.body, ob.csrf) {
					t.Errorf("%s sees %s's anti-forgery token", id, other)
				}
			}
			if n := strings.Count(r.body, `name="csrf" value="`+b.csrf+`"`); n < 4 { // sign out and 3 delete forms
				t.Errorf("%s: own token in %d forms", id, n)
			}
			for _, t2 := range []string{"acme", "beta"} {
				if got, want := strings.Contains(r.body, t2+"-0.jpg"), t2 == ten; got != want {
					t.Errorf("%s: lists %s's objects: %v", id, t2, got)
				}
			}
		}
	}
	// A delete through the console is on the next page at once, for
	// every user of the tenant.
	bob := users["acme/bob"]
	if r := bob.post("/buckets/photos/delete-object", url.Values{"csrf": {bob.csrf}, "key": {"acme-1.jpg"}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete: %d %s", r.status, r.body)
	}
	for _, id := range []string{"acme/bob", "acme/carol"} {
		if r := users[id].get("/buckets/photos"); strings.Contains(r.body, "acme-1.jpg") || !strings.Contains(r.body, "acme-2.jpg") {
			t.Errorf("%s: the listing after the delete is stale", id)
		}
	}
	// The deleted object's delete form still works with the viewer's
	// token taken from a cached page.
	carol := users["acme/carol"]
	page := carol.get("/buckets/photos")
	if r := carol.post("/buckets/photos/delete-object", url.Values{"csrf": {formToken(t, page.body)}, "key": {"acme-2.jpg"}}); r.status != http.StatusSeeOther {
		t.Fatalf("delete with a cached page's token: %d", r.status)
	}
}

// Many users asking at once each get a whole page through the render
// slots, and every slot is given back.
func TestRendersTakeTurns(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	b.login("acme", "alice", "alice password")
	if r := b.post("/buckets", url.Values{"name": {"photos"}, "csrf": {b.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("create: %d", r.status)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			path := []string{"/buckets/photos", "/buckets", "/keys", "/usage"}[i%4]
			req, _ := http.NewRequest("GET", e.srv.URL+path, nil)
			for _, c := range b.c.Jar.Cookies(mustURL(e.srv.URL)) {
				req.AddCookie(c)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err.Error()
				return
			}
			defer resp.Body.Close()
			var buf bytes.Buffer
			buf.ReadFrom(resp.Body)
			if resp.StatusCode != 200 || !strings.HasSuffix(strings.TrimSpace(buf.String()), "</html>") {
				errs <- fmt.Sprintf("%s: %d", path, resp.StatusCode)
			}
		}(i)
	}
	wg.Wait()
	if n := len(e.con.renders); n != 0 {
		t.Errorf("%d render slots still held", n)
	}
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}

// The usage page is shared for a moment too, but an operator's change of
// the tenant's quota shows on it at once.
func TestUsagePageCache(t *testing.T) {
	e := newEnv(t)
	tb := e.browser()
	tb.login("acme", "alice", "alice password")
	o := e.browser()
	o.login("", "ops", "operator password")
	for i := 0; i < 2; i++ {
		if r := tb.get("/usage"); r.status != 200 || strings.Contains(r.body, "of 7 (") {
			t.Fatalf("usage: %d", r.status)
		}
	}
	if r := o.post("/operator/tenants/acme/quota", url.Values{"max_artifacts": {"7"}, "csrf": {o.csrf}}); r.status != http.StatusSeeOther {
		t.Fatalf("quota: %d %s", r.status, r.body)
	}
	if r := tb.get("/usage"); !strings.Contains(r.body, "0 of 7 (0%)") {
		t.Errorf("the usage page after a quota change does not show it:\n%s", r.body)
	}
}

// Pages link static assets by versioned URLs, cached as immutable (a
// reload fetches nothing); any asset URL carries a validator, so a
// revalidation is a 304.
func TestStaticAssetsCaching(t *testing.T) {
	e := newEnv(t)
	b := e.browser()
	login := b.get("/login")
	links := regexp.MustCompile(`(?:href|src)="(/static/[^"?]+)\?v=([0-9a-f]+)"`).FindAllStringSubmatch(login.body, -1)
	if len(links) != 3 {
		t.Fatalf("versioned asset links in the page: %q", links)
	}
	for _, l := range links {
		path, v := l[1], l[2]
		r := b.get(path + "?v=" + v)
		if r.status != 200 || r.header.Get("Cache-Control") != assetCacheVersioned || r.header.Get("ETag") != `"`+v+`"` {
			t.Errorf("%s?v=%s: %d, Cache-Control %q, ETag %q", path, v, r.status, r.header.Get("Cache-Control"), r.header.Get("ETag"))
		}
		for _, u := range []string{path, path + "?v=0ld"} { // not the current version: short-lived
			r := b.get(u)
			if r.status != 200 || r.body == "" || r.header.Get("Cache-Control") != assetCacheOther {
				t.Errorf("%s: %d, Cache-Control %q", u, r.status, r.header.Get("Cache-Control"))
			}
		}
		if r := b.do("GET", path, nil, map[string]string{"If-None-Match": `"` + v + `"`}); r.status != http.StatusNotModified || r.body != "" {
			t.Errorf("%s revalidated: %d, %d bytes", path, r.status, len(r.body))
		}
		if r := b.do("GET", path, nil, map[string]string{"If-None-Match": `"stale"`}); r.status != 200 || r.body == "" {
			t.Errorf("%s with a stale tag: %d", path, r.status)
		}
	}
	if r := b.get("/static/nope.js"); r.status != http.StatusNotFound {
		t.Errorf("missing asset: %d", r.status)
	}
}
