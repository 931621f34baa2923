package metastore

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestRefused: a refusal by the state machine is Refused on the proposing
// node and through a follower's forwarder, keeps its sentinel, and no
// other kind of write error is.
func TestRefused(t *testing.T) {
	c := newTestCluster(t, 3, true, nil)
	ctx := context.Background()
	l := c.waitLeader()
	if err := l.store().CreateContainer(ctx, Container{Tenant: "t", Name: "b"}); err != nil {
		t.Fatal(err)
	}
	for _, n := range append([]*testNode{l}, c.followers()...) {
		err := n.store().CreateContainer(ctx, Container{Tenant: "t", Name: "b"})
		if !errors.Is(err, ErrExists) || !Refused(err) {
			t.Fatalf("%s: creating a container again: %v; Refused = %v", n.id, err, Refused(err))
		}
	}
	for _, err := range []error{
		ErrLeadershipLost, ErrNotLeader, ErrClosed, context.Canceled,
		fmt.Errorf("%w: none answered (an earlier attempt: %w)", ErrNotLeader, ErrLeadershipLost),
	} {
		if Refused(err) {
			t.Errorf("Refused(%v) = true", err)
		}
	}
}
