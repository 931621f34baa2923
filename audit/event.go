package audit

import (
	"encoding/json"
	"math"
	"time"
)

// SchemaVersion is written into every event as "schema_version" so readers
// can tell a future layout change from a corrupt line (docs/architecture.md
// invariant 9: versioned wire and disk formats).
const SchemaVersion = 1

// Event is one audited operation. The zero value of every field is valid;
// Logger.Emit fills Time when it is zero.
type Event struct {
	Time        time.Time
	RequestID   string
	Node        string
	Tenant      string
	User        string
	AccessKeyID string

	Operation string
	Container string
	Key       string
	VersionID string

	Status    int
	ErrorCode string
	BytesIn   int64
	BytesOut  int64
	Duration  time.Duration

	RemoteAddr string
	UserAgent  string
	Admin      bool // an admin (non-S3) operation
	// Requester is the signer's tenant when it is not Tenant: a request
	// in a bucket another tenant shares (Tenant is the bucket's owner).
	Requester string
	// Lifecycle marks an action of the lifecycle engine (no request: the
	// rule's ID is in RequestID as "lifecycle:<rule>").
	Lifecycle bool
}

// wireEvent is the JSON form of Event. The field names are the schema and
// must not change without bumping SchemaVersion.
type wireEvent struct {
	SchemaVersion   int     `json:"schema_version"`
	Time            string  `json:"time"`
	RequestID       string  `json:"request_id"`
	Node            string  `json:"node"`
	Tenant          string  `json:"tenant"`
	User            string  `json:"user"`
	AccessKeyID     string  `json:"access_key_id"`
	Operation       string  `json:"operation"`
	Container       string  `json:"container"`
	Key             string  `json:"key"`
	VersionID       string  `json:"version_id"`
	Status          int     `json:"status"`
	ErrorCode       string  `json:"error_code"`
	BytesIn         int64   `json:"bytes_in"`
	BytesOut        int64   `json:"bytes_out"`
	DurationSeconds float64 `json:"duration_seconds"`
	RemoteAddr      string  `json:"remote_addr"`
	UserAgent       string  `json:"user_agent"`
	Admin           bool    `json:"admin"`
	Requester       string  `json:"requester"`
	Lifecycle       bool    `json:"lifecycle,omitempty"`
}

// MarshalJSON encodes e with the schema documented in the package comment:
// time as RFC 3339 with nanoseconds in UTC, duration as float seconds.
func (e Event) MarshalJSON() ([]byte, error) {
	return json.Marshal(wireEvent{
		SchemaVersion:   SchemaVersion,
		Time:            e.Time.UTC().Format(time.RFC3339Nano),
		RequestID:       e.RequestID,
		Node:            e.Node,
		Tenant:          e.Tenant,
		User:            e.User,
		AccessKeyID:     e.AccessKeyID,
		Operation:       e.Operation,
		Container:       e.Container,
		Key:             e.Key,
		VersionID:       e.VersionID,
		Status:          e.Status,
		ErrorCode:       e.ErrorCode,
		BytesIn:         e.BytesIn,
		BytesOut:        e.BytesOut,
		DurationSeconds: e.Duration.Seconds(),
		RemoteAddr:      e.RemoteAddr,
		UserAgent:       e.UserAgent,
		Admin:           e.Admin,
		Requester:       e.Requester,
		Lifecycle:       e.Lifecycle,
	})
}

// UnmarshalJSON decodes the form MarshalJSON writes. The duration is
// rounded to the nearest nanosecond.
func (e *Event) UnmarshalJSON(b []byte) error {
	var w wireEvent
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	var t time.Time
	if w.Time != "" {
		var err error
		if t, err = time.Parse(time.RFC3339Nano, w.Time); err != nil {
			return err
		}
	}
	*e = Event{
		Time:        t,
		RequestID:   w.RequestID,
		Node:        w.Node,
		Tenant:      w.Tenant,
		User:        w.User,
		AccessKeyID: w.AccessKeyID,
		Operation:   w.Operation,
		Container:   w.Container,
		Key:         w.Key,
		VersionID:   w.VersionID,
		Status:      w.Status,
		ErrorCode:   w.ErrorCode,
		BytesIn:     w.BytesIn,
		BytesOut:    w.BytesOut,
		Duration:    time.Duration(math.Round(w.DurationSeconds * 1e9)),
		RemoteAddr:  w.RemoteAddr,
		UserAgent:   w.UserAgent,
		Lifecycle:   w.Lifecycle,
		Admin:       w.Admin,
		Requester:   w.Requester,
	}
	return nil
}
