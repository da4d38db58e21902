package main

// A minimal gRPC-over-HTTP/2 unary client written directly on the HTTP/2
// framer. It exists because grpc-go spends ~35 µs of CPU per unary call on
// this machine, which is stolen from the server under test (client and server
// share 2 cores). This client spends a few µs: request bytes are prebuilt,
// header blocks are HPACK-encoded with a dynamic table (so after the first call
// every field is a one-byte index, like real clients), responses are not
// decoded beyond grpc-status, and writes from all callers of a connection are
// batched into one syscall by a single writer goroutine.
//
// Scope: unary calls with requests smaller than the server's initial stream
// window (64 KiB); plaintext (h2c with prior knowledge) only.

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"runtime"
	"strconv"
	"sync"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

type h2call struct {
	method string
	frame  []byte // gRPC length-prefixed message
	done   chan error
	// filled by reader
	status    int
	grpcCode  int
	grpcMsg   string
	gotStatus bool
}

type h2conn struct {
	addr string
	nc   net.Conn
	bw   *bufio.Writer
	fr   *http2.Framer

	reqCh chan *h2call

	wmu    sync.Mutex // guards fr writes, bw, henc, hbuf
	henc   *hpack.Encoder
	hbuf   bytes.Buffer
	nextID uint32

	smu     sync.Mutex
	streams map[uint32]*h2call
	dead    error

	fcMu        sync.Mutex
	fcCond      *sync.Cond
	sendWin     int64 // connection-level send window
	maxFrame    int
	peerInitWin int64

	recvPending int64
}

const ourWindow = 1 << 30

var h2Yield = true

// h2Token, when set, is sent as gRPC metadata "token: <value>" on every call (etcd's auth token).
var h2Token string
var h2Flushes int64 // approximate (not synchronized); diagnostics only

func dialH2(addr string, timeout time.Duration) (*h2conn, error) {
	nc, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return nil, err
	}
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	c := &h2conn{
		addr:        addr,
		nc:          nc,
		bw:          bufio.NewWriterSize(nc, 64<<10),
		reqCh:       make(chan *h2call, 4096),
		nextID:      1,
		streams:     make(map[uint32]*h2call),
		sendWin:     65535,
		maxFrame:    16384,
		peerInitWin: 65535,
	}
	c.fcCond = sync.NewCond(&c.fcMu)
	c.fr = http2.NewFramer(c.bw, bufio.NewReaderSize(nc, 64<<10))
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.fr.MaxHeaderListSize = 1 << 20
	c.fr.SetReuseFrames()
	c.henc = hpack.NewEncoder(&c.hbuf)

	// Preface, our SETTINGS, a big connection window.
	if _, err := c.bw.WriteString(http2.ClientPreface); err != nil {
		return nil, err
	}
	if err := c.fr.WriteSettings(
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: ourWindow},
		http2.Setting{ID: http2.SettingEnablePush, Val: 0},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: 1 << 20},
	); err != nil {
		return nil, err
	}
	if err := c.fr.WriteWindowUpdate(0, ourWindow-65535); err != nil {
		return nil, err
	}
	if err := c.bw.Flush(); err != nil {
		return nil, err
	}
	// Wait for the server's SETTINGS before sending requests.
	nc.SetReadDeadline(time.Now().Add(timeout))
	f, err := c.fr.ReadFrame()
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("h2 handshake: %w", err)
	}
	sf, ok := f.(*http2.SettingsFrame)
	if !ok || sf.IsAck() {
		nc.Close()
		return nil, fmt.Errorf("h2 handshake: expected SETTINGS, got %v", f.Header())
	}
	c.applySettings(sf)
	c.wmu.Lock()
	c.fr.WriteSettingsAck()
	c.bw.Flush()
	c.wmu.Unlock()
	nc.SetReadDeadline(time.Time{})
	go c.readLoop()
	go c.writeLoop()
	return c, nil
}

