// Package rie runs real, production-built Lambda `bootstrap` binaries under
// the AWS Lambda Runtime Interface Emulator (aws-lambda-rie) without Docker,
// and measures their cold start.
//
// The emulator is built with `go install` pinned to [Version]; it is
// deliberately not a dependency in the project's go.mod.
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
)

const (
	// Module is the Go module of the AWS Lambda Runtime Interface Emulator.
	Module      = "github.com/aws/aws-lambda-runtime-interface-emulator"
	MainPackage = Module + "/cmd/aws-lambda-rie"
	// Version is the pinned emulator version: a pseudo-version, because the
	// module proxy does not serve the tagged releases (v1.23.0).
	Version = "v0.0.0-20261030222936-bef5c4ba774d"
	// BinaryName is the file name Build writes into its output directory.
	BinaryName = "aws-lambda-rie"
)

// Build builds the emulator for the host into outDir/aws-lambda-rie and
// returns that path. It is cached: a binary there whose build info says it
// is MainPackage at Version for this host is returned without building.
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
	// Install privately and rename into place: concurrent builders (parallel
	// test binaries) never see a partial file.
	tmp, err := os.MkdirTemp(outDir, ".rie-build-")
	if err != nil {
		return "", fmt.Errorf("rie: Build: %w", err)
	}
	defer os.RemoveAll(tmp)

	cmd := exec.CommandContext(ctx, "go", "install", "-trimpath", "-ldflags=-s -w", MainPackage+"@"+Version)
	cmd.Dir = tmp // outside any module: `go install pkg@version` ignores go.mod anyway
	cmd.Env = append(os.Environ(),
		"CGO_ENABLED=0",
		"GOOS="+runtime.GOOS,
		"GOARCH="+runtime.GOARCH,
		"GOBIN="+tmp,
		"GOWORK=off",
		"GOFLAGS=", // -mod=vendor and the like are refused with pkg@version
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
	return err == nil && info.Path == MainPackage && info.Main.Path == Module && info.Main.Version == Version &&
		slices.Contains(info.Settings, debug.BuildSetting{Key: "GOOS", Value: runtime.GOOS}) &&
		slices.Contains(info.Settings, debug.BuildSetting{Key: "GOARCH", Value: runtime.GOARCH})
}

// BuildFunction builds a Lambda bootstrap from the Go package pkg with the
// production flags (-tags lambda.norpc -trimpath -ldflags="-s -w", no cgo)
// for linux/goarch (the host's when empty, which is what Start can run) and
// writes it to outPath. A relative pkg such as "./functions/get-profile" is
// resolved against the main module's root, so callers in any package name
// functions the same way.
func BuildFunction(ctx context.Context, pkg, outPath string, goarch string) error {
	if pkg == "" || outPath == "" {
		return errors.New("rie: BuildFunction: empty package or output path")
	}
	goarch = cmp.Or(goarch, runtime.GOARCH)
	outPath, err := filepath.Abs(outPath)
	if err != nil {
		return fmt.Errorf("rie: BuildFunction: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(outPath), 0o755); err != nil {
		return fmt.Errorf("rie: BuildFunction: %w", err)
	}
	cmd := exec.CommandContext(ctx, "go", "build",
		"-tags", "lambda.norpc", "-trimpath", "-ldflags=-s -w",
		"-o", outPath, pkg)
	_, file, _, _ := runtime.Caller(0) // this file, two directories below the module root
	cmd.Dir = filepath.Join(filepath.Dir(file), "..", "..")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("rie: go build %s (GOARCH=%s): %w\n%s", pkg, goarch, err, out)
	}
	return nil
}
