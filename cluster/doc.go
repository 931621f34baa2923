// Package cluster connects Vaultaire nodes: who is in the cluster
// (gossip membership), how nodes reach each other (one authenticated
// port carrying Raft and internal RPC), and the RPC itself (remote drives,
// forwarding metadata writes to the Raft leader).
//
// It owns the cluster secret and everything derived from it, the node
// transport, the gossip member table and the internal RPC protocol. It
// knows metastore only for the forwarding contract and drivers only
// because a drive on another node is a drivers.Driver; package node wires
// it to the rest.
//
// # Cluster secret
//
// One Secret (32 random bytes, text form "vcs1_" + 64 lowercase hex
// digits) is shared by every node. All keys come from it by HKDF-SHA256
// with a purpose string (Secret.Derive): the memberlist AES-256 key
// ("memberlist-aes256"), the metastore master key that seals S3 secret
// keys ("metastore-master-key", so it is identical on every node) and the
// seed of the cluster CA key ("tls-ca"). The purpose strings are part of
// the compatibility contract. A Secret prints as "vcs1_<redacted>"; only
// Encode reveals it.
//
// # Transport
//
// A node has one cluster port (Transport). Every connection is TLS 1.3
// with mutual authentication:
//
//   - Every holder of the secret derives the same ed25519 CA key and
//     self-signs a CA certificate with a fixed template (CN "vaultaire
//     cluster CA"). The CA key never leaves memory and is never sent.
//   - Each process makes a fresh ed25519 node key and a leaf certificate
//     (CN = node id, server and client auth) signed by the CA.
//   - Servers require a client certificate that chains to the CA; clients
//     verify that the server's chains to the CA. Host names are not
//     checked (addresses change); the chain is. A peer with another secret
//     fails the handshake on both sides, and the refusal is counted
//     (Transport.Rejected) and logged, rate-limited.
//   - An RPC handler learns the caller's node id with PeerNodeID.
//
// The port carries two protocols, told apart by TLS ALPN during the
// handshake: "vaultaire-raft/1" connections are queued for Raft
// (Transport.RaftLayer, a raft.StreamLayer for raft.NewNetworkTransport);
// "vaultaire-rpc/1" connections are served as HTTP/1.1 by the handler
// given to Transport.Serve, and Transport.Client dials them. Handshakes
// run on their own goroutines, bounded by HandshakeTimeout, so one slow
// peer never blocks the accept loop. Every connection's TLS runs over a
// tlsbatch.Conn, and an RPC connection holds it around each large write,
// so the 16 records of a shard stream's 256 KiB slice reach the socket in
// one write syscall rather than 16.
//
// Versioning rule: the number after the slash is the protocol's major
// version. A release that changes a protocol incompatibly offers the new
// and the previous version (".../2" and ".../1", highest first); the server
// picks the highest one both sides offer. So two adjacent releases always
// share a version and interoperate during a rolling upgrade; a release
// drops ".../1" only once no release speaking only ".../1" can be in the
// cluster. Compatible changes inside a version (new RPC endpoints, new
// fields) are handled by the RPC's own version header.
//
// # Gossip
//
// Membership runs hashicorp/memberlist (SWIM) on a separate UDP+TCP port,
// encrypted and authenticated with Secret.MemberlistKey, with incoming and
// outgoing verification on, so a process without the secret can neither
// join nor inject gossip. Timing defaults are tuned for a LAN: a killed
// node is declared dead within a few seconds.
//
// Each node advertises a NodeMeta: its id, software version, S3, RPC
// (cluster transport) and admin addresses, its NodeState (joining, active,
// draining, leaving) and its drives (id, total and free bytes, online).
// The encoding (see encodeNodeMeta) is binary with a leading format
// version byte and must fit memberlist's 512 bytes; drives that do not fit
// are dropped from the end and the reader sees DrivesTruncated. Readers
// ignore trailing bytes, so a later release may append fields.
//
// The member table keeps every node ever seen: Alive while gossip reaches
// it, Dead when gossip declares it failed, Left when it departed on
// purpose (Membership.Leave gossips NodeLeaving first, then leaves). Dead
// and left members stay listed until they come back; OnChange fires after
// any change. memberlist v0.7 does not report suspicion to its delegates,
// so MemberSuspect is reserved and not yet shown.
//
// ## RPC
//
// Described in rpc.go.
package cluster
