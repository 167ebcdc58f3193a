package console

import (
	"reflect"
	"testing"

	"github.com/faxd/faxd/client"
)

// An error about an element or key of a list field belongs beside the
// list field; a dotted field keeps its own place.
func TestCfgError(t *testing.T) {
	errs := []string{`sites[1] "a b": use letters`, "site_costs.lon -1: must be from 0 to 1e9", "number.value: \"x\" is not a number", `prefix "12a": digits only`}
	for field, want := range map[string]string{"sites": errs[0], "site_costs": errs[1], "number.value": errs[2], "number": errs[2], "prefix": errs[3], "number.kind": "", "site": ""} {
		if got := cfgError(errs, field); got != want {
			t.Errorf("cfgError(%q) = %q, want %q", field, got, want)
		}
	}
}

func TestWindowsAndSiteCosts(t *testing.T) {
	ws, errs := windows("mon,tue 08:00-18:00 3\n\n22:00-06:00 0.5\nbad")
	want := []client.RouteWindow{{Days: []string{"mon", "tue"}, From: "08:00", To: "18:00", Cost: 3}, {From: "22:00", To: "06:00", Cost: 0.5}}
	if !reflect.DeepEqual(ws, want) {
		t.Errorf("windows = %+v", ws)
	}
	if len(errs) != 1 || cfgError(errs, "windows") == "" {
		t.Errorf("window errors %q", errs)
	}
	if got := formatWindows(ws); got != "mon,tue 08:00-18:00 3\n22:00-06:00 0.5" {
		t.Errorf("formatWindows = %q", got)
	}
	m, errs := siteCosts("lon=2, par=0.5 x")
	if !reflect.DeepEqual(m, map[string]float64{"lon": 2, "par": 0.5}) || len(errs) != 1 || cfgError(errs, "site_costs") == "" {
		t.Errorf("siteCosts = %v, %q", m, errs)
	}
	if got := formatSiteCosts(m); got != "lon=2, par=0.5" {
		t.Errorf("formatSiteCosts = %q", got)
	}
}
