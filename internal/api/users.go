package api

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/faxd/faxd/internal/api/tokens"
	"github.com/faxd/faxd/internal/users"
)

// People's accounts (internal/users) in the API: the session cookie as a
// second way to authenticate, tokens that belong to a user, the authority
// of the three roles, and /v1/users and /v1/me.
//
// Authority: admin is everything; operator is the queue and the received
// faxes, no configuration; user is their own faxes (submitter = their
// name) and the received faxes of the mailboxes granted to them. A token
// of no user keeps its own role (submitter or admin).

// Route requirements beyond the token roles (route.role).
const (
	// needOperator: admins and operators.
	needOperator tokens.Role = "operator"
	// needReceived: admins and operators see every received fax; users
	// only those filed in mailboxes granted to them (checked per fax in
	// received and per mailbox in the mailbox handlers).
	needReceived tokens.Role = "received"
)

// operator reports whether the caller works the whole queue and every
// received fax: an admin (token or user) or an operator.
func (c *caller) operator() bool {
	return c.admin() || (c.user != nil && c.user.Role == users.Operator)
}

// restricted reports whether the caller is a user-role account, who
// sees received faxes by mailbox grant only.
func (c *caller) restricted() bool { return c.user != nil && !c.operator() }

// who names the caller in messages.
func (c *caller) who() string {
	if c.user != nil {
		return fmt.Sprintf("user %q", c.user.Name)
	}
	return fmt.Sprintf("token %q", c.Name)
}

// reader is the name read marks are kept under: per user when a user is
// known, per token otherwise (the prefix keeps a token named like a user
// from sharing their marks).
func (c *caller) reader() string {
	if c.user != nil {
		return "user:" + c.user.Name
	}
	return c.Name
}

// roleToken is the token role a user acts with in code that knows only
// tokens: admin for admins, submitter (own faxes) for the others.
func roleToken(r users.Role) tokens.Role {
	if r == users.Admin {
		return tokens.Admin
	}
	return tokens.Submitter
}

// becomeUser makes c act as u.
func (c *caller) becomeUser(u users.User) {
	c.user = &u
	c.Name, c.Role = u.Name, roleToken(u.Role)
}

// sessionCaller authenticates by the session cookie. A state-changing
// request must carry the session's CSRF token; a bearer token needs none
// (no browser sends one on its own).
func (a *API) sessionCaller(r *http.Request) (*caller, error) {
	sess, u, err := users.NewHTTP(a.users, false).FromRequest(r)
	if errors.Is(err, users.ErrNoSession) {
		return nil, newProblem(http.StatusUnauthorized, "unauthorized", "the session has ended or expired; log in again (or send an API token: Authorization: Bearer <token>)")
	}
	if err != nil {
		return nil, err
	}
	c := &caller{session: &sess}
	c.becomeUser(u)
	if err := users.CheckCSRF(r, sess); err != nil {
		return c, newProblem(http.StatusForbidden, "forbidden", "%s", strings.TrimPrefix(err.Error(), "users: "))
	}
	return c, nil
}

// ownedToken makes a token that belongs to a user act as that user.
func (a *API) ownedToken(r *http.Request, c *caller) error {
	u, err := a.users.Get(r.Context(), c.UserID)
	if errors.Is(err, users.ErrNotFound) {
		return newProblem(http.StatusUnauthorized, "unauthorized", "the API token is unknown, mistyped or revoked")
	}
	if err != nil {
		return err
	}
	if u.Disabled {
		return newProblem(http.StatusUnauthorized, "unauthorized", "the account %q this token belongs to is disabled; ask an administrator", u.Name)
	}
	c.becomeUser(u)
	return nil
}

// authorizeUser checks the requirements only users and operators meet.
func (a *API) authorizeUser(c *caller, need tokens.Role) error {
	switch {
	case need == needOperator && !c.operator():
		if c.user != nil {
			return newProblem(http.StatusForbidden, "forbidden", "this endpoint needs the operator or admin role; %q has the role %s", c.user.Name, c.user.Role)
		}
		return newProblem(http.StatusForbidden, "forbidden", "this endpoint needs an admin token; token %q has the role %s", c.Name, c.Role)
	case need == needReceived && c.user == nil && !c.admin():
		return newProblem(http.StatusForbidden, "forbidden", "received faxes need an admin token, or a user's token or session with the mailbox granted; token %q has the role %s", c.Name, c.Role)
	}
	return nil
}

type callerKey struct{}

// withCaller is r's context carrying the caller (callerOf) and the audit
// actor for changes users.Store records itself.
func withCaller(r *http.Request, c *caller) context.Context {
	ctx := context.WithValue(r.Context(), callerKey{}, c)
	return users.WithActor(ctx, users.Actor{TokenID: c.ID, Name: c.Name, RemoteAddr: remoteAddr(r)})
}

func callerOf(r *http.Request) *caller {
	c, _ := r.Context().Value(callerKey{}).(*caller)
	return c
}

