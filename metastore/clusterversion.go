package metastore

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble"
	"github.com/hashicorp/raft"
)

// Cluster versions (see doc.go, "Cluster version"). The cluster version is
// the newest state-machine format every node of the cluster can apply. It
// is replicated state (tblClusterVersion), only ever rises, and gates every
// command type or payload version introduced after the first release: such
// a command is proposed only once the cluster version has reached the
// version that introduced it, so a node running the previous release never
// meets an entry it cannot apply.
const (
	// ClusterVersion1 is the format of the first release: commands 1-25
	// and version-1 records. A state without a version record is at 1.
	ClusterVersion1 = 1
	// ClusterVersion2 is the second release's format (object versions,
	// lock and tags; the commands and record extensions of wave 2).
	ClusterVersion2 = 2
	// SupportedClusterVersion is the newest cluster version this binary
	// can apply. A fresh cluster starts at it.
	SupportedClusterVersion = ClusterVersion2
)

// ErrUpgradeRequired: the command needs a newer cluster version than the
// cluster runs: some node may still run a release that cannot apply it.
// It is decided before the command reaches the log (and again, alike on
// every node, by the state machine). Finish the rolling upgrade (raise the
// cluster version) to use the feature.
var ErrUpgradeRequired = errors.New("metastore: cluster version too old for this command")

// ErrBinaryTooOld: the node's metadata is at a cluster version this
// binary cannot apply (the cluster was upgraded past it): Open refuses to
// start rather than meet entries it does not know.
var ErrBinaryTooOld = errors.New("metastore: binary too old for the cluster version")

// setClusterVersionCmd raises the cluster version (never lowers it). It is
// itself a version-1 command type, but only a binary that supports the
// target version knows it: proposers send it only once every member runs
// such a binary (or on a fresh cluster, whose only member is itself).
type setClusterVersionCmd struct{ v uint64 }

func (c *setClusterVersionCmd) write(e *encoder) { e.uvarint(c.v) }
func decodeSetClusterVersion(d *decoder) commandBody {
	return &setClusterVersionCmd{v: d.uvarint()}
}

func (c *setClusterVersionCmd) apply(t *txn) result {
	if c.v > SupportedClusterVersion {
		// The cluster moved past this binary: stop rather than apply
		// later entries of a format it does not know.
		panic(fmt.Sprintf("metastore: the cluster is raising its version to %d; this binary supports up to %d: upgrade it", c.v, SupportedClusterVersion))
	}
	if c.v <= uint64(t.clusterVersion()) {
		return okResult(nil)
	}
	e := encoder{}
	e.uvarint(c.v)
	t.set(keyClusterVersion, e.b)
	return okResult(nil)
}

// checkClusterVersion refuses a state whose cluster version this binary
// does not support, naming the version needed.
func checkClusterVersion(db *pebble.DB) error {
	v, err := getCopy(db, keyClusterVersion)
	if err != nil || v == nil {
		return err
	}
	cv, err := decodeClusterVersion(v)
	if err != nil {
		return err
	}
	if cv > SupportedClusterVersion {
		return fmt.Errorf("%w: this node's metadata is at cluster version %d; this binary supports up to %d: run a release that supports cluster version %d",
			ErrBinaryTooOld, cv, SupportedClusterVersion, cv)
	}
	return nil
}

// clusterVersion is the cluster version in the state the command applies
// against.
func (t *txn) clusterVersion() int {
	v := t.get(keyClusterVersion)
	if v == nil {
		return ClusterVersion1
	}
	cv, err := decodeClusterVersion(v)
	mustOK(err)
	return cv
}

func decodeClusterVersion(b []byte) (int, error) {
	d := decoder{b: b}
	v := d.uvarint()
	if err := d.done(); err != nil || v < ClusterVersion1 {
		return 0, fmt.Errorf("%w: cluster version record", ErrCorrupt)
	}
	return int(v), nil
}

// sinceVersion returns the cluster version that introduced the payload
// version ver of the command type typ (without the ignorable bit).
func sinceVersion(typ cmdType, ver uint8) int {
	since := cmdSince[typ]
	if int(ver) >= 1 && int(ver) <= len(since) {
		return since[ver-1]
	}
	return ClusterVersion1
}

// gate reports ErrUpgradeRequired when cmd needs a newer cluster version
// than cv. It reads only the command header.
func gate(cmd []byte, cv int) error {
	if len(cmd) < 2 {
		return nil // decodeCommand reports it
	}
	typ := cmdType(cmd[0]) &^ cmdIgnorable
	if int(typ) >= len(cmdTable) || cmdTable[typ] == nil {
		return nil
	}
	if need := sinceVersion(typ, cmd[1]); need > cv {
		return fmt.Errorf("%w: %s needs cluster version %d, the cluster is at %d (finish the upgrade: vaultaire cluster upgrade finalize)",
			ErrUpgradeRequired, cmdTable[typ].name, need, cv)
	}
	return nil
}

// ClusterVersion returns the cluster version in this node's applied state.
// It only rises; a follower may briefly report the previous value.
func (s *Store) ClusterVersion() int {
	s.fsm.restoreMu.RLock()
	defer s.fsm.restoreMu.RUnlock()
	v, err := s.fsm.hot.get(s.db, keyClusterVersion)
	if err != nil || v == nil {
		return ClusterVersion1
	}
	cv, err := decodeClusterVersion(v)
	if err != nil {
		return ClusterVersion1
	}
	return cv
}

// SetClusterVersion raises the cluster version to v (a no-op when it is
// already there). Call it only when every member of the cluster runs a
// binary that supports v: older nodes stop at the entry.
func (s *Store) SetClusterVersion(ctx context.Context, v int) error {
	if v < ClusterVersion1 || v > SupportedClusterVersion {
		return fmt.Errorf("%w: cluster version %d (this binary supports %d..%d)", ErrInvalidArgument, v, ClusterVersion1, SupportedClusterVersion)
	}
	_, err := s.write(ctx, cmdSetClusterVersion, &setClusterVersionCmd{v: uint64(v)})
	return err
}

// markFreshCluster records, in local state, that this node bootstrapped a
// new cluster whose version is still to be set: the first WaitLeader that
// finds it leading raises the version to SupportedClusterVersion. The
// marker survives a crash before that happens.
func (s *Store) markFreshCluster() error {
	return s.db.Set(keyFreshCluster, []byte{1}, pebble.Sync)
}

// finishFreshCluster raises a freshly bootstrapped cluster to the version
// of this binary, once, when this node leads.
func (s *Store) finishFreshCluster(ctx context.Context) error {
	v, err := getCopy(s.db, keyFreshCluster)
	if err != nil || v == nil || s.raft.State() != raft.Leader {
		return err
	}
	if err := s.SetClusterVersion(ctx, SupportedClusterVersion); err != nil {
		return fmt.Errorf("metastore: set the version of the new cluster: %w", err)
	}
	return s.db.Delete(keyFreshCluster, pebble.Sync)
}
