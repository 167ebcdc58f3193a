// Package twosite is the two-site reference (sites A and B and a witness
// W: etcd, Patroni with PostgreSQL, a NATS cluster and faxd) and the drill
// that brings it up on loopback, kills site A and measures what survives.
package twosite

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
)

//go:embed templates/*.tmpl
var templateFS embed.FS

var templates = template.Must(template.ParseFS(templateFS, "templates/*.tmpl"))

// Timing is the failover tuning shared by the drill and the rendered files.
type Timing struct {
	TTL, LoopWait, RetryTimeout int // Patroni, seconds
	HeartbeatMS, ElectionMS     int // etcd
}

// DefaultTiming gives a database failover of about 12 s: the leader key
// expires after TTL, the replica notices within LoopWait and promotes.
var DefaultTiming = Timing{TTL: 10, LoopWait: 1, RetryTimeout: 4, HeartbeatMS: 100, ElectionMS: 1000}

// Host is one machine of the reference: its address and its ports.
type Host struct {
	Site        string // A, B or W
	Addr        string
	EtcdClient  int
	EtcdPeer    int
	NATSClient  int
	NATSCluster int
	NATSMonitor int
	PGPort      int // not on W
	PatroniREST int // not on W
}

// Node is one faxd server.
type Node struct {
	Name, Site, Role, Addr string
	HTTP, SIP              int
	MediaMin, MediaMax     int
	Channels, Inbound      int
	StationID, AllowFrom   string
	// Gateway is the carrier's SIP address (senders); EmbeddedDir and
	// NATSPort give the drill's carrier its own database and NATS.
	Gateway, EmbeddedDir string
	NATSPort             int
	// StandbyOf is the node a standby (Role "standby") backs.
	StandbyOf string
}

// Topology is the whole reference.
type Topology struct {
	Hosts    []Host // A, B, W
	Faxd     []Node // a1, a2, b1 (and the drill's carrier)
	Timing   Timing
	SyncMode bool
	// Data is where each host keeps its state (a directory per process
	// below it); HBA is the pg_hba lines for the faxd hosts and replication.
	Data      string
	PGBinDir  string
	HBA       []string
	SuperPass string
	ReplPass  string
	Drill     bool // the drill's short retry delays
}

// host returns the host of site; a topology built by hand may lack one.
func (t *Topology) host(site string) (Host, error) {
	for _, h := range t.Hosts {
		if h.Site == site {
			return h, nil
		}
	}
	return Host{}, fmt.Errorf("topology has no site %q", site)
}

// dbHosts is the host:port list of the two database sites, A then B, for
// a multi-host DSN.
func (t *Topology) dbHosts() (string, error) {
	var hp []string
	for _, site := range []string{"A", "B"} {
		h, err := t.host(site)
		if err != nil {
			return "", err
		}
		if h.PGPort == 0 {
			return "", fmt.Errorf("site %s runs no PostgreSQL (no port)", site)
		}
		hp = append(hp, fmt.Sprintf("%s:%d", h.Addr, h.PGPort))
	}
	return strings.Join(hp, ","), nil
}

// DSN is the connection string of database db for faxd: both PostgreSQL
// hosts, the one accepting writes is kept.
func (t *Topology) DSN(db string) (string, error) {
	hosts, err := t.dbHosts()
	if err != nil {
		return "", fmt.Errorf("DSN for %s: %w", db, err)
	}
	dsn := fmt.Sprintf("postgres://faxd@%s/%s?target_session_attrs=read-write&connect_timeout=3", hosts, db)
	if t.Drill {
		dsn += "&sslmode=disable" // loopback; between sites keep TLS (require or verify-full)
	}
	return dsn, nil
}

// NATSURL lists the three NATS servers.
func (t *Topology) NATSURL() string {
	var u []string
	for _, h := range t.Hosts {
		u = append(u, fmt.Sprintf("nats://%s:%d", h.Addr, h.NATSClient))
	}
	return strings.Join(u, ",")
}

type etcdData struct {
	Name, Host, DataDir, InitialCluster string
	ClientPort, PeerPort                int
	HeartbeatMS, ElectionMS             int
}

type patroniData struct {
	Site, Name, Host, EtcdHosts, DataDir, BinDir, PGPass, SocketDir string
	RestPort, PGPort                                                int
	TTL, LoopWait, RetryTimeout                                     int
	SyncMode                                                        bool
	SuperPassword, ReplPassword                                     string
	HBA                                                             []string
}

type natsData struct {
	Site, Name, Host, StoreDir           string
	ClientPort, ClusterPort, MonitorPort int
	Routes                               []string
}

// File is one rendered configuration file.
type File struct {
	Site, Process, Path string // Path relative to the output directory
	Body                string
}

func (t *Topology) siteDir(site, what string) string {
	return filepath.Join(t.Data, site, what)
}