// mayReadFax refuses a user-role caller a received fax (its archive key)
// filed in no mailbox granted to them, with the answer an unknown fax
// gets, so ids of others' faxes reveal nothing.
func (a *API) mayReadFax(r *http.Request, id int64, key string) error {
	c := callerOf(r)
	if c == nil || !c.restricted() {
		return nil
	}
	ok, err := a.users.GrantedFax(r.Context(), c.user.ID, key)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("there is no received fax %d (or it was purged from the archive)", id)
	}
	return nil
}

// mayReadMailbox is mayReadFax for a mailbox.
func (a *API) mayReadMailbox(r *http.Request, c *caller, name string) error {
	if !c.restricted() {
		return nil
	}
	ok, err := a.users.Granted(r.Context(), c.user.ID, name)
	if err != nil {
		return err
	}
	if !ok {
		return notFound("there is no mailbox %q granted to %s", name, c.who())
	}
	return nil
}

func (a *API) userRoutes() []route {
	return []route{
		{"GET", "/v1/me", tokens.Submitter, a.me},
		{"POST", "/v1/me/password", tokens.Submitter, a.changeMyPassword},
		{"GET", "/v1/users", tokens.Admin, a.listUsers},
		{"POST", "/v1/users", tokens.Admin, a.createUser},
		{"GET", "/v1/users/{id}", tokens.Admin, a.getUser},
		{"PATCH", "/v1/users/{id}", tokens.Admin, a.updateUser},
		{"DELETE", "/v1/users/{id}", tokens.Admin, a.deleteUser},
		{"GET", "/v1/users/{id}/grants", tokens.Admin, a.listGrants},
		{"POST", "/v1/users/{id}/grants", tokens.Admin, a.addGrant},
		{"DELETE", "/v1/users/{id}/grants/{mailbox}", tokens.Admin, a.removeGrant},
	}
}

// Me answers GET /v1/me: who the caller is and what they may do.
type Me struct {
	// Kind is "session" or "token".
	Kind string `json:"kind"`
	// Role is admin, operator or user for an account; submitter or admin
	// for a token of no user.
	Role   string        `json:"role"`
	Name   string        `json:"name"`
	User   *users.User   `json:"user,omitempty"`
	Token  *tokens.Token `json:"token,omitempty"`
	Grants []string      `json:"grants"`
	// CSRFToken is the session's CSRF token, which every change made
	// with the session cookie must send in X-CSRF-Token.
	CSRFToken      string     `json:"csrf_token,omitempty"`
	SessionExpires *time.Time `json:"session_expires,omitempty"`
}

func (a *API) me(w http.ResponseWriter, r *http.Request, c *caller) error {
	m := Me{Kind: "token", Role: string(c.Role), Name: c.Name, Grants: []string{}}
	if c.session != nil {
		m.Kind, m.CSRFToken = "session", c.session.CSRF
		exp := c.session.Expires
		m.SessionExpires = &exp
	} else {
		t := c.Token
		m.Token = &t
	}
	if c.user != nil {
		m.User, m.Role = c.user, string(c.user.Role)
		g, err := a.users.Grants(r.Context(), c.user.ID)
		if err != nil {
			return err
		}
		m.Grants = g
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, m)
	return nil
}

// PasswordChange is the body of POST /v1/me/password.
type PasswordChange struct {
	CurrentPassword string `json:"current_password"`
	NewPassword     string `json:"new_password"`
}

