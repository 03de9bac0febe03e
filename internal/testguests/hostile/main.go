//go:build wasip1

// Command hostile is a test guest that attacks its sandbox: it reads files,
// the environment and its arguments, opens sockets, tries to reach other
// hosts, ports and IP addresses through the host's HTTP function, smuggles
// credentials into its requests, scans its own memory for the tenant's
// token, calls extism's own http_request, overruns its output and stack,
// feeds garbage to the host functions, and spends what the host pays for:
// time asleep, huge error texts and traps, output that is cheap to write and
// expensive to decode, log lines, session entries, endless pages, endless
// empty pages and endlessly nested children.
//
// ListResources runs the attack named by Config["attack"] and reports what
// it observed in the first resource's profile; attacks the sandbox must stop
// (traps) never return. Sizes and counts come from other Config keys, with
// the defaults given at each attack. internal/securitytest and the
// host/sandbox tests drive it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
	"unsafe"

	"github.com/extism/go-pdk"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest"
)

//go:wasmimport extism:host/user baton_http
func rawHTTP(offset uint64) uint64

//go:wasmimport extism:host/user baton_http_batch
func rawHTTPBatch(offset uint64) uint64

//go:wasmimport extism:host/user baton_session_get
func rawSessionGet(offset uint64) uint64

//go:wasmimport extism:host/user baton_session_set
func rawSessionSet(offset uint64) uint64

type hostile struct{}

func (hostile) Metadata() abi.Metadata {
	return abi.Metadata{ABIVersion: abi.Version, DisplayName: "hostile",
		ResourceTypes: []abi.ResourceType{{ID: "thing", DisplayName: "Thing", Traits: []abi.Trait{abi.TraitApp}}}}
}

func (hostile) Validate(context.Context, guest.Env, abi.Call) error { return nil }

func (hostile) ListEntitlements(context.Context, guest.Env, abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
	return abi.EntitlementPage{}, nil
}

func (hostile) ListGrants(context.Context, guest.Env, abi.ListGrantsRequest) (abi.GrantPage, error) {
	return abi.GrantPage{}, nil
}

// keep holds data the attacks want to stay in memory.
var keep [][]byte

