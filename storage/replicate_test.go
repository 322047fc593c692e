package storage

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/lni/dragonboat/v4/statemachine"

	"github.com/pushd-im/pushd/cluster"
	"github.com/pushd-im/pushd/internal/testwait"
	"github.com/pushd-im/pushd/wire"
)

// usersInTwoShards returns two users of app "app" whose keys sit in different shards.
func usersInTwoShards() (a, b string, sa, sb uint64) {
	a, sa = "bob", ShardOf(UserKey("app", "bob"))
	for i := 0; ; i++ {
		b = fmt.Sprint("carol", i)
		if sb = ShardOf(UserKey("app", b)); sb != sa {
			return a, b, sa, sb
		}
	}
}

// A replicating store commits through the shards' Raft groups: a batch that writes two users'
// keys is split by shard and applied on every replica; a store that has not acquired a shard, or
// lost it to another replica, is refused with ErrNotWriter and writes nothing.
func TestReplicatedCommitsGoThroughTheShards(t *testing.T) {
	bob, carol, sb, sc := usersInTwoShards()
	c := newRaftCluster(t, 0)
	nodes := []*raftNode{c.start("node-1"), c.start("node-2"), c.start("node-3")}
	members := map[uint64]string{}
	for _, n := range nodes {
		members[cluster.ReplicaID(n.name)] = n.name
	}
	for _, n := range nodes {
		n.store.Replicate(n.raft, 10*time.Second, nil)
		for _, shard := range []uint64{sb, sc} {
			if err := n.raft.StartShard(shard, cluster.ReplicaID(n.name), members, n.store.ShardMachineFactory()); err != nil {
				t.Fatal(err)
			}
		}
	}
	leaderOf := func(shard uint64) *raftNode {
		var found *raftNode
		testwait.Until(t, 20*time.Second, func() error {
			id, _, ok := nodes[0].raft.Leader(shard)
			for _, n := range nodes {
				if ok && cluster.ReplicaID(n.name) == id {
					found = n
					return nil
				}
			}
			return fmt.Errorf("shard %d has no leader yet", shard)
		})
		return found
	}
	// One node writes both shards: the other is moved to it. A transfer may be dropped (its
	// target behind, an election meanwhile), so it is asked again until it holds.
	w := leaderOf(sb)
	testwait.Until(t, 20*time.Second, func() error {
		l := leaderOf(sc)
		if l == w {
			return nil
		}
		_ = l.raft.TransferLeader(sc, cluster.ReplicaID(w.name))
		return errors.New("leadership not moved yet")
	})

	batch := func(s *Store) *Batch {
		b := s.NewBatch()
		b.PutBinding(&wire.Binding{App: "app", User: bob, PushId: "p1", Token: "t1"})
		b.PutBinding(&wire.Binding{App: "app", User: carol, PushId: "p2", Token: "t2"})
		b.PutPush(&wire.PushJob{Id: w.store.NewPushID(), App: "app", User: carol, PushId: "p2"})
		// Badges go the same way: a set (a range delete) and an increment.
		b.SetBadge("app", bob, 4)
		b.AddBadge("app", bob, InboxBadgeTag(1), 1)
		b.AddBadge("app", carol, GroupBadgeTag("g", 1), 2)
		return b
	}
	if err := w.store.Commit(batch(w.store), true); !errors.Is(err, ErrNotWriter) {
		t.Fatalf("commit before Acquire: %v, want ErrNotWriter", err)
	}
	for _, shard := range []uint64{sb, sc} {
		if _, err := w.store.Acquire(shard, cluster.ReplicaID(w.name)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.store.Commit(batch(w.store), true); err != nil {
		t.Fatalf("commit of the writer: %v", err)
	}
	testwait.Until(t, 20*time.Second, func() error {
		for _, n := range nodes {
			for _, u := range []string{bob, carol} {
				if bs, err := n.store.UserBindings("app", u); err != nil || len(bs) != 1 {
					return fmt.Errorf("%s has %v (%v) for %s", n.name, bs, err, u)
				}
			}
			for u, want := range map[string]uint32{bob: 5, carol: 2} {
				if st, err := n.store.Badge("app", u); err != nil || st.Count != want {
					return fmt.Errorf("%s has badge %v (%v) for %s, want %d", n.name, st, err, u, want)
				}
			}
			var jobs int
			if err := n.store.Pushes(func(*wire.PushJob) bool { jobs++; return true }); err != nil || jobs != 1 {
				return fmt.Errorf("%s has %d jobs (%v)", n.name, jobs, err)
			}
		}
		return nil
	})

	// Another node acquires bob's shard: the first writer's next commit there is refused, and it
	// lets go of the shard.
	var other *raftNode
	for _, n := range nodes {
		if n != w {
			other = n
			break
		}
	}
	if _, err := other.store.Acquire(sb, cluster.ReplicaID(other.name)); err != nil {
		t.Fatal(err)
	}
	b := w.store.NewBatch()
	b.DeleteBinding("app", bob, "p1")
	if err := w.store.Commit(b, true); !errors.Is(err, ErrNotWriter) {
		t.Fatalf("commit of the old writer: %v, want ErrNotWriter", err)
	}
	if w.store.Writes(sb) || !w.store.Writes(sc) {
		t.Fatalf("after the refusal the old writer writes shard %d: %v, shard %d: %v", sb, w.store.Writes(sb), sc, w.store.Writes(sc))
	}
	if bs, err := other.store.UserBindings("app", bob); err != nil || len(bs) != 1 {
		t.Fatalf("bob's binding after the refused delete: %v, %v", bs, err)
	}
}

// Results of a shard's batches are handed on in the order they were proposed, whatever order
// Raft answers in: an actor's committed seq must only grow.
func TestProposalResultsKeepTheirOrder(t *testing.T) {
	var q proposals
	var got []int
	ps := make([]*proposal, 5)
	for i := range ps {
		ps[i] = q.add(func(statemachine.Result, error) { got = append(got, i) })
	}
	for _, i := range []int{3, 1, 4, 0, 2} {
		q.complete(ps[i], statemachine.Result{}, nil)
	}
	if !slices.Equal(got, []int{0, 1, 2, 3, 4}) {
		t.Fatalf("results handed on in order %v, want 0 1 2 3 4", got)
	}
}

// heldProposer is a one-replica Raft stand-in for the writer's side: it applies each entry to
// the store's own ShardMachine when the test releases it, so that the test decides when
// entries are applied and sees how the writer proposes.
type heldProposer struct {
	sm    statemachine.IOnDiskStateMachine
	mu    sync.Mutex
	index uint64
	held  []heldEntry
}

type heldEntry struct {
	cmd  []byte
	done func(statemachine.Result, error)
}

func (h *heldProposer) ProposeAsync(_ uint64, cmd []byte, _ time.Duration, done func(statemachine.Result, error)) {
	h.mu.Lock()
	h.held = append(h.held, heldEntry{cmd: cmd, done: done})
	h.mu.Unlock()
}

func (h *heldProposer) proposed() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.held)
}

