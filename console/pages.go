package console

import (
	"fmt"
	"html/template"
)

// pageNames are the console's pages: each is parsed with the layout and
// the shared partials into a template set of its own, so their "content"
// blocks do not collide.
var pageNames = []string{
	"login", "error", "account",
	"buckets", "bucket", "settings", "object", "keys", "usage",
	"cluster", "live", "tenants", "tenant",
}

func parsePages() (map[string]*template.Template, error) {
	pages := make(map[string]*template.Template, len(pageNames))
	for _, name := range pageNames {
		t, err := template.New(name).Funcs(templateFuncs).ParseFS(templateFS,
			"templates/layout.html", "templates/partials.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("console: page %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}
