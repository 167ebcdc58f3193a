package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/faxd/faxd/internal/api/routingcfg"
	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/audit"
	"github.com/faxd/faxd/internal/channel"
	"github.com/faxd/faxd/internal/secretbox"
	"github.com/faxd/faxd/internal/users"
)

// decodeBody reads a JSON request body into v, refusing unknown fields.
func decodeBody(r *http.Request, v any) error {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return newProblem(http.StatusUnsupportedMediaType, "unsupported-media", "send the body as application/json")
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return newProblem(http.StatusBadRequest, "invalid-request", "the body is not valid JSON for this object: %s", jsonErr(err))
	}
	return nil
}

// storeErr maps routingcfg and tokens errors to problems.
func storeErr(err error) error {
	var ve *routingcfg.ValidationError
	switch {
	case errors.As(err, &ve):
		p := newProblem(http.StatusBadRequest, "invalid-request", "%s", ve.Error())
		p.Errors = ve.Problems
		return p
	case errors.Is(err, routingcfg.ErrNotFound), errors.Is(err, tokens.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "%s", trimPkg(err))
	case errors.Is(err, routingcfg.ErrConflict):
		return newProblem(http.StatusConflict, "conflict", "%s", trimPkg(err))
	case errors.Is(err, tokens.ErrBadRequest):
		return newProblem(http.StatusBadRequest, "invalid-request", "%s", trimPkg(err))
	case errors.Is(err, secretbox.ErrNoKey):
		return noKeyProblem()
	}
	return err
}

// noKeyProblem: a secret was sent to a server that has no key to seal it
// with. Nothing is stored.
func noKeyProblem() error {
	return newProblem(http.StatusConflict, "conflict",
		"this server has no secrets encryption key, so it cannot store passwords or webhook secrets: set secrets.key_file or secrets.key_env (see docs/security.md)")
}

// trimPkg drops the "pkg: sentinel: " lead of a wrapped store error.
func trimPkg(err error) string {
	s := err.Error()
	for _, lead := range []string{"routingcfg: not found: ", "routingcfg: conflict: ", "tokens: no such token: ", "tokens: bad request: "} {
		if rest, ok := strings.CutPrefix(s, lead); ok {
			if lead == "routingcfg: not found: " {
				return "there is no " + rest
			}
			if lead == "tokens: no such token: " {
				return "there is no token " + rest
			}
			return rest
		}
	}
	return s
}

// GatewayInput is the body of gateway create and update. Password is
// write-only; on update, leaving it out keeps the stored one.
type GatewayInput struct {
	Name        string  `json:"name"`
	Address     string  `json:"address"`
	MaxChannels int     `json:"max_channels"`
	Username    string  `json:"username"`
	Password    *string `json:"password"`
	Enabled     *bool   `json:"enabled"`
	// Profile replaces the gateway's media profile and probing (absent:
	// none, the server's settings).
	Profile channel.Profile `json:"profile"`
	// Sites that reach the gateway and a cost per site (absent: every
	// site, no extra cost).
	Sites     []string           `json:"sites"`
	SiteCosts map[string]float64 `json:"site_costs"`
}

func (in GatewayInput) gateway() routingcfg.Gateway {
	g := routingcfg.Gateway{Name: in.Name, Address: in.Address, MaxChannels: in.MaxChannels, Username: in.Username, Enabled: true, Profile: in.Profile,
		Sites: in.Sites, SiteCosts: in.SiteCosts}
	if in.Password != nil {
		g.Password = *in.Password
	}
	if in.Enabled != nil {
		g.Enabled = *in.Enabled
	}
	return g
}

func (a *API) listGateways(w http.ResponseWriter, r *http.Request, c *caller) error {
	gs, err := a.routing.Gateways(r.Context())
	if err != nil {
		return err
	}
	if gs == nil {
		gs = []routingcfg.Gateway{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"gateways": gs})
	return nil
}

// checkNotSealed refuses a secret that looks like a stored, encrypted
// value: taken as is, it would be kept unencrypted and fail when used.
func checkNotSealed(field string, v *string) error {
	if v != nil && secretbox.IsSealed(*v) {
		return newProblem(http.StatusBadRequest, "invalid-request", "%s: must not start with %q (send the secret itself)", field, secretbox.Prefix)
	}
	return nil
}

