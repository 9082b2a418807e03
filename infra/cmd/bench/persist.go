package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/livingprofile/livingprofile/infra/localaws"
	"github.com/livingprofile/livingprofile/infra/localstack"
)

// persistBench writes rounds of consent changes through a stack of its own with persistence on
// (as make dev runs), after one round without: a journal whose cost grew with the data would
// show as a slower, longer-tailed last round and a growing RSS.
func persistBench(ctx context.Context, b *bench, w io.Writer) error {
	dir, err := os.MkdirTemp("", "bench-persist")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	rows := []string{"stack\tround\twrites/s\tp50 ms\tp99 ms\tRSS MiB\tjournal MiB"}
	for _, persist := range []bool{false, true} {
		name, rounds := "in memory", 1
		if persist {
			name, rounds = "journal", b.cfg.persistRounds
			os.Setenv(localaws.DataDirEnv, dir)
		}
		pb := &bench{cfg: b.cfg}
		err := pb.start(ctx, localstack.Options{StackName: fmt.Sprintf("persist%d", time.Now().UnixNano()%1e6)})
		os.Unsetenv(localaws.DataDirEnv)
		seq := make([]int, b.cfg.clients)
		for round := 1; round <= rounds && err == nil; round++ {
			l := load(b.cfg.persistN, seq, func(w, k int) error { return consentWrite(ctx, pb, w, k) })
			if err = l.err(); err != nil {
				err = fmt.Errorf("round %d: %w", round, err)
				break
			}
			d, size := distOf(l.lat), int64(0)
			if j, err := os.Stat(filepath.Join(dir, "journal.jsonl")); err == nil && persist {
				size = j.Size()
			}
			rows = append(rows, fmt.Sprintf("%s\t%d\t%.0f\t%.1f\t%.1f\t%.0f\t%.1f", name, round, l.rate(), d.P50, d.P99, rssMiB(), float64(size)/(1<<20)))
			fmt.Fprintf(os.Stderr, "  %s\n", rows[len(rows)-1])
		}
		pb.close()
		if err != nil {
			return err
		}
	}
	note(w, "rounds of %d consent writes (PUT .../consents/marketing) from %d clients on a stack without and one with", b.cfg.persistN, b.cfg.clients)
	note(w, "LP_DATA_DIR; RSS of this whole process after each round; the journal is compacted past 3x its last size.\n")
	table(w, rows...)
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
