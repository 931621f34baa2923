package billing

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/tenancy"
)

// hours builds n consecutive hourly records of tenant from start, each
// with the given figures.
func hours(tenant string, start time.Time, n int, stored, egress, classA, classB int64) []tenancy.Hour {
	out := make([]tenancy.Hour, n)
	for i := range out {
		out[i] = tenancy.Hour{Tenant: tenant, Start: start.Add(time.Duration(i) * time.Hour),
			StoredBytes: stored, EgressBytes: egress, ClassA: classA, ClassB: classB}
	}
	return out
}

func cat(hs ...[]tenancy.Hour) []tenancy.Hour {
	var out []tenancy.Hour
	for _, h := range hs {
		out = append(out, h...)
	}
	return out
}

var (
	nov2026 = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) // 720 hours
	dec2026 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) // 744 hours
	feb2028 = time.Date(2028, 2, 1, 0, 0, 0, 0, time.UTC)  // 696 hours (leap year)
)

func mustPlan(t *testing.T, name string) Plan {
	t.Helper()
	p, err := DefaultCatalog().Plan(name)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestInvoiceLines is the table of usage -> invoice lines.
func TestInvoiceLines(t *testing.T) {
	standard := mustPlan(t, "standard") // 0.023 / GB-month, 0.005 and 0.0004 per 1,000, 0.09 / GB
	withAllowance := standard
	withAllowance.Name = "starter"
	withAllowance.Included = Included{StorageGBMonths: 500_000, ClassA: 2000, ClassB: 0, EgressGB: 1_000_000}

	type line struct {
		qty, billable string
		cents         Cents
	}
	cases := []struct {
		name  string
		plan  Plan
		month time.Time
		hours []tenancy.Hour
		want  map[string]line
		total Cents
	}{
		{
			name: "1 GB all month, requests and egress", plan: standard, month: nov2026,
			hours: cat(hours("acme", nov2026, 720, 1e9, 0, 0, 0),
				hours("acme", nov2026.Add(5*time.Hour), 1, 1e9, 100e9, 10_000, 1_000_000)),
			// The extra record is a second one for an hour: usage records
			// of the same hour from a merge add up.
			want: map[string]line{
				ItemStorage: {"1.001389", "1.001389", 2}, // (720+1) GB-hours / 720 * 0.023 = 0.02303 -> 2 cents
				ItemClassA:  {"10", "10", 5},             // 10 x 0.005
				ItemClassB:  {"1000", "1000", 40},        // 1000 x 0.0004
				ItemEgress:  {"100", "100", 900},         // 100 GB x 0.09
			},
			total: 947,
		},
		{
			name: "2 GB for half of a 31-day month", plan: standard, month: dec2026,
			hours: hours("acme", dec2026, 360, 2e9, 0, 0, 0),
			want: map[string]line{
				ItemStorage: {"0.967742", "0.967742", 2}, // 720/744 GB-months x 0.023 = 0.02226
				ItemClassA:  {"0", "0", 0},
				ItemEgress:  {"0", "0", 0},
			},
			total: 2,
		},
		{
			name: "half a cent rounds up", plan: standard, month: nov2026,
			hours: hours("acme", nov2026, 1, 0, 5e8, 0, 0),
			want:  map[string]line{ItemEgress: {"0.5", "0.5", 5}}, // 0.045 -> 4.5 cents -> 5
			total: 5,
		},
		{
			name: "a leap February has 696 hours", plan: standard, month: feb2028,
			hours: hours("acme", feb2028, 696, 10e9, 0, 0, 0),
			want:  map[string]line{ItemStorage: {"10", "10", 23}}, // 10 GB-months x 0.023
			total: 23,
		},
		{
			name: "allowances are free", plan: withAllowance, month: nov2026,
			hours: hours("acme", nov2026, 1, 0, 35e8, 1500, 0),
			want: map[string]line{
				ItemClassA:  {"1.5", "0", 0},    // 1,500 requests, 2,000 included
				ItemEgress:  {"3.5", "2.5", 23}, // 2.5 GB x 0.09 = 0.225 -> 23 cents
				ItemStorage: {"0", "0", 0},
			},
			total: 23,
		},
		{
			name: "other months and tenants are ignored", plan: standard, month: nov2026,
			hours: cat(hours("acme", nov2026.Add(-time.Hour), 1, 1e12, 1e12, 1e6, 1e6),
				hours("acme", dec2026, 1, 1e12, 1e12, 1e6, 1e6),
				hours("other", nov2026, 1, 1e12, 1e12, 1e6, 1e6),
				hours("acme", nov2026.Add(719*time.Hour), 1, 0, 1e9, 0, 0)),
			want:  map[string]line{ItemEgress: {"1", "1", 9}, ItemStorage: {"0", "0", 0}},
			total: 9,
		},
		{
			name: "the free plan charges nothing", plan: mustPlan(t, "free"), month: nov2026,
			hours: hours("acme", nov2026, 720, 4e9, 1e9, 1000, 1000),
			want:  map[string]line{ItemStorage: {"4", "4", 0}, ItemEgress: {"720", "720", 0}},
			total: 0,
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := NewInvoice("acme", c.plan, "usd", c.month.Add(40*time.Hour), c.hours)
			if len(inv.Lines) != 4 {
				t.Fatalf("%d lines", len(inv.Lines))
			}
			for i, l := range inv.Lines {
				if l.Item != Items[i] {
					t.Errorf("line %d is %s, want %s", i, l.Item, Items[i])
				}
				w, ok := c.want[l.Item]
				if !ok {
					continue
				}
				if l.Quantity != w.qty || l.Billable != w.billable || l.Amount != w.cents {
					t.Errorf("%s: quantity %s billable %s amount %d, want %s %s %d", l.Item, l.Quantity, l.Billable, l.Amount, w.qty, w.billable, w.cents)
				}
			}
			if inv.Total != c.total {
				t.Errorf("total %d cents, want %d", inv.Total, c.total)
			}
			start, end := MonthOf(c.month)
			if !inv.Start.Equal(start) || !inv.End.Equal(end) || inv.Plan != c.plan.Name {
				t.Errorf("period %v-%v plan %s", inv.Start, inv.End, inv.Plan)
			}
		})
	}
}

