package config

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

const good = `oms_meta_host: 10.0.0.9
oms_meta_port: 3306
oms_meta_user: oms_meta_user
oms_meta_password: "s3cret-pass"
drc_rm_db: oms_rm
drc_cm_db: oms_cm
drc_cm_heartbeat_db: oms_cm_hb
cm_url: http://10.0.0.100:8088
cm_location: 1
cm_region: cn-hangzhou
cm_region_cn: cn-hangzhou
cm_is_default: true
cm_nodes:
 - 10.0.0.1
 - 10.0.0.2
`

func TestGoodConfigAndDefaults(t *testing.T) {
	r := Parse([]byte(good))
	if len(r.Problems) != 0 {
		t.Fatalf("problems: %v", r.Problems)
	}
	c := r.Config
	if c.MetaPassword.Reveal() != "s3cret-pass" || c.CMLocation != 1 || len(c.CMNodes) != 2 {
		t.Fatalf("parsed %+v", c)
	}
	if c.TSDBEnabled || c.TSDBService != "INFLUXDB" || c.ConsolePort != 8089 || c.CMPort != 8088 ||
		c.SupervisorPort != 9000 || c.GhanaPort != 8090 {
		t.Fatalf("defaults: %+v", c)
	}
	if c.HeartbeatInterval.D() != time.Second || c.HostDownTimeout.D() != 5*time.Second {
		t.Fatalf("HA defaults: heartbeat %s, host down %s", c.HeartbeatInterval, c.HostDownTimeout)
	}
	r3 := Parse([]byte(good + "heartbeat_interval: 500ms\nhost_down_timeout: 3s\n"))
	if len(r3.Problems) != 0 || r3.Config.HeartbeatInterval.D() != 500*time.Millisecond || r3.Config.HostDownTimeout.D() != 3*time.Second {
		t.Fatalf("HA keys: %+v %v", r3.Config, r3.Problems)
	}
	if back := Parse(Format(r3.Config)); back.Config.HeartbeatInterval != r3.Config.HeartbeatInterval || back.Config.HostDownTimeout != r3.Config.HostDownTimeout {
		t.Fatalf("HA keys do not round-trip through Format:\n%s", Format(r3.Config))
	}
	// cm_is_default defaults to true; cm_region_cn to cm_region.
	r2 := Parse([]byte(strings.Replace(strings.Replace(good, "cm_is_default: true\n", "", 1), "cm_region_cn: cn-hangzhou\n", "", 1)))
	if !r2.Config.CMIsDefault || r2.Config.CMRegionCN != "cn-hangzhou" || len(r2.Problems) != 0 {
		t.Fatalf("defaults 2: %+v %v", r2.Config, r2.Problems)
	}
}

func TestSeedSamples(t *testing.T) {
	for _, tc := range []struct {
		file      string
		hb        string
		location  int
		isDefault bool
	}{
		{"seed-hangzhou.yaml", "oms_cm_heartbeat", 1, true},
		{"seed-heilongjiang.yaml", "oms_cm_heartbeat_1", 2, false},
	} {
		t.Run(tc.file, func(t *testing.T) {
			r, err := LoadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			c := r.Config
			if c.HeartbeatDB != tc.hb || c.CMLocation != tc.location || c.CMIsDefault != tc.isDefault ||
				c.RMDB != "oms_rm" || c.CMDB != "oms_cm" || c.MetaPort != 2883 || len(c.CMNodes) != 2 ||
				!c.TSDBEnabled || c.TSDBURL != "xxx.xxx.xxx.xxx:8086" || c.TSDBUsername != "username" {
				t.Fatalf("seed sample read wrong: %+v", c)
			}
			// The two masked passwords are errors, each with its line and the advice, and so are
			// the placeholder addresses (xxx.xxx.xxx.xxx, xxx.xxx.xxx.xx1): never host names.
			errs := r.Errors()
			var keys []string
			for _, e := range errs {
				keys = append(keys, e.Key)
			}
			if strings.Join(keys, " ") != "oms_meta_password tsdb_password oms_meta_host cm_nodes cm_nodes tsdb_url" {
				t.Fatalf("want errors for the masked passwords and the placeholder addresses, got %v", r.Problems)
			}
			want0 := "oms_meta_password, line 4: this looks like a masked placeholder; put the real password in quotes"
			if !strings.Contains(errs[0].String(), want0) {
				t.Fatalf("got %q, want it to contain %q", errs[0].String(), want0)
			}
			if errs[1].Key != "tsdb_password" || errs[1].Line != 20 {
				t.Fatalf("second error %v", errs[1])
			}
		})
	}
}

