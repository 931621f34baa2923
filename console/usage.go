package console

import (
	"fmt"
	"html/template"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"

	"github.com/vaultaire/vaultaire/billing"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/tenancy"
)

// usageDays is how far back the usage charts go.
const usageDays = 30

// day is one day of usage, summed from its hourly records.
type day struct {
	Start          time.Time
	StoredBytes    int64 // the day's highest hourly sample
	ClassA, ClassB int64
	Egress         int64
}

// daily sums hourly records into days [from, from+n days).
func daily(hours []tenancy.Hour, from time.Time, n int) []day {
	days := make([]day, n)
	for i := range days {
		days[i].Start = from.AddDate(0, 0, i)
	}
	for _, h := range hours {
		i := int(h.Start.Sub(from) / (24 * time.Hour))
		if i < 0 || i >= n {
			continue
		}
		d := &days[i]
		d.StoredBytes = max(d.StoredBytes, h.StoredBytes)
		d.ClassA += h.ClassA
		d.ClassB += h.ClassB
		d.Egress += h.EgressBytes
	}
	return days
}

// bar is one bar (or a stacked pair) of a chart, pre-computed.
type bar struct {
	X, W       float64
	Y, H       float64 // first series
	Y2, H2     float64 // second series, stacked above (0 height: none)
	Label, Tip string
}

// chart is a bar chart drawn as inline SVG on the server: it needs no
// script and every label in it is escaped by html/template.
type chart struct {
	Title, Legend, Legend2 string
	Max                    string
	Bars                   []bar
	Width, Height          float64
	Empty                  bool
}

const chartW, chartH = 600.0, 160.0

func newChart(title string, days []day, v1, v2 func(day) int64, legend, legend2 string, format func(int64) string) chart {
	c := chart{Title: title, Legend: legend, Legend2: legend2, Width: chartW, Height: chartH}
	var top int64
	for _, d := range days {
		top = max(top, v1(d)+v2(d))
	}
	c.Empty = top == 0
	if top == 0 {
		top = 1
	}
	c.Max = format(top)
	w := chartW / float64(len(days))
	for i, d := range days {
		a, b := v1(d), v2(d)
		h1 := float64(a) / float64(top) * (chartH - 20)
		h2 := float64(b) / float64(top) * (chartH - 20)
		tip := fmt.Sprintf("%s: %s", d.Start.Format("Jan 2"), format(a))
		if legend2 != "" {
			tip += fmt.Sprintf(" %s, %s %s", legend, format(b), legend2)
		}
		c.Bars = append(c.Bars, bar{
			X: float64(i)*w + 1, W: math.Max(w-2, 1),
			Y: chartH - h1, H: h1, Y2: chartH - h1 - h2, H2: h2,
			Tip: tip,
		})
		if (len(days)-1-i)%7 == 0 { // every week back from today, so the last label is today's
			c.Bars[i].Label = d.Start.Format("Jan 2")
		}
	}
	return c
}

// meterBar is a quota bar: used of limit (limit 0: no quota).
type meterBar struct {
	Name        string
	Used, Limit string
	Percent     int
	Warn        bool
	Unlimited   bool
}

func newMeterBar(name string, used, limit int64, format func(int64) string) meterBar {
	m := meterBar{Name: name, Used: format(used), Unlimited: limit <= 0}
	if limit > 0 {
		m.Limit = format(limit)
		m.Percent = int(math.Min(100, float64(used)*100/float64(limit)))
		m.Warn = m.Percent >= 80
	}
	return m
}

func count(n int64) string { return fmt.Sprintf("%d", n) }

type usageData struct {
	Tenant  node.TenantInfo
	Plan    billing.Plan
	InPlans bool
	Quotas  []meterBar
	Charts  []chart
	Invoice billing.Invoice
	Months  []string
	Month   string
	Billing node.BillingAccount
	// InvoiceURL is where the invoice exports are served.
	InvoiceURL string
}

