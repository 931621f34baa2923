package billing

import (
	"encoding/csv"
	"fmt"
	"io"
	"math/big"
	"time"

	"github.com/vaultaire/vaultaire/tenancy"
)

// Cents is an amount in hundredths of the currency unit.
type Cents int64

// String formats c as "12.34" (a minus sign for negative amounts).
func (c Cents) String() string {
	sign := ""
	if c < 0 {
		sign, c = "-", -c
	}
	return fmt.Sprintf("%s%d.%02d", sign, int64(c)/100, int64(c)%100)
}

// Line is one line of an invoice.
type Line struct {
	Item        string `json:"item"` // storage, class_a, class_b, egress
	Description string `json:"description"`
	// Quantity is the measured amount in Unit, Included the allowance and
	// Billable what is charged (decimal strings, 6 decimals at most,
	// rounded half up).
	Quantity  string `json:"quantity"`
	Included  string `json:"included"`
	Billable  string `json:"billable"`
	Unit      string `json:"unit"`
	UnitPrice Micros `json:"unit_price"`
	Amount    Cents  `json:"amount_cents"`
}

// Invoice is one tenant's bill for one calendar month (UTC).
type Invoice struct {
	Tenant   string    `json:"tenant"`
	Plan     string    `json:"plan"`
	Currency string    `json:"currency"`
	Start    time.Time `json:"period_start"`
	End      time.Time `json:"period_end"`
	Lines    []Line    `json:"lines"`
	Total    Cents     `json:"total_cents"`
	// Hours is the number of hourly records the invoice was made from.
	Hours int `json:"hours"`
}

// MonthOf returns the calendar month (UTC) containing t: [start, end).
func MonthOf(t time.Time) (start, end time.Time) {
	t = t.UTC()
	start = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// NewInvoice computes the invoice of tenant on plan for the calendar month
// containing month, from its hourly usage records; records outside the
// month, or of another tenant, are ignored. The arithmetic is exact
// (rationals); each line is rounded half up to the cent once.
func NewInvoice(tenant string, plan Plan, currency string, month time.Time, hours []tenancy.Hour) Invoice {
	start, end := MonthOf(month)
	inv := Invoice{Tenant: tenant, Plan: plan.Name, Currency: currency, Start: start, End: end}
	byteHours, egress := new(big.Int), new(big.Int)
	var classA, classB int64
	for _, h := range hours {
		s := h.Start.UTC()
		if h.Tenant != tenant || s.Before(start) || !s.Before(end) {
			continue
		}
		inv.Hours++
		byteHours.Add(byteHours, big.NewInt(h.StoredBytes))
		egress.Add(egress, big.NewInt(h.EgressBytes))
		classA += h.ClassA
		classB += h.ClassB
	}
	monthHours := int64(end.Sub(start) / time.Hour)
	storage := new(big.Rat).SetFrac(byteHours, big.NewInt(1e9*monthHours))
	egressGB := new(big.Rat).SetFrac(egress, big.NewInt(1e9))
	thousand := big.NewRat(1000, 1)
	lines := []struct {
		item, desc, unit string
		qty              *big.Rat
		included         *big.Rat
		price            Micros
	}{
		{ItemStorage, "Storage", "GB-month", storage, plan.Included.StorageGBMonths.rat(), plan.Prices.StorageGBMonth},
		{ItemClassA, "Class A requests (PUT, COPY, POST, LIST)", "1,000 requests", new(big.Rat).Quo(big.NewRat(classA, 1), thousand),
			new(big.Rat).Quo(big.NewRat(plan.Included.ClassA, 1), thousand), plan.Prices.ClassAPer1000},
		{ItemClassB, "Class B requests (GET, HEAD and others)", "1,000 requests", new(big.Rat).Quo(big.NewRat(classB, 1), thousand),
			new(big.Rat).Quo(big.NewRat(plan.Included.ClassB, 1), thousand), plan.Prices.ClassBPer1000},
		{ItemEgress, "Data transfer out", "GB", egressGB, plan.Included.EgressGB.rat(), plan.Prices.EgressGB},
	}
	for _, l := range lines {
		billable := new(big.Rat).Sub(l.qty, l.included)
		if billable.Sign() < 0 {
			billable.SetInt64(0)
		}
		amount := new(big.Rat).Mul(billable, l.price.rat())
		line := Line{
			Item: l.item, Description: l.desc, Unit: l.unit, UnitPrice: l.price,
			Quantity: decimal(l.qty), Included: decimal(l.included), Billable: decimal(billable),
			Amount: roundCents(amount),
		}
		inv.Lines = append(inv.Lines, line)
		inv.Total += line.Amount
	}
	return inv
}

// roundCents rounds an amount in currency units half up to cents.
func roundCents(r *big.Rat) Cents {
	c := new(big.Rat).Mul(r, big.NewRat(100, 1))
	return Cents(roundHalfUp(c))
}

// roundHalfUp rounds a non-negative rational to the nearest integer,
// halves up.
func roundHalfUp(r *big.Rat) int64 {
	num := new(big.Int).Mul(r.Num(), big.NewInt(2))
	num.Add(num, r.Denom())
	den := new(big.Int).Mul(r.Denom(), big.NewInt(2))
	return new(big.Int).Div(num, den).Int64() // floor((2n+d)/2d) = floor(n/d + 1/2)
}

// decimal formats r with 6 decimals, rounded half up, trailing zeros cut.
func decimal(r *big.Rat) string {
	m := new(big.Rat).Mul(r, big.NewRat(1e6, 1))
	return Micros(roundHalfUp(m)).String()
}

// csvHeader is the first line of WriteCSV's output.
var csvHeader = []string{"tenant", "plan", "period_start", "period_end", "currency", "item", "description",
	"quantity", "included", "billable", "unit", "unit_price", "amount"}

// WriteCSV writes the invoice as CSV: the header, one row per line, and a
// last row with item "total".
func (inv Invoice) WriteCSV(w io.Writer) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	head := []string{inv.Tenant, inv.Plan, inv.Start.Format(time.RFC3339), inv.End.Format(time.RFC3339), inv.Currency}
	for _, l := range inv.Lines {
		row := append(append([]string{}, head...), l.Item, l.Description, l.Quantity, l.Included, l.Billable, l.Unit, l.UnitPrice.String(), l.Amount.String())
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	if err := cw.Write(append(append([]string{}, head...), "total", "Total", "", "", "", "", "", inv.Total.String())); err != nil {
		return err
	}
	cw.Flush()
	return cw.Error()
}

// MeterValues returns the whole-number quantities one hourly record adds
// to metered prices: storage in micro-GB-months (10^-6 GB-month, rounded
// half up per hour), requests one by one, egress in bytes.
func MeterValues(h tenancy.Hour) map[string]int64 {
	start, end := MonthOf(h.Start)
	monthHours := int64(end.Sub(start) / time.Hour)
	// bytes / 1e9 / monthHours GB-months = bytes / (1000 * monthHours) micro-GB-months.
	storage := roundHalfUp(big.NewRat(max(h.StoredBytes, 0), 1000*monthHours))
	return map[string]int64{
		ItemStorage: storage,
		ItemClassA:  h.ClassA,
		ItemClassB:  h.ClassB,
		ItemEgress:  h.EgressBytes,
	}
}
