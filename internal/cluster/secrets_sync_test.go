package cluster

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/inbound"
	"github.com/faxd/faxd/internal/pgtest"
	"github.com/faxd/faxd/internal/secretbox"
)

// The configuration sync copies secrets as ciphertext: the standby's
// tables never hold the plaintext, and with the same key the standby's
// gateway credentials and webhook secrets open to what the primary
// stored. A token's expiry travels too.
func TestSyncCarriesCiphertext(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	primaryDSN := pgtest.NewDSN(t)
	prim, stby := pgtest.Pool(t, primaryDSN), pgtest.NewDB(t)
	const pass, hook = "gw-plain-password", "hook-plain-secret-0123"

	if _, err := routingcfg.New(prim).WithSecrets(testSecrets).CreateGateway(ctx, routingcfg.Gateway{
		Name: "carrier", Address: "192.0.2.1", Username: "fax", Password: pass, Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := inbound.NewStore(prim).WithSecrets(testSecrets).Create(ctx, inbound.Rule{
		Number:      inbound.Match{Kind: inbound.MatchPrefix, Value: "49"},
		Destination: inbound.Destination{Kind: inbound.DestWebhook, URL: "https://example.com/in", Secret: hook}}); err != nil {
		t.Fatal(err)
	}
	ts := tokens.New(prim)
	exp := time.Now().Add(48 * time.Hour).Truncate(time.Microsecond)
	tokSecret, _, err := ts.CreateExpiring(ctx, "temp", tokens.Submitter, exp)
	if err != nil {
		t.Fatal(err)
	}

	s, err := NewSyncer("fax-b", "fax-a", SyncConfig{PrimaryDSN: primaryDSN, StartTime: "00:00", Every: Every(time.Hour)}, stby, nil, quiet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.SyncNow(ctx); err != nil {
		t.Fatal(err)
	}
	// What a dump of the standby's tables shows.
	var raw string
	if err := stby.QueryRow(ctx, `SELECT concat_ws(' ', (SELECT string_agg(password, ' ') FROM gateways),
		(SELECT string_agg(secret, ' ') FROM inbound_rules))`).Scan(&raw); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(raw, pass) || strings.Contains(raw, hook) || strings.Count(raw, secretbox.Prefix) != 2 {
		t.Fatalf("standby holds %q: want two sealed values", raw)
	}
	// The standby's gateway auth: the credentials the channel pool gets.
	st := routingcfg.New(stby).WithSecrets(testSecrets)
	g, err := st.Gateway(ctx, "carrier")
	if err != nil {
		t.Fatal(err)
	}
	if p, err := st.Password(g); err != nil || p != pass || g.Username != "fax" {
		t.Fatalf("standby gateway credentials: %q %q %v", g.Username, p, err)
	}
	rules, err := inbound.NewStore(stby).List(ctx)
	if err != nil || len(rules) != 1 {
		t.Fatal(rules, err)
	}
	if h, err := testSecrets.Open(rules[0].Destination.Secret); err != nil || h != hook {
		t.Fatalf("standby webhook secret: %q %v", h, err)
	}
	// A standby with another key cannot use them, and says which key.
	wrong, _ := secretbox.NewRandom("test")
	if _, err := routingcfg.New(stby).WithSecrets(wrong).Password(g); err == nil || !strings.Contains(err.Error(), `"carrier"`) {
		t.Fatalf("wrong key on the standby: %v", err)
	}
	// The expiry came along.
	st2 := tokens.New(stby)
	st2.Now = func() time.Time { return exp.Add(time.Second) }
	if _, err := st2.Authenticate(ctx, tokSecret); err == nil {
		t.Fatal("an expired token works on the standby")
	}
}
