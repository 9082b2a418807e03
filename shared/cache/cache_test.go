package cache_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/livingprofile/livingprofile/shared/cache"
)

// TestTTL: a value loaded or put is served, by Get and Peek, until the TTL ends; a failed
// load is not cached; Forget drops a value.
func TestTTL(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	c := cache.New[int](time.Minute, func() time.Time { return now })
	loads := 0
	load := func(v int, err error) func(context.Context) (int, error) {
		return func(context.Context) (int, error) { loads++; return v, err }
	}
	ctx := context.Background()
	if _, ok := c.Peek("a"); ok {
		t.Fatal("Peek of an empty cache found a value")
	}
	if _, err := c.Get(ctx, "a", load(0, errors.New("down"))); err == nil {
		t.Fatal("Get hid the load's error")
	}
	steps := []struct {
		name      string
		act       func() (int, error)
		want      int
		wantLoads int
	}{
		{"a failed load is not cached", func() (int, error) { return c.Get(ctx, "a", load(1, nil)) }, 1, 2},
		{"served from the cache", func() (int, error) { return c.Get(ctx, "a", load(2, nil)) }, 1, 2},
		{"peeked", func() (int, error) { v, _ := c.Peek("a"); return v, nil }, 1, 2},
		{"put replaces", func() (int, error) { c.Put("a", 3); return c.Get(ctx, "a", load(4, nil)) }, 3, 2},
		{"expired", func() (int, error) { now = now.Add(time.Minute); return c.Get(ctx, "a", load(5, nil)) }, 5, 3},
		{"forgotten", func() (int, error) { c.Forget("a"); return c.Get(ctx, "a", load(6, nil)) }, 6, 4},
	}
	for _, s := range steps {
		got, err := s.act()
		if err != nil || got != s.want || loads != s.wantLoads {
			t.Errorf("%s: got %d (%v) after %d loads, want %d after %d", s.name, got, err, loads, s.want, s.wantLoads)
		}
	}
	now = now.Add(time.Minute)
	if _, ok := c.Peek("a"); ok {
		t.Error("Peek served an expired value")
	}
}
