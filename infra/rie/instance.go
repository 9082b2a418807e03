package rie

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// InvokePath is the emulator's invoke route (the Lambda Invoke API path).
const InvokePath = "/2015-03-31/functions/function/invocations"

const (
	// defaultReadyTimeout bounds Start and ColdStart when ctx has no earlier deadline.
	defaultReadyTimeout = 20 * time.Second
	// pollInterval is small because ColdStart's figure includes up to one interval of slack.
	pollInterval = 2 * time.Millisecond
	// closeGrace is how long Close lets the emulator shut down on SIGTERM.
	closeGrace = 3 * time.Second
	// startAttempts: the emulator dies before it is ready when a port picked as free was
	// taken meanwhile; Start then tries again.
	startAttempts = 3
	logLimit      = 256 << 10
)

// Instance is one running emulator serving one bootstrap.
type Instance struct {
	cmd     *exec.Cmd
	addr    string // host:port of the invoke API
	apiAddr string // host:port of the Runtime API the bootstrap talks to
	logs    *tailBuffer
	exited  chan struct{} // closed when the emulator process has exited
	waitErr error         // valid after exited is closed
	client  *http.Client

	closeOnce sync.Once
}

// Start runs the emulator at riePath serving bootstrapPath on free loopback
// ports and waits (bounded by ctx and a 20 s default) until its invoke API
// answers. The emulator starts the bootstrap on the first Invoke, as Lambda
// does on a cold start.
//
// The process environment is not inherited: the function sees a Lambda-like
// base (PATH, TZ=:UTC, AWS_REGION and AWS_DEFAULT_REGION=us-east-1,
// LAMBDA_TASK_ROOT) overlaid with env (KEY=VALUE, later entries win) and what
// the emulator adds. Its working directory is its own, like /var/task.
func Start(ctx context.Context, riePath, bootstrapPath string, env []string) (*Instance, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultReadyTimeout) // an earlier deadline of ctx wins
	defer cancel()
	var inst *Instance
	err := launchRetrying(ctx, riePath, bootstrapPath, env, func(in *Instance, _ time.Time) error {
		if err := in.waitReady(ctx); err != nil {
			in.Close()
			return err
		}
		inst = in
		return nil
	})
	return inst, err
}

// ColdStart measures one cold start: from just before the emulator starts to
// the complete answer of the first successful Invoke of payload, i.e. the
// emulator's own start (milliseconds), the bootstrap's exec and init and the
// first invocation. Compare a function's figure with the hello baseline of
// the same run, not across machines. The instance is closed on return.
func ColdStart(ctx context.Context, riePath, bootstrapPath string, env []string, payload []byte) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, defaultReadyTimeout) // an earlier deadline of ctx wins
	defer cancel()
	var d time.Duration
	err := launchRetrying(ctx, riePath, bootstrapPath, env, func(in *Instance, t0 time.Time) (err error) {
		defer in.Close()
		d, err = in.firstInvoke(ctx, t0, payload)
		return err
	})
	return d, err
}

// launchRetrying hands a launched emulator and its start time to use, launching again
// while use fails because the emulator exited before it was ready.
func launchRetrying(ctx context.Context, riePath, bootstrapPath string, env []string, use func(*Instance, time.Time) error) error {
	var err error
	for range startAttempts {
		inst, t0, launchErr := launch(riePath, bootstrapPath, env)
		if launchErr != nil {
			return launchErr
		}
		if err = use(inst, t0); err == nil || ctx.Err() != nil || !errors.Is(err, errExitedEarly) {
			return err
		}
	}
	return err
}

var errExitedEarly = errors.New("emulator exited before it was ready")

// launch starts the emulator and returns it with the time just before it started.
func launch(riePath, bootstrapPath string, env []string) (*Instance, time.Time, error) {
	for _, p := range []*string{&riePath, &bootstrapPath} {
		abs, err := filepath.Abs(*p)
		st, err2 := os.Stat(abs)
		if err = cmp.Or(err, err2); err != nil {
			return nil, time.Time{}, fmt.Errorf("rie: %w", err)
		}
		if st.IsDir() || st.Mode()&0o111 == 0 {
			return nil, time.Time{}, fmt.Errorf("rie: %s is not an executable file", abs)
		}
		*p = abs
	}
	addrs, err := freeAddrs(2)
	if err != nil {
		return nil, time.Time{}, err
	}
	addr, apiAddr := addrs[0], addrs[1]
	taskRoot := filepath.Dir(bootstrapPath)
	base := []string{"PATH=" + os.Getenv("PATH"), "TZ=:UTC", "AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1",
		"LAMBDA_TASK_ROOT=" + taskRoot}
	logs := &tailBuffer{limit: logLimit}
	cmd := exec.Command(riePath, "--runtime-interface-emulator-address", addr, "--runtime-api-address", apiAddr, bootstrapPath)
	// The emulator runs the bootstrap in the emulator's working directory.
	cmd.Dir = taskRoot
	cmd.Env = append(base, env...) // exec uses the last value of a repeated key
	cmd.Stdout = logs
	cmd.Stderr = logs
	cmd.SysProcAttr = sysProcAttr()

	inst := &Instance{
		cmd:     cmd,
		addr:    addr,
		apiAddr: apiAddr,
		logs:    logs,
		exited:  make(chan struct{}),
		client:  &http.Client{Transport: &http.Transport{}},
	}
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, time.Time{}, fmt.Errorf("rie: start %s: %w", riePath, err)
	}
	go func() {
		inst.waitErr = cmd.Wait()
		close(inst.exited)
	}()
	return inst, t0, nil
}