func TestInvoiceExports(t *testing.T) {
	inv := NewInvoice("acme", mustPlan(t, "standard"), "usd", nov2026, hours("acme", nov2026, 1, 0, 100e9, 10_000, 0))
	var buf bytes.Buffer
	if err := inv.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 6 || lines[0] != strings.Join(csvHeader, ",") {
		t.Fatalf("csv:\n%s", buf.String())
	}
	if want := "acme,standard,2026-11-01T00:00:00Z,2026-12-01T00:00:00Z,usd,egress,Data transfer out,100,0,100,GB,0.09,9.00"; lines[4] != want {
		t.Errorf("egress row %q, want %q", lines[4], want)
	}
	if !strings.HasSuffix(lines[5], ",total,Total,,,,,,9.05") {
		t.Errorf("total row %q", lines[5])
	}
	js, err := json.Marshal(inv)
	if err != nil {
		t.Fatal(err)
	}
	var back Invoice
	if err := json.Unmarshal(js, &back); err != nil || back.Total != 905 || back.Lines[0].UnitPrice != 23_000 {
		t.Fatalf("json round trip: %+v %v\n%s", back, err, js)
	}
}

func TestMeterValues(t *testing.T) {
	v := MeterValues(tenancy.Hour{Tenant: "acme", Start: nov2026, StoredBytes: 1e9, EgressBytes: 7, ClassA: 3, ClassB: 4})
	// 1 GB for one hour of a 720-hour month: 1/720 GB-month = 1388.9 micro-GB-months.
	if v[ItemStorage] != 1389 || v[ItemEgress] != 7 || v[ItemClassA] != 3 || v[ItemClassB] != 4 {
		t.Fatalf("meter values %v", v)
	}
	// Over a whole month the hourly rounding stays within half a unit per hour.
	var sum int64
	for _, h := range hours("acme", nov2026, 720, 1e9, 0, 0, 0) {
		sum += MeterValues(h)[ItemStorage]
	}
	if d := sum - 1_000_000; d < 0 || d > 360 {
		t.Fatalf("a month of 1 GB is %d micro-GB-months", sum)
	}
}

