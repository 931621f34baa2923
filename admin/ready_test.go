package admin

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vaultaire/vaultaire/metrics"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

func getReady(t *testing.T, url string) (int, Readiness) {
	t.Helper()
	resp, err := http.Get(url + "/health/ready")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var rd Readiness
	if err := json.Unmarshal(b, &rd); err != nil {
		t.Fatalf("ready body %q: %v", b, err)
	}
	return resp.StatusCode, rd
}

// TestReadinessFollowsRaftLeader takes the metastore's leader away for
// real: a voter that does not exist is added to the one-node Raft group,
// so the leader can no longer reach a majority, loses its lease and steps
// down. Readiness must flip from 200 to 503 naming the missing leader.
func TestReadinessFollowsRaftLeader(t *testing.T) {
	n := nodetest.StartNode(t, nodetest.Options{})
	reg, err := metrics.New(metrics.Config{})
	if err != nil {
		t.Fatal(err)
	}
	drives := make([]node.Drive, len(n.Drives))
	for i, d := range n.Drives {
		drives[i] = node.Drive{ID: d.ID(), Node: "test-node", Driver: d}
	}
	adm := newAdmin(reg, n.Engine, n.Meta, drives, 3, "", slog.New(slog.DiscardHandler))
	srv := httptest.NewServer(adm.handler())
	defer srv.Close()

	if code, rd := getReady(t, srv.URL); code != 200 || !rd.Ready || !rd.Raft.HasLeader {
		t.Fatalf("healthy node: %d %+v", code, rd)
	}
	// The configuration change cannot commit without the ghost, but the
	// leader adopts it at once, and with it a quorum of two.
	n.Meta.Raft().AddVoter("ghost", raft.ServerAddress("ghost"), 0, 500*time.Millisecond)
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, rd := getReady(t, srv.URL)
		if code == http.StatusServiceUnavailable && !rd.Ready && !rd.Raft.HasLeader &&
			strings.Contains(strings.Join(rd.Reasons, ";"), "no Raft leader") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Readiness did not flip after losing the leader: %d %+v", code, rd)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestStartingAnswers: before the node is open, liveness is 200 and
// readiness 503 "starting".
func TestStartingAnswers(t *testing.T) {
	srv := httptest.NewServer(Starting(time.Now()))
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/health/live")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("live while starting: %d", resp.StatusCode)
	}
	if code, rd := getReady(t, srv.URL); code != 503 || rd.Ready || len(rd.Reasons) != 1 || rd.Reasons[0] != "node: starting" {
		t.Fatalf("ready while starting: %d %+v", code, rd)
	}
}
