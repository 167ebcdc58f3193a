package main

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"text/tabwriter"

	"github.com/faxd/faxd/internal/api"
)

// auditCmd lists the audit log (GET /v1/audit), newest first.
func (a *app) auditCmd(ctx context.Context, args []string) (int, error) {
	fs := subFlags("audit", a.stderr)
	since := fs.String("since", "", "RFC 3339 time: entries at or after it")
	until := fs.String("until", "", "RFC 3339 time: entries before it")
	actor := fs.String("actor", "", "token name (faxd-cli for the faxd command line)")
	objType := fs.String("type", "", "object type: gateway, route, inbound_rule, token, standby, received_fax, secrets")
	objID := fs.String("id", "", "object id (gateway name, route or rule id, ...)")
	action := fs.String("action", "", "create, update, delete, revoke, reroute, promote, ...")
	limit := fs.Int("limit", 50, "entries per page")
	cursor := fs.String("cursor", "", "continue from a previous page")
	if pos, err := parseInterleaved(fs, args); err != nil || len(pos) > 0 {
		return 2, nil
	}
	q := url.Values{}
	for k, v := range map[string]string{"since": *since, "until": *until, "actor": *actor, "object_type": *objType,
		"object_id": *objID, "action": *action, "cursor": *cursor} {
		if v != "" {
			q.Set(k, v)
		}
	}
	q.Set("limit", strconv.Itoa(*limit))
	var l api.AuditList
	if printed, err := a.show(ctx, "/v1/audit?"+q.Encode(), &l); err != nil || printed {
		return exitCode(err), err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAT\tACTOR\tFROM\tACTION\tOBJECT\tDETAIL")
	for _, e := range l.Entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s %s\t%s\n", e.ID, when(&e.At), e.Actor, e.RemoteAddr, e.Action, e.ObjectType, e.ObjectID, e.Detail)
	}
	tw.Flush()
	if l.NextCursor != "" {
		fmt.Fprintf(a.stdout, "more: faxctl audit -cursor %s\n", l.NextCursor)
	}
	return 0, nil
}
