package billing

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"regexp"
	"strings"

	"github.com/vaultaire/vaultaire/tenancy"
)

// Errors of package billing.
var (
	// ErrBadCatalog: a plan catalog failed to parse or validate.
	ErrBadCatalog = errors.New("billing: invalid plan catalog")
	// ErrUnknownPlan: no plan of that name in the catalog.
	ErrUnknownPlan = errors.New("billing: unknown plan")
)

// Micros is a decimal held in millionths: a price in millionths of the
// currency unit, or an allowance in millionths of its unit (GB-month, GB).
type Micros int64

// ParseMicros parses a non-negative decimal ("0.023", "5", "0.0004") with
// at most 6 decimals.
func ParseMicros(s string) (Micros, error) {
	if !decimalRe.MatchString(s) {
		return 0, fmt.Errorf("%q is not a non-negative decimal number", s)
	}
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return 0, fmt.Errorf("%q is not a number", s)
	}
	r.Mul(r, big.NewRat(1e6, 1))
	if !r.IsInt() {
		return 0, fmt.Errorf("%q has more than 6 decimals", s)
	}
	if !r.Num().IsInt64() || r.Num().Int64() > 1e15 {
		return 0, fmt.Errorf("%q is too large", s)
	}
	return Micros(r.Num().Int64()), nil
}

var decimalRe = regexp.MustCompile(`^[0-9]{1,12}(\.[0-9]{1,6})?$`)

// String formats m as a decimal with the digits it needs ("0.023").
func (m Micros) String() string {
	s := fmt.Sprintf("%d.%06d", int64(m)/1e6, int64(m)%1e6)
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// MarshalJSON writes m as a decimal string.
func (m Micros) MarshalJSON() ([]byte, error) { return json.Marshal(m.String()) }

// UnmarshalJSON reads a decimal string (or a JSON number).
func (m *Micros) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	v, err := ParseMicros(s)
	if err != nil {
		return err
	}
	*m = v
	return nil
}

func (m Micros) rat() *big.Rat { return big.NewRat(int64(m), 1e6) }

// Prices are what a plan charges. Unit prices are per GB-month stored, per
// 1,000 class A and class B requests, and per GB of egress.
type Prices struct {
	StorageGBMonth Micros `json:"storage_gb_month"`
	ClassAPer1000  Micros `json:"class_a_per_1000"`
	ClassBPer1000  Micros `json:"class_b_per_1000"`
	EgressGB       Micros `json:"egress_gb"`
}

// Included are monthly allowances billed at no charge (quantities in
// GB-months, requests and GB).
type Included struct {
	StorageGBMonths Micros `json:"storage_gb_months"`
	ClassA          int64  `json:"class_a"`
	ClassB          int64  `json:"class_b"`
	EgressGB        Micros `json:"egress_gb"`
}

// RateLimit is a plan's request rate: RequestsPerSec sustained with Burst
// at once (RequestsPerSec 0: unlimited).
type RateLimit struct {
	RequestsPerSec float64 `json:"requests_per_sec"`
	Burst          int     `json:"burst"`
}

// Plan is one plan of the catalog.
type Plan struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Rate replaces the server's default request rate; nil keeps it.
	Rate           *RateLimit `json:"rate,omitempty"`
	BytesInPerSec  int64      `json:"bytes_in_per_sec,omitempty"`
	BytesOutPerSec int64      `json:"bytes_out_per_sec,omitempty"`
	// Quotas (0: none).
	MaxBytes               int64 `json:"max_bytes,omitempty"`
	MaxArtifacts           int64 `json:"max_artifacts,omitempty"`
	MaxEgressBytesPerMonth int64 `json:"max_egress_bytes_per_month,omitempty"`

	Prices   Prices   `json:"prices"`
	Included Included `json:"included"`
	// StripePrices maps line items (storage, class_a, class_b, egress) to
	// the payment provider's metered price ids; a plan without them is not
	// billed through the provider.
	StripePrices map[string]string `json:"stripe_prices,omitempty"`
}

// Limits returns what assigning the plan applies: whether its rate
// replaces the server's default (override), the rate and bandwidth, and
// the quotas.
func (p Plan) Limits() (override bool, lim tenancy.Limit, q tenancy.Quota) {
	if p.Rate != nil {
		override = true
		lim.RequestsPerSec, lim.Burst = p.Rate.RequestsPerSec, p.Rate.Burst
	}
	lim.BytesInPerSec, lim.BytesOutPerSec = p.BytesInPerSec, p.BytesOutPerSec
	q = tenancy.Quota{MaxBytes: p.MaxBytes, MaxArtifacts: p.MaxArtifacts, MaxEgressBytesPerMonth: p.MaxEgressBytesPerMonth}
	return override, lim, q
}

