package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/localstack"
	"github.com/livingprofile/livingprofile/shared/dynamo"
)

// persistBench starts a stack of its own with persistence on (as make dev runs) and writes
// persist-rounds rounds of persist-n consent changes through its API: a journal whose cost
// grew with the data would show as a slower, longer-tailed last round and a growing RSS. A
// first round on a stack without persistence is the baseline.
func persistBench(ctx context.Context, b *bench, w io.Writer) error {
	dir, err := os.MkdirTemp("", "bench-persist")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rows := []string{"stack	round	writes/s	p50 ms	p99 ms	RSS MiB	journal MiB"}
	for _, persist := range []bool{false, true} {
		if persist {
			os.Setenv(localaws.DataDirEnv, dir)
		}
		st, err := localstack.Start(ctx, localstack.Options{StackName: fmt.Sprintf("persist%d", time.Now().UnixNano()%1e6)})
		os.Unsetenv(localaws.DataDirEnv)
		if err != nil {
			return err
		}
		err = persistRounds(ctx, b.cfg, st, map[bool]int{false: 1, true: b.cfg.persistRounds}[persist], func(round int, l loadResult) {
			d, size := distOf(l.lat), int64(0)
			if j, err := os.Stat(filepath.Join(dir, "journal.jsonl")); err == nil && persist {
				size = j.Size()
			}
			rows = append(rows, fmt.Sprintf("%s	%d	%.0f	%.1f	%.1f	%.0f	%.1f", map[bool]string{false: "in memory", true: "journal"}[persist],
				round, float64(len(l.lat))/l.wall.Seconds(), d.P50, d.P99, rssMiB(), float64(size)/(1<<20)))
			fmt.Fprintf(os.Stderr, "  %s\n", rows[len(rows)-1])
		})
		st.Close()
		if err != nil {
			return err
		}
	}
	note(w, "rounds of %d consent writes (PUT .../consents/marketing) from %d clients on a stack without and one with", b.cfg.persistN, b.cfg.clients)
	note(w, "LP_DATA_DIR; RSS of this whole process after each round; the journal is compacted past 3x its last size.\n")
	table(w, rows...)
	return nil
}

// persistRounds seeds st and writes rounds rounds of consent changes, reporting each.
func persistRounds(ctx context.Context, cfg config, st *localstack.Stack, rounds int, report func(int, loadResult)) error {
	fix, err := seedFixture(ctx, dynamo.New(dynamodb.NewFromConfig(st.AWS.AWS), st.Table))
	if err != nil {
		return err
	}
	c := newClient(st.URL, 4*cfg.clients)
	defer c.CloseIdleConnections()
	seq := make([]int, cfg.clients)
	for round := 1; round <= rounds; round++ {
		l := load(cfg.persistN, seq, func(wk, k int) error {
			i := fix.owned(wk, cfg.clients, k)
			return c.call(ctx, http.MethodPut, "/v1/profiles/"+fix.ids[i]+"/consents/marketing", fix.writeKey, fix.flip(i), http.StatusOK, nil)
		})
		if l.first != nil {
			return fmt.Errorf("round %d: %d of %d writes failed, first: %w", round, l.errors, cfg.persistN, l.first)
		}
		report(round, l)
	}
	return nil
}

// rssMiB is the process's resident set size, from /proc (0 where there is none).
func rssMiB() float64 {
	b, _ := os.ReadFile("/proc/self/status")
	for _, line := range bytes.Split(b, []byte("\n")) {
		var kb float64
		if _, err := fmt.Sscanf(string(line), "VmRSS: %f kB", &kb); err == nil {
			return kb / 1024
		}
	}
	return 0
}