func TestValidationRules(t *testing.T) {
	replace := func(old, new string) string {
		if !strings.Contains(good, old) {
			panic("test setup: " + old)
		}
		return strings.Replace(good, old, new, 1)
	}
	cases := []struct {
		name string
		text string
		sev  Severity
		key  string
		line int
		msg  string
	}{
		{"missing required", replace("drc_cm_db: oms_cm\n", ""), SevError, "drc_cm_db", 0, "required key is missing"},
		{"cm_location high", replace("cm_location: 1", "cm_location: 128"), SevError, "cm_location", 9, "outside [0,127]"},
		{"cm_location negative", replace("cm_location: 1", "cm_location: -1"), SevError, "cm_location", 9, "outside [0,127]"},
		{"cm_location not int", replace("cm_location: 1", "cm_location: one"), SevError, "cm_location", 9, "bad value"},
		{"cm_url no port", replace("http://10.0.0.100:8088", "http://10.0.0.100"), SevError, "cm_url", 8, "has no port"},
		{"cm_url wrong port", replace("http://10.0.0.100:8088", "10.0.0.100:8089"), SevError, "cm_url", 8, "not the CM port 8088"},
		{"cm_url loopback multi-node", replace("http://10.0.0.100:8088", "http://127.0.0.1:8088"), SevWarning, "cm_url", 8, "loopback"},
		{"region_cn differs", replace("cm_region_cn: cn-hangzhou", "cm_region_cn: hangzhou"), SevWarning, "cm_region_cn", 11, "differs from cm_region"},
		{"empty cm_nodes", replace("cm_nodes:\n - 10.0.0.1\n - 10.0.0.2\n", "cm_nodes: []\n"), SevError, "cm_nodes", 13, "is empty"},
		{"bad cm_nodes entry", replace(" - 10.0.0.2", " - not a host!"), SevError, "cm_nodes", 13, "is not an IP address or host name"},
		{"cm_nodes octet 999", replace(" - 10.0.0.2", " - 10.0.0.999"), SevError, "cm_nodes", 13, "is not an IP address or host name"},
		{"cm_nodes placeholder", replace(" - 10.0.0.2", " - xxx.xxx.xxx.xx1"), SevError, "cm_nodes", 13, "is not an IP address or host name"},
		{"meta host placeholder", replace("oms_meta_host: 10.0.0.9", "oms_meta_host: xxx.xxx.xxx.xxx"), SevError, "oms_meta_host", 1, ""},
		{"no space after colon", replace("cm_region: cn-hangzhou", "cm_region:cn-hangzhou"), SevError, "cm_region", 10, "missing space after the colon"},
		{"tsdb enabled without url", good + "tsdb_enabled: true\n", SevError, "tsdb_url", 0, "required when tsdb_enabled"},
		{"tsdb ceresdb", good + "tsdb_service: 'CERESDB'\n", SevError, "tsdb_service", 16, "only INFLUXDB"},
		{"tsdb other", good + "tsdb_service: PROMETHEUS\n", SevError, "tsdb_service", 16, "not supported"},
		{"masked password", replace(`"s3cret-pass"`, "*********"), SevError, "oms_meta_password", 4, "masked placeholder"},
		{"bad port", replace("oms_meta_port: 3306", "oms_meta_port: 70000"), SevError, "oms_meta_port", 2, "outside 1-65535"},
		{"same db twice", replace("drc_cm_db: oms_cm", "drc_cm_db: oms_rm"), SevError, "drc_cm_db", 6, "also used by drc_rm_db"},
		{"unknown key", good + "cm_regoin: x\n", SevWarning, "cm_regoin", 16, "unknown key"},
		{"tls half", good + "https_key: /x.key\n", SevError, "https_crt", 0, "must be given together"},
		{"node tls half", good + "node_tls_crt: /x.crt\n", SevError, "node_tls_key", 0, "must be given together"},
		{"duplicate key", good + "cm_location: 2\n", SevError, "cm_location", 16, "given twice"},
		{"heartbeat without unit", good + "heartbeat_interval: 1\n", SevError, "heartbeat_interval", 16, "not a duration with a unit"},
		{"heartbeat too fast", good + "heartbeat_interval: 10ms\n", SevError, "heartbeat_interval", 16, "outside [100ms, 30s]"},
		{"down timeout under 3 beats", good + "heartbeat_interval: 2s\nhost_down_timeout: 5s\n", SevError, "host_down_timeout", 17, "outside [3 x heartbeat_interval = 6s"},
		{"down timeout vs default beat", good + "host_down_timeout: 2s\n", SevError, "host_down_timeout", 16, "outside [3 x heartbeat_interval = 3s"},
		{"down timeout too long", good + "host_down_timeout: 1h\n", SevError, "host_down_timeout", 16, "10m0s]"},
		{"metadb tls mode unknown", good + "oms_meta_tls_mode: on\n", SevError, "oms_meta_tls_mode", 16, `"on" is not a TLS mode`},
		{"metadb tls ca without verify", good + "oms_meta_tls_mode: required\noms_meta_tls_ca: /x.pem\n", SevError, "oms_meta_tls_ca", 17, "does not verify certificates"},
		{"metadb tls ca missing", good + "oms_meta_tls_mode: verify-identity\noms_meta_tls_ca: /nonexistent/ca.pem\n", SevWarning, "oms_meta_tls_ca", 17, "not readable here"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := Parse([]byte(tc.text))
			for _, p := range r.Problems {
				if p.Key == tc.key && p.Severity == tc.sev && p.Line == tc.line && strings.Contains(p.Message, tc.msg) {
					if p.Advice == "" {
						t.Fatalf("problem has no advice: %v", p)
					}
					return
				}
			}
			t.Fatalf("want %s on %s line %d containing %q; got %v", tc.sev, tc.key, tc.line, tc.msg, r.Problems)
		})
	}
}

