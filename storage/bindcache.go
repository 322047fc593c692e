package storage

import (
	"sync"

	"github.com/pushd-im/pushd/wire"
)

// defaultBindingCacheUsers is how many users' bindings the store keeps
// decoded when Options.BindingCacheUsers is 0: about 45 MiB at one binding a
// user (benchmarks/README.md, Design figures), enough for the members of a
// few large groups.
const defaultBindingCacheUsers = 128 << 10

// touchLog is how many binding writes the cache remembers by user, so that a
// read that saw some of them skips only those users when it fills the cache.
const touchLog = 4096

// bindingCache keeps the bindings EachUserBindings read, decoded, by user:
// a group's fan-outs read the same members' bindings message after message,
// and reading and decoding them from Pebble would dominate a fan-out's CPU.
//
// It stays right because every binding write goes through a Batch, and the
// committer, once a batch that wrote bindings is committed (or failed), bumps
// gen and forgets those users before it answers the writer. A reader notes gen
// before it opens its iterator and adds what it read only for users that no
// write touched since (the touches after its gen, from the log; all of them
// when the log no longer reaches back that far). The cached slices and
// bindings are shared by every reader and never modified.
type bindingCache struct {
	max int

	mu    sync.Mutex
	users map[string][]*wire.Binding // user's binding key prefix → bindings (empty: none)
	gen   uint64                     // binding writes committed so far
	// touched holds the last touchLog writes: touched[g%touchLog] is the
	// user prefix that write g (1-based) touched.
	touched [touchLog]string
}

func newBindingCache(max int) *bindingCache {
	if max == 0 {
		max = defaultBindingCacheUsers
	}
	if max < 0 {
		return nil
	}
	return &bindingCache{max: max, users: map[string][]*wire.Binding{}}
}

// lookup returns the generation to fill with and, for each prefix, its
// cached bindings and whether there were any.
func (c *bindingCache) lookup(prefixes [][]byte, bs [][]*wire.Binding, hit []bool) uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range prefixes {
		bs[i], hit[i] = c.users[string(p)]
	}
	return c.gen
}

// fill adds what a reader that started at gen read: bs[i] for each prefix not
// cached (it came from the cache).
func (c *bindingCache) fill(gen uint64, prefixes [][]byte, bs [][]*wire.Binding, cached []bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var stale map[string]bool
	if c.gen != gen {
		if c.gen-gen > touchLog {
			return // too many writes since to tell which users they touched
		}
		stale = make(map[string]bool, c.gen-gen)
		for g := gen + 1; g <= c.gen; g++ {
			stale[c.touched[g%touchLog]] = true
		}
	}
	for i, p := range prefixes {
		if cached[i] || stale[string(p)] {
			continue
		}
		if len(c.users) >= c.max {
			c.evict()
		}
		c.users[string(p)] = bs[i]
	}
}

// evict drops about a tenth of the entries, whichever the map's order gives.
func (c *bindingCache) evict() {
	n := c.max/10 + 1
	for k := range c.users {
		delete(c.users, k)
		if n--; n == 0 {
			return
		}
	}
}

// forget drops the users a committed batch wrote bindings of.
func (c *bindingCache) forget(prefixes []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range prefixes {
		c.gen++
		c.touched[c.gen%touchLog] = p
		delete(c.users, p)
	}
}

// clear drops every entry, and keeps readers that started before from filling what they read:
// the store's bindings changed under a path that does not name its users (a shard's new writer,
// a snapshot).
func (c *bindingCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.users)
	c.gen += touchLog + 1
}
