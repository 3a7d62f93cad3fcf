package entities

import "slices"

// intervals is a set of disjoint half-open intervals, kept sorted by start,
// so that resolving overlaps among n candidates costs n log n rather than n²
// on pages full of numbers. Empty intervals are points that overlap only an
// identical point.
type intervals struct {
	spans  [][2]int
	points map[int]bool
}

// add inserts [s, e) and reports true unless it overlaps an interval already
// in the set.
func (iv *intervals) add(s, e int) bool {
	if s >= e {
		if iv.points[s] {
			return false
		}
		if iv.points == nil {
			iv.points = map[int]bool{}
		}
		iv.points[s] = true
		return true
	}
	// i is the first interval starting at or after s.
	i, _ := slices.BinarySearchFunc(iv.spans, s, func(x [2]int, s int) int { return x[0] - s })
	if i > 0 && iv.spans[i-1][1] > s || i < len(iv.spans) && iv.spans[i][0] < e {
		return false
	}
	iv.spans = slices.Insert(iv.spans, i, [2]int{s, e})
	return true
}
