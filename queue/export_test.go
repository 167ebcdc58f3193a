package queue

// ListSQL exposes the listing's statement builder to the plan tests.
var ListSQL = listSQL

// The statements with call slots, for the plan test.
var SQLOpsSlots, SQLClaimSlots, SQLOpsSlot1, SQLClaimSlot1 = sqlOpsSlots, sqlClaimSlots, sqlOpsSlot1, sqlClaimSlot1

// SQLOps is the hot statement without call slots, for the statement
// benchmark.
var SQLOps = sqlOps

// HotStatement picks the hot statement, for the statement benchmark.
func HotStatement(completions, claims int, h SlotHint) string {
	return hotStatement(completions, claims, h, false)
}

// GeneralOnly makes q run every statement with call slots in its general
// form, for tests of that form with one job.
func GeneralOnly(q *Queue) { q.generalOnly = true }