// Free reports whether the plan charges nothing.
func (p Plan) Free() bool { return p.Prices == Prices{} }

// Catalog is the operator's plans.
type Catalog struct {
	Currency string `json:"currency"`
	// Default is the plan of new tenants; FreePlan the one a tenant falls
	// back to when its paid subscription ends.
	Default  string `json:"default"`
	FreePlan string `json:"free_plan"`
	Plans    []Plan `json:"plans"`
}

// DefaultCatalog is the catalog without a --plans file: a free tier with
// quotas and a modest rate, and a pay-as-you-go standard plan priced as
// common S3 list prices.
func DefaultCatalog() Catalog {
	return Catalog{
		Currency: "usd",
		Default:  "standard",
		FreePlan: "free",
		Plans: []Plan{
			{
				Name:                   "free",
				Description:            "Free tier: 5 GB, 100,000 artifacts, 10 GB egress a month",
				Rate:                   &RateLimit{RequestsPerSec: 20, Burst: 40},
				MaxBytes:               5_000_000_000,
				MaxArtifacts:           100_000,
				MaxEgressBytesPerMonth: 10_000_000_000,
			},
			{
				Name:        "standard",
				Description: "Pay as you go",
				Prices:      Prices{StorageGBMonth: 23_000, ClassAPer1000: 5_000, ClassBPer1000: 400, EgressGB: 90_000},
			},
		},
	}
}

// Item names of invoice lines and metered prices.
const (
	ItemStorage = "storage"
	ItemClassA  = "class_a"
	ItemClassB  = "class_b"
	ItemEgress  = "egress"
)

// Items are the line items, in invoice order.
var Items = []string{ItemStorage, ItemClassA, ItemClassB, ItemEgress}

var (
	planNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	currencyRe = regexp.MustCompile(`^[a-z]{3}$`)
)

// Validate reports every problem of the catalog at once.
func (c Catalog) Validate() error {
	var errs []error
	if !currencyRe.MatchString(c.Currency) {
		errs = append(errs, fmt.Errorf("currency %q: want a 3-letter lower-case ISO code such as usd", c.Currency))
	}
	seen := map[string]bool{}
	for i, p := range c.Plans {
		if !planNameRe.MatchString(p.Name) {
			errs = append(errs, fmt.Errorf("plan %d: name %q: want 1-63 characters of a-z, 0-9, _ and -", i, p.Name))
		}
		if seen[p.Name] {
			errs = append(errs, fmt.Errorf("plan %q defined twice", p.Name))
		}
		seen[p.Name] = true
		if r := p.Rate; r != nil && (r.RequestsPerSec < 0 || r.RequestsPerSec > 1e9 || r.Burst < 0 || r.Burst > 1<<30) {
			errs = append(errs, fmt.Errorf("plan %q: rate out of range", p.Name))
		}
		for what, v := range map[string]int64{"bytes_in_per_sec": p.BytesInPerSec, "bytes_out_per_sec": p.BytesOutPerSec,
			"max_bytes": p.MaxBytes, "max_artifacts": p.MaxArtifacts, "max_egress_bytes_per_month": p.MaxEgressBytesPerMonth,
			"included.class_a": p.Included.ClassA, "included.class_b": p.Included.ClassB} {
			if v < 0 {
				errs = append(errs, fmt.Errorf("plan %q: %s must be >= 0", p.Name, what))
			}
		}
		for item := range p.StripePrices {
			if !validItem(item) {
				errs = append(errs, fmt.Errorf("plan %q: stripe_prices: unknown item %q (want storage, class_a, class_b, egress)", p.Name, item))
			}
		}
	}
	if !seen[c.Default] {
		errs = append(errs, fmt.Errorf("default plan %q is not in the catalog", c.Default))
	}
	if !seen[c.FreePlan] {
		errs = append(errs, fmt.Errorf("free_plan %q is not in the catalog", c.FreePlan))
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrBadCatalog, errors.Join(errs...))
	}
	return nil
}

func validItem(item string) bool {
	for _, it := range Items {
		if it == item {
			return true
		}
	}
	return false
}

// ParseCatalog reads a catalog as JSON (unknown fields refused) and
// validates it.
func ParseCatalog(r io.Reader) (Catalog, error) {
	var c Catalog
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Catalog{}, fmt.Errorf("%w: %v", ErrBadCatalog, err)
	}
	return c, c.Validate()
}

// Plan returns the plan of that name.
func (c Catalog) Plan(name string) (Plan, error) {
	for _, p := range c.Plans {
		if p.Name == name {
			return p, nil
		}
	}
	return Plan{}, fmt.Errorf("%w: %q", ErrUnknownPlan, name)
}
