// etcdload: a minimal-overhead load generator for etcd v3 KV calls (Put, Range, Txn) and
// contended locks and elections (lock.go).
//
// It does not use any generated etcd code: requests are hand-encoded protobuf
// bytes (built once, before the measurement starts) sent through a raw-bytes
// codec, and responses are not decoded (only their arrival and gRPC status
// count). That keeps the client's own CPU cost close to grpc-go's transport
// cost, which matters because client and server share the same 2 cores.
//
// Output: one JSON line on stdout.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// ---------------------------------------------------------------- raw codec

// rawCodec passes []byte through unchanged. Its name is "proto" so the
// content-type stays application/grpc+proto, which every server accepts.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch b := v.(type) {
	case []byte:
		return b, nil
	case *[]byte:
		return *b, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = data // length only matters; do not copy
	return nil
}

func (rawCodec) Name() string { return "proto" }

// ---------------------------------------------------------------- protobuf encoding helpers

func appendVarint(b []byte, v uint64) []byte {
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

func appendTag(b []byte, field int, wire int) []byte {
	return appendVarint(b, uint64(field<<3|wire))
}

func appendBytesField(b []byte, field int, data []byte) []byte {
	b = appendTag(b, field, 2)
	b = appendVarint(b, uint64(len(data)))
	return append(b, data...)
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	b = appendTag(b, field, 0)
	return appendVarint(b, v)
}

// PutRequest{key=1, value=2}
func encPut(key, val []byte) []byte {
	var b []byte
	b = appendBytesField(b, 1, key)
	if len(val) > 0 {
		b = appendBytesField(b, 2, val)
	}
	return b
}

// RangeRequest{key=1, serializable=7}
func encRange(key []byte, serializable bool) []byte {
	var b []byte
	b = appendBytesField(b, 1, key)
	if serializable {
		b = appendVarintField(b, 7, 1)
	}
	return b
}

// TxnRequest{compare=[Compare{result=GREATER(1), target=MOD(2), key, mod_revision=0}],
//
//	success=[RequestOp{request_put=2: PutRequest}],
//	failure=[RequestOp{request_put=2: PutRequest}]}
//
// Every Txn therefore performs exactly one compare and one write, whether or
// not the key already exists.
func encTxn(key, val []byte) []byte {
	var cmp []byte
	cmp = appendVarintField(cmp, 1, 1) // result = GREATER
	cmp = appendVarintField(cmp, 2, 2) // target = MOD
	cmp = appendBytesField(cmp, 3, key)
	cmp = appendVarintField(cmp, 6, 0) // mod_revision = 0 (oneof member: explicit)
	var op []byte
	op = appendBytesField(op, 2, encPut(key, val)) // RequestOp.request_put
	var b []byte
	b = appendBytesField(b, 1, cmp)
	b = appendBytesField(b, 2, op)
	b = appendBytesField(b, 3, op)
	return b
}

// ---------------------------------------------------------------- main

type result struct {
	Op         string  `json:"op"`
	Endpoint   string  `json:"endpoint"`
	Conns      int     `json:"conns"`
	Clients    int     `json:"clients"`
	KeySize    int     `json:"key_size"`
	ValSize    int     `json:"val_size"`
	Keyspace   int     `json:"keyspace"`
	Total      int64   `json:"total"`
	Errors     int64   `json:"errors"`
	FirstError string  `json:"first_error,omitempty"`
	Seconds    float64 `json:"seconds"`
	RPS        float64 `json:"rps"`
	MeanMs     float64 `json:"mean_ms"`
	P50Ms      float64 `json:"p50_ms"`
	P90Ms      float64 `json:"p90_ms"`
	P99Ms      float64 `json:"p99_ms"`
	MaxMs      float64 `json:"max_ms"`
	ClientCPU  float64 `json:"client_cpu_s"`
	Prefilled  int     `json:"prefilled,omitempty"`
	Transport  string  `json:"transport"`
	GoMaxProcs int     `json:"gomaxprocs"`
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Sec+ru.Stime.Sec) + float64(ru.Utime.Usec+ru.Stime.Usec)/1e6
}