// release applies the i-th proposed entry and answers it, on another goroutine as Raft does;
// fail answers it with an error instead, applying nothing.
func (h *heldProposer) release(t *testing.T, i int, fail error) {
	t.Helper()
	h.mu.Lock()
	e := h.held[i]
	h.mu.Unlock()
	if fail != nil {
		go e.done(statemachine.Result{}, fail)
		return
	}
	h.index++
	out, err := h.sm.Update([]statemachine.Entry{{Index: h.index, Cmd: e.cmd}})
	if err != nil {
		t.Fatal(err)
	}
	go e.done(out[0].Result, nil)
}

// While a shard has maxInFlight entries in Raft, the batches committed to it wait and are
// proposed as one entry; each commit is answered once its writes are applied, in order. When
// the shard is lost meanwhile, the waiting batches are refused and nothing of them is written.
func TestBusyShardMergesWaitingBatches(t *testing.T) {
	s := openStore(t, "")
	const shard = 7
	user := ""
	for i := 0; ShardOf(UserKey("app", user)) != shard; i++ {
		user = fmt.Sprint("u", i)
	}
	h := &heldProposer{sm: s.ShardMachineFactory()(shard, 1)}
	s.Replicate(h, time.Minute, nil)
	acquired := make(chan error, 1)
	go func() { _, err := s.Acquire(shard, 1); acquired <- err }()
	testwait.Until(t, 10*time.Second, func() error {
		if h.proposed() < 1 {
			return errors.New("no Acquire proposed yet")
		}
		return nil
	})
	h.release(t, 0, nil)
	if err := <-acquired; err != nil {
		t.Fatal(err)
	}

	commit := func(k int) <-chan error {
		b := s.NewBatch()
		b.PutBinding(&wire.Binding{App: "app", User: user, PushId: fmt.Sprint("p", k), Token: fmt.Sprint("t", k)})
		done := make(chan error, 1)
		s.CommitAsync(b, true, func(err error) { done <- err })
		return done
	}
	var dones []<-chan error
	for k := range 5 {
		dones = append(dones, commit(k))
	}
	// Entries 1 and 2 are the first two batches; the other three wait.
	if got := h.proposed(); got != 1+maxInFlight {
		t.Fatalf("%d entries proposed with %d in flight, want %d", got, maxInFlight, 1+maxInFlight)
	}
	h.release(t, 1, nil)
	if err := <-dones[0]; err != nil {
		t.Fatal(err)
	}
	testwait.Until(t, 10*time.Second, func() error {
		if h.proposed() < 4 {
			return errors.New("the waiting batches are not proposed yet")
		}
		return nil
	})
	if got := h.proposed(); got != 4 {
		t.Fatalf("%d entries proposed, want 4: the three waiting batches as one", got)
	}
	h.release(t, 2, nil)
	h.release(t, 3, nil)
	for k, d := range dones[1:] {
		if err := <-d; err != nil {
			t.Fatalf("batch %d: %v", k+1, err)
		}
	}
	if bs, err := s.UserBindings("app", user); err != nil || len(bs) != 5 {
		t.Fatalf("bindings after five commits: %d (%v), want 5", len(bs), err)
	}

	// Two in flight, two waiting; the first in flight fails: the shard is lost, the second is
	// refused when applied (its seq follows a hole), and the waiting two are refused unwritten.
	for k := 5; k < 9; k++ {
		dones = append(dones, commit(k))
	}
	h.release(t, 4, errors.New("no quorum"))
	if err := <-dones[5]; !errors.Is(err, ErrNotCommitted) {
		t.Fatalf("batch 5: %v, want ErrNotCommitted", err)
	}
	h.release(t, 5, nil)
	for k := 6; k < 9; k++ {
		if err := <-dones[k]; !errors.Is(err, ErrNotWriter) {
			t.Fatalf("batch %d: %v, want ErrNotWriter", k, err)
		}
	}
	if got := h.proposed(); got != 6 {
		t.Fatalf("%d entries proposed, want 6: nothing more after the shard was lost", got)
	}
	if bs, err := s.UserBindings("app", user); err != nil || len(bs) != 5 {
		t.Fatalf("bindings after the lost shard: %d (%v), want the 5 from before", len(bs), err)
	}
}
