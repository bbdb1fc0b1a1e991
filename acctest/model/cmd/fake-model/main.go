// Command fake-model serves the local OpenAI-compatible model of package
// model on an address, for the demo: `fake-model 127.0.0.1:11434`.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/agentmesh/agentmesh/acctest/model"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: fake-model <host:port>")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake-model:", err)
		os.Exit(1)
	}
	m := model.New("llama3", "mistral")
	srv := &http.Server{Handler: m, ReadHeaderTimeout: 10 * time.Second}
	if err := srv.Serve(ln); err != nil {
		fmt.Fprintln(os.Stderr, "fake-model:", err)
		os.Exit(1)
	}
}
