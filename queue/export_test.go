package queue

// ListSQL exposes the listing's statement builder to the plan tests.
var ListSQL = listSQL
