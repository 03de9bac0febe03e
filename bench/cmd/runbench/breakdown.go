package main

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"
	"unsafe"
)

// breakdown is what a worker's resident memory was made of at its highest
// sampled RSS, so that what the sandbox adds over the native path can be
// read off a run rather than estimated (issue 21).
type breakdown struct {
	RSSKiB    int64 `json:"rss_kib"`    // every mapping's resident pages
	BinaryKiB int64 `json:"binary_kib"` // the executable's file pages
	// CodeKiB is anonymous executable memory: the guest's machine code,
	// which wazero maps (the Go runtime maps none).
	CodeKiB int64 `json:"code_kib"`
	// HeapKiB is the Go heap's arenas; OtherKiB the other anonymous
	// memory: the guest instances' linear memories, C allocations (Pebble
	// takes its memtables and cache from calloc in a cgo build), and the
	// Go runtime's stacks and metadata outside its heap.
	HeapKiB  int64 `json:"heap_kib"`
	OtherKiB int64 `json:"other_kib"`
	// GuestKiB is the linear memory the instances had committed (their
	// pool's meter): pages never touched count here, not in OtherKiB.
	GuestKiB int64 `json:"guest_kib"`
}

// smapsParts sums the resident pages of an smaps listing into the
// executable's file pages (exe is its path), anonymous executable memory,
// the Go heap (see heapRange; heap is a heap object's address) and the
// other anonymous memory; other file mappings (libc, the vdso) count in
// the total only. It allocates nothing: see sampler.
func smapsParts(smaps []byte, exe string, heap uintptr) (b breakdown, err error) {
	low, high := heapRange(heap)
	var path []byte
	var exec, inHeap bool
	for len(smaps) > 0 {
		line := smaps
		if i := bytes.IndexByte(smaps, '\n'); i >= 0 {
			line, smaps = smaps[:i], smaps[i+1:]
		} else {
			smaps = nil
		}
		if rest, ok := bytes.CutPrefix(line, []byte("Rss:")); ok {
			kib, ok := leadingUint(bytes.TrimLeft(rest, " "))
			if !ok {
				return breakdown{}, fmt.Errorf("smaps: malformed line %q", line)
			}
			b.add(int64(kib), path, exe, exec, inHeap)
			continue
		}
		// A mapping's header: start-end perms offset device inode [path].
		start, n := hexPrefix(line)
		if n == 0 || n == len(line) || line[n] != '-' {
			continue
		}
		end, m := hexPrefix(line[n+1:])
		if m == 0 {
			continue
		}
		f := fields6(line)
		if len(f[1]) != 4 {
			continue
		}
		path, exec = f[5], f[1][2] == 'x'
		inHeap = len(path) == 0 && end > low && start < high
	}
	return b, nil
}

func (b *breakdown) add(kib int64, path []byte, exe string, exec, inHeap bool) {
	b.RSSKiB += kib
	switch {
	case string(path) == exe:
		b.BinaryKiB += kib
	case len(path) > 0 && string(path) != "[heap]" && string(path) != "[stack]":
		// another file, or the kernel's [vdso] and [vvar]
	case exec:
		b.CodeKiB += kib
	case inHeap:
		b.HeapKiB += kib
	default:
		b.OtherKiB += kib
	}
}

// fields6 splits an smaps header into its five fields and the path (the
// rest of the line, which may hold spaces), without allocating.
func fields6(line []byte) (f [6][]byte) {
	for i := range 5 {
		line = bytes.TrimLeft(line, " ")
		end := bytes.IndexByte(line, ' ')
		if end < 0 {
			end = len(line)
		}
		f[i], line = line[:end], line[end:]
	}
	f[5] = bytes.TrimSpace(line)
	return f
}