func TestMicros(t *testing.T) {
	for _, c := range []struct {
		in   string
		want Micros
		out  string
	}{
		{"0.023", 23_000, "0.023"}, {"5", 5_000_000, "5"}, {"0.0004", 400, "0.0004"}, {"0", 0, "0"}, {"12.5", 12_500_000, "12.5"},
	} {
		got, err := ParseMicros(c.in)
		if err != nil || got != c.want || got.String() != c.out {
			t.Errorf("ParseMicros(%q) = %d %q %v", c.in, got, got.String(), err)
		}
	}
	for _, bad := range []string{"", "-1", "0.0000001", "1e3", "abc", "1.", ".5", "9999999999999"} {
		if _, err := ParseMicros(bad); err == nil {
			t.Errorf("ParseMicros(%q) accepted", bad)
		}
	}
	if got := Cents(905).String(); got != "9.05" {
		t.Errorf("Cents(905) = %s", got)
	}
}

func TestCatalog(t *testing.T) {
	if err := DefaultCatalog().Validate(); err != nil {
		t.Fatal(err)
	}
	good := `{"currency":"eur","default":"basic","free_plan":"free","plans":[
		{"name":"free","max_bytes":1000,"rate":{"requests_per_sec":5,"burst":10},"prices":{}},
		{"name":"basic","prices":{"storage_gb_month":"0.02","class_a_per_1000":"0.004","class_b_per_1000":"0.0003","egress_gb":"0.05"},
		 "included":{"storage_gb_months":"1","class_a":1000},"stripe_prices":{"storage":"price_1","egress":"price_2"}}]}`
	c, err := ParseCatalog(strings.NewReader(good))
	if err != nil {
		t.Fatal(err)
	}
	p, err := c.Plan("basic")
	if err != nil || p.Prices.StorageGBMonth != 20_000 || p.Included.StorageGBMonths != 1_000_000 || p.StripePrices[ItemEgress] != "price_2" {
		t.Fatalf("basic: %+v %v", p, err)
	}
	if free, _ := c.Plan("free"); !free.Free() || free.Rate.RequestsPerSec != 5 {
		t.Fatalf("free: %+v", free)
	}
	if _, err := c.Plan("gold"); !errors.Is(err, ErrUnknownPlan) {
		t.Fatalf("unknown plan: %v", err)
	}
	// Every problem is reported at once.
	bad := `{"currency":"dollars","default":"nope","free_plan":"free","plans":[
		{"name":"Free!","prices":{}},{"name":"x","max_bytes":-1,"stripe_prices":{"gold":"p"},"prices":{}},{"name":"x","prices":{}}]}`
	_, err = ParseCatalog(strings.NewReader(bad))
	if !errors.Is(err, ErrBadCatalog) {
		t.Fatalf("bad catalog: %v", err)
	}
	for _, want := range []string{"currency", "Free!", "max_bytes", "gold", "defined twice", "default plan", "free_plan"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not mention %q: %v", want, err)
		}
	}
	for _, in := range []string{`{"currency":"usd","unknown":1}`, `{"plans":[{"prices":{"storage_gb_month":"-1"}}]}`, `not json`} {
		if _, err := ParseCatalog(strings.NewReader(in)); !errors.Is(err, ErrBadCatalog) {
			t.Errorf("ParseCatalog(%s): %v", in, err)
		}
	}
}

// FuzzParseCatalog: the catalog parser never panics and accepts only
// catalogs that validate.
func FuzzParseCatalog(f *testing.F) {
	f.Add(`{"currency":"usd","default":"a","free_plan":"a","plans":[{"name":"a","prices":{"egress_gb":"0.1"}}]}`)
	f.Add(`{"plans":[{"name":"a","rate":{"requests_per_sec":-1}}]}`)
	f.Fuzz(func(t *testing.T, in string) {
		c, err := ParseCatalog(strings.NewReader(in))
		if err == nil && c.Validate() != nil {
			t.Fatalf("accepted an invalid catalog: %s", in)
		}
	})
}
