package queue

// ListSQL exposes the listing's statement builder to the plan tests.
var ListSQL = listSQL

// The statements with call slots, for the plan test.
var SQLOpsSlots, SQLClaimSlots = sqlOpsSlots, sqlClaimSlots

// SQLOps is the hot statement without call slots, for the statement
// benchmark.
var SQLOps = sqlOps
