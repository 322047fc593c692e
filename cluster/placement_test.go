package cluster

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

func threeMembers() []Member {
	return []Member{
		{ID: "node-1", RemoteAddr: "10.0.0.1:8091", APIAddr: "10.0.0.1:8081"},
		{ID: "node-2", RemoteAddr: "10.0.0.2:8091", APIAddr: "10.0.0.2:8081"},
		{ID: "node-3", RemoteAddr: "10.0.0.3:8091", APIAddr: "10.0.0.3:8081"},
	}
}

func userKey(i int) string { return "user/" + strconv.Itoa(i) }

const spreadKeys = 300_000

// TestOwnerSpread checks the skew that made us drop protoactor's disthash (25/25/50 % for members
// whose ids and addresses differ in one digit): each of three members must own a third of the keys.
func TestOwnerSpread(t *testing.T) {
	members := threeMembers()
	counts := make(map[string]int)
	for i := range spreadKeys {
		counts[Owner(members, userKey(i)).ID]++
	}
	for _, m := range members {
		share := 100 * float64(counts[m.ID]) / spreadKeys
		t.Logf("%s owns %.2f%% of %d keys", m.ID, share, spreadKeys)
		if share < 100.0/3-1.5 || share > 100.0/3+1.5 {
			t.Errorf("%s owns %.2f%% of the keys, want 33.33%% ± 1.5", m.ID, share)
		}
	}
}

// TestOwnerMovementOnJoin checks that a fourth member takes about a quarter of the keys, all from
// the others, and that no key moves between the old members.
func TestOwnerMovementOnJoin(t *testing.T) {
	before := threeMembers()
	after := append(slices.Clone(before), Member{ID: "node-4", RemoteAddr: "10.0.0.4:8091", APIAddr: "10.0.0.4:8081"})
	moved := 0
	for i := range spreadKeys {
		key := userKey(i)
		was, now := Owner(before, key), Owner(after, key)
		if was == now {
			continue
		}
		moved++
		if now.ID != "node-4" {
			t.Fatalf("key %q moved from %s to %s, not to the new member", key, was.ID, now.ID)
		}
	}
	share := 100 * float64(moved) / spreadKeys
	t.Logf("adding node-4 moved %.2f%% of %d keys", share, spreadKeys)
	if share < 22 || share > 28 {
		t.Errorf("adding a 4th member moved %.2f%% of the keys, want 22–28%%", share)
	}
}

// TestOwnerMovementOnLeave checks that removing a member moves exactly the keys it owned.
func TestOwnerMovementOnLeave(t *testing.T) {
	before := append(threeMembers(), Member{ID: "node-4", RemoteAddr: "10.0.0.4:8091", APIAddr: "10.0.0.4:8081"})
	after := slices.DeleteFunc(slices.Clone(before), func(m Member) bool { return m.ID == "node-2" })
	moved := 0
	for i := range spreadKeys / 3 {
		key := userKey(i)
		was, now := Owner(before, key), Owner(after, key)
		if (was != now) != (was.ID == "node-2") {
			t.Fatalf("key %q: owner %s before node-2 left, %s after", key, was.ID, now.ID)
		}
		if was != now {
			moved++
		}
	}
	t.Logf("removing node-2 of 4 moved %.2f%% of the keys", 100*float64(moved)/(spreadKeys/3))
}

func TestOwnerIndependentOfOrder(t *testing.T) {
	members := make([]Member, 7)
	for i := range members {
		members[i] = Member{ID: fmt.Sprintf("node-%d", i+1), RemoteAddr: fmt.Sprintf("127.0.0.1:90%02d", i)}
	}
	want := make([]string, 2000)
	for k := range want {
		want[k] = Owner(members, userKey(k)).ID
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 20 {
		shuffled := slices.Clone(members)
		rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		p := NewPlacement(1, shuffled)
		for k := range want {
			if got := Owner(shuffled, userKey(k)).ID; got != want[k] {
				t.Fatalf("round %d: Owner(%q) = %s after shuffling, want %s", round, userKey(k), got, want[k])
			}
			if got := p.Owner(userKey(k)).ID; got != want[k] {
				t.Fatalf("round %d: Placement.Owner(%q) = %s, want %s", round, userKey(k), got, want[k])
			}
		}
	}
}

// TestOwnerTieIndependentOfOrder covers members sharing an id (equal scores): the tie-break must
// not depend on their order either.
func TestOwnerTieIndependentOfOrder(t *testing.T) {
	a := Member{ID: "node-1", RemoteAddr: "127.0.0.1:1"}
	b := Member{ID: "node-1", RemoteAddr: "127.0.0.1:2"}
	for i := range 100 {
		if x, y := Owner([]Member{a, b}, userKey(i)), Owner([]Member{b, a}, userKey(i)); x != y {
			t.Fatalf("tie on %q resolved to %v one way, %v the other", userKey(i), x, y)
		}
	}
}

func TestOwnerOfNoMembers(t *testing.T) {
	if got := Owner(nil, "user/1"); got != (Member{}) {
		t.Errorf("Owner(nil) = %v, want the zero Member", got)
	}
	var p Placement
	if got := p.Owner("user/1"); got != (Member{}) || p.Len() != 0 || p.Version() != 0 {
		t.Errorf("zero Placement: Owner = %v, Len = %d, Version = %d", got, p.Len(), p.Version())
	}
}

func TestOwnerOfOneMember(t *testing.T) {
	only := []Member{{ID: "node-1", RemoteAddr: "127.0.0.1:1"}}
	for _, key := range []string{"", "user/1", "t/demo/p1"} {
		if got := Owner(only, key); got != only[0] {
			t.Errorf("Owner(one member, %q) = %v, want %v", key, got, only[0])
		}
	}
}

func TestPlacementSnapshotIsImmutable(t *testing.T) {
	input := threeMembers()
	slices.Reverse(input)
	p := NewPlacement(7, input)
	input[0].ID = "changed"
	got := p.Members()
	if want := threeMembers(); !slices.Equal(got, want) {
		t.Fatalf("Members() = %v, want %v sorted by id and unaffected by the caller's slice", got, want)
	}
	got[0].ID = "changed too"
	if p.Members()[0].ID != "node-1" {
		t.Fatal("changing the slice Members() returned changed the placement")
	}
	if p.Version() != 7 || p.Len() != 3 {
		t.Fatalf("Version, Len = %d, %d; want 7, 3", p.Version(), p.Len())
	}
}

func BenchmarkPlacementOwner(b *testing.B) {
	for _, n := range []int{3, 16} {
		members := make([]Member, n)
		for i := range members {
			members[i] = Member{ID: fmt.Sprintf("node-%d", i+1)}
		}
		p := NewPlacement(1, members)
		b.Run(strconv.Itoa(n)+"members", func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				p.Owner(userKey(i & 1023))
				i++
			}
		})
	}
}
