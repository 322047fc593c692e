package cluster

import (
	"cmp"
	"slices"

	"github.com/cespare/xxhash/v2"
)

// Owner returns the member of members that owns key: the one with the highest rendezvous score
// mix64(xxhash64(ID + "\x00" + key)). The result does not depend on the order of members. Owner
// returns the zero Member when members is empty. A lone member owns every key without a hash: a
// single node would otherwise hash each routed message and each fan-out member.
func Owner(members []Member, key string) Member {
	if len(members) == 1 {
		return members[0]
	}
	var best Member
	var bestScore uint64
	for i, m := range members {
		s := score(m.ID, key)
		if i == 0 || s > bestScore || (s == bestScore && compareMembers(m, best) < 0) {
			best, bestScore = m, s
		}
	}
	return best
}

// score is the rendezvous weight of member id for key. xxhash64 alone already spreads well; the
// final mixer makes sure that ids differing in one character (node-1, node-2) cannot correlate.
func score(id, key string) uint64 {
	var d xxhash.Digest
	d.Reset()
	d.WriteString(id)
	d.WriteString("\x00")
	d.WriteString(key)
	return mix64(d.Sum64())
}

// mix64 is the splitmix64 finalizer (Stafford's variant 13): a bijection on uint64 in which every
// input bit flips each output bit with probability close to one half.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func compareMembers(a, b Member) int {
	if c := cmp.Compare(a.ID, b.ID); c != 0 {
		return c
	}
	if c := cmp.Compare(a.RemoteAddr, b.RemoteAddr); c != 0 {
		return c
	}
	return cmp.Compare(a.APIAddr, b.APIAddr)
}

// Placement is an immutable snapshot of the live members, sorted by ID, and the owner function
// over them. The zero Placement has no members and version 0.
type Placement struct {
	version uint64
	members []Member
}

// NewPlacement returns a Placement over a sorted copy of members, tagged with version.
func NewPlacement(version uint64, members []Member) Placement {
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, compareMembers)
	return Placement{version: version, members: sorted}
}

// Owner returns the member that owns key, as the package function Owner does; the zero Member when
// the placement is empty.
func (p Placement) Owner(key string) Member { return Owner(p.members, key) }

// Members returns a copy of the members, sorted by ID.
func (p Placement) Members() []Member { return slices.Clone(p.members) }

// Len returns the number of members.
func (p Placement) Len() int { return len(p.members) }

// Version numbers the placements a Node publishes: it grows by one per change of the member set.
// Versions are local to the node that built the placement.
func (p Placement) Version() uint64 { return p.version }

func (p Placement) sameMembers(members []Member) bool {
	return slices.Equal(p.members, members)
}
