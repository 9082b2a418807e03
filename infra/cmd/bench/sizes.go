package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"unicode"

	"github.com/livingprofile/livingprofile/infra/template"
)

// buildFlags are the production build flags (Makefile GO_BUILD_FLAGS, SAM's makefile build).
var buildFlags = []string{"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w"}

// sizeCommand is the build command as the report prints it.
const sizeCommand = `GOOS=linux GOARCH=arm64 CGO_ENABLED=0 go build -tags lambda.norpc -trimpath -ldflags="-s -w" -o <tmp>/ ./functions/<dir> ...`

// sizeResult is the size of one function's deployed bootstrap.
type sizeResult struct {
	LogicalID string  `json:"logicalId"`
	Dir       string  `json:"dir"`
	Bytes     int64   `json:"bytes"`
	MiB       float64 `json:"mib"`
}

// functionDir maps a template logical id to its directory under functions/:
// CreatePortalLink -> create-portal-link.
func functionDir(logicalID string) string {
	var b strings.Builder
	for i, r := range logicalID {
		if unicode.IsUpper(r) {
			if i > 0 {
				b.WriteByte('-')
			}
			r = unicode.ToLower(r)
		}
		b.WriteRune(r)
	}
	return b.String()
}

// functionSizes builds every function of template.yaml for linux/arm64 with the production
// flags, in one go build (so packages are compiled once), and returns each bootstrap's size.
func functionSizes(ctx context.Context, root string) ([]sizeResult, error) {
	tpl, err := template.Load(filepath.Join(root, "template.yaml"))
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "lp-bench-sizes-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)

	var out []sizeResult
	args := append([]string{"build"}, buildFlags...)
	args = append(args, "-o", dir+string(filepath.Separator))
	for _, fn := range tpl.Functions {
		d := functionDir(fn.LogicalID)
		if st, err := os.Stat(filepath.Join(root, "functions", d)); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("function %s: no directory functions/%s", fn.LogicalID, d)
		}
		out = append(out, sizeResult{LogicalID: fn.LogicalID, Dir: "functions/" + d})
		args = append(args, "./functions/"+d)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("template.yaml has no functions")
	}
	cmd := exec.CommandContext(ctx, goTool(), args...)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("go build (linux/arm64): %w\n%s", err, b)
	}
	for i := range out {
		// With -o <dir>/ and several main packages, go build names each binary after the
		// last element of its import path.
		fi, err := os.Stat(filepath.Join(dir, filepath.Base(out[i].Dir)))
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", out[i].LogicalID, err)
		}
		out[i].Bytes = fi.Size()
		out[i].MiB = float64(fi.Size()) / (1 << 20)
	}
	return out, nil
}

// goTool is the go command: GOROOT/bin/go when GOROOT is set (go run sets it), else "go".
func goTool() string {
	if r := os.Getenv("GOROOT"); r != "" {
		if p := filepath.Join(r, "bin", "go"); fileExists(p) {
			return p
		}
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
