package api

import "context"

type countedKey struct{}

// CountedRequest marks ctx as belonging to a request that has already
// been counted against its session's rate limit. The console serves one
// page with several in-process API calls: the first is counted like any
// request of the session, the others carry this mark, so a page costs its
// user one request, whatever the page needs. Only code in the same
// process can set it; it has no effect on token-authenticated requests.
func CountedRequest(ctx context.Context) context.Context {
	return context.WithValue(ctx, countedKey{}, true)
}

func counted(ctx context.Context) bool {
	v, _ := ctx.Value(countedKey{}).(bool)
	return v
}