func (hostile) ListResources(ctx context.Context, env guest.Env, req abi.ListResourcesRequest) (abi.ResourcePage, error) {
	cfg := req.Config
	p := map[string]string{"attack": cfg["attack"]}
	switch cfg["attack"] {
	case "files":
		for i, name := range []string{"/etc/passwd", "/proc/self/environ", "/", "."} {
			b, err := os.ReadFile(name)
			p[fmt.Sprintf("read%d", i)] = fmt.Sprintf("%s: %d bytes, err=%v", name, len(b), err)
		}
		entries, err := os.ReadDir("/")
		p["readdir"] = fmt.Sprintf("%d entries, err=%v", len(entries), err)
		err = os.WriteFile("/tmp/hostile", []byte("x"), 0o600)
		p["write"] = fmt.Sprintf("err=%v", err)
	case "env":
		p["env"] = strings.Join(os.Environ(), "\n")
		p["args"] = strings.Join(os.Args, "\n")
		p["hostname"], _ = os.Hostname()
		wd, err := os.Getwd()
		p["wd"] = fmt.Sprintf("%s err=%v", wd, err)
	case "socket":
		for i, addr := range []string{"127.0.0.1:" + cfg["otherPort"], "169.254.169.254:80", "evil.test:443"} {
			c, err := net.Dial("tcp", addr)
			if c != nil {
				_ = c.Close()
			}
			p[fmt.Sprintf("dial%d", i)] = fmt.Sprintf("%s: connected=%t err=%v", addr, c != nil, err)
		}
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if l != nil {
			_ = l.Close()
		}
		p["listen"] = fmt.Sprintf("listening=%t err=%v", l != nil, err)
	case "egress":
		// One request to the path in Config["path"] (and method).
		method := cfg["method"]
		if method == "" {
			method = "GET"
		}
		request(ctx, env, p, abi.HTTPRequest{Method: method, Path: cfg["path"]})
	case "headers":
		request(ctx, env, p, abi.HTTPRequest{Method: "GET", Path: "/echo-headers", Headers: map[string][]string{
			"Authorization":       {"Bearer guest-forged-token"},
			"authorization":       {"Basic Z3Vlc3Q6Zm9yZ2Vk"},
			"Cookie":              {"session=guest-forged-cookie"},
			"Proxy-Authorization": {"Basic Z3Vlc3Q6cHJveHk="},
			"Host":                {"evil.test"},
			"X-Guest":             {"visible"},
		}})
	case "memscan":
		// Make an allowed request first, so the response (which carries a
		// known marker) and everything the host returned is in memory.
		request(ctx, env, p, abi.HTTPRequest{Method: "GET", Path: cfg["path"]})
		for _, k := range []string{"tokenPrefix", "markerPrefix"} {
			n, scanned, err := scan(cfg[k])
			p[k+"Found"] = strconv.Itoa(n)
			p[k+"Scanned"] = strconv.Itoa(scanned)
			if err != nil {
				p[k+"Err"] = err.Error()
			}
		}
	case "extism-http":
		// extism's own HTTP function: the host allows no hosts, so this
		// must fail at the host (it traps) and never reach the network.
		resp := pdk.NewHTTPRequest(pdk.MethodGet, cfg["url"]).Send()
		p["status"] = strconv.Itoa(int(resp.Status()))
		p["body"] = string(resp.Body())
	case "huge-output":
		n, _ := strconv.Atoi(cfg["bytes"])
		p["huge"] = strings.Repeat("h", n)
	case "recursion":
		p["depth"] = strconv.Itoa(recurse(0))
	case "garbage":
		garbage(p)
	case "sleep":
		// wasip1 poll_oneoff with a clock subscription: the guest is asleep
		// in the host, not running wasm.
		d, err := time.ParseDuration(cfg["sleep"])
		if err != nil {
			d = 10 * time.Minute
		}
		start := time.Now()
		time.Sleep(d)
		p["slept"] = time.Since(start).String()
	case "huge-error-envelope":
		code := abi.Code(cfg["code"])
		if code == "" {
			code = abi.CodeUnavailable
		}
		return abi.ResourcePage{}, &abi.Error{Code: code, Message: fill('M', size(cfg, "bytes", 15<<20))}
	case "huge-trap":
		// extism's http_request quotes the refused URL in the trap text.
		url := "http://refused.test/" + fill('u', size(cfg, "bytes", 8<<20))
		pdk.NewHTTPRequest(pdk.MethodGet, url).Send()
		p["status"] = "the refused request returned"
	case "log-flood-short":
		// Lines that cost the host far more than their message: empty and
		// one-byte messages, error level included, and one-byte stderr lines.
		n := size(cfg, "lines", 200000)
		for i := range n {
			switch i % 4 {
			case 0:
				env.Log(guest.LogError, "")
			case 1:
				env.Log(guest.LogInfo, "")
			case 2:
				env.Log(guest.LogError, "e")
			case 3:
				env.Log(guest.LogWarn, "w")
			}
			fmt.Fprintln(os.Stderr, "s")
		}
		p["lines"] = strconv.Itoa(n)
	case "proc-exit":
		os.Exit(0)
	case "session-flood":
		// Tiny entries under distinct keys: the store's per-entry overhead
		// is the host's cost. One request block is reused and only its key
		// rewritten, so an entry costs the guest two host calls.
		n := size(cfg, "entries", 1500000)
		refused := 0
		doc := pdk.AllocateString(`{"key":"00000000","value":"dg=="}`)
		defer doc.Free()
		key := pdk.NewMemory(doc.Offset()+uint64(len(`{"key":"`)), 8)
		for i := range n {
			key.Store(fmt.Appendf(nil, "%08x", i))
			if msg := replyOf(rawSessionSet(doc.Offset())); msg != "0" {
				refused++
				if p["firstError"] == "" {
					p["firstError"] = msg
				}
			}
		}
		p["entries"], p["refused"] = strconv.Itoa(n), strconv.Itoa(refused)
	case "endless-pages":
		// A new resource and a fresh token on every page, without any HTTP.
		n, _ := strconv.Atoi(strings.TrimPrefix(req.PageToken, "page-"))
		return abi.ResourcePage{
			Resources: []abi.Resource{{ID: abi.ResourceID{Type: "thing", ID: "r" + strconv.Itoa(n)},
				DisplayName: "page " + strconv.Itoa(n)}},
			NextPageToken: "page-" + strconv.Itoa(n+1),
		}, nil
	case "empty-pages":
		// Nothing on any page, and a fresh token every time.
		n, _ := strconv.Atoi(strings.TrimPrefix(req.PageToken, "page-"))
		return abi.ResourcePage{NextPageToken: "page-" + strconv.Itoa(n+1)}, nil
	case "endless-children":
		// Every resource has children of its own type, one level deeper.
		r := abi.Resource{ID: abi.ResourceID{Type: "thing", ID: "root"}, DisplayName: "root",
			ChildTypes: []string{"thing"}}
		if req.Parent != nil {
			parent := *req.Parent
			r.ID.ID = parent.ID + "/c"
			r.Parent = &parent
			r.DisplayName = "child of " + abi.ClipText(parent.ID)
		}
		return abi.ResourcePage{Resources: []abi.Resource{r}}, nil
	default:
		return abi.ResourcePage{}, abi.Errorf(abi.CodeInvalidArgument, "unknown attack %q", cfg["attack"])
	}
	return abi.ResourcePage{Resources: []abi.Resource{{
		ID: abi.ResourceID{Type: "thing", ID: "1"}, DisplayName: "hostile", Profile: p,
	}}}, nil
}

// request sends req through the host and records the outcome.
func request(ctx context.Context, env guest.Env, p map[string]string, req abi.HTTPRequest) {
	resp, err := env.HTTP.Do(ctx, req)
	if err != nil {
		p["error"] = err.Error()
		p["code"] = string(abi.AsError(err).Code)
		return
	}
	p["status"] = strconv.Itoa(resp.Status)
	p["body"] = string(resp.Body)
	p["location"] = strings.Join(resp.Headers["Location"], ",")
	keep = append(keep, resp.Body)
}

