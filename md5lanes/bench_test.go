//go:build unix

package md5lanes

import (
	"crypto/md5"
	"fmt"
	"hash"
	"sync"
	"syscall"
	"testing"
)

// BenchmarkStreams hashes `streams` concurrent 16 MiB streams, written in
// 32 KiB pieces (as request bodies arrive), with crypto/md5 and with
// Digests. Besides the throughput (MB/s over all streams) it reports the
// process CPU seconds per GiB hashed (cpu-s/GiB), the figure that matters
// on a loaded machine: compare the two in the same run.
//
//	go test ./md5lanes -run '^$' -bench Streams -benchtime 5x
func BenchmarkStreams(b *testing.B) {
	const size, piece = 16 << 20, 32 << 10
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(i * 7)
	}
	for _, streams := range []int{1, 4, 16} {
		for _, impl := range []struct {
			name string
			new  func() (hash.Hash, func())
		}{
			{"crypto", func() (hash.Hash, func()) { return md5.New(), func() {} }},
			{"lanes", func() (hash.Hash, func()) { d := New(); return d, func() { d.Close() } }},
		} {
			b.Run(fmt.Sprintf("streams=%d/%s", streams, impl.name), func(b *testing.B) {
				b.SetBytes(int64(streams) * size)
				cpu0 := cpuSeconds()
				p0, l0 := srv.passes.Load(), srv.lanesUsed.Load()
				for i := 0; i < b.N; i++ {
					var wg sync.WaitGroup
					for g := 0; g < streams; g++ {
						wg.Add(1)
						go func() {
							defer wg.Done()
							h, done := impl.new()
							for p := data; len(p) > 0; p = p[piece:] {
								h.Write(p[:piece])
							}
							h.Sum(nil)
							done()
						}()
					}
					wg.Wait()
				}
				gib := float64(b.N) * float64(streams) * size / (1 << 30)
				b.ReportMetric((cpuSeconds()-cpu0)/gib, "cpu-s/GiB")
				if p := srv.passes.Load() - p0; p > 0 {
					b.ReportMetric(float64(srv.lanesUsed.Load()-l0)/float64(p), "lanes/pass")
				}
			})
		}
	}
}

// cpuSeconds is the process's user + system CPU time.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}
