package job

// MaxIDLen is the longest job id: Temporal's default limit on workflow ids
// (limit.maxIDLength).
const MaxIDLen = 1000

// ValidID reports whether id could name a job: 1 to MaxIDLen bytes of
// printable ASCII (space to '~') other than '/'. The API's ids are UUIDs;
// the temporal CLI accepts any printable id, and jobs it started are jobs
// too. Anything else (control bytes, bytes of 0x80 and above, '/', which a
// path cannot carry in one segment) cannot be a job, so callers answer
// "not found" without asking Temporal, whose answer to such ids is an
// error rather than a clean NotFound.
func ValidID(id string) bool {
	if id == "" || len(id) > MaxIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c > 0x7e || c == '/' {
			return false
		}
	}
	return true
}
