//go:build !linux

package rie

import "syscall"

// The emulator and Lambda bootstraps are Linux programs; elsewhere the
// process helpers only keep the package compiling.

func sysProcAttr() *syscall.SysProcAttr { return nil }

func childPIDs(int) []int { return nil }

func killGroup(int) {}