func TestEveryProblemReportedAtOnce(t *testing.T) {
	text := strings.NewReplacer("cm_location: 1", "cm_location: 200", "http://10.0.0.100:8088", "http://10.0.0.100",
		`"s3cret-pass"`, "****").Replace(good)
	r := Parse([]byte(text))
	keys := map[string]bool{}
	for _, p := range r.Errors() {
		keys[p.Key] = true
	}
	for _, k := range []string{"cm_location", "cm_url", "oms_meta_password"} {
		if !keys[k] {
			t.Errorf("missing error for %s in %v", k, r.Problems)
		}
	}
}

func TestPasswordsNeverPrinted(t *testing.T) {
	text := good + "tsdb_enabled: true\ntsdb_url: '10.0.0.9:8086'\ntsdb_username: u\ntsdb_password: 'tsdb-secret'\n"
	r := Parse([]byte(text))
	if !r.OK() {
		t.Fatal(r.Err())
	}
	for _, s := range []string{r.Config.String(), fmt.Sprintf("%v %+v %#v", r.Config, r.Config, r.Config)} {
		if strings.Contains(s, "s3cret-pass") || strings.Contains(s, "tsdb-secret") {
			t.Fatalf("password leaked: %s", s)
		}
	}
}

// TestPasswordNotInAdvice: `oms_meta_password:<pw>` (no space) is reported with advice that
// does not repeat the password (config check prints problems).
func TestPasswordNotInAdvice(t *testing.T) {
	for _, line := range []string{"oms_meta_password:Nospace-s3cret", "tsdb_password:Nospace-s3cret"} {
		text := strings.Replace(good, `oms_meta_password: "s3cret-pass"`, `oms_meta_password: "x"`, 1) + line + "\n"
		r := Parse([]byte(text))
		found := false
		for _, p := range r.Problems {
			if strings.Contains(p.Message, "missing space") {
				found = true
			}
			if strings.Contains(fmt.Sprintf("%s %s %s", p.Key, p.Message, p.Advice), "Nospace-s3cret") {
				t.Errorf("%s: problem shows the password: %+v", line, p)
			}
		}
		if !found {
			t.Errorf("%s: no missing-space problem in %+v", line, r.Problems)
		}
		if err := r.Err(); err != nil && strings.Contains(err.Error(), "Nospace-s3cret") {
			t.Errorf("%s: error shows the password: %v", line, err)
		}
	}
}

