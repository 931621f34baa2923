// Package billing is the arithmetic of Vaultaire's plans and invoices:
// pure functions of configuration and hourly usage records, with no I/O
// and no state. Applying a plan to a tenant, serving invoices and talking
// to a payment provider happen elsewhere (node, admin, console and
// billing/stripe).
//
// # Plans
//
// A Catalog is the operator's list of plans (JSON, --plans), with a
// default plan for new tenants and a free tier. A Plan sets what is applied
// to a tenant the moment it is assigned, and what its usage costs:
//
//   - a request rate (requests per second and burst; absent: the server's
//     default; 0: unlimited) and bandwidth limits (bytes per second);
//   - quotas: stored bytes, artifacts, egress bytes per month (0: none);
//   - prices: per GB-month stored, per 1,000 class A and class B requests,
//     per GB of egress; and optional monthly allowances included free;
//   - optionally the payment provider's price ids (stripe_prices).
//
// Prices are decimal strings in the catalog, held as Micros (millionths of
// the currency unit), so no binary fraction ever enters a price.
//
// # Invoices
//
// Invoice turns one tenant's hourly usage records of a calendar month
// (UTC) into line items, computed exactly with rationals:
//
//	storage   GB-months = Σ StoredBytes(h) / 10^9 / hours in the month
//	class A   requests / 1,000
//	class B   requests / 1,000
//	egress    Σ EgressBytes(h) / 10^9 GB
//
// For each line, billable = max(0, quantity − included) and amount =
// billable × unit price, rounded half up to the cent once per line; the
// total is the sum of the lines. GB are decimal (10^9 bytes), as AWS bills.
// Invoices export as JSON and CSV (WriteCSV).
//
// # Meter values
//
// MeterValues turns one hourly record into the whole-number quantities a
// metered price is reported in: storage in micro-GB-months (10^-6
// GB-month, so a price per unit is the GB-month price / 10^6), requests
// one by one, egress in bytes. Summed over a month they give the invoice's
// quantities up to the rounding of each hour's storage (half a micro
// GB-month per hour at most).
package billing
