package delivery

import (
	"errors"
	"testing"
)

// TestGuard: what the delivery dialer lets through, per mode.
func TestGuard(t *testing.T) {
	const public, loopback, private, metadata = "93.184.216.34:443", "127.0.0.1:8080", "10.0.0.5:443", "169.254.169.254:80"
	for _, tt := range []struct {
		name                        string
		allowLoopback, loopbackOnly bool
		addr                        string
		blocked                     bool
	}{
		{"AWS: public", false, false, public, false},
		{"AWS: loopback", false, false, loopback, true},
		{"AWS: private", false, false, private, true},
		{"AWS: metadata", false, false, metadata, true},
		{"local: public", true, false, public, false},
		{"local: loopback", true, false, loopback, false},
		{"local: private", true, false, private, true},
		{"loopback only: public", true, true, public, true},
		{"loopback only: loopback", true, true, loopback, false},
		{"loopback only: IPv6 loopback", true, true, "[::1]:8080", false},
		{"loopback only: private", true, true, private, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := guard(tt.allowLoopback, tt.loopbackOnly)("tcp", tt.addr, nil)
			if got := errors.Is(err, errBlocked); got != tt.blocked {
				t.Fatalf("blocked = %v (%v), want %v", got, err, tt.blocked)
			}
		})
	}
}
