package main

// The JSON gateway as load: the same Put, Range and Txn requests as the gRPC transports, POSTed as
// etcd's gateway JSON over HTTP/1.1 keep-alive connections (Go's net/http client, one idle
// connection per caller), so the gateways of etcd and etcdlite are measured side by side.

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"time"
)

var gatewayPaths = map[string]string{
	"/etcdserverpb.KV/Put":   "/v3/kv/put",
	"/etcdserverpb.KV/Range": "/v3/kv/range",
	"/etcdserverpb.KV/Txn":   "/v3/kv/txn",
}

func b64(data []byte) string { return base64.StdEncoding.EncodeToString(data) }

func jsonPut(key, val []byte) []byte {
	return []byte(fmt.Sprintf(`{"key":"%s","value":"%s"}`, b64(key), b64(val)))
}

func jsonRange(key []byte, serializable bool) []byte {
	if serializable {
		return []byte(fmt.Sprintf(`{"key":"%s","serializable":true}`, b64(key)))
	}
	return []byte(fmt.Sprintf(`{"key":"%s"}`, b64(key)))
}

// jsonTxn is encTxn's request: one compare (mod revision > 0) and the same put on either branch.
func jsonTxn(key, val []byte) []byte {
	put := fmt.Sprintf(`{"request_put":{"key":"%s","value":"%s"}}`, b64(key), b64(val))
	return []byte(fmt.Sprintf(`{"compare":[{"result":"GREATER","target":"MOD","key":"%s","mod_revision":"0"}],"success":[%s],"failure":[%s]}`,
		b64(key), put, put))
}

type httpCaller struct {
	client *http.Client
	base   string
	token  string
}

func newHTTPTransport(clients int, dialTimeout time.Duration) *http.Transport {
	return &http.Transport{
		MaxIdleConns:          clients,
		MaxIdleConnsPerHost:   clients,
		DisableCompression:    true,
		IdleConnTimeout:       time.Minute,
		ResponseHeaderTimeout: time.Minute,
	}
}

func (h *httpCaller) invoke(method string, body []byte) error {
	request, err := http.NewRequest("POST", h.base+gatewayPaths[method], bytes.NewReader(body))
	if err != nil {
		return err
	}
	request.Header.Set("Content-Type", "application/json")
	if h.token != "" {
		request.Header.Set("Authorization", h.token)
	}
	response, err := h.client.Do(request)
	if err != nil {
		return err
	}
	answer, err := io.ReadAll(response.Body)
	response.Body.Close()
	if err != nil {
		return err
	}
	if response.StatusCode != 200 {
		return fmt.Errorf("HTTP %d: %s", response.StatusCode, bytes.TrimSpace(answer))
	}
	return nil
}
