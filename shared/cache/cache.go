// Package cache keeps per-key values for a short time in a warm container, so items that
// every request needs (a tenant's catalog, an API key) are read once per TTL, not per
// request. It is safe for concurrent use; concurrent misses may both load, which is
// harmless for the idempotent reads it fronts.
package cache

import (
	"context"
	"sync"
	"time"
)

// TTL caches values of type V by string key for a fixed time.
type TTL[V any] struct {
	ttl time.Duration
	now func() time.Time

	mu      sync.Mutex
	entries map[string]entry[V]
}

type entry[V any] struct {
	v       V
	fetched time.Time
}

// New returns a cache that keeps values for ttl, using now as its clock.
func New[V any](ttl time.Duration, now func() time.Time) *TTL[V] {
	return &TTL[V]{ttl: ttl, now: now, entries: map[string]entry[V]{}}
}

// Get returns the fresh cached value for key, or loads, caches and returns it. Errors are
// not cached.
func (c *TTL[V]) Get(ctx context.Context, key string, load func(context.Context) (V, error)) (V, error) {
	now := c.now()
	if v, ok := c.peek(key, now); ok {
		return v, nil
	}
	v, err := load(ctx)
	if err != nil {
		return v, err
	}
	c.put(key, v, now)
	return v, nil
}

// Peek returns the fresh cached value for key, if there is one: for a caller that loads
// several values in one read, asking only for those it lacks.
func (c *TTL[V]) Peek(key string) (V, bool) { return c.peek(key, c.now()) }

// Put caches v for key from now on, as a Get that loaded it.
func (c *TTL[V]) Put(key string, v V) { c.put(key, v, c.now()) }

func (c *TTL[V]) peek(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Sub(e.fetched) < c.ttl {
		return e.v, true
	}
	var zero V
	return zero, false
}

func (c *TTL[V]) put(key string, v V, at time.Time) {
	c.mu.Lock()
	c.entries[key] = entry[V]{v: v, fetched: at}
	c.mu.Unlock()
}

// Forget drops key, so the next Get loads it.
func (c *TTL[V]) Forget(key string) {
	c.mu.Lock()
	delete(c.entries, key)
	c.mu.Unlock()
}