// hexPrefix parses the lower-case hex digits b starts with; n is how many.
func hexPrefix(b []byte) (v uint64, n int) {
	for n < len(b) {
		switch c := b[n]; {
		case c >= '0' && c <= '9':
			v = v<<4 | uint64(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | uint64(c-'a'+10)
		default:
			return v, n
		}
		n++
	}
	return v, n
}

func leadingUint(b []byte) (v uint64, ok bool) {
	for i, c := range b {
		if c < '0' || c > '9' {
			return v, i > 0
		}
		v = v*10 + uint64(c-'0')
	}
	return v, len(b) > 0
}

// sampler watches the worker's RSS and takes a breakdown whenever it is at
// least a step above the highest so far. Reading smaps walks the page
// tables, so it costs CPU: the memory runs take one extra run per mode and
// size for it, and their own runs stay unsampled. It allocates nothing
// once started (files opened once and read again from their start into
// its own buffers): its garbage would put freed pages where the sync's
// arenas land, and so change the peak it is there to explain.
type sampler struct {
	exe          string
	guest        func() int64 // the guest's committed linear memory; nil natively
	heap         uintptr      // a heap object's address (heapRange)
	statm, smaps int          // file descriptors
	buf          []byte

	mu   sync.Mutex
	best breakdown
	stop chan struct{}
	done chan struct{}
}

const (
	sampleEvery = 10 * time.Millisecond
	sampleStep  = 1024 // KiB of RSS growth before smaps is read again
)

func startSampler() (*sampler, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	statm, err := syscall.Open("/proc/self/statm", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	smaps, err := syscall.Open("/proc/self/smaps", syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		_ = syscall.Close(statm)
		return nil, err
	}
	heapProbe = new([16]byte)
	s := &sampler{exe: exe, heap: uintptr(unsafe.Pointer(heapProbe)), statm: statm, smaps: smaps,
		buf: make([]byte, 4<<20), stop: make(chan struct{}), done: make(chan struct{})}
	go s.run()
	return s, nil
}

// watchGuest makes later breakdowns report the guest's linear memory.
func (s *sampler) watchGuest(committed func() int64) {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.guest = committed
}

func (s *sampler) run() {
	defer close(s.done)
	t := time.NewTicker(sampleEvery)
	defer t.Stop()
	for {
		s.sample()
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
	}
}

func (s *sampler) sample() {
	s.mu.Lock()
	defer s.mu.Unlock()
	// statm's second field is the resident pages, which the kernel keeps
	// as a counter: cheap enough to read every sampleEvery.
	n, err := readAt0(s.statm, s.buf)
	if err != nil {
		return
	}
	f := fields6(s.buf[:n])
	pages, _ := leadingUint(f[1])
	if rss := int64(pages) * int64(os.Getpagesize()) >> 10; rss < s.best.RSSKiB+sampleStep {
		return
	}
	n, err = readAt0(s.smaps, s.buf)
	if err != nil {
		return
	}
	b, err := smapsParts(s.buf[:n], s.exe, s.heap)
	if err != nil || b.RSSKiB <= s.best.RSSKiB {
		return
	}
	if s.guest != nil {
		b.GuestKiB = s.guest() >> 10
	}
	s.best = b
}

// readAt0 reads a /proc file whole from its start into buf, which must
// hold it: files under /proc are generated afresh by a read from offset 0.
func readAt0(fd int, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := syscall.Pread(fd, buf[n:], int64(n))
		if err != nil {
			return 0, err
		}
		if m == 0 {
			return n, nil
		}
		n += m
	}
	return 0, fmt.Errorf("a /proc file outgrew the sampler's %d KiB buffer", len(buf)>>10)
}

// heapProbe is a heap object whose address locates the heap.
var heapProbe *[16]byte

// The Go runtime (64-bit Linux) reserves its heap in arenas of
// heapArenaBytes, from a base address it picks at random since Go 1.26,
// upwards and contiguously, and never unmaps them; the kernel places other
// mappings (linear memories, machine code, the runtime's metadata) far
// away. So the heap's mappings are those that reach into the arena of a
// heap object or above it, up to heapSpan (a mapping of the heap can start
// below that arena: the base is only 4 MiB-aligned).
const (
	heapArenaBytes = 64 << 20
	heapSpan       = 64 << 30
)

func heapRange(object uintptr) (low, high uint64) {
	low = uint64(object) &^ (heapArenaBytes - 1)
	return low, low + heapSpan
}

// finish stops sampling and returns the breakdown at the highest RSS seen;
// nil for a nil sampler.
func (s *sampler) finish() *breakdown {
	if s == nil {
		return nil
	}
	close(s.stop)
	<-s.done
	s.sample()
	_ = syscall.Close(s.statm)
	_ = syscall.Close(s.smaps)
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.best
	return &b
}
