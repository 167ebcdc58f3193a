package users

import (
	"fmt"
	"time"
)

// Config is the users section of faxd's configuration.
type Config struct {
	// SessionTTL is a console session's absolute lifetime.
	SessionTTL time.Duration `yaml:"session_ttl"`
	// IdleTimeout ends a session unused for this long.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// LoginAttempts failed logins per account name, and
	// LoginAttemptsPerAddress per client address, are allowed within
	// LoginWindow; further attempts are refused without checking.
	LoginAttempts           int           `yaml:"login_attempts"`
	LoginAttemptsPerAddress int           `yaml:"login_attempts_per_address"`
	LoginWindow             time.Duration `yaml:"login_window"`
	// SecureCookie: "auto" marks the session cookie Secure on requests
	// that came over TLS; "always" marks it Secure everywhere (faxd behind
	// a TLS-terminating proxy).
	SecureCookie string `yaml:"secure_cookie"`
}

// DefaultConfig is the embedded default.
func DefaultConfig() Config {
	o := DefaultOptions()
	return Config{SessionTTL: o.SessionTTL, IdleTimeout: o.IdleTimeout, LoginAttempts: o.MaxFailuresPerName,
		LoginAttemptsPerAddress: o.MaxFailuresPerAddr, LoginWindow: o.ThrottleWindow, SecureCookie: "auto"}
}

// Validate returns one error per bad key.
func (c Config) Validate() []error {
	var errs []error
	bad := func(key, format string, a ...any) {
		errs = append(errs, fmt.Errorf("users.%s: %s", key, fmt.Sprintf(format, a...)))
	}
	if c.SessionTTL < time.Minute || c.SessionTTL > 90*24*time.Hour {
		bad("session_ttl", "%v: must be between 1m and 90d", c.SessionTTL)
	}
	if c.IdleTimeout < time.Minute || c.IdleTimeout > c.SessionTTL {
		bad("idle_timeout", "%v: must be at least 1m and at most users.session_ttl (%v)", c.IdleTimeout, c.SessionTTL)
	}
	if c.LoginAttempts < 1 || c.LoginAttempts > 1000 {
		bad("login_attempts", "%d: must be between 1 and 1000", c.LoginAttempts)
	}
	if c.LoginAttemptsPerAddress < c.LoginAttempts || c.LoginAttemptsPerAddress > 100000 {
		bad("login_attempts_per_address", "%d: must be at least users.login_attempts (%d) and at most 100000", c.LoginAttemptsPerAddress, c.LoginAttempts)
	}
	if c.LoginWindow < time.Minute || c.LoginWindow > 24*time.Hour {
		bad("login_window", "%v: must be between 1m and 24h", c.LoginWindow)
	}
	if c.SecureCookie != "auto" && c.SecureCookie != "always" {
		bad("secure_cookie", "%q: must be auto or always", c.SecureCookie)
	}
	return errs
}

// Options turns the configuration into Store options (clock: time.Now).
func (c Config) Options() Options {
	return Options{SessionTTL: c.SessionTTL, IdleTimeout: c.IdleTimeout, MaxFailuresPerName: c.LoginAttempts,
		MaxFailuresPerAddr: c.LoginAttemptsPerAddress, ThrottleWindow: c.LoginWindow}
}

// AlwaysSecure reports whether the cookie is Secure on every request.
func (c Config) AlwaysSecure() bool { return c.SecureCookie == "always" }