// Files renders the configuration of every process.
func (t *Topology) Files() ([]File, error) {
	var files []File
	var initial, etcdHosts, routes []string
	for _, h := range t.Hosts {
		initial = append(initial, fmt.Sprintf("etcd-%s=http://%s:%d", strings.ToLower(h.Site), h.Addr, h.EtcdPeer))
		etcdHosts = append(etcdHosts, fmt.Sprintf("%s:%d", h.Addr, h.EtcdClient))
	}
	render := func(site, process, path, tmpl string, data any) error {
		var b strings.Builder
		if err := templates.ExecuteTemplate(&b, tmpl, data); err != nil {
			return fmt.Errorf("rendering %s: %w", path, err)
		}
		files = append(files, File{Site: site, Process: process, Path: path, Body: b.String()})
		return nil
	}
	for _, h := range t.Hosts {
		s := strings.ToLower(h.Site)
		if err := render(h.Site, "etcd", s+"/etcd.yaml", "etcd.yaml.tmpl", etcdData{
			Name: "etcd-" + s, Host: h.Addr, DataDir: t.siteDir(h.Site, "etcd"), InitialCluster: strings.Join(initial, ","),
			ClientPort: h.EtcdClient, PeerPort: h.EtcdPeer, HeartbeatMS: t.Timing.HeartbeatMS, ElectionMS: t.Timing.ElectionMS,
		}); err != nil {
			return nil, err
		}
		routes = routes[:0]
		for _, o := range t.Hosts {
			if o.Site != h.Site {
				routes = append(routes, fmt.Sprintf("nats-route://%s:%d", o.Addr, o.NATSCluster))
			}
		}
		if err := render(h.Site, "nats", s+"/nats.conf", "nats.conf.tmpl", natsData{
			Site: h.Site, Name: "nats-" + s, Host: h.Addr, StoreDir: t.siteDir(h.Site, "nats"),
			ClientPort: h.NATSClient, ClusterPort: h.NATSCluster, MonitorPort: h.NATSMonitor, Routes: append([]string(nil), routes...),
		}); err != nil {
			return nil, err
		}
		if h.PGPort == 0 {
			continue // the witness runs no database
		}
		if err := render(h.Site, "patroni", s+"/patroni.yml", "patroni.yml.tmpl", patroniData{
			Site: h.Site, Name: "pg-" + s, Host: h.Addr, EtcdHosts: strings.Join(etcdHosts, ","),
			DataDir: t.siteDir(h.Site, "pg/data"), BinDir: t.PGBinDir, PGPass: t.siteDir(h.Site, "pg/pgpass"),
			SocketDir: t.siteDir(h.Site, "pg"), RestPort: h.PatroniREST, PGPort: h.PGPort,
			TTL: t.Timing.TTL, LoopWait: t.Timing.LoopWait, RetryTimeout: t.Timing.RetryTimeout, SyncMode: t.SyncMode,
			SuperPassword: t.SuperPass, ReplPassword: t.ReplPass, HBA: t.HBA,
		}); err != nil {
			return nil, err
		}
	}
	queueDSN, err := t.DSN("faxd_queue")
	if err != nil {
		return nil, err
	}
	archiveDSN, err := t.DSN("faxd_archive")
	if err != nil {
		return nil, err
	}
	for _, n := range t.Faxd {
		data := map[string]any{
			"Name": n.Name, "Site": n.Site, "Role": n.Role, "Host": n.Addr, "HTTPPort": n.HTTP, "SIPPort": n.SIP,
			"MediaMin": n.MediaMin, "MediaMax": n.MediaMax, "Channels": n.Channels, "Inbound": n.Inbound,
			"StationID": n.StationID, "Gateway": n.Gateway, "EmbeddedDir": n.EmbeddedDir, "NATSPort": n.NATSPort,
			"QueueDSN": queueDSN, "ArchiveDSN": archiveDSN, "NATSURL": t.NATSURL(),
			"AllowFrom": n.AllowFrom, "Drill": t.Drill, "StandbyOf": n.StandbyOf,
		}
		if err := render(n.Site, "faxd", strings.ToLower(n.Site)+"/faxd-"+n.Name+".yaml", "faxd.yaml.tmpl", data); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Write renders the files under dir.
func (t *Topology) Write(dir string) ([]File, error) {
	files, err := t.Files()
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		p := filepath.Join(dir, f.Path)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(p, []byte(f.Body), 0o644); err != nil {
			return nil, err
		}
	}
	return files, nil
}

// Reference is the topology for three real hosts with the standard ports,
// for `drill -render`: addresses a, b and w, state under /var/lib.
func Reference(a, b, w string) *Topology {
	h := func(site, addr string, pg bool) Host {
		x := Host{Site: site, Addr: addr, EtcdClient: 2379, EtcdPeer: 2380, NATSClient: 4222, NATSCluster: 6222, NATSMonitor: 8222}
		if pg {
			x.PGPort, x.PatroniREST = 5432, 8008
		}
		return x
	}
	t := &Topology{
		Hosts:  []Host{h("A", a, true), h("B", b, true), h("W", w, false)},
		Timing: DefaultTiming, SyncMode: true, Data: "/var/lib/faxd-site", PGBinDir: "/usr/lib/postgresql/15/bin",
		HBA: []string{
			"host all all 0.0.0.0/0 scram-sha-256",
			"host replication replicator 0.0.0.0/0 scram-sha-256",
		},
		SuperPass: "CHANGE-ME-superuser", ReplPass: "CHANGE-ME-replicator",
	}
	allow := fmt.Sprintf("%s/32", "GATEWAY-ADDRESS")
	for _, n := range []struct{ name, site, addr string }{{"fax-a1", "A", a}, {"fax-a2", "A", a}, {"fax-b1", "B", b}} {
		t.Faxd = append(t.Faxd, Node{Name: n.name, Site: n.site, Role: "active", Addr: n.addr, HTTP: 8080, SIP: 5060,
			MediaMin: 20000, MediaMax: 29999, Channels: 8, StationID: "+49 40 999000", Gateway: "GATEWAY-ADDRESS:5060", AllowFrom: allow})
	}
	// Two nodes on one host of site A need their own ports.
	t.Faxd[1].HTTP, t.Faxd[1].SIP, t.Faxd[1].MediaMin, t.Faxd[1].MediaMax = 8081, 5070, 30000, 39999
	return t
}