// recurse never returns: each frame holds a buffer so the stack grows fast.
//
//go:noinline
func recurse(n int) int {
	var buf [1024]byte
	buf[n%len(buf)] = byte(n)
	return recurse(n+1) + int(buf[(n+1)%len(buf)])
}

// garbage calls the host functions with invalid offsets and documents.
func garbage(p map[string]string) {
	for i, off := range []uint64{0, 1, 0xdeadbeef, 1 << 40, ^uint64(0)} {
		p[fmt.Sprintf("http-offset%d", i)] = replyOf(rawHTTP(off))
		p[fmt.Sprintf("get-offset%d", i)] = replyOf(rawSessionGet(off))
		p[fmt.Sprintf("set-offset%d", i)] = replyOf(rawSessionSet(off))
		p[fmt.Sprintf("batch-offset%d", i)] = batchReplyOf(rawHTTPBatch(off))
	}
	tooMany := `{"requests":[` + strings.Repeat(`{"method":"GET","path":"/"},`, abi.MaxBatchRequests) + `{"method":"GET","path":"/"}]}`
	for i, doc := range []string{"", "not json", `{"requests":[]}`, `{"requests":[{"method":1}]}`, tooMany} {
		p[fmt.Sprintf("batch-doc%d", i)] = batchReplyOf(withBlock(rawHTTPBatch, doc))
	}
	for i, doc := range []string{"", "not json", `{"method":1}`, `{"method":"GET","path":"/","body":"!!!"}`, "[", `{"key":"","value":"x"}`} {
		p[fmt.Sprintf("http-doc%d", i)] = replyOf(withBlock(rawHTTP, doc))
		p[fmt.Sprintf("set-doc%d", i)] = replyOf(withBlock(rawSessionSet, doc))
	}
	// A block that ends past the memory the guest owns: a valid offset
	// whose memory was freed.
	mem := pdk.AllocateString(`{"method":"GET","path":"/"}`)
	off := mem.Offset()
	mem.Free()
	p["http-freed"] = replyOf(rawHTTP(off))
	// An oversized session key.
	p["get-bigkey"] = replyOf(withBlock(rawSessionGet, strings.Repeat("k", 4<<10)))
}

func withBlock(fn func(uint64) uint64, doc string) uint64 {
	mem := pdk.AllocateString(doc)
	defer mem.Free()
	return fn(mem.Offset())
}

// replyOf reads (and frees) a reply block; "0" is no reply.
func replyOf(off uint64) string {
	if off == 0 {
		return "0"
	}
	m := pdk.FindMemory(off)
	defer m.Free()
	var resp abi.HTTPResponse
	b := m.ReadBytes()
	if json.Unmarshal(b, &resp) == nil && resp.Error != nil {
		return "error " + string(resp.Error.Code) + ": " + resp.Error.Message
	}
	return "reply " + string(b)
}

// batchReplyOf reads (and frees) a baton_http_batch reply; "0" is none.
func batchReplyOf(off uint64) string {
	if off == 0 {
		return "0"
	}
	m := pdk.FindMemory(off)
	defer m.Free()
	b := m.ReadBytes()
	var refused *abi.Error
	if _, err := abi.DecodeBatchReply(b, 0); errors.As(err, &refused) {
		return "error " + string(refused.Code) + ": " + refused.Message
	}
	return "reply " + string(b)
}

// scan counts the occurrences, in the guest's whole linear memory below the
// top of its heap, of the bytes whose hex is needleHex. The needle is kept
// complemented so that the guest's own copy of it cannot match.
func scan(needleHex string) (found, scanned int, err error) {
	if len(needleHex) == 0 || len(needleHex)%2 != 0 {
		return 0, 0, fmt.Errorf("needle must be non-empty hex")
	}
	inv := make([]byte, len(needleHex)/2)
	for i := range inv {
		v, err := strconv.ParseUint(needleHex[2*i:2*i+2], 16, 8)
		if err != nil {
			return 0, 0, err
		}
		inv[i] = ^byte(v)
	}
	// Linear memory starts at address 0 and the Go heap grows upward, so
	// a fresh allocation bounds everything in use.
	top := make([]byte, 64<<10)
	keep = append(keep, top)
	end := uintptr(unsafe.Pointer(&top[len(top)-1])) + 1
	// Address 0 cannot be expressed as a Go pointer; start at 1.
	anchor := unsafe.Pointer(&top[0])
	base := unsafe.Add(anchor, -int(uintptr(anchor))+1)
	mem := unsafe.Slice((*byte)(base), int(end)-1)
	for i := 0; i+len(inv) <= len(mem); i++ {
		if mem[i] != ^inv[0] {
			continue
		}
		match := true
		for j := 1; j < len(inv); j++ {
			if mem[i+j] != ^inv[j] {
				match = false
				break
			}
		}
		if match {
			found++
		}
	}
	return found, len(mem), nil
}

func main() {}