// usage is the tenant's usage page: charts of the last 30 days from the
// hourly records, quota bars, the plan and the bill of a month.
func (s *Server) usage(w http.ResponseWriter, r *http.Request, _ httprouter.Params, sess *session) error {
	month, err := monthParam(r)
	if err != nil {
		return err
	}
	// A month's usage and bill are the same for every user of the tenant
	// and move slowly (hourly records): shared for a moment (cache.go).
	pg := &page{Title: "Usage and billing", Session: sess, Nav: "usage"}
	return s.renderCached(w, r, "usage", month.Format(time.RFC3339), pg, func() (any, error) {
		d, err := s.usageData(r, sess.acct.Tenant, month)
		if err != nil {
			return nil, err
		}
		d.InvoiceURL = "/usage/invoice"
		return d, nil
	})
}

func (s *Server) usageData(r *http.Request, tenant string, month time.Time) (usageData, error) {
	ctx := r.Context()
	inv, t, err := s.invoiceFor(r, tenant, month)
	if err != nil {
		return usageData{}, err
	}
	d := usageData{Tenant: t, Invoice: inv, Month: inv.Start.Format("2006-01")}
	if p, err := s.cfg.Plans.Plan(t.Plan); err == nil {
		d.Plan, d.InPlans = p, true
	} else {
		d.Plan = billing.Plan{Name: t.Plan}
	}
	u, err := s.eng.TenantUsage(ctx, tenant)
	if err != nil {
		return usageData{}, err
	}
	tl, err := s.eng.TenantLimits(ctx, tenant)
	if err != nil {
		return usageData{}, err
	}
	d.Quotas = []meterBar{
		newMeterBar("Stored", u.Bytes+u.UploadBytes, tl.Quota.MaxBytes, humanBytes),
		newMeterBar("Objects", u.Artifacts, tl.Quota.MaxArtifacts, count),
		newMeterBar("Egress this month", u.MonthEgressBytes, tl.Quota.MaxEgressBytesPerMonth, humanBytes),
	}
	now := time.Now().UTC()
	from := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC).AddDate(0, 0, -(usageDays - 1))
	hours, err := s.eng.UsageHours(ctx, tenant, from, from.AddDate(0, 0, usageDays))
	if err != nil {
		return usageData{}, err
	}
	days := daily(hours, from, usageDays)
	zero := func(day) int64 { return 0 }
	d.Charts = []chart{
		newChart("Stored bytes", days, func(d day) int64 { return d.StoredBytes }, zero, "stored", "", humanBytes),
		newChart("Requests", days, func(d day) int64 { return d.ClassA }, func(d day) int64 { return d.ClassB }, "class A", "class B", count),
		newChart("Egress", days, func(d day) int64 { return d.Egress }, zero, "egress", "", humanBytes),
	}
	for i := 0; i < 12; i++ {
		d.Months = append(d.Months, now.AddDate(0, -i, 0).Format("2006-01"))
	}
	if a, err := s.eng.BillingAccount(ctx, tenant); err == nil {
		d.Billing = a
	}
	return d, nil
}

// humanBytes formats a byte count with binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// templateFuncs are the helpers templates use; none of them returns
// markup built from input.
var templateFuncs = template.FuncMap{
	"asset": assetURL,
	"bytes": humanBytes,
	"time": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"money":    func(c billing.Cents) string { return c.String() },
	"upper":    strings.ToUpper,
	"pct":      func(used, total int64) int { return pct(used, total) },
	"sub":      func(a, b int64) int64 { return a - b },
	"duration": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
	"f1":       func(v float64) string { return fmt.Sprintf("%.1f", v) },
	"f2":       func(v float64) string { return fmt.Sprintf("%.2f", v) },
}

func pct(used, total int64) int {
	if total <= 0 {
		return 0
	}
	return int(math.Min(100, float64(used)*100/float64(total)))
}