func (c *h2conn) applySettings(sf *http2.SettingsFrame) {
	sf.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingMaxFrameSize:
			c.maxFrame = int(s.Val)
		case http2.SettingInitialWindowSize:
			c.peerInitWin = int64(s.Val)
		}
		return nil
	})
}

func (c *h2conn) fail(err error) {
	c.smu.Lock()
	if c.dead == nil {
		c.dead = err
	}
	pending := c.streams
	c.streams = make(map[uint32]*h2call)
	c.smu.Unlock()
	for _, call := range pending {
		call.done <- err
	}
	c.fcMu.Lock()
	c.fcCond.Broadcast()
	c.fcMu.Unlock()
}

func (c *h2conn) Close() {
	c.fail(errors.New("connection closed"))
	c.nc.Close()
}

// invoke performs one unary call and blocks until it completes.
func (c *h2conn) invoke(call *h2call) error {
	c.reqCh <- call
	return <-call.done
}

func (c *h2conn) writeLoop() {
	for {
		call, ok := <-c.reqCh
		if !ok {
			return
		}
		c.wmu.Lock()
		c.writeCall(call)
		yielded := false
	drain:
		for {
			select {
			case call = <-c.reqCh:
				c.writeCall(call)
			default:
				if yielded || !h2Yield {
					break drain
				}
				// let callers woken by the same read batch enqueue, then write them together
				c.wmu.Unlock()
				runtime.Gosched()
				c.wmu.Lock()
				yielded = true
			}
		}
		h2Flushes++
		if err := c.bw.Flush(); err != nil {
			c.wmu.Unlock()
			c.fail(err)
			return
		}
		c.wmu.Unlock()
	}
}

// writeCall must be called with wmu held.
func (c *h2conn) writeCall(call *h2call) {
	c.smu.Lock()
	if c.dead != nil {
		err := c.dead
		c.smu.Unlock()
		call.done <- err
		return
	}
	sid := c.nextID
	c.nextID += 2
	call.status, call.grpcCode, call.grpcMsg, call.gotStatus = 0, 0, "", false
	c.streams[sid] = call
	c.smu.Unlock()

	c.hbuf.Reset()
	c.henc.WriteField(hpack.HeaderField{Name: ":method", Value: "POST"})
	c.henc.WriteField(hpack.HeaderField{Name: ":scheme", Value: "http"})
	c.henc.WriteField(hpack.HeaderField{Name: ":path", Value: call.method})
	c.henc.WriteField(hpack.HeaderField{Name: ":authority", Value: c.addr})
	c.henc.WriteField(hpack.HeaderField{Name: "content-type", Value: "application/grpc"})
	c.henc.WriteField(hpack.HeaderField{Name: "te", Value: "trailers"})
	if h2Token != "" {
		c.henc.WriteField(hpack.HeaderField{Name: "token", Value: h2Token})
	}
	c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: sid, BlockFragment: c.hbuf.Bytes(), EndHeaders: true})

	// Connection-level flow control (requests are assumed to fit the stream window).
	n := int64(len(call.frame))
	c.fcMu.Lock()
	if c.sendWin < n {
		c.fcMu.Unlock()
		c.bw.Flush()
		c.wmu.Unlock()
		c.fcMu.Lock()
		for c.sendWin < n && !c.isDead() {
			c.fcCond.Wait()
		}
		c.fcMu.Unlock()
		c.wmu.Lock()
		c.fcMu.Lock()
	}
	c.sendWin -= n
	c.fcMu.Unlock()
	data := call.frame
	for {
		chunk := data
		if len(chunk) > c.maxFrame {
			chunk = chunk[:c.maxFrame]
		}
		data = data[len(chunk):]
		c.fr.WriteData(sid, len(data) == 0, chunk)
		if len(data) == 0 {
			break
		}
	}
}

func (c *h2conn) isDead() bool {
	c.smu.Lock()
	defer c.smu.Unlock()
	return c.dead != nil
}

