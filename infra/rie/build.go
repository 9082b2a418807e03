// Package rie runs real, production-built Lambda `bootstrap` binaries under
// the AWS Lambda Runtime Interface Emulator (aws-lambda-rie) without Docker,
// and measures their cold start.
//
// The emulator is built from the Go module proxy, pinned to [Version]; it is
// deliberately not a dependency in the project's go.mod. By hand the build is:
//
//	CGO_ENABLED=0 GOBIN=<dir> go install -trimpath -ldflags="-s -w" \
//	    github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@<Version>
//
// Typical use:
//
//	rieBin, _ := rie.Build(ctx, cacheDir)
//	_ = rie.BuildFunction(ctx, "./functions/get-profile", dir+"/bootstrap", runtime.GOARCH)
//	inst, _ := rie.Start(ctx, rieBin, dir+"/bootstrap", []string{"TABLE_NAME=profiles"})
//	defer inst.Close()
//	out, _ := inst.Invoke(ctx, []byte(`{}`))
//
// Everything here needs Linux: the bootstrap is a linux binary and the
// emulator relies on Linux process semantics.
package rie

import (
	"bytes"
	"cmp"
	"context"
	"debug/buildinfo"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
)

const (
	// Module is the Go module of the AWS Lambda Runtime Interface Emulator.
	Module = "github.com/aws/aws-lambda-runtime-interface-emulator"
	// MainPackage is the emulator's main package inside Module.
	MainPackage = Module + "/cmd/aws-lambda-rie"
	// Version is the pinned emulator version served by the Go module proxy
	// (tagged releases such as v1.23.0 are not served there; this
	// pseudo-version is).
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
	// BinaryName is the file name Build writes into its output directory.
	BinaryName = "aws-lambda-rie"
)

// Build builds the emulator for the host into outDir/aws-lambda-rie and
// returns that path. It is cached: when outDir already holds a binary whose
// embedded build info says it is MainPackage at Version for this host, it is
// returned without running the go command. The build itself only needs the
// go command and the module proxy; it does not touch the project's go.mod.
func Build(ctx context.Context, outDir string) (string, error) {
	if outDir == "" {
		return "", errors.New("rie: Build: empty outDir")
	}
	outDir, err := filepath.Abs(outDir)
	if err != nil {
		return "", fmt.Errorf("rie: Build: %w", err)
	}
	target := filepath.Join(outDir, BinaryName)
	if upToDate(target) {
		return target, nil
	}
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return "", fmt.Errorf("rie: Build: %w", err)
	}
	// Install into a private directory, then rename into place, so that
	// concurrent builders (parallel test binaries) never see a partial file.
	tmp, err := os.MkdirTemp(outDir, ".rie-build-")
	if err != nil {
		return "", fmt.Errorf("rie: Build: %w", err)
	}
	defer os.RemoveAll(tmp)

	cmd := exec.CommandContext(ctx, goTool(), "install", "-trimpath", "-ldflags=-s -w", MainPackage+"@"+Version)
	cmd.Dir = tmp // outside any module: `go install pkg@version` ignores go.mod anyway
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0",
		"GOOS="+runtime.GOOS,
		"GOARCH="+runtime.GOARCH,
		"GOBIN="+tmp,
		"GOWORK=off",
		// Project-wide flags such as -mod=vendor are not allowed with
		// pkg@version; the emulator's own go.mod and go.sum govern it.
		"GOFLAGS=",
	)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("rie: go install %s@%s: %w\n%s", MainPackage, Version, err, out)
	}
	if err := os.Rename(filepath.Join(tmp, BinaryName), target); err != nil {
		return "", fmt.Errorf("rie: Build: %w", err)
	}
	if !upToDate(target) {
		return "", fmt.Errorf("rie: Build: %s does not report %s@%s after install", target, MainPackage, Version)
	}
	return target, nil
}

// upToDate reports whether path is an executable built from MainPackage at
// Version for the host OS and architecture.
func upToDate(path string) bool {
	info, err := buildinfo.ReadFile(path)
	if err != nil {
		return false
	}
	if info.Path != MainPackage || info.Main.Path != Module || info.Main.Version != Version {
		return false
	}
	return slices.Contains(info.Settings, debug.BuildSetting{Key: "GOOS", Value: runtime.GOOS}) &&
		slices.Contains(info.Settings, debug.BuildSetting{Key: "GOARCH", Value: runtime.GOARCH})
}

// BuildFunction builds a Lambda bootstrap from the Go package pkg with the
// production flags (CGO_ENABLED=0 GOOS=linux GOARCH=goarch go build
// -tags lambda.norpc -trimpath -ldflags="-s -w") and writes it to outPath.
//
// A relative pkg such as "./functions/get-profile" is resolved against the
// root of the main module containing the current directory, so callers in
// any package name functions the same way; an import path works as well.
// An empty goarch means the host's (runtime.GOARCH), which is what Start
// needs to run the binary.
func BuildFunction(ctx context.Context, pkg, outPath string, goarch string) error {
	if pkg == "" || outPath == "" {
		return errors.New("rie: BuildFunction: empty package or output path")
	}
	goarch = cmp.Or(goarch, runtime.GOARCH)
	outPath, err := filepath.Abs(outPath)
	if err != nil {
		return fmt.Errorf("rie: BuildFunction: %w", err)
	}
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return fmt.Errorf("rie: BuildFunction: %w", err)
	}
	cmd := exec.CommandContext(ctx, goTool(), "build",
		"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w",
		"-o", outPath, pkg)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rie: go build %s (GOARCH=%s): %w\n%s", pkg, goarch, err, out)
	}
	return nil
}

// moduleRoot returns the directory of the main module's go.mod, as the go
// command sees it from the current directory.
func moduleRoot(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, goTool(), "env", "GOMOD")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("rie: go env GOMOD: %w\n%s", err, stderr.Bytes())
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("rie: not inside a Go module (go env GOMOD is empty)")
	}
	return filepath.Dir(gomod), nil
}

// goTool returns the go command to run: the one from GOROOT/bin when the
// environment names it (go test and go run put it first in PATH), else "go".
func goTool() string {
	if root := os.Getenv("GOROOT"); root != "" {
		p := filepath.Join(root, "bin", "go")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return "go"
}
