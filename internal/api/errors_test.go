package api

import (
	"bytes"
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/users"
)

// Every refused submission answers with the documented status and a
// message naming the problem, and leaves nothing in the queue or the
// document store.
func TestSubmitErrorsQueueNothing(t *testing.T) {
	// 22 requests by one token: beyond the default burst on a fast machine.
	e := newEnv(t, Config{MaxUploadBytes: 64 << 10, RateLimit: 1000, RateBurst: 1000})
	ok := `{"to":"+4930123456"}`
	big := bytes.Repeat([]byte("x"), 70<<10)
	cases := []struct {
		name    string
		token   string
		fax     string
		docs    []doc
		ct      string // raw body content type instead of multipart
		key     string
		status  int
		typ     string
		message string
	}{
		{name: "no token", fax: ok, docs: []doc{textDoc("hi")}, status: 401, typ: "unauthorized", message: "Authorization: Bearer"},
		{name: "bad token", token: "faxd_1_" + strings.Repeat("A", 43), fax: ok, docs: []doc{textDoc("hi")}, status: 401, typ: "unauthorized", message: "unknown, mistyped or revoked"},
		{name: "not multipart", token: e.sub, ct: "text/xml", status: 415, typ: "unsupported-media", message: "multipart/form-data"},
		{name: "json without documents", token: e.sub, ct: "application/json", status: 400, typ: "invalid-request", message: "documents: at least one document"},
		{name: "no fax part", token: e.sub, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: "'fax' part"},
		{name: "no document", token: e.sub, fax: ok, status: 400, typ: "invalid-request", message: "no document"},
		{name: "bad json", token: e.sub, fax: `{"to":`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: "not valid JSON"},
		{name: "unknown field", token: e.sub, fax: `{"to":"123456","colour":"red"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: `unknown field "colour"`},
		{name: "wrong type", token: e.sub, fax: `{"to":"123456","priority":"high"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: `"priority" must be a int`},
		{name: "missing to", token: e.sub, fax: `{"header":"x"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: "to: the destination fax number is required"},
		{name: "letters in number", token: e.sub, fax: `{"to":"+49 30 CALL-ME"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-number", message: "is not a fax number"},
		{name: "short number", token: e.sub, fax: `{"to":"12"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-number", message: "3 to 20"},
		{name: "several bad fields", token: e.sub, fax: `{"to":"123456","priority":5000,"max_attempts":500,"callback_url":"ftp://x","resolution":"ultra"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: "priority 5000"},
		{name: "bad send_after", token: e.sub, fax: `{"to":"123456","send_after":"tomorrow"}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: "RFC 3339"},
		{name: "bad idempotency key", token: e.sub, fax: ok, docs: []doc{textDoc("hi")}, key: "has space", status: 400, typ: "invalid-request", message: "Idempotency-Key"},
		{name: "unsupported file", token: e.sub, fax: ok, docs: []doc{{"x.zip", "application/zip", []byte("PK\x03\x04\x14\x00\x00\x00\x08\x00binary\x00\x01\x02")}}, status: 415, typ: "unsupported-document", message: "document 1 (x.zip)"},
		{name: "corrupt pdf", token: e.sub, fax: ok, docs: []doc{{"broken.pdf", "application/pdf", []byte("%PDF-1.4\n1 0 obj garbage\n%%EOF")}}, status: 422, typ: "unprocessable", message: "broken.pdf"},
		{name: "corrupt png", token: e.sub, fax: ok, docs: []doc{{"broken.png", "image/png", []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDRxx")}}, status: 422, typ: "unprocessable", message: "broken.png"},
		{name: "type mismatch", token: e.sub, fax: ok, docs: []doc{{"fake.pdf", "application/pdf", []byte("just text\n")}}, status: 415, typ: "unsupported-document", message: "fake.pdf"},
		{name: "empty document", token: e.sub, fax: ok, docs: []doc{{"empty.txt", "text/plain", nil}}, status: 422, typ: "unprocessable", message: "empty.txt"},
		{name: "oversized upload", token: e.sub, fax: ok, docs: []doc{{"big.txt", "text/plain", big}}, status: 413, typ: "too-large", message: "limit of 65536 bytes"},
		{name: "bad cover", token: e.sub, fax: `{"to":"123456","cover":{"subject":"a\u0007b","comment":"` + strings.Repeat("x", 2001) + `"}}`, docs: []doc{textDoc("hi")}, status: 400, typ: "invalid-request", message: "cover.subject: control characters"},
		{name: "good fax, bad second document", token: e.sub, fax: ok, docs: []doc{textDoc("fine"), {"bad.pdf", "application/pdf", []byte("%PDF-1.4 nothing")}}, status: 422, typ: "unprocessable", message: "document 2 (bad.pdf)"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *response
			if c.ct != "" {
				r = e.do("POST", "/v1/faxes", c.token, strings.NewReader(`{"to":"123"}`), c.ct)
			} else {
				var hdr []string
				if c.key != "" {
					hdr = []string{"Idempotency-Key", c.key}
				}
				r = e.submit(c.token, c.fax, c.docs, hdr...)
			}
			p := r.problem(t)
			if r.status != c.status || p.Type != problemPrefix+c.typ || !strings.Contains(p.Detail, c.message) {
				t.Fatalf("got %d %s %q; want %d %s containing %q", r.status, p.Type, p.Detail, c.status, c.typ, c.message)
			}
			if got := e.counts(); got != "jobs=0 blobs=0 sets=0" {
				t.Fatalf("refused submission left rows: %s", got)
			}
		})
	}
	// The multi-field case lists each problem.
	r := e.submit(e.sub, `{"to":"123456","priority":5000,"max_attempts":500,"callback_url":"ftp://x","resolution":"ultra"}`, []doc{textDoc("hi")})
	if p := r.problem(t); len(p.Errors) != 4 {
		t.Fatalf("errors = %q, want 4 entries", p.Errors)
	}
}

func TestAuthRolesAndNotFound(t *testing.T) {
	e := newEnv(t, Config{})
	for _, c := range []struct {
		method, path, token string
		status              int
		message             string
	}{
		{"GET", "/v1/faxes", "", 401, "Authorization: Bearer"},
		{"GET", "/v1/faxes/1", "faxd_x", 401, "unknown, mistyped or revoked"},
		{"GET", "/v1/gateways", e.sub, 403, "needs an admin token"},
		{"POST", "/v1/tokens", e.sub, 403, "role submitter"},
		{"GET", "/v1/faxes/999", e.sub, 404, "no fax 999"},
		{"GET", "/v1/faxes/abc", e.sub, 404, `"abc" is not a fax id`},
		{"POST", "/v1/faxes/999/cancel", e.admin, 404, "no fax 999"},
		{"GET", "/v1/faxes/999/document", e.admin, 404, "no fax 999"},
		{"GET", "/v1/routes/5", e.admin, 404, "route 5"},
		{"GET", "/v1/gateways/nope", e.admin, 404, `gateway "nope"`},
		{"DELETE", "/v1/tokens/77", e.admin, 404, "token 77"},
		{"GET", "/v1/nothing-here", e.admin, 404, "no API endpoint /v1/nothing-here"},
		{"PATCH", "/v1/faxes/1", e.admin, 405, "PATCH is not supported"},
		{"GET", "/v1/faxes?state=lost&limit=0", e.admin, 400, `state "lost"`},
		{"GET", "/v1/faxes?colour=red", e.admin, 400, `unknown parameter "colour"`},
		{"GET", "/v1/faxes?cursor=AAAA", e.admin, 400, "cursor"},
	} {
		r := e.do(c.method, c.path, c.token, nil, "")
		p := r.problem(t)
		if r.status != c.status || !strings.Contains(p.Detail, c.message) {
			t.Errorf("%s %s: %d %q; want %d containing %q", c.method, c.path, r.status, p.Detail, c.status, c.message)
		}
		if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("%s %s: 401 without WWW-Authenticate", c.method, c.path)
		}
	}
	// A revoked token stops working at once.
	var created CreatedToken
	e.doJSON("POST", "/v1/tokens", e.admin, TokenInput{Name: "temp", Role: "submitter"}).json(t, &created)
	if r := e.do("GET", "/v1/whoami", created.Secret, nil, ""); r.status != 200 {
		t.Fatalf("new token: %d", r.status)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/tokens/%d", created.ID), e.admin, nil, ""); r.status != 200 {
		t.Fatalf("revoke: %d", r.status)
	}
	if r := e.do("GET", "/v1/whoami", created.Secret, nil, ""); r.status != 401 {
		t.Fatalf("revoked token: %d", r.status)
	}
	var list struct{ Tokens []CreatedToken }
	e.do("GET", "/v1/tokens", e.admin, nil, "").json(t, &list)
	if len(list.Tokens) != 3 || list.Tokens[0].LastUsedAt.IsZero() {
		t.Fatalf("tokens: %+v", list.Tokens)
	}
	for _, tk := range list.Tokens {
		if tk.Secret != "" {
			t.Fatalf("token list shows a secret: %+v", tk)
		}
	}
}

func TestRateLimit(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 0.5, RateBurst: 3})
	for i := range 3 {
		if r := e.do("GET", "/v1/whoami", e.sub, nil, ""); r.status != 200 {
			t.Fatalf("request %d: %d", i, r.status)
		}
	}
	r := e.do("GET", "/v1/whoami", e.sub, nil, "")
	p := r.problem(t)
	if r.status != 429 || r.header.Get("Retry-After") != "2" || !strings.Contains(p.Detail, "rate limit") {
		t.Fatalf("over the limit: %d Retry-After %q %+v", r.status, r.header.Get("Retry-After"), p)
	}
	// Another token has its own bucket.
	if r := e.do("GET", "/v1/whoami", e.admin, nil, ""); r.status != 200 {
		t.Fatalf("other token: %d", r.status)
	}
}

func TestLimiterRefill(t *testing.T) {
	l := newLimiter(2, 2)
	now := time.Unix(1000, 0)
	l.now = func() time.Time { return now }
	for i := range 2 {
		if ok, _ := l.allow(1); !ok {
			t.Fatalf("burst request %d refused", i)
		}
	}
	ok, wait := l.allow(1)
	if ok || wait != 500*time.Millisecond {
		t.Fatalf("empty bucket: %v %v", ok, wait)
	}
	now = now.Add(500 * time.Millisecond)
	if ok, _ := l.allow(1); !ok {
		t.Fatal("refilled token refused")
	}
	now = now.Add(time.Hour)
	l.allow(2) // sweeps idle buckets
	if len(l.buckets) != 1 {
		t.Fatalf("idle buckets kept: %d", len(l.buckets))
	}
}

// Tokens, gateway passwords and webhook secrets never reach the log.
func TestSecretsNeverLogged(t *testing.T) {
	e := newEnv(t, Config{})
	e.submit(e.sub, `{"to":"0301234567"}`, []doc{textDoc("hello")})
	e.do("GET", "/v1/faxes", e.sub, nil, "")
	e.do("GET", "/v1/gateways", e.sub, nil, "") // 403
	e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{"name": "gw1", "address": "10.0.0.1:5060", "username": "u", "password": "s3cret-pass"})
	if r := e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"number": map[string]any{"kind": "prefix", "value": "49"},
		"destination": map[string]any{"kind": "webhook", "url": "https://x.example/h", "secret": "hook-secret-9-long-enough"}}); r.status != 201 {
		t.Fatalf("webhook rule: %d %s", r.status, r.body)
	}
	var created CreatedToken
	e.doJSON("POST", "/v1/tokens", e.admin, TokenInput{Name: "new", Role: "admin"}).json(t, &created)
	e.do("GET", "/v1/whoami", "faxd_1_"+strings.Repeat("Z", 43), nil, "") // 401
	logs := e.logs.String()
	if !strings.Contains(logs, "api request") || !strings.Contains(logs, "token_name=billing") {
		t.Fatalf("requests not logged: %s", logs)
	}
	secret := strings.SplitN(e.sub, "_", 3)[2] // base64url may itself hold "_"
	for _, s := range []string{e.sub, secret, e.admin, created.Secret, "s3cret-pass", "hook-secret-9-long-enough", strings.Repeat("Z", 43)} {
		if strings.Contains(logs, s) {
			t.Fatalf("log contains a secret %q:\n%s", s, logs)
		}
	}
}

func TestAdminCRUD(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 1000, RateBurst: 1000})
	gw := map[string]any{"name": "carrier-a", "address": "sip.carrier-a.example:5060", "max_channels": 30, "username": "faxd", "password": "pw1"}
	r := e.doJSON("POST", "/v1/gateways", e.admin, gw)
	if r.status != 201 || strings.Contains(string(r.body), "pw1") || !strings.Contains(string(r.body), `"has_password": true`) {
		t.Fatalf("create gateway: %d %s", r.status, r.body)
	}
	if r := e.doJSON("POST", "/v1/gateways", e.admin, gw); r.status != 409 {
		t.Fatalf("duplicate gateway: %d", r.status)
	}
	r = e.doJSON("POST", "/v1/gateways", e.admin, map[string]any{"name": "bad name", "address": "sip:x y", "max_channels": -1, "password": "p"})
	if p := r.problem(t); r.status != 400 || len(p.Errors) != 4 {
		t.Fatalf("bad gateway: %d %+v", r.status, p)
	}
	// Update without a password keeps it.
	r = e.doJSON("PUT", "/v1/gateways/carrier-a", e.admin, map[string]any{"address": "10.1.1.1", "max_channels": 10, "username": "faxd"})
	var g struct {
		Address     string `json:"address"`
		HasPassword bool   `json:"has_password"`
	}
	r.json(t, &g)
	if r.status != 200 || g.Address != "10.1.1.1" || !g.HasPassword {
		t.Fatalf("update gateway: %d %s", r.status, r.body)
	}
	var stored string
	e.pool.QueryRow(context.Background(), "SELECT password FROM gateways WHERE name = 'carrier-a'").Scan(&stored)
	if plain, err := testSecrets.Open(stored); err != nil || plain != "pw1" || strings.Contains(stored, "pw1") {
		t.Fatalf("password after update = %q (opens to %q, %v)", stored, plain, err)
	}
	if r := e.doJSON("PUT", "/v1/gateways/ghost", e.admin, map[string]any{"address": "10.1.1.1"}); r.status != 404 {
		t.Fatalf("update unknown: %d", r.status)
	}

	r = e.doJSON("POST", "/v1/routes", e.admin, map[string]any{"prefix": "+49", "gateway": "carrier-a", "cost": 0.5})
	var rt struct {
		ID     int64 `json:"id"`
		Weight int   `json:"weight"`
	}
	r.json(t, &rt)
	if r.status != 201 || rt.Weight != 1 {
		t.Fatalf("create route: %d %s", r.status, r.body)
	}
	r = e.doJSON("POST", "/v1/routes", e.admin, map[string]any{"prefix": "+1", "gateway": "nowhere"})
	if p := r.problem(t); r.status != 400 || !strings.Contains(p.Detail, `"nowhere": no such gateway`) {
		t.Fatalf("route to unknown gateway: %d %+v", r.status, p)
	}
	r = e.do("DELETE", "/v1/gateways/carrier-a", e.admin, nil, "")
	if p := r.problem(t); r.status != 409 || !strings.Contains(p.Detail, "used by routes") {
		t.Fatalf("delete used gateway: %d %+v", r.status, p)
	}
	r = e.doJSON("PUT", fmt.Sprintf("/v1/routes/%d", rt.ID), e.admin, map[string]any{"prefix": "+4930", "gateway": "carrier-a", "cost": 0.2, "weight": 3})
	if r.status != 200 || !strings.Contains(string(r.body), `"+4930"`) {
		t.Fatalf("update route: %d %s", r.status, r.body)
	}
	gws, routes, err := e.api.routing.Load(context.Background())
	if err != nil || len(gws) != 1 || len(routes) != 1 || routes[0].Prefix != "+4930" || gws[0].MaxChannels != 10 {
		t.Fatalf("router load: %+v %+v %v", gws, routes, err)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/routes/%d", rt.ID), e.admin, nil, ""); r.status != 204 {
		t.Fatalf("delete route: %d", r.status)
	}
	if r := e.do("DELETE", "/v1/gateways/carrier-a", e.admin, nil, ""); r.status != 204 {
		t.Fatalf("delete gateway: %d", r.status)
	}

	// Inbound rules are internal/inbound's: dial patterns, caller
	// conditions, several addresses, typed validation errors.
	r = e.doJSON("POST", "/v1/inbound-rules", e.admin, map[string]any{"priority": 10,
		"number":      map[string]any{"kind": "pattern", "value": "_+4930XXXX"},
		"caller":      map[string]any{"kind": "prefix", "value": "+49 89"},
		"destination": map[string]any{"kind": "email", "emails": []string{"fax@example.com", "archive@example.com"}}})
	var rule InboundRule
	r.json(t, &rule)
	if r.status != 201 || rule.Caller.Value != "+4989" || len(rule.Destination.Emails) != 2 || !rule.Enabled {
		t.Fatalf("create rule: %d %s", r.status, r.body)
	}
	for body, field := range map[string]string{
		`{"number":{"kind":"pattern","value":"4930[0-9]{4}"},"destination":{"kind":"mailbox","mailbox":"sales"}}`:   "number.value",
		`{"number":{"kind":"exact","value":"+4930"},"destination":{"kind":"webhook","url":"not a url"}}`:            "destination.url",
		`{"number":{"kind":"exact","value":"+4930"},"destination":{"kind":"webhook","url":"https://h.example/x"}}`:  "destination.secret",
		`{"number":{"kind":"exact","value":"+4930"},"destination":{"kind":"email","emails":["Bob <b@x.example>"]}}`: "destination.emails[0]",
		`{"number":{"kind":"regex","value":"1"},"destination":{"kind":"mailbox","mailbox":"sales"}}`:                "number.kind",
		`{"priority":-1,"number":{"kind":"exact","value":"1"},"destination":{"kind":"mailbox","mailbox":"sales"}}`:  "priority",
	} {
		r := e.do("POST", "/v1/inbound-rules", e.admin, strings.NewReader(body), "application/json")
		if p := r.problem(t); r.status != 400 || len(p.Errors) != 1 || !strings.HasPrefix(p.Errors[0], field+": ") {
			t.Errorf("%s: %d %+v, want a 400 naming %s", body, r.status, p, field)
		}
	}
	r = e.doJSON("PUT", fmt.Sprintf("/v1/inbound-rules/%d", rule.ID), e.admin, map[string]any{
		"number": map[string]any{"kind": "exact", "value": "+49 30 123"}, "destination": map[string]any{"kind": "mailbox", "mailbox": "sales"}, "enabled": false})
	if r.status != 200 || !strings.Contains(string(r.body), `"enabled": false`) {
		t.Fatalf("update rule: %d %s", r.status, r.body)
	}
	var rules struct {
		Rules []InboundRule `json:"inbound_rules"`
	}
	e.do("GET", "/v1/inbound-rules", e.admin, nil, "").json(t, &rules)
	if len(rules.Rules) != 1 || rules.Rules[0].Destination.Mailbox != "sales" || rules.Rules[0].Number.Value != "+4930123" {
		t.Fatalf("rules: %+v", rules)
	}
	// What the API stored is what routing uses: the disabled rule routes
	// nothing, the enabled one does.
	if d, err := e.inbound.Route(context.Background(), inbound.Fax{DID: "+4930123", Pages: 1}); err != nil || !d.Unrouted() {
		t.Fatalf("disabled rule routed: %+v %v", d, err)
	}
	if r := e.doJSON("PUT", fmt.Sprintf("/v1/inbound-rules/%d", rule.ID), e.admin, map[string]any{
		"number": map[string]any{"kind": "exact", "value": "+4930123"}, "destination": map[string]any{"kind": "mailbox", "mailbox": "sales"}}); r.status != 200 {
		t.Fatalf("enable rule: %d %s", r.status, r.body)
	}
	if d, err := e.inbound.Route(context.Background(), inbound.Fax{DID: "+49 30 123", Pages: 1}); err != nil || d.Destination != "mailbox:sales" {
		t.Fatalf("enabled rule: %+v %v", d, err)
	}
	if r := e.doJSON("PUT", "/v1/inbound-rules/999999", e.admin, map[string]any{
		"number": map[string]any{"kind": "exact", "value": "1"}, "destination": map[string]any{"kind": "mailbox", "mailbox": "x"}}); r.status != 404 {
		t.Fatalf("update unknown rule: %d", r.status)
	}
	if r := e.do("DELETE", fmt.Sprintf("/v1/inbound-rules/%d", rule.ID), e.admin, nil, ""); r.status != 204 {
		t.Fatalf("delete rule: %d", r.status)
	}
	if r := e.do("GET", fmt.Sprintf("/v1/inbound-rules/%d", rule.ID), e.admin, nil, ""); r.status != 404 {
		t.Fatalf("deleted rule: %d", r.status)
	}
	if r := e.do("POST", "/v1/routes", e.admin, strings.NewReader("prefix=1"), "application/x-www-form-urlencoded"); r.status != 415 {
		t.Fatalf("form body: %d", r.status)
	}
}

// A session's requests marked as already counted (the console's further
// API calls for one page) pass its empty bucket; unmarked ones and token
// requests, marked or not, do not.
func TestRateLimitCountedRequests(t *testing.T) {
	e := newEnv(t, Config{RateLimit: 0.5, RateBurst: 1})
	s := e.login("pat", users.Operator)
	call := func(ctx context.Context, hdr ...string) int {
		req := httptest.NewRequest("GET", "/v1/whoami", nil).WithContext(ctx)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		rec := httptest.NewRecorder()
		e.srv.Config.Handler.ServeHTTP(rec, req)
		return rec.Code
	}
	cookie := []string{"Cookie", users.CookieName + "=" + s.sess.Token}
	bearer := []string{"Authorization", "Bearer " + e.sub}
	bg, marked := context.Background(), CountedRequest(context.Background())
	if c := call(bg, cookie...); c != 200 {
		t.Fatalf("the session's first request: %d", c)
	}
	if c := call(bg, cookie...); c != 429 {
		t.Fatalf("the session's second request: %d, want 429", c)
	}
	for i := range 5 {
		if c := call(marked, cookie...); c != 200 {
			t.Fatalf("counted request %d of the session: %d, want 200", i, c)
		}
	}
	if c := call(bg, bearer...); c != 200 {
		t.Fatalf("the token's first request: %d", c)
	}
	if c := call(marked, bearer...); c != 429 {
		t.Fatalf("a token request marked as counted: %d, want 429", c)
	}
}
