// Package clienttest runs the public client (github.com/faxd/faxd/client)
// against a real faxd API on throwaway PostgreSQL. It lives apart from
// client/ because it needs faxd's internal packages for the server side,
// which a public package must not import.
package clienttest
