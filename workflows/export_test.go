package workflows

// BatchPriority exposes batchPriority to the tests.
var BatchPriority = batchPriority
