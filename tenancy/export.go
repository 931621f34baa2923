package tenancy

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"
)

// BytesPerGB is the decimal gigabyte storage is billed in, as AWS bills.
const BytesPerGB = 1e9

// GBMonths returns the storage figure of an invoice for the given hours:
//
//	Σ over hours h of  StoredBytes(h) / 1e9  ×  1 / (hours in h's calendar month, UTC)
//
// so one GB stored for every hour of a month is 1.0 GB-month whether the
// month has 28, 30 or 31 days, and a GB stored for half of it is 0.5.
// It sums all records given; the caller selects a tenant and a period.
// Byte-hours are summed per month before dividing, to keep precision.
func GBMonths(hours []Hour) float64 {
	type month struct {
		year int
		mon  time.Month
	}
	perMonth := make(map[month]float64)
	for _, h := range hours {
		s := h.Start.UTC()
		perMonth[month{s.Year(), s.Month()}] += float64(h.StoredBytes)
	}
	var total float64
	for m, byteHours := range perMonth {
		total += byteHours / BytesPerGB / float64(hoursInMonth(m.year, m.mon))
	}
	return total
}

// hoursInMonth is the number of hours in a calendar month (UTC has no DST).
func hoursInMonth(year int, mon time.Month) int {
	first := time.Date(year, mon, 1, 0, 0, 0, 0, time.UTC)
	return int(first.AddDate(0, 1, 0).Sub(first) / time.Hour)
}

// csvHeader is the first line of WriteCSV's output; columns in this order.
var csvHeader = []string{"tenant", "start", "stored_bytes", "artifacts", "ingress_bytes", "egress_bytes", "class_a", "class_b"}

// WriteCSV writes hours as CSV (RFC 4180): the header
//
//	tenant,start,stored_bytes,artifacts,ingress_bytes,egress_bytes,class_a,class_b
//
// then one line per Hour, start in RFC 3339 UTC, numbers in decimal.
func WriteCSV(w io.Writer, hours []Hour) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(csvHeader); err != nil {
		return err
	}
	for _, h := range hours {
		rec := []string{h.Tenant, h.Start.UTC().Format(time.RFC3339)}
		for _, v := range []int64{h.StoredBytes, h.Artifacts, h.IngressBytes, h.EgressBytes, h.ClassA, h.ClassB} {
			rec = append(rec, strconv.FormatInt(v, 10))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// ReadCSV parses WriteCSV's output.
func ReadCSV(r io.Reader) ([]Hour, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = len(csvHeader)
	head, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrBadRecord, err)
	}
	for i, name := range csvHeader {
		if head[i] != name {
			return nil, fmt.Errorf("%w: column %d is %q, want %q", ErrBadRecord, i+1, head[i], name)
		}
	}
	hours := []Hour{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return hours, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
		}
		line, _ := cr.FieldPos(0)
		h := Hour{Tenant: rec[0]}
		if h.Start, err = time.Parse(time.RFC3339, rec[1]); err != nil {
			return nil, fmt.Errorf("%w: line %d: start: %v", ErrBadRecord, line, err)
		}
		h.Start = h.Start.UTC()
		for i, dst := range []*int64{&h.StoredBytes, &h.Artifacts, &h.IngressBytes, &h.EgressBytes, &h.ClassA, &h.ClassB} {
			if *dst, err = strconv.ParseInt(rec[i+2], 10, 64); err != nil {
				return nil, fmt.Errorf("%w: line %d: %s: %v", ErrBadRecord, line, csvHeader[i+2], err)
			}
		}
		hours = append(hours, h)
	}
}

// WriteJSON writes hours as one JSON array of objects with the CSV column
// names as keys and start in RFC 3339 UTC; an empty list is [].
func WriteJSON(w io.Writer, hours []Hour) error {
	out := make([]Hour, len(hours))
	for i, h := range hours {
		h.Start = h.Start.UTC()
		out[i] = h
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// ReadJSON parses WriteJSON's output.
func ReadJSON(r io.Reader) ([]Hour, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var hours []Hour
	if err := dec.Decode(&hours); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadRecord, err)
	}
	if hours == nil {
		return nil, fmt.Errorf("%w: not a JSON array", ErrBadRecord)
	}
	for i := range hours {
		hours[i].Start = hours[i].Start.UTC()
	}
	return hours, nil
}
