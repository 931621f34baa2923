package admin

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/vaultaire/vaultaire/tenancy"
)

// Usage is the answer of GET /admin/v1/tenants/:tenant/usage: the
// tenant's hourly records with Start in [from, to) (each the sum over
// every node), their totals, and the storage figure of an invoice in
// GB-months (tenancy.GBMonths).
type Usage struct {
	Tenant   string         `json:"tenant"`
	From     time.Time      `json:"from"`
	To       time.Time      `json:"to"`
	GBMonths float64        `json:"gb_months"`
	Totals   UsageTotals    `json:"totals"`
	Hours    []tenancy.Hour `json:"hours"`
}

type UsageTotals struct {
	IngressBytes int64 `json:"ingress_bytes"`
	EgressBytes  int64 `json:"egress_bytes"`
	ClassA       int64 `json:"class_a"`
	ClassB       int64 `json:"class_b"`
}

// parseUsageTime accepts RFC 3339 or a UTC date (2006-01-02).
func parseUsageTime(name, v string, def time.Time) (time.Time, error) {
	if v == "" {
		return def, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, v); err == nil {
		return t, nil
	}
	return time.Time{}, badRequest("InvalidArgument", "%s must be RFC 3339 (2006-01-02T15:04:05Z) or a date (2006-01-02)", name)
}

// usageRange returns [from, to): by default the current calendar month
// (UTC) up to the end of the current hour.
func usageRange(q url.Values, now time.Time) (time.Time, time.Time, error) {
	now = now.UTC()
	from, err := parseUsageTime("from", q.Get("from"), time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return from, from, err
	}
	to, err := parseUsageTime("to", q.Get("to"), now.Truncate(time.Hour).Add(time.Hour))
	if err != nil {
		return from, to, err
	}
	if !to.After(from) {
		return from, to, badRequest("InvalidArgument", "to must be after from")
	}
	if to.Sub(from) > 400*24*time.Hour {
		return from, to, badRequest("InvalidArgument", "at most 400 days per request")
	}
	return from, to, nil
}

func (a *adminAPI) getUsage(ctx context.Context, c *adminCall) (int, any, error) {
	id, err := tenantParam(c)
	if err != nil {
		return 0, nil, err
	}
	from, to, err := usageRange(c.req.URL.Query(), time.Now())
	if err != nil {
		return 0, nil, err
	}
	// Report this node's latest requests first, so an export right after
	// traffic through this node includes it (other nodes report within
	// node.DefaultUsageInterval).
	if tn := a.tenancy.Load(); tn != nil {
		if err := (*tn).Flush(ctx); err != nil {
			a.log.Warn("usage not flushed before read", "err", err)
		}
	}
	hours, err := a.eng.UsageHours(ctx, id, from, to)
	if err != nil {
		return 0, nil, err
	}
	out := Usage{Tenant: id, From: from, To: to, GBMonths: tenancy.GBMonths(hours), Hours: hours}
	if out.Hours == nil {
		out.Hours = []tenancy.Hour{}
	}
	for _, h := range hours {
		out.Totals.IngressBytes += h.IngressBytes
		out.Totals.EgressBytes += h.EgressBytes
		out.Totals.ClassA += h.ClassA
		out.Totals.ClassB += h.ClassB
	}
	return http.StatusOK, out, nil
}
