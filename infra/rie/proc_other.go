//go:build !linux

package rie

import (
	"errors"
	"syscall"
)

// The emulator and Lambda bootstraps are Linux programs; elsewhere the
// process helpers only keep the package compiling.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func childPIDs(int) []int { return nil }

func killGroup(int) {}

func peakRSS(int) (int64, error) { return 0, errors.New("no /proc here") }
