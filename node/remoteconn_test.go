package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/vaultaire/vaultaire/cluster"
	"github.com/vaultaire/vaultaire/drivers"
	"github.com/vaultaire/vaultaire/drivers/mem"
	"github.com/vaultaire/vaultaire/node"
	"github.com/vaultaire/vaultaire/node/nodetest"
)

// rpcPeers are other nodes reached over the real internal RPC: each
// serves its four mem drives with cluster.RegisterShards on a TLS server
// and counts the connections it accepts.
type rpcPeers struct {
	drives  []node.PeerDrive
	remotes map[string]drivers.Driver
	conns   map[string]*atomic.Int64
}

func newRPCPeers(t testing.TB, nodes ...string) *rpcPeers {
	p := &rpcPeers{remotes: map[string]drivers.Driver{}, conns: map[string]*atomic.Int64{}}
	for _, n := range nodes {
		local := map[string]drivers.Driver{}
		for i := range 4 {
			local[fmt.Sprintf("%s-d%d", n, i)] = mem.New()
		}
		mux := http.NewServeMux()
		cluster.RegisterShards(mux, func(id string) (drivers.Driver, bool) {
			d, ok := local[id]
			return d, ok
		})
		srv := httptest.NewUnstartedServer(mux)
		conns := &atomic.Int64{}
		srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				conns.Add(1)
			}
		}
		srv.StartTLS()
		t.Cleanup(srv.Close)
		p.conns[n] = conns
		// As the cluster transport's client keeps them (httptest's keeps 2).
		client := srv.Client()
		client.Transport.(*http.Transport).MaxIdleConnsPerHost = 64
		addr := srv.Listener.Addr().String()
		for i := range 4 {
			id := fmt.Sprintf("%s-d%d", n, i)
			r := cluster.NewRemoteDriver(cluster.RemoteConfig{
				Client: client,
				Addr:   func() (string, error) { return addr, nil },
				Drive:  id,
				Usage:  func(context.Context) (drivers.Usage, error) { return drivers.Usage{Online: true}, nil },
			})
			p.remotes[id] = r
			p.drives = append(p.drives, node.PeerDrive{Drive: node.Drive{ID: id, Node: n, Driver: r}, Online: true})
		}
	}
	return p
}

func (p *rpcPeers) Drives() []node.PeerDrive { return p.drives }

func (p *rpcPeers) Driver(_, drive string) (drivers.Driver, bool) {
	d, ok := p.remotes[drive]
	return d, ok
}

func (p *rpcPeers) accepted() (n int64) {
	for _, c := range p.conns {
		n += c.Load()
	}
	return n
}

// TestRemoteShardReadsReuseConnections: reading blobs whose shards sit
// on other nodes does not open a connection per shard per read. Decode
// reads exactly the range it opens and cancels its readers once done;
// before the shard stream read its own end, each read of a remote shard
// closed its connection and the next paid a new TCP connection and TLS
// handshake.
func TestRemoteShardReadsReuseConnections(t *testing.T) {
	ctx := context.Background()
	p := newRPCPeers(t, "node-b", "node-c")
	n := nodetest.StartNode(t, nodetest.Options{Peers: p, InlineThreshold: -1})
	e := n.Engine
	if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, 3<<20)
	for i := range body {
		body[i] = byte(rand.Uint32())
	}
	if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "k", Body: bytes.NewReader(body), Size: int64(len(body))}); err != nil {
		t.Fatalf("put: %v", err)
	}
	if !bytes.Equal(read(t, e, "c", "k", 0, -1), body) {
		t.Fatal("first read: wrong bytes")
	}
	warm := p.accepted()
	const reads = 10
	for i := range reads {
		if !bytes.Equal(read(t, e, "c", "k", 0, -1), body) {
			t.Fatalf("read %d: wrong bytes", i)
		}
		if got := read(t, e, "c", "k", 1<<20, 1000); !bytes.Equal(got, body[1<<20:1<<20+1000]) {
			t.Fatalf("ranged read %d: wrong bytes", i)
		}
	}
	// 3 nodes of 4 drives: 8+4, so each read opens about 5 remote data
	// shards; a connection per shard read would add over 100.
	if extra := p.accepted() - warm; extra > 8 {
		t.Fatalf("%d reads opened %d new connections to the peers (%d after the first read)", 2*reads, extra, warm)
	}
}

// cpuNow is the process's user+system CPU time so far.
func cpuNow(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkGetRemoteShards reads a 16 MiB artifact through one node: "one
// node" with its 4 local drives (2+2), "3 nodes" with 4 local drives and
// 8 on two peers served over the shard RPC (TLS; 8+4, about 5 of the 8
// data shards remote). Peers run in this process, so cpu-ms/op (the
// process's CPU per read) counts both sides; on a loaded machine it is
// steadier than the wall time.
func BenchmarkGetRemoteShards(b *testing.B) {
	const size = 16 << 20
	body := make([]byte, size)
	for i := range body {
		body[i] = byte(rand.Uint32())
	}
	for _, bc := range []struct {
		name  string
		peers bool
	}{{"one-node", false}, {"3-nodes", true}} {
		b.Run(bc.name, func(b *testing.B) {
			ctx := context.Background()
			opts := nodetest.Options{InlineThreshold: -1}
			if bc.peers {
				opts.Peers = newRPCPeers(b, "node-b", "node-c")
			}
			e := nodetest.StartNode(b, opts).Engine
			if err := e.CreateContainer(ctx, tenant, node.CreateContainerInput{Name: "c"}); err != nil {
				b.Fatal(err)
			}
			if _, err := e.PutArtifact(ctx, tenant, node.PutInput{Container: "c", Key: "k", Body: bytes.NewReader(body), Size: size}); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(size)
			start := cpuNow(b)
			for b.Loop() {
				r, err := e.OpenArtifact(ctx, tenant, node.VersionRef{Container: "c", Key: "k"})
				if err != nil {
					b.Fatal(err)
				}
				if err := r.WriteRange(ctx, io.Discard, 0, size); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(cpuNow(b)-start)/float64(b.N)/1e6, "cpu-ms/op")
		})
	}
}
