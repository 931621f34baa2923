package cluster

import (
	"net"
	"testing"
)

func TestTuneTCPSetsUserTimeout(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
		close(accepted)
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if s, ok := <-accepted; ok {
		defer s.Close()
	}
	before, err := userTimeout(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	tuneTCP(c)
	after, err := userTimeout(c.(*net.TCPConn))
	if err != nil {
		t.Fatal(err)
	}
	if after != peerTimeout || before == after {
		t.Fatalf("TCP_USER_TIMEOUT %v before, %v after tuneTCP; want %v after", before, after, peerTimeout)
	}
}
