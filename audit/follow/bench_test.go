package follow

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"github.com/agentmesh/agentmesh/audit"
	"github.com/agentmesh/agentmesh/reconciler/derive"
	"github.com/agentmesh/agentmesh/reconciler/intent"
)

// benchNet is a network of 1,000 agents in 10 workgroups and 100
// endpoints, each open to one workgroup.
func benchNet() *derive.Network {
	n := &derive.Network{Identities: map[string]*intent.ObservedIdentity{}, Workgroups: map[string]*intent.Stored[intent.Workgroup]{},
		Contracts: map[string]*intent.Stored[intent.Contract]{"c": {Value: intent.Contract{Name: "c"}}}, Endpoints: map[string]*derive.ObservedEndpoint{},
		GatewayServices: map[string]derive.GatewayService{}, Gateways: map[string]*intent.Stored[intent.Gateway]{}}
	for w := 0; w < 10; w++ {
		name := fmt.Sprintf("wg%d", w)
		n.Workgroups[name] = &intent.Stored[intent.Workgroup]{Value: intent.Workgroup{Name: name, OwnerOrganization: "org"}}
	}
	for i := 0; i < 1000; i++ {
		id := fmt.Sprintf("id%d", i)
		n.Identities[id] = &intent.ObservedIdentity{ID: id, Identity: intent.Identity{Name: "agent-" + id, Organization: "org"}}
		n.Memberships = append(n.Memberships, &intent.Stored[intent.Membership]{Value: intent.Membership{Workgroup: fmt.Sprintf("wg%d", i%10), Identity: id}})
	}
	for e := 0; e < 100; e++ {
		sid := fmt.Sprintf("svc%d", e)
		n.Endpoints[sid] = &derive.ObservedEndpoint{ServiceID: sid, Endpoint: intent.Endpoint{Name: "ep-" + sid, Host: "id0", Contract: "c", Workgroups: []string{fmt.Sprintf("wg%d", e%10)}}}
	}
	return n
}

// BenchmarkFollowEvents measures what the follower sustains: controller
// circuit events (as ziti v1.6 streams them) parsed, joined with the
// intent that granted each dial, and written to the trail with its
// cursor. It reports events per second and the heap in use once all
// events are written.
func BenchmarkFollowEvents(b *testing.B) {
	trail, err := audit.Open(b.TempDir(), audit.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer trail.Close()
	f := &Follower{Trail: trail, Log: slog.New(slog.DiscardHandler), runs: map[string]*run{}, touched: map[string]bool{}, current: map[string]run{}}
	f.n = benchNet()
	f.lastObs = time.Now()
	f.cur.Gateways = map[string]journalPos{}
	events := make([]json.RawMessage, 2000)
	for i := range events {
		kind := "created"
		if i%2 == 1 {
			kind = "deleted"
		}
		id := fmt.Sprintf("id%d", (i/2)%1000)
		events[i] = json.RawMessage(fmt.Sprintf(`{"namespace":"circuit","event_src_id":"ctrl","timestamp":"2026-12-04T10:00:00.%06dZ","version":2,"event_type":%q,"circuit_id":"c%d","client_id":"x","service_id":"svc%d","terminator_id":"t","path":{"nodes":["r"],"ingress_id":"i","egress_id":"e"},"link_count":0,"duration":1535040544,"tags":{"clientId":%q,"hostId":"id0","serviceId":"svc%d"}}`,
			i%1000000, kind, i/2, (i/2)%100, id, (i/2)%100))
	}
	// Each event is a new fact: it gets its own circuit.
	raws := make([]json.RawMessage, b.N)
	for i := range raws {
		var m map[string]any
		_ = json.Unmarshal(events[i%len(events)], &m)
		m["circuit_id"] = fmt.Sprintf("c%d", i)
		raws[i], _ = json.Marshal(m)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		f.handle(b.Context(), raws[i])
		if len(f.buf) >= 512 {
			if err := f.flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := f.flush(); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	clear(raws) // the input is not the follower's memory
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(ms.HeapInuse)/(1<<20), "heap-MB")
}