// changeMyPassword lets a user change their own password. The session
// making the change stays logged in; the user's other sessions end.
func (a *API) changeMyPassword(w http.ResponseWriter, r *http.Request, c *caller) error {
	if c.user == nil {
		return newProblem(http.StatusForbidden, "forbidden", "%s belongs to no user account and has no password", c.who())
	}
	var in PasswordChange
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	keep := ""
	if c.session != nil {
		keep = c.session.Token
	}
	err := a.users.ChangePassword(r.Context(), c.user.ID, in.CurrentPassword, in.NewPassword, remoteAddr(r), keep)
	switch {
	case errors.Is(err, users.ErrBadCredentials):
		return newProblem(http.StatusForbidden, "forbidden", "current_password is wrong")
	case errors.Is(err, users.ErrThrottled):
		return newProblem(http.StatusForbidden, "forbidden", "current_password: too many wrong passwords for %q; try again later", c.user.Name)
	case errors.Is(err, users.ErrBadRequest):
		p := usersErr(err).(*Problem)
		p.Detail = "new_password: " + strings.TrimPrefix(p.Detail, "password: ")
		p.Errors = []string{p.Detail}
		return p
	case err != nil:
		return usersErr(err)
	}
	a.log.Info("password changed", "user_id", c.user.ID, "user", c.user.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// UserView is an account with its mailbox grants; never its hash.
type UserView struct {
	users.User
	Grants []string `json:"grants"`
}

// UserInput is the body of POST /v1/users.
type UserInput struct {
	Name     string     `json:"name"`
	Password string     `json:"password"`
	Role     users.Role `json:"role"`
}

// UserUpdate is the body of PATCH /v1/users/{id}; absent members stay.
type UserUpdate struct {
	Role     *users.Role `json:"role"`
	Disabled *bool       `json:"disabled"`
	Password *string     `json:"password"`
}

// GrantInput is the body of POST /v1/users/{id}/grants.
type GrantInput struct {
	Mailbox string `json:"mailbox"`
}

// usersErr maps the users store's errors to problems naming the field.
func usersErr(err error) error {
	msg := strings.TrimPrefix(err.Error(), "users: ")
	for _, lead := range []string{"bad request: ", "no such user: "} {
		msg = strings.TrimPrefix(msg, lead)
	}
	switch {
	case errors.Is(err, users.ErrBadRequest):
		p := newProblem(http.StatusBadRequest, "invalid-request", "%s", msg)
		p.Errors = []string{msg}
		return p
	case errors.Is(err, users.ErrNotFound):
		return newProblem(http.StatusNotFound, "not-found", "there is no user %s", msg)
	case errors.Is(err, users.ErrExists), errors.Is(err, users.ErrLastAdmin):
		return newProblem(http.StatusConflict, "conflict", "%s", msg)
	}
	return err
}

func (a *API) userView(ctx context.Context, u users.User) (UserView, error) {
	g, err := a.users.Grants(ctx, u.ID)
	return UserView{User: u, Grants: g}, err
}

func (a *API) listUsers(w http.ResponseWriter, r *http.Request, c *caller) error {
	us, err := a.users.List(r.Context())
	if err != nil {
		return err
	}
	out := make([]UserView, 0, len(us))
	for _, u := range us {
		v, err := a.userView(r.Context(), u)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"users": out})
	return nil
}

func (a *API) createUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	var in UserInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Role == "" {
		in.Role = users.RoleUser
	}
	u, err := a.users.Create(r.Context(), in.Name, in.Password, in.Role)
	if err != nil {
		return usersErr(err)
	}
	a.log.Info("user created", "user_id", u.ID, "user", u.Name, "role", u.Role, "by", c.Name)
	w.Header().Set("Location", fmt.Sprintf("/v1/users/%d", u.ID))
	writeJSON(w, http.StatusCreated, UserView{User: u, Grants: []string{}})
	return nil
}

func (a *API) pathUser(r *http.Request) (users.User, error) {
	id, err := pathID(r, "id", "user")
	if err != nil {
		return users.User{}, err
	}
	u, err := a.users.Get(r.Context(), id)
	if err != nil {
		return users.User{}, usersErr(err)
	}
	return u, nil
}

func (a *API) getUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	v, err := a.userView(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) updateUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	var in UserUpdate
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if in.Role == nil && in.Disabled == nil && in.Password == nil {
		return newProblem(http.StatusBadRequest, "invalid-request", "give at least one of role, disabled and password")
	}
	// Each is its own audited change; a bad one stops the rest.
	if in.Password != nil {
		if err := a.users.SetPassword(r.Context(), u.ID, *in.Password); err != nil {
			return usersErr(err)
		}
	}
	if in.Role != nil && *in.Role != u.Role {
		if u, err = a.users.SetRole(r.Context(), u.ID, *in.Role); err != nil {
			return usersErr(err)
		}
	}
	if in.Disabled != nil && *in.Disabled != u.Disabled {
		if u, err = a.users.Disable(r.Context(), u.ID, *in.Disabled); err != nil {
			return usersErr(err)
		}
	}
	a.log.Info("user updated", "user_id", u.ID, "user", u.Name, "by", c.Name)
	v, err := a.userView(r.Context(), u)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (a *API) deleteUser(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	if err := a.users.Delete(r.Context(), u.ID); err != nil {
		return usersErr(err)
	}
	a.log.Info("user deleted", "user_id", u.ID, "user", u.Name, "by", c.Name)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) writeGrants(w http.ResponseWriter, r *http.Request, u users.User) error {
	g, err := a.users.Grants(r.Context(), u.ID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"user_id": u.ID, "mailboxes": g})
	return nil
}

func (a *API) listGrants(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	return a.writeGrants(w, r, u)
}

func (a *API) addGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	var in GrantInput
	if err := decodeBody(r, &in); err != nil {
		return err
	}
	if err := a.users.Grant(r.Context(), u.ID, in.Mailbox); err != nil {
		return usersErr(err)
	}
	a.log.Info("mailbox granted", "user_id", u.ID, "mailbox", in.Mailbox, "by", c.Name)
	return a.writeGrants(w, r, u)
}

func (a *API) removeGrant(w http.ResponseWriter, r *http.Request, c *caller) error {
	u, err := a.pathUser(r)
	if err != nil {
		return err
	}
	mb := r.PathValue("mailbox")
	if err := a.users.Revoke(r.Context(), u.ID, mb); err != nil {
		return usersErr(err)
	}
	a.log.Info("mailbox grant revoked", "user_id", u.ID, "mailbox", mb, "by", c.Name)
	return a.writeGrants(w, r, u)
}

// grantedOnly keeps the mailboxes a user-role caller may see.
func grantedOnly[T any](items []T, name func(T) string, grants []string) []T {
	out := items[:0:0]
	for _, it := range items {
		if slices.Contains(grants, name(it)) {
			out = append(out, it)
		}
	}
	return out
}