func (a *API) createGateway(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in GatewayInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := checkNotSealed("password", in.Password); err != nil {
		return err
	}
	var g routingcfg.Gateway
	err := a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		var err error
		g, err = a.routing.WithTx(tx).CreateGateway(r.Context(), in.gateway())
		return audit.Change{Action: "create", ObjectType: audit.Gateway, ObjectID: g.Name, After: g}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("gateway created", "gateway", g.Name, "by", c.Name)
	w.Header().Set("Location", "/v1/gateways/"+g.Name)
	writeJSON(w, http.StatusCreated, g)
	return nil
}

func (a *API) getGateway(w http.ResponseWriter, r *http.Request, c *caller) error {
	g, err := a.routing.Gateway(r.Context(), r.PathValue("name"))
	if err != nil {
		return storeErr(err)
	}
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (a *API) updateGateway(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in GatewayInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := checkNotSealed("password", in.Password); err != nil {
		return err
	}
	name := r.PathValue("name")
	if in.Name != "" && in.Name != name {
		return newProblem(http.StatusBadRequest, "invalid-request", "name %q differs from the gateway in the path (%q); a gateway cannot be renamed, create a new one", in.Name, name)
	}
	in.Name = name
	var g routingcfg.Gateway
	err := a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.routing.WithTx(tx)
		before, err := st.Gateway(r.Context(), name)
		if err != nil {
			return audit.Change{}, err
		}
		g, err = st.UpdateGateway(r.Context(), in.gateway(), in.Password == nil)
		detail := ""
		if in.Password != nil {
			detail = "password changed" // the values are never recorded
		}
		return audit.Change{Action: "update", ObjectType: audit.Gateway, ObjectID: name, Before: before, After: g, Detail: detail}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("gateway updated", "gateway", g.Name, "by", c.Name)
	writeJSON(w, http.StatusOK, g)
	return nil
}

func (a *API) deleteGateway(w http.ResponseWriter, r *http.Request, c *caller) error {
	name := r.PathValue("name")
	err := a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.routing.WithTx(tx)
		before, err := st.Gateway(r.Context(), name)
		if err == nil {
			err = st.DeleteGateway(r.Context(), name)
		}
		return audit.Change{Action: "delete", ObjectType: audit.Gateway, ObjectID: name, Before: before}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("gateway deleted", "gateway", r.PathValue("name"), "by", c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// RouteInput is the body of route create and update.
type RouteInput struct {
	Prefix  string  `json:"prefix"`
	Gateway string  `json:"gateway"`
	Cost    float64 `json:"cost"`
	Weight  *int    `json:"weight"`
	// Sites that may use the route, a cost per site, and cost windows
	// (absent: every site, no extra cost, no windows).
	Sites     []string            `json:"sites"`
	SiteCosts map[string]float64  `json:"site_costs"`
	Windows   []routingcfg.Window `json:"windows"`
}

func (in RouteInput) route() routingcfg.Route {
	rt := routingcfg.Route{Prefix: in.Prefix, Gateway: in.Gateway, Cost: in.Cost, Weight: 1,
		Sites: in.Sites, SiteCosts: in.SiteCosts, Windows: in.Windows}
	if in.Weight != nil {
		rt.Weight = *in.Weight
	}
	return rt
}

func (a *API) listRoutes(w http.ResponseWriter, r *http.Request, c *caller) error {
	rs, err := a.routing.Routes(r.Context())
	if err != nil {
		return err
	}
	if rs == nil {
		rs = []routingcfg.Route{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"routes": rs})
	return nil
}

func (a *API) createRoute(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in RouteInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	var rt routingcfg.Route
	err := a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		var err error
		rt, err = a.routing.WithTx(tx).CreateRoute(r.Context(), in.route())
		return audit.Change{Action: "create", ObjectType: audit.Route, ObjectID: strconv.FormatInt(rt.ID, 10), After: rt}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("route created", "route", rt.ID, "prefix", rt.Prefix, "gateway", rt.Gateway, "by", c.Name)
	w.Header().Set("Location", "/v1/routes/"+strconv.FormatInt(rt.ID, 10))
	writeJSON(w, http.StatusCreated, rt)
	return nil
}

func (a *API) getRoute(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "route")
	if err != nil {
		return err
	}
	rt, err := a.routing.Route(r.Context(), id)
	if err != nil {
		return storeErr(err)
	}
	writeJSON(w, http.StatusOK, rt)
	return nil
}

func (a *API) updateRoute(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "route")
	if err != nil {
		return err
	}
	var in RouteInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	rt := in.route()
	rt.ID = id
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.routing.WithTx(tx)
		before, err := st.Route(r.Context(), id)
		if err == nil {
			rt, err = st.UpdateRoute(r.Context(), rt)
		}
		return audit.Change{Action: "update", ObjectType: audit.Route, ObjectID: strconv.FormatInt(id, 10), Before: before, After: rt}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("route updated", "route", rt.ID, "by", c.Name)
	writeJSON(w, http.StatusOK, rt)
	return nil
}

func (a *API) deleteRoute(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "route")
	if err != nil {
		return err
	}
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.routing.WithTx(tx)
		before, err := st.Route(r.Context(), id)
		if err == nil {
			err = st.DeleteRoute(r.Context(), id)
		}
		return audit.Change{Action: "delete", ObjectType: audit.Route, ObjectID: strconv.FormatInt(id, 10), Before: before}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("route deleted", "route", id, "by", c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// TokenInput is the body of token creation. ExpiresAt (RFC 3339) or
// ExpiresIn (a lifetime such as "90d" or "12h") sets an expiry; neither:
// the token does not expire.
type TokenInput struct {
	Name      string      `json:"name"`
	Role      tokens.Role `json:"role"`
	ExpiresAt *time.Time  `json:"expires_at"`
	ExpiresIn string      `json:"expires_in"`
	// UserID makes the token belong to a user account: it acts with the
	// user's role and name (its own role is then submitter).
	UserID int64 `json:"user_id"`
}

// CreatedToken is a new token with its secret, shown this once.
type CreatedToken struct {
	tokens.Token
	Secret string `json:"token"`
}

func (a *API) listTokens(w http.ResponseWriter, r *http.Request, c *caller) error {
	ts, err := a.tokens.List(r.Context())
	if err != nil {
		return err
	}
	if ts == nil {
		ts = []tokens.Token{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": ts})
	return nil
}

func (a *API) createToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in TokenInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Role == "" {
		in.Role = tokens.Submitter
	}
	var exp time.Time
	switch {
	case in.ExpiresAt != nil && in.ExpiresIn != "":
		return newProblem(http.StatusBadRequest, "invalid-request", "expires_at and expires_in: give one of them, not both")
	case in.ExpiresAt != nil:
		exp = *in.ExpiresAt
	case in.ExpiresIn != "":
		var err error
		if exp, err = tokens.ParseExpiry(in.ExpiresIn, a.tokens.Now()); err != nil {
			return newProblem(http.StatusBadRequest, "invalid-request", "expires_in: %v", err)
		}
	}
	if in.UserID != 0 {
		if _, err := a.users.Get(r.Context(), in.UserID); err != nil {
			if errors.Is(err, users.ErrNotFound) {
				return newProblem(http.StatusBadRequest, "invalid-request", "user_id: there is no user %d (see GET /v1/users)", in.UserID)
			}
			return err
		}
	}
	var secret string
	var t tokens.Token
	err := a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		var err error
		secret, t, err = a.tokens.WithTx(tx).CreateOwned(r.Context(), in.Name, in.Role, exp, in.UserID)
		return audit.Change{Action: "create", ObjectType: audit.Token, ObjectID: strconv.FormatInt(t.ID, 10), After: t}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("token created", "token_id", t.ID, "token_name", t.Name, "role", t.Role, "by", c.Name)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Location", fmt.Sprintf("/v1/tokens/%d", t.ID))
	writeJSON(w, http.StatusCreated, CreatedToken{Token: t, Secret: secret})
	return nil
}

func (a *API) revokeToken(w http.ResponseWriter, r *http.Request, c *caller) error {
	id, err := pathID(r, "id", "token")
	if err != nil {
		return err
	}
	var t tokens.Token
	err = a.audited(r, c, func(tx pgx.Tx) (audit.Change, error) {
		st := a.tokens.WithTx(tx)
		before, err := st.Get(r.Context(), id)
		if err == nil {
			t, err = st.Revoke(r.Context(), id)
		}
		return audit.Change{Action: "revoke", ObjectType: audit.Token, ObjectID: strconv.FormatInt(id, 10), Before: before, After: t}, err
	})
	if err != nil {
		return storeErr(err)
	}
	a.log.Info("token revoked", "token_id", t.ID, "token_name", t.Name, "by", c.Name)
	writeJSON(w, http.StatusOK, t)
	return nil
}