// poll calls try every pollInterval until it is done or fails, the process exits, or ctx
// ends.
func (in *Instance) poll(ctx context.Context, try func() (done bool, err error)) error {
	tick := time.NewTicker(pollInterval)
	defer tick.Stop()
	for {
		if done, err := try(); done || err != nil {
			return err
		}
		select {
		case <-in.exited:
			return fmt.Errorf("rie: %w (invoke API %s, Runtime API %s: %v)\n%s", errExitedEarly, in.addr, in.apiAddr, in.waitErr, in.Logs())
		case <-ctx.Done():
			return fmt.Errorf("rie: emulator not ready on %s: %w\n%s", in.addr, ctx.Err(), in.Logs())
		case <-tick.C:
		}
	}
}

// waitReady polls the invoke API with a plain GET, which the emulator answers
// (404) once it listens, without starting the bootstrap.
func (in *Instance) waitReady(ctx context.Context) error {
	return in.poll(ctx, func() (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, in.URL()+"/", nil)
		if err != nil {
			return false, err
		}
		resp, err := in.client.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
		return err == nil, nil
	})
}

// firstInvoke invokes until the emulator accepts the connection and returns
// the time from t0 to the complete answer.
func (in *Instance) firstInvoke(ctx context.Context, t0 time.Time, payload []byte) (d time.Duration, err error) {
	err = in.poll(ctx, func() (bool, error) {
		_, err := in.Invoke(ctx, payload)
		d = time.Since(t0)
		if err != nil && !errors.Is(err, syscall.ECONNREFUSED) {
			return false, fmt.Errorf("%w\nemulator output:\n%s", err, in.Logs())
		}
		return err == nil, nil
	})
	return d, err
}

// Invoke posts payload to the invoke API and returns the function's response.
// An answer that is not 2xx (502 when the bootstrap crashed in init) is an
// error; a handler's error is not: as Lambda's Invoke API, the emulator
// answers 200 with the error document ({"errorMessage":...}) as the body.
func (in *Instance) Invoke(ctx context.Context, payload []byte) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, in.URL()+InvokePath, bytes.NewReader(payload))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := in.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("rie: invoke: reading answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, fmt.Errorf("rie: invoke answered %d: %s", resp.StatusCode, bytes.TrimSpace(body))
	}
	return body, nil
}

// URL is the emulator's base URL, e.g. http://127.0.0.1:41234.
func (in *Instance) URL() string { return "http://" + in.addr }

// BootstrapPeakRSS is the peak resident set in bytes of the function's process (the
// emulator's child), so far; it is an error before the first Invoke started it.
func (in *Instance) BootstrapPeakRSS() (int64, error) {
	children := childPIDs(in.cmd.Process.Pid)
	if len(children) == 0 {
		return 0, errors.New("rie: the bootstrap is not running")
	}
	var peak int64
	for _, pid := range children {
		n, err := peakRSS(pid)
		if err != nil {
			return 0, err
		}
		peak = max(peak, n)
	}
	return peak, nil
}

// Logs returns the emulator's and the function's combined output so far
// (the last 256 KiB), for failure messages.
func (in *Instance) Logs() string { return in.logs.String() }

// Close stops the emulator and its bootstrap: SIGTERM first (the emulator
// then SIGKILLs the runtime and exits), after a grace period SIGKILL to the
// emulator's and the runtime's process groups. It waits for the emulator to
// exit, is idempotent and always returns nil.
func (in *Instance) Close() error {
	in.closeOnce.Do(func() {
		in.client.CloseIdleConnections()
		// The runtime has a process group of its own: find it while the emulator lives.
		children := childPIDs(in.cmd.Process.Pid)
		select {
		case <-in.exited:
		default:
			_ = in.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-in.exited:
			case <-time.After(closeGrace):
				_ = in.cmd.Process.Kill()
				killGroup(in.cmd.Process.Pid)
				for _, pid := range children {
					killGroup(pid)
				}
				<-in.exited
			}
		}
	})
	return nil
}

// freeAddrs returns n distinct free loopback TCP addresses, released for the emulator to bind.
func freeAddrs(n int) ([]string, error) {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	var addrs []string
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("rie: finding a free port: %w", err)
		}
		ls = append(ls, l)
		addrs = append(addrs, l.Addr().String())
	}
	return addrs, nil
}

// tailBuffer is a concurrency-safe writer keeping the last limit bytes.
type tailBuffer struct {
	mu    sync.Mutex
	buf   []byte
	limit int
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.limit; over > 0 {
		b.buf = append(b.buf[:0:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return strings.ToValidUTF8(string(b.buf), "?")
}
