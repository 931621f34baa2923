package node

import (
	"fmt"
	"log/slog"
	"testing"
)

// TestScrubErrorsKeepTheLatest: the status lists at most scrubErrorsKept
// errors, the latest, oldest first; the pass counts them all and its
// position moves past each.
func TestScrubErrorsKeepTheLatest(t *testing.T) {
	s := newScrubber(&Engine{log: slog.New(slog.DiscardHandler)})
	const n = scrubErrorsKept + 5
	for i := range n {
		s.failed(ScrubError{Blob: fmt.Sprint("b", i), Err: "bad shape"}, []byte{byte(i)})
	}
	st := s.status()
	if len(st.Errors) != scrubErrorsKept || st.Errors[0].Blob != "b5" || st.Errors[scrubErrorsKept-1].Blob != fmt.Sprint("b", n-1) {
		t.Fatalf("kept %d errors, first %+v", len(st.Errors), st.Errors[0])
	}
	if st.PassErrors != n || s.e.stats.scrubErrors.Load() != n {
		t.Fatalf("pass errors %d, counter %d; want %d", st.PassErrors, s.e.stats.scrubErrors.Load(), n)
	}
	if c := s.mu.st.Cursor; len(c) != 1 || c[0] != byte(n-1) {
		t.Fatalf("cursor %v, want past the last error", c)
	}
	st.Errors[0].Blob = "changed"
	if s.status().Errors[0].Blob != "b5" {
		t.Fatal("the status shares its error list with the scrubber")
	}
}
