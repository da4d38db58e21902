// -op lock: contended Lock hand-offs on one name (v3lockpb), each contender on its own
// connection: LeaseGrant once, then Lock → Unlock in a loop. A hand-off is the time from the
// holder sending Unlock to the next holder's Lock returning (both in this process, one clock).
// -op election: the same with Campaign → Resign (v3electionpb): the leader resigns, the next
// candidate's Campaign returns. Both answers carry what releases it in field 2 (LockResponse.key,
// CampaignResponse.leader), and both release requests take it as field 1.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
)

type lockResult struct {
	Op           string  `json:"op"`
	Contenders   int     `json:"contenders"`
	Seconds      float64 `json:"seconds"`
	Acquisitions int64   `json:"acquisitions"`
	PerSecond    float64 `json:"acquisitions_per_s"`
	Errors       int64   `json:"errors"`
	FirstError   string  `json:"first_error,omitempty"`
	P50Ms        float64 `json:"handoff_p50_ms"`
	P90Ms        float64 `json:"handoff_p90_ms"`
	P99Ms        float64 `json:"handoff_p99_ms"`
	MaxMs        float64 `json:"handoff_max_ms"`
	ClientCPU    float64 `json:"client_cpu_s"`
}

// readField returns the first length-delimited field `field` of a protobuf message, or the
// varint value of a varint field (as n), walking the wire format without generated code.
func readField(msg []byte, field int) (data []byte, n uint64, ok bool) {
	for i := 0; i < len(msg); {
		tag, w := uvarint(msg[i:])
		if w == 0 {
			return nil, 0, false
		}
		i += w
		num, wire := int(tag>>3), int(tag&7)
		switch wire {
		case 0:
			v, w := uvarint(msg[i:])
			if w == 0 {
				return nil, 0, false
			}
			i += w
			if num == field {
				return nil, v, true
			}
		case 2:
			l, w := uvarint(msg[i:])
			if w == 0 || i+w+int(l) > len(msg) {
				return nil, 0, false
			}
			i += w
			if num == field {
				return msg[i : i+int(l)], 0, true
			}
			i += int(l)
		case 1:
			i += 8
		case 5:
			i += 4
		default:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

func uvarint(b []byte) (uint64, int) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * uint(i))
		if b[i] < 0x80 {
			return v, i + 1
		}
	}
	return 0, 0
}

func runLock(ep, op string, contenders int, duration, warmup, dialTimeout time.Duration, name string) {
	acquire, release := "/v3lockpb.Lock/Lock", "/v3lockpb.Lock/Unlock"
	if op == "election" {
		acquire, release = "/v3electionpb.Election/Campaign", "/v3electionpb.Election/Resign"
	}
	var conns []*grpc.ClientConn
	for i := 0; i < contenders; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), dialTimeout)
		c, err := grpc.DialContext(ctx, ep, grpc.WithInsecure(), grpc.WithBlock(),
			grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})))
		cancel()
		if err != nil {
			fatal("dial %s: %v", ep, err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	ctx, cancelRun := context.WithCancel(context.Background())
	defer cancelRun()

	var mu sync.Mutex // guards releasedAt, handoffs, measuring and count
	var releasedAt time.Time
	var handoffs []int64
	var measuring bool
	var stop int32
	var count, nerr int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for w := 0; w < contenders; w++ {
		wg.Add(1)
		go func(c *grpc.ClientConn) {
			defer wg.Done()
			var out []byte
			if err := c.Invoke(ctx, "/etcdserverpb.Lease/LeaseGrant", appendVarintField(nil, 1, 60), &out); err != nil {
				fatal("lease grant: %v", err)
			}
			_, lease, ok := readField(out, 2)
			if !ok {
				fatal("lease grant: no ID in the answer")
			}
			lockReq := appendVarintField(appendBytesField(nil, 1, []byte(name)), 2, lease)
			if op == "election" {
				lockReq = appendBytesField(lockReq, 3, []byte("candidate"))
			}
			for atomic.LoadInt32(&stop) == 0 {
				if err := c.Invoke(ctx, acquire, lockReq, &out); err != nil {
					if atomic.LoadInt32(&stop) == 0 && atomic.AddInt64(&nerr, 1) == 1 {
						firstErr.Store(err.Error())
					}
					return
				}
				acquired := time.Now()
				key, _, ok := readField(out, 2)
				if !ok {
					fatal("%s: no key or leader in the answer", op)
				}
				unlockReq := appendBytesField(nil, 1, key)
				mu.Lock()
				if measuring {
					count++
					if !releasedAt.IsZero() {
						handoffs = append(handoffs, int64(acquired.Sub(releasedAt)))
					}
				}
				releasedAt = time.Now()
				mu.Unlock()
				if err := c.Invoke(ctx, release, unlockReq, &out); err != nil {
					if atomic.LoadInt32(&stop) == 0 && atomic.AddInt64(&nerr, 1) == 1 {
						firstErr.Store(err.Error())
					}
					return
				}
			}
		}(conns[w])
	}
	time.Sleep(warmup)
	cpu0 := cpuSeconds()
	mu.Lock()
	measuring = true
	mu.Unlock()
	time.Sleep(duration)
	mu.Lock()
	measuring = false
	res := lockResult{Op: op, Contenders: contenders, Seconds: duration.Seconds(), Acquisitions: count}
	all := append([]int64(nil), handoffs...)
	mu.Unlock()
	atomic.StoreInt32(&stop, 1)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cancelRun()
		<-done
	}
	res.ClientCPU = cpuSeconds() - cpu0
	res.PerSecond = float64(count) / duration.Seconds()
	res.Errors = nerr
	if e := firstErr.Load(); e != nil {
		res.FirstError = e.(string)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res.P50Ms, res.P90Ms = percentileMs(all, 0.5), percentileMs(all, 0.9)
	res.P99Ms, res.MaxMs = percentileMs(all, 0.99), percentileMs(all, 1)
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
}
