package guard

import (
	"bufio"
	"io"
	"net"
	"strings"
	"testing"
)

// agentOn serves an agent on loopback that answers each line with one
// line, or, with discard, reads everything, answers nothing and sends on
// drained when its connection ends.
func agentOn(b *testing.B, discard bool, drained chan<- struct{}) net.Listener {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if discard {
					_, _ = io.Copy(io.Discard, c)
					drained <- struct{}{}
					return
				}
				r := bufio.NewReader(c)
				for {
					if _, err := r.ReadSlice('\n'); err != nil {
						return
					}
					_, _ = io.WriteString(c, "{\"type\":\"ack\"}\n")
				}
			}()
		}
	}()
	return ln
}

// guardOn serves the guard on loopback in front of agent.
func guardOn(b *testing.B, agent string) net.Listener {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = ln.Close() })
	terms := Terms{MaxMessageBytes: 4096, AllowedTypes: []string{"quote.request"}}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			a, err := net.Dial("tcp", agent)
			if err != nil {
				_ = c.Close()
				continue
			}
			go Serve(c, a, terms)
		}
	}()
	return ln
}

var benchMessage = `{"type":"quote.request","pad":"` + strings.Repeat("x", 1000) + `"}` + "\n"

// BenchmarkRoundTrip is one 1 KiB request and its answer, straight to the
// agent and through the guard: the guard's added latency per message.
func BenchmarkRoundTrip(b *testing.B) {
	for _, mode := range []string{"direct", "guarded"} {
		b.Run(mode, func(b *testing.B) {
			target := agentOn(b, false, nil).Addr().String()
			if mode == "guarded" {
				target = guardOn(b, target).Addr().String()
			}
			c, err := net.Dial("tcp", target)
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			r := bufio.NewReader(c)
			b.SetBytes(int64(len(benchMessage)))
			b.ResetTimer()
			for range b.N {
				if _, err := io.WriteString(c, benchMessage); err != nil {
					b.Fatal(err)
				}
				if _, err := r.ReadSlice('\n'); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkThroughput streams 1 KiB messages one way, straight to the
// agent and through the guard, which parses and checks each one; it ends
// when the agent has read them all.
func BenchmarkThroughput(b *testing.B) {
	for _, mode := range []string{"direct", "guarded"} {
		b.Run(mode, func(b *testing.B) {
			drained := make(chan struct{}, 1)
			target := agentOn(b, true, drained).Addr().String()
			if mode == "guarded" {
				target = guardOn(b, target).Addr().String()
			}
			c, err := net.Dial("tcp", target)
			if err != nil {
				b.Fatal(err)
			}
			w := bufio.NewWriterSize(c, 64<<10)
			b.SetBytes(int64(len(benchMessage)))
			b.ResetTimer()
			for range b.N {
				if _, err := w.WriteString(benchMessage); err != nil {
					b.Fatal(err)
				}
			}
			if err := w.Flush(); err != nil {
				b.Fatal(err)
			}
			_ = c.(*net.TCPConn).CloseWrite()
			<-drained
			_ = c.Close()
		})
	}
}
