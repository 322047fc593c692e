package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"

	"github.com/pushd-im/pushd/wire"
)

// eachBindings is EachUserBindings as a map of user → push ids.
func eachBindings(t testing.TB, s *Store, users []string) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	err := s.EachUserBindings("app", users, func(u string, bs []*wire.Binding) error {
		for _, b := range bs {
			out[u] = append(out[u], b.PushId)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("EachUserBindings: %v", err)
	}
	return out
}

// TestBindingCacheFollowsWrites: a second read comes from the cache, and
// every committed bind or unbind is seen by the next read.
func TestBindingCacheFollowsWrites(t *testing.T) {
	s := openStore(t, "")
	users := []string{"a", "b", "c"}
	write(t, s, func(b *Batch) {
		b.PutBinding(&wire.Binding{App: "app", User: "a", PushId: "pa1", Token: "ta1"})
		b.PutBinding(&wire.Binding{App: "app", User: "b", PushId: "pb1", Token: "tb1"})
	})
	want := map[string][]string{"a": {"pa1"}, "b": {"pb1"}}
	for range 2 {
		if got := eachBindings(t, s, users); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("bindings = %v, want %v", got, want)
		}
	}
	if n := len(s.bindings.users); n != 3 {
		t.Fatalf("cache holds %d users after a read of 3 (c with none), want 3", n)
	}

	write(t, s, func(b *Batch) {
		b.PutBinding(&wire.Binding{App: "app", User: "a", PushId: "pa2", Token: "ta2"})
		b.DeleteBinding("app", "b", "pb1")
		b.PutBinding(&wire.Binding{App: "app", User: "c", PushId: "pc1", Token: "tc1"})
	})
	want = map[string][]string{"a": {"pa1", "pa2"}, "c": {"pc1"}}
	if got := eachBindings(t, s, users); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("bindings after the writes = %v, want %v", got, want)
	}
}

// TestBindingCacheFillSkipsUsersWrittenMeanwhile: a read that started before a
// write committed does not put what it read for that user in the cache; the
// others it does, unless more writes came since than the log remembers.
func TestBindingCacheFillSkipsUsersWrittenMeanwhile(t *testing.T) {
	c := newBindingCache(100)
	ps := [][]byte{[]byte("u/app/a/b/"), []byte("u/app/b/b/")}
	bs := make([][]*wire.Binding, 2)
	hit := make([]bool, 2)
	gen := c.lookup(ps, bs, hit)
	c.forget([]string{"u/app/a/b/"})
	read := [][]*wire.Binding{{{PushId: "stale"}}, {{PushId: "fresh"}}}
	c.fill(gen, ps, read, []bool{false, false})
	if _, ok := c.users["u/app/a/b/"]; ok {
		t.Error("the user written during the read was cached")
	}
	if got := c.users["u/app/b/b/"]; len(got) != 1 || got[0].PushId != "fresh" {
		t.Errorf("the other user: %v, want cached", got)
	}

	c = newBindingCache(100)
	gen = c.lookup(ps, bs, hit)
	for i := range touchLog + 1 {
		c.forget([]string{fmt.Sprintf("u/app/x%d/b/", i)})
	}
	c.fill(gen, ps, read, []bool{false, false})
	if len(c.users) != 0 {
		t.Errorf("after more writes than the log holds, the fill cached %d users", len(c.users))
	}
}

func TestBindingCacheEvictsAndCanBeOff(t *testing.T) {
	c := newBindingCache(50)
	for i := range 500 {
		p := [][]byte{fmt.Appendf(nil, "u/app/u%d/b/", i)}
		c.fill(c.gen, p, [][]*wire.Binding{nil}, []bool{false})
		if len(c.users) > 50 {
			t.Fatalf("cache of 50 holds %d users", len(c.users))
		}
	}
	if newBindingCache(-1) != nil {
		t.Error("a negative size makes a cache")
	}
	dir := t.TempDir()
	s, err := Open(dir, Options{CacheBytes: 1 << 20, BindingCacheUsers: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	write(t, s, func(b *Batch) { b.PutBinding(&wire.Binding{App: "app", User: "a", PushId: "p1"}) })
	if got := eachBindings(t, s, []string{"a"}); len(got["a"]) != 1 {
		t.Errorf("without a cache: %v", got)
	}
}

// TestBindingCacheUnderConcurrentWrites binds and unbinds while fan-out
// reads run; once the writes stop, every read agrees with the store.
func TestBindingCacheUnderConcurrentWrites(t *testing.T) {
	s := openStore(t, "")
	var users []string
	for i := range 200 {
		users = append(users, fmt.Sprintf("u%03d", i))
	}
	var writers, readers sync.WaitGroup
	stop := make(chan struct{})
	for w := range 4 {
		writers.Add(1)
		go func() {
			defer writers.Done()
			r := rand.New(rand.NewPCG(uint64(w), 1))
			for range 300 {
				u := users[r.IntN(len(users))]
				id := fmt.Sprintf("p%d", r.IntN(3))
				b := s.NewBatch()
				if r.IntN(2) == 0 {
					b.PutBinding(&wire.Binding{App: "app", User: u, PushId: id, Token: u + id})
				} else {
					b.DeleteBinding("app", u, id)
				}
				if err := s.Commit(b, false); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
					eachBindings(t, s, users)
				}
			}
		}()
	}
	writers.Wait()
	close(stop)
	readers.Wait()

	got := eachBindings(t, s, users)
	for _, u := range users {
		stored, err := s.UserBindings("app", u)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, b := range stored {
			ids = append(ids, b.PushId)
		}
		if !slices.Equal(ids, got[u]) {
			t.Fatalf("%s: read %v through the cache, the store has %v", u, got[u], ids)
		}
	}
}
