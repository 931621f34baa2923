package cluster

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
	"time"
)

// caCommonName is the subject of the cluster CA every node derives.
const caCommonName = "vaultaire cluster CA"

// Fixed CA validity: the CA is derived, not issued, so its dates must be
// the same on every node; they are wide enough never to matter.
var (
	caNotBefore = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
	caNotAfter  = time.Date(2120, 1, 1, 0, 0, 0, 0, time.UTC)
)

// Leaf certificate validity around the process start: the hour before
// absorbs clock skew between nodes; ten years outlives any process.
const (
	leafBackdate = time.Hour
	leafLifetime = 10 * 365 * 24 * time.Hour
)

// clusterTLS holds one process's TLS identity: the CA derived from the
// cluster secret and a fresh leaf certificate for this node signed by it.
type clusterTLS struct {
	nodeID string
	pool   *x509.CertPool
	leaf   tls.Certificate
}

// newClusterTLS derives the cluster CA from secret and issues a leaf for
// nodeID with a fresh ed25519 key.
func newClusterTLS(secret Secret, nodeID string) (*clusterTLS, error) {
	caKey := ed25519.NewKeyFromSeed(secret.Derive(purposeTLSCA, ed25519.SeedSize))
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: caCommonName},
		NotBefore:             caNotBefore,
		NotAfter:              caNotAfter,
		IsCA:                  true,
		BasicConstraintsValid: true,
		MaxPathLenZero:        true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, caKey.Public(), caKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: create CA certificate: %w", err)
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("cluster: parse CA certificate: %w", err)
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cluster: generate node key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("cluster: certificate serial: %w", err)
	}
	now := time.Now()
	leafTmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: nodeID},
		NotBefore:    now.Add(-leafBackdate),
		NotAfter:     now.Add(leafLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, pub, caKey)
	if err != nil {
		return nil, fmt.Errorf("cluster: create node certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return nil, fmt.Errorf("cluster: parse node certificate: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &clusterTLS{
		nodeID: nodeID,
		pool:   pool,
		leaf:   tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: priv, Leaf: leaf},
	}, nil
}

// serverConfig accepts only TLS 1.3 clients presenting a certificate
// signed by the cluster CA, offering protos (most preferred first: the
// server picks the first of its list the client also offers).
func (c *clusterTLS) serverConfig(protos []string) *tls.Config {
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{c.leaf},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    c.pool,
		NextProtos:   protos,
	}
}

// clientConfig presents this node's certificate and verifies the server's
// chain against the cluster CA.
//
// Hostname verification is deliberately off: peers are reached by
// addresses that change (DHCP, containers, port 0 in tests) and their
// certificates name node ids, not hosts. What authenticates a peer is that
// its certificate chains to the CA only holders of the cluster secret can
// derive. crypto/tls ties chain verification to the hostname, so the
// standard check is disabled with InsecureSkipVerify and replaced by
// VerifyConnection, which runs on every handshake (resumed ones included)
// and does the full x509 chain verification against the pool, for server
// authentication, with the current time.
func (c *clusterTLS) clientConfig(protos []string) *tls.Config {
	return &tls.Config{
		MinVersion:         tls.VersionTLS13,
		Certificates:       []tls.Certificate{c.leaf},
		NextProtos:         protos,
		InsecureSkipVerify: true, // replaced by verifyServer; see above
		VerifyConnection:   c.verifyServer,
	}
}

// verifyServer verifies the server's certificate chain against the
// cluster CA, ignoring host names.
func (c *clusterTLS) verifyServer(cs tls.ConnectionState) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("cluster: peer presented no certificate")
	}
	inter := x509.NewCertPool()
	for _, ic := range cs.PeerCertificates[1:] {
		inter.AddCert(ic)
	}
	_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{
		Roots:         c.pool,
		Intermediates: inter,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return fmt.Errorf("cluster: peer certificate is not from this cluster: %w", err)
	}
	return nil
}