func TestDatabaseNames(t *testing.T) {
	cases := []struct {
		prefix     string
		loc        int
		first      bool
		rm, cm, hb string
		err        bool
	}{
		{"oms", 1, true, "oms_rm", "oms_cm", "oms_cm_hb", false},
		{"oms", 2, false, "oms_rm", "oms_cm", "oms_cm_hb_2", false},
		{"prod_oms", 0, false, "prod_oms_rm", "prod_oms_cm", "prod_oms_cm_hb_0", false},
		{"bad-prefix", 1, true, "", "", "", true},
		{"", 1, true, "", "", "", true},
		{"oms", 128, false, "", "", "", true},
	}
	for _, c := range cases {
		rm, cm, hb, err := DatabaseNames(c.prefix, c.loc, c.first)
		if (err != nil) != c.err || rm != c.rm || cm != c.cm || hb != c.hb {
			t.Errorf("DatabaseNames(%q,%d,%v) = %s %s %s %v", c.prefix, c.loc, c.first, rm, cm, hb, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/seed-hangzhou.yaml", "testdata/seed-heilongjiang.yaml"} {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(good))
	f.Add([]byte("cm_nodes: *x\n&a b: c\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := Parse(data)
		_ = r.Config.String()
		for _, p := range r.Problems {
			_ = p.String()
		}
	})
}

func TestCMURLHostPort(t *testing.T) {
	for _, tc := range []struct {
		in      string
		host    string
		port    int
		wantErr bool
	}{
		{"10.0.0.1", "10.0.0.1", 0, false},
		{"http://cm.example:8088/", "cm.example", 8088, false},
		{"https://10.0.0.1:8088", "10.0.0.1", 8088, false},
		{"[::1]", "[::1]", 0, false},
		{"[::1]:8088", "::1", 8088, false},
		{"", "", 0, false},
		{"::1", "", 0, true},
		{"cm:0", "cm", 0, true},
		{"cm:x", "cm", 0, true},
		{"cm:8088/path", "", 0, true},
	} {
		h, p, err := CMURLHostPort(tc.in)
		if (err != nil) != tc.wantErr || h != tc.host || p != tc.port {
			t.Errorf("CMURLHostPort(%q) = %q, %d, %v; want %q, %d, error %v", tc.in, h, p, err, tc.host, tc.port, tc.wantErr)
		}
	}
}

// TestMetaTLSRoundTrip: the MetaDB TLS keys are read, written back by Format and reach the
// connection config; a valid pair is no problem.
func TestMetaTLSRoundTrip(t *testing.T) {
	ca := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(ca, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := Parse([]byte(good + "oms_meta_tls_mode: verify-identity\noms_meta_tls_ca: " + ca + "\n"))
	for _, p := range r.Problems {
		if strings.HasPrefix(p.Key, "oms_meta_tls") {
			t.Fatalf("problem %v", p)
		}
	}
	back := Parse(Format(r.Config)).Config
	if back.MetaTLSMode != "verify-identity" || back.MetaTLSCA != ca {
		t.Fatalf("round trip: %+v", back)
	}
	if tls := back.MetaConn().TLS; tls.Mode != "verify-identity" || tls.CAFile != ca {
		t.Fatalf("MetaConn TLS %+v", tls)
	}
}
