package metastore

import (
	"bytes"
	"strings"
	"testing"
)

func TestOpJobs(t *testing.T) {
	s := openSingle(t, t.TempDir())
	ctx := ctxT(t)
	mustNoErr(t, s.SetOpJob(ctx, "decom/node-b", []byte(`{"state":"draining"}`)))
	mustNoErr(t, s.SetOpJob(ctx, "decom/node-c", []byte(`{"state":"paused"}`)))
	mustNoErr(t, s.SetOpJob(ctx, "decom-progress/node-b", []byte(`{"moved":3}`)))
	jobs, err := s.OpJobs(ctx, "decom/")
	mustNoErr(t, err)
	if len(jobs) != 2 || !bytes.Equal(jobs["decom/node-c"], []byte(`{"state":"paused"}`)) {
		t.Fatalf("decom jobs: %q", jobs)
	}
	// Replace, then delete with an empty value.
	mustNoErr(t, s.SetOpJob(ctx, "decom/node-b", []byte(`{"state":"paused"}`)))
	mustNoErr(t, s.SetOpJob(ctx, "decom/node-c", nil))
	jobs, err = s.OpJobs(ctx, "decom")
	mustNoErr(t, err)
	if len(jobs) != 2 || jobs["decom/node-c"] != nil || string(jobs["decom/node-b"]) != `{"state":"paused"}` || jobs["decom-progress/node-b"] == nil {
		t.Fatalf("jobs after replace and delete: %q", jobs)
	}
	for _, bad := range []struct {
		name  string
		value []byte
	}{
		{"", []byte("x")},
		{"noslash", []byte("x")},
		{"decom/" + strings.Repeat("n", maxOpJobName), []byte("x")},
		{"decom/n", bytes.Repeat([]byte("x"), maxOpJob+1)},
	} {
		wantErr(t, s.SetOpJob(ctx, bad.name, bad.value), ErrInvalidArgument)
	}
}

func TestOpJobsNeedClusterVersion2(t *testing.T) {
	s := openAtV1(t)
	wantErr(t, s.SetOpJob(ctxT(t), "decom/node-b", []byte("x")), ErrUpgradeRequired)
}
