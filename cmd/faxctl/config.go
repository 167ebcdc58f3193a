package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// fileConfig is ~/.config/faxctl.yaml (or -config FILE).
type fileConfig struct {
	Servers   []string `yaml:"servers"`
	DRServers []string `yaml:"dr_servers"`
	Token     string   `yaml:"token"`
	Attempts  int      `yaml:"attempts"`
	Cycles    int      `yaml:"cycles"`
}

func defaultConfigPath() string {
	if d, err := os.UserConfigDir(); err == nil {
		return filepath.Join(d, "faxctl.yaml")
	}
	return ""
}

// loadFileConfig reads path; a missing default file is no error.
func loadFileConfig(path string, explicit bool) (fileConfig, error) {
	var fc fileConfig
	if path == "" {
		return fc, nil
	}
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) && !explicit {
		return fc, nil
	}
	if err != nil {
		return fc, err
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(&fc); err != nil && err.Error() != "EOF" {
		return fc, fmt.Errorf("%s: %w (keys: servers, dr_servers, token, attempts, cycles)", path, err)
	}
	return fc, nil
}

// splitList splits a comma- or space-separated server list.
func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, strings.TrimRight(f, "/"))
	}
	return out
}
