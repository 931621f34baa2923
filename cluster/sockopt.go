package cluster

import (
	"net"
	"time"
)

// Internode connections must notice a peer that vanished without closing
// them (a partition, a pulled cable, a frozen host): TCP alone would keep
// retransmitting for many minutes, and a PUT streaming a shard to that
// peer, or Raft waiting on it, would hang as long. So every internode TCP
// connection sends keepalives when idle and, on Linux, gives up when sent
// data stays unacknowledged for peerTimeout (TCP_USER_TIMEOUT): the
// stream then fails, the shard counts as not written, and the write
// quorum decides.
const (
	// peerTimeout is how long unacknowledged data (or unanswered
	// keepalives) may wait before the connection is dropped.
	peerTimeout = 10 * time.Second
	// keepAliveIdle and keepAliveInterval start probing an idle
	// connection after 5s of silence, every 2s.
	keepAliveIdle     = 5 * time.Second
	keepAliveInterval = 2 * time.Second
)

// tuneTCP applies the settings above to c (best effort: a failure leaves
// the connection as it was, with TCP's default behaviour).
func tuneTCP(c net.Conn) {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.SetKeepAliveConfig(net.KeepAliveConfig{
		Enable: true, Idle: keepAliveIdle, Interval: keepAliveInterval, Count: 3,
	})
	setUserTimeout(tc, peerTimeout)
}