func (c *h2conn) ctrl(fn func()) {
	c.wmu.Lock()
	fn()
	c.bw.Flush()
	c.wmu.Unlock()
}

func (c *h2conn) finish(sid uint32, err error) {
	c.smu.Lock()
	call := c.streams[sid]
	delete(c.streams, sid)
	c.smu.Unlock()
	if call == nil {
		return
	}
	if err == nil {
		switch {
		case call.status != 200:
			err = fmt.Errorf("http status %d", call.status)
		case !call.gotStatus:
			err = errors.New("Internal: stream ended without grpc-status")
		case call.grpcCode != 0:
			err = fmt.Errorf("%s: %s", codeName(call.grpcCode), call.grpcMsg)
		}
	}
	call.done <- err
}

func (c *h2conn) lookup(sid uint32) *h2call {
	c.smu.Lock()
	call := c.streams[sid]
	c.smu.Unlock()
	return call
}

func (c *h2conn) readLoop() {
	for {
		f, err := c.fr.ReadFrame()
		if err != nil {
			c.fail(fmt.Errorf("Unavailable: read: %v", err))
			return
		}
		switch f := f.(type) {
		case *http2.MetaHeadersFrame:
			sid := f.StreamID
			if call := c.lookup(sid); call != nil {
				for _, hf := range f.Fields {
					switch hf.Name {
					case ":status":
						call.status, _ = strconv.Atoi(hf.Value)
					case "grpc-status":
						call.grpcCode, _ = strconv.Atoi(hf.Value)
						call.gotStatus = true
					case "grpc-message":
						call.grpcMsg = hf.Value
					}
				}
			}
			if f.StreamEnded() {
				c.finish(sid, nil)
			}
		case *http2.DataFrame:
			if l := int64(f.Length); l > 0 {
				c.recvPending += l
				if c.recvPending >= 1<<20 {
					inc := uint32(c.recvPending)
					c.recvPending = 0
					c.ctrl(func() { c.fr.WriteWindowUpdate(0, inc) })
				}
			}
			if f.StreamEnded() {
				c.finish(f.StreamID, nil)
			}
		case *http2.SettingsFrame:
			if !f.IsAck() {
				c.applySettings(f)
				c.ctrl(func() { c.fr.WriteSettingsAck() })
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				data := f.Data
				c.ctrl(func() { c.fr.WritePing(true, data) })
			}
		case *http2.WindowUpdateFrame:
			if f.StreamID == 0 {
				c.fcMu.Lock()
				c.sendWin += int64(f.Increment)
				c.fcCond.Broadcast()
				c.fcMu.Unlock()
			}
		case *http2.RSTStreamFrame:
			c.finish(f.StreamID, fmt.Errorf("stream reset: %v", f.ErrCode))
		case *http2.GoAwayFrame:
			c.fail(fmt.Errorf("Unavailable: GOAWAY %v %q", f.ErrCode, f.DebugData()))
			// keep reading until the server closes, so in-flight replies are consumed
		}
	}
}

var codeNames = []string{"OK", "Canceled", "Unknown", "InvalidArgument", "DeadlineExceeded",
	"NotFound", "AlreadyExists", "PermissionDenied", "ResourceExhausted", "FailedPrecondition",
	"Aborted", "OutOfRange", "Unimplemented", "Internal", "Unavailable", "DataLoss", "Unauthenticated"}

func codeName(c int) string {
	if c >= 0 && c < len(codeNames) {
		return codeNames[c]
	}
	return "Code(" + strconv.Itoa(c) + ")"
}

// grpcFrame returns the 5-byte gRPC length prefix followed by msg.
func grpcFrame(msg []byte) []byte {
	b := make([]byte, 5+len(msg))
	n := len(msg)
	b[1], b[2], b[3], b[4] = byte(n>>24), byte(n>>16), byte(n>>8), byte(n)
	copy(b[5:], msg)
	return b
}