func makeKey(prefix string, i, size int) []byte {
	s := fmt.Sprintf("%s%0*d", prefix, size, i)
	if len(s) > size && size >= len(prefix)+1 {
		// keep the distinguishing tail of the number
		digits := fmt.Sprintf("%d", i)
		s = prefix + digits
	}
	if len(s) < size {
		s = s + strings.Repeat("_", size-len(s))
	}
	if len(s) > size {
		s = s[len(s)-size:]
	}
	return []byte(s)
}

// percentileMs is the p-quantile (nearest rank) of sorted nanosecond durations, in ms; 0 if empty.
func percentileMs(sorted []int64, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p*float64(len(sorted))+0.5) - 1
	if i < 0 {
		i = 0
	}
	if i >= len(sorted) {
		i = len(sorted) - 1
	}
	return float64(sorted[i]) / 1e6
}

func fatal(format string, a ...interface{}) {
	fmt.Fprintf(os.Stderr, "etcdload: "+format+"\n", a...)
	os.Exit(2)
}

func main() {
	endpoint := flag.String("endpoint", "127.0.0.1:2379", "host:port (an http:// prefix is stripped)")
	op := flag.String("op", "put", "put | range | txn | lock (contended Lock/Unlock on one name, -clients contenders each on its own connection) | election (the same with Campaign/Resign)")
	conns := flag.Int("conns", 1, "number of gRPC connections (HTTP/2 transports)")
	clients := flag.Int("clients", 1, "concurrent in-flight callers, spread round-robin over the connections")
	duration := flag.Duration("duration", 10*time.Second, "measurement duration (ignored when -total > 0)")
	total := flag.Int64("total", 0, "stop after this many requests (0: use -duration)")
	warmup := flag.Duration("warmup", 0, "run load for this long before measuring (results discarded)")
	keySize := flag.Int("key-size", 8, "key size in bytes")
	valSize := flag.Int("val-size", 8, "value size in bytes (put, txn)")
	keyspace := flag.Int("keyspace", 1000, "number of distinct keys")
	prefix := flag.String("prefix", "k", "key prefix")
	serializable := flag.Bool("serializable", false, "range: serializable (local) reads instead of linearizable")
	prefill := flag.Bool("prefill", false, "put every key of the keyspace once before measuring (use for range)")
	seq := flag.Bool("seq", false, "sequential keys per caller instead of random")
	timeout := flag.Duration("timeout", 0, "per-call deadline, grpc transport only (0: none; calls still in flight 5s after the end are cancelled)")
	dialTimeout := flag.Duration("dial-timeout", 5*time.Second, "connection establishment deadline")
	transport := flag.String("transport", "h2", "h2: built-in minimal HTTP/2 gRPC client (lowest CPU); grpc: grpc-go; http: the JSON gateway over HTTP/1.1")
	procs := flag.Int("procs", 0, "GOMAXPROCS (0: Go default = number of CPUs)")
	flag.BoolVar(&h2Yield, "h2-yield", true, "h2: yield once before flushing so more requests share one write")
	flag.StringVar(&h2Token, "token", "", "send gRPC metadata \"token: <value>\" on every call (etcd's auth token; both transports)")
	cpuprofile := flag.String("cpuprofile", "", "write a Go CPU profile of the client to this file")
	flag.Parse()
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			fatal("%v", err)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}

	if *procs > 0 {
		runtime.GOMAXPROCS(*procs)
	}
	ep := strings.TrimPrefix(strings.TrimPrefix(*endpoint, "http://"), "https://")
	if *conns < 1 || *clients < 1 || *keyspace < 1 || *keySize < 1 {
		fatal("conns, clients, keyspace and key-size must be >= 1")
	}
	if *conns > *clients {
		*conns = *clients
	}

	if *op == "lock" || *op == "election" {
		runLock(ep, *op, *clients, *duration, *warmup, *dialTimeout, *prefix)
		return
	}

	var method string
	switch *op {
	case "put":
		method = "/etcdserverpb.KV/Put"
	case "range":
		method = "/etcdserverpb.KV/Range"
	case "txn":
		method = "/etcdserverpb.KV/Txn"
	default:
		fatal("unknown -op %q", *op)
	}

	// Pre-serialize one request per key.
	val := make([]byte, *valSize)
	rnd := rand.New(rand.NewSource(1))
	for i := range val {
		val[i] = byte('a' + rnd.Intn(26))
	}
	keys := make([][]byte, *keyspace)
	reqs := make([][]byte, *keyspace)
	puts := make([][]byte, *keyspace)
	jsonOf := make(map[string][]byte, 2**keyspace)
	for i := 0; i < *keyspace; i++ {
		keys[i] = makeKey(*prefix, i, *keySize)
		puts[i] = encPut(keys[i], val)
		jsonOf[string(puts[i])] = jsonPut(keys[i], val)
		switch *op {
		case "put":
			reqs[i] = puts[i]
		case "range":
			reqs[i] = encRange(keys[i], *serializable)
			jsonOf[string(reqs[i])] = jsonRange(keys[i], *serializable)
		case "txn":
			reqs[i] = encTxn(keys[i], val)
			jsonOf[string(reqs[i])] = jsonTxn(keys[i], val)
		}
	}

	framedReqs := make([][]byte, len(reqs))
	framedPuts := make([][]byte, len(puts))
	for i := range reqs {
		framedReqs[i] = grpcFrame(reqs[i])
		framedPuts[i] = grpcFrame(puts[i])
	}

	// Connections.
	var gcc []*grpc.ClientConn
	var hcc []*h2conn
	var gateway *httpCaller
	if *transport == "http" {
		gateway = &httpCaller{client: &http.Client{Transport: newHTTPTransport(*clients, *dialTimeout)},
			base: "http://" + ep, token: h2Token}
	}
	for i := 0; i < *conns && gateway == nil; i++ {
		switch *transport {
		case "grpc":
			ctx, cancel := context.WithTimeout(context.Background(), *dialTimeout)
			c, err := grpc.DialContext(ctx, ep,
				grpc.WithInsecure(),
				grpc.WithBlock(),
				grpc.WithDefaultCallOptions(grpc.ForceCodec(rawCodec{})),
			)
			cancel()
			if err != nil {
				fatal("dial %s: %v", ep, err)
			}
			gcc = append(gcc, c)
		case "h2":
			c, err := dialH2(ep, *dialTimeout)
			if err != nil {
				fatal("dial %s: %v", ep, err)
			}
			hcc = append(hcc, c)
		default:
			fatal("unknown -transport %q", *transport)
		}
	}
	closeAll := func() {
		for _, c := range gcc {
			c.Close()
		}
		for _, c := range hcc {
			c.Close()
		}
	}
	defer closeAll()
	baseCtx := context.Background()
	if h2Token != "" {
		baseCtx = metadata.AppendToOutgoingContext(baseCtx, "token", h2Token)
	}
	runCtx, runCancel := context.WithCancel(baseCtx)
	defer runCancel()

	// newCaller returns a function performing one call on the w-th caller's connection.
	newCaller := func(w int) func(method string, msg, framed []byte) error {
		if gateway != nil {
			return func(method string, msg, _ []byte) error {
				return gateway.invoke(method, jsonOf[string(msg)])
			}
		}
		if *transport == "grpc" {
			c := gcc[w%len(gcc)]
			var out []byte
			return func(method string, msg, _ []byte) error {
				if *timeout > 0 {
					ctx, cancel := context.WithTimeout(runCtx, *timeout)
					defer cancel()
					return c.Invoke(ctx, method, msg, &out)
				}
				return c.Invoke(runCtx, method, msg, &out)
			}
		}
		c := hcc[w%len(hcc)]
		call := &h2call{done: make(chan error, 1)}
		return func(method string, _, framed []byte) error {
			call.method = method
			call.frame = framed
			return c.invoke(call)
		}
	}

	res := result{Op: *op, Endpoint: ep, Conns: *conns, Clients: *clients,
		KeySize: *keySize, ValSize: *valSize, Keyspace: *keyspace, GoMaxProcs: runtime.GOMAXPROCS(0), Transport: *transport}

	// Optional prefill: concurrent puts of every key once.
	if *prefill {
		var next int64 = -1
		var wg sync.WaitGroup
		var perr atomic.Value
		for w := 0; w < *clients && w < 64; w++ {
			wg.Add(1)
			go func(w int) {
				defer wg.Done()
				call := newCaller(w)
				for {
					i := atomic.AddInt64(&next, 1)
					if i >= int64(*keyspace) {
						return
					}
					err := call("/etcdserverpb.KV/Put", puts[i], framedPuts[i])
					if err != nil {
						perr.Store(err.Error())
						return
					}
				}
			}(w)
		}
		wg.Wait()
		if e := perr.Load(); e != nil {
			fatal("prefill: %v", e)
		}
		res.Prefilled = *keyspace
	}

	// Load phase. A caller records latencies only while `measuring` is set.
	var measuring int32
	var stop int32
	var remaining int64 = *total
	var nerr int64
	var firstErr atomic.Value
	lat := make([][]int64, *clients)
	var wg sync.WaitGroup
	startGate := make(chan struct{})
	for w := 0; w < *clients; w++ {
		wg.Add(1)
		capHint := 1024
		if *total > 0 {
			capHint = int(*total/int64(*clients) + 16)
		}
		lat[w] = make([]int64, 0, capHint)
		go func(w int) {
			defer wg.Done()
			call := newCaller(w)
			r := rand.New(rand.NewSource(int64(w) + 7))
			idx := (w * 7919) % len(reqs)
			mine := lat[w]
			<-startGate
			for atomic.LoadInt32(&stop) == 0 {
				m := atomic.LoadInt32(&measuring) == 1
				if m && *total > 0 {
					if atomic.AddInt64(&remaining, -1) < 0 {
						break
					}
				}
				var i int
				if *seq {
					i = idx
					idx++
					if idx == len(reqs) {
						idx = 0
					}
				} else {
					i = r.Intn(len(reqs))
				}
				t0 := time.Now()
				err := call(method, reqs[i], framedReqs[i])
				d := time.Since(t0)
				if !m {
					continue
				}
				if err != nil {
					if atomic.AddInt64(&nerr, 1) == 1 {
						if st, ok := status.FromError(err); ok && *transport == "grpc" {
							firstErr.Store(fmt.Sprintf("%s: %s", st.Code(), st.Message()))
						} else {
							firstErr.Store(err.Error())
						}
					}
					continue
				}
				mine = append(mine, int64(d))
			}
			lat[w] = mine
		}(w)
	}
	close(startGate)
	if *warmup > 0 {
		time.Sleep(*warmup)
	}
	cpu0 := cpuSeconds()
	t0 := time.Now()
	atomic.StoreInt32(&measuring, 1)
	if *total > 0 {
		// wait for callers to drain the budget
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		<-done
	} else {
		time.Sleep(*duration)
		atomic.StoreInt32(&stop, 1)
		atomic.StoreInt32(&measuring, 0) // calls in flight at the end are not counted
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			runCancel() // abort stragglers so the run is bounded in time
			closeAll()
			<-done
		}
	}
	elapsed := time.Since(t0).Seconds()
	if *total == 0 {
		elapsed = duration.Seconds()
	}
	res.ClientCPU = cpuSeconds() - cpu0

	// Merge latencies.
	n := 0
	for _, l := range lat {
		n += len(l)
	}
	all := make([]int64, 0, n)
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	res.Total = int64(len(all))
	res.Errors = nerr
	if e := firstErr.Load(); e != nil {
		res.FirstError = e.(string)
	}
	res.Seconds = elapsed
	if elapsed > 0 {
		res.RPS = float64(res.Total) / elapsed
	}
	ms := func(ns int64) float64 { return float64(ns) / 1e6 }
	pct := func(p float64) float64 { return percentileMs(all, p) }
	if len(all) > 0 {
		var sum int64
		for _, v := range all {
			sum += v
		}
		res.MeanMs = ms(sum / int64(len(all)))
		res.P50Ms = pct(0.50)
		res.P90Ms = pct(0.90)
		res.P99Ms = pct(0.99)
		res.MaxMs = ms(all[len(all)-1])
	}
	if *transport == "h2" && os.Getenv("ETCDLOAD_DEBUG") != "" {
		fmt.Fprintf(os.Stderr, "h2 flushes: %d\n", h2Flushes)
	}
	out, _ := json.Marshal(res)
	fmt.Println(string(out))
	if res.Total == 0 && res.Errors > 0 {
		os.Exit(1)
	}
}
