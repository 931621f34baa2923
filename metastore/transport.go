package metastore

import (
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// tcpStream is the raft.StreamLayer of the TCP transport the Store creates.
// Unlike raft's own TCPStreamLayer it remembers every connection it
// accepted or dialed and closes them all in Close: raft's NetworkTransport
// leaves inbound connection handlers blocked in a read until the peer hangs
// up, which would outlive the Store.
type tcpStream struct {
	ln        net.Listener
	advertise net.Addr

	mu     sync.Mutex
	conns  map[*trackedConn]struct{}
	closed bool
}

var _ raft.StreamLayer = (*tcpStream)(nil)

func newTCPStream(bind string, advertise net.Addr) (*tcpStream, error) {
	ln, err := net.Listen("tcp", bind)
	if err != nil {
		return nil, err
	}
	if advertise == nil {
		advertise = ln.Addr()
	}
	tcp, ok := advertise.(*net.TCPAddr)
	if !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		ln.Close()
		return nil, fmt.Errorf("metastore: raft address %v is not advertisable; set AdvertiseAddr", advertise)
	}
	return &tcpStream{ln: ln, advertise: advertise, conns: map[*trackedConn]struct{}{}}, nil
}

func (s *tcpStream) track(c net.Conn) (net.Conn, error) {
	tc := &trackedConn{Conn: c, s: s}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		c.Close()
		return nil, net.ErrClosed
	}
	s.conns[tc] = struct{}{}
	return tc, nil
}

// Accept implements net.Listener.
func (s *tcpStream) Accept() (net.Conn, error) {
	c, err := s.ln.Accept()
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Dial implements raft.StreamLayer.
func (s *tcpStream) Dial(addr raft.ServerAddress, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.Dial("tcp", string(addr))
	if err != nil {
		return nil, err
	}
	return s.track(c)
}

// Close closes the listener and every connection.
func (s *tcpStream) Close() error {
	err := s.ln.Close()
	s.mu.Lock()
	s.closed = true
	conns := s.conns
	s.conns = map[*trackedConn]struct{}{}
	s.mu.Unlock()
	for c := range conns {
		c.Conn.Close()
	}
	return err
}

// Addr implements net.Listener: the advertised address.
func (s *tcpStream) Addr() net.Addr { return s.advertise }

type trackedConn struct {
	net.Conn
	s    *tcpStream
	once sync.Once
}

func (c *trackedConn) Close() error {
	c.once.Do(func() {
		c.s.mu.Lock()
		delete(c.s.conns, c)
		c.s.mu.Unlock()
	})
	return c.Conn.Close()
}
