//go:build !linux

package cluster

import (
	"errors"
	"net"
	"time"
)

// setUserTimeout: TCP_USER_TIMEOUT is Linux-only; elsewhere keepalives
// alone detect a vanished peer.
func setUserTimeout(*net.TCPConn, time.Duration) {}

func userTimeout(*net.TCPConn) (time.Duration, error) {
	return 0, errors.ErrUnsupported
}
