package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// region returns a valid region document; edits replace `key: value` lines.
func regionDoc(loc int, name, hb, vip string, def bool, nodes ...string) string {
	var b strings.Builder
	b.WriteString("oms_meta_host: 10.0.0.1\noms_meta_port: 3306\noms_meta_user: oms\noms_meta_password: 'pw'\n")
	b.WriteString("drc_rm_db: oms_rm\ndrc_cm_db: oms_cm\ndrc_cm_heartbeat_db: " + hb + "\n")
	b.WriteString("cm_url: http://" + vip + ":8088\n")
	b.WriteString("cm_location: " + itoa(loc) + "\ncm_region: " + name + "\ncm_region_cn: " + name + "\n")
	if def {
		b.WriteString("cm_is_default: true\n")
	} else {
		b.WriteString("cm_is_default: false\n")
	}
	b.WriteString("cm_nodes:\n")
	for _, n := range nodes {
		b.WriteString(" - " + n + "\n")
	}
	return b.String()
}

func itoa(n int) string { return strconv.Itoa(n) }

func TestClusterRules(t *testing.T) {
	hz := regionDoc(1, "cn-hangzhou", "oms_cm_hb", "10.1.0.100", true, "10.1.0.1", "10.1.0.2")
	hl := regionDoc(2, "cn-heilongjiang", "oms_cm_hb_2", "10.2.0.100", false, "10.2.0.1", "10.2.0.2")
	cases := []struct {
		name string
		text string
		want []string // substrings of error problems; none means OK
	}{
		{"valid pair", hz + "---\n" + hl, nil},
		{"one region", hz, nil},
		{"two defaults", hz + "---\n" + strings.Replace(hl, "cm_is_default: false", "cm_is_default: true", 1),
			[]string{"cm_is_default is true in 2 regions"}},
		{"default left out counts as true", hz + "---\n" + strings.Replace(hl, "cm_is_default: false\n", "", 1),
			[]string{"it defaults to true when the key is left out"}},
		{"no default", strings.Replace(hz, "cm_is_default: true", "cm_is_default: false", 1) + "---\n" + hl,
			[]string{"no region has cm_is_default: true"}},
		{"same cm_location", hz + "---\n" + strings.Replace(hl, "cm_location: 2", "cm_location: 1", 1),
			[]string{`cm_location, line 25: "1" is also used by region`}},
		{"same region", hz + "---\n" + strings.ReplaceAll(hl, "cn-heilongjiang", "cn-hangzhou"),
			[]string{`cm_region, line 26: "cn-hangzhou" is also used by region`}},
		{"same heartbeat db", hz + "---\n" + strings.Replace(hl, "oms_cm_hb_2", "oms_cm_hb", 1),
			[]string{`drc_cm_heartbeat_db, line 23: "oms_cm_hb" is also used`}},
		{"same cm_url (http:// optional)", hz + "---\n" + strings.Replace(hl, "http://10.2.0.100:8088", "10.1.0.100:8088", 1),
			[]string{`cm_url, line 24: "10.1.0.100:8088" is also used`}},
		{"node in two regions", hz + "---\n" + strings.Replace(hl, "10.2.0.2", "10.1.0.2", 1),
			[]string{"node 10.1.0.2 is also listed in region"}},
		{"different metadb", hz + "---\n" + strings.Replace(hl, "oms_meta_host: 10.0.0.1", "oms_meta_host: 10.0.0.2", 1),
			[]string{`oms_meta_host, line 17: "10.0.0.2" differs from "10.0.0.1"`}},
		{"different password masked", hz + "---\n" + strings.Replace(hl, "'pw'", "'other'", 1),
			[]string{"oms_meta_password, line 20: differs from the value in"}},
		{"different rm db", hz + "---\n" + strings.Replace(hl, "drc_rm_db: oms_rm", "drc_rm_db: oms_rm2", 1),
			[]string{`drc_rm_db, line 21: "oms_rm2" differs`}},
		{"different tsdb", hz + "tsdb_enabled: true\ntsdb_url: '10.0.0.9:8086'\ntsdb_username: u\ntsdb_password: 'p'\n---\n" + hl,
			[]string{`tsdb_enabled`, `tsdb_url`}},
		{"heartbeat db is the cm db", hz + "---\n" + strings.Replace(hl, "oms_cm_hb_2", "oms_cm", 1),
			[]string{"is the rm or cm database of region"}},
		{"region problem located in its document", hz + "---\n" + strings.Replace(hl, "cm_location: 2", "cm_location: 200", 1),
			[]string{"test.yaml#2: error: cm_location, line 25: 200 is outside [0,127]"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ParseCluster([]byte(tc.text), "test.yaml")
			var errs []string
			for _, p := range c.Problems() {
				if p.Severity == SevError {
					errs = append(errs, p.String())
				}
			}
			all := strings.Join(errs, "\n")
			if len(tc.want) == 0 && len(errs) > 0 {
				t.Fatalf("want OK, got:\n%s", all)
			}
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("want a problem containing %q, got:\n%s", w, all)
				}
			}
			if len(tc.want) > 0 && c.OK() {
				t.Fatal("OK() true with errors")
			}
		})
	}
}

// The seed's two sample files as they are (masked passwords, the same placeholder VIP and node
// IPs in both) are refused with every problem; with real values filled in they deploy as a pair.
func TestSeedSamplesAsAPair(t *testing.T) {
	hz, _ := os.ReadFile("testdata/seed-hangzhou.yaml")
	hl, _ := os.ReadFile("testdata/seed-heilongjiang.yaml")
	c := ParseCluster([]byte(string(hz)+"---\n"+string(hl)), "seed.yaml")
	all := c.Err()
	if all == nil {
		t.Fatal("seed samples as-is must fail")
	}
	for _, w := range []string{"masked placeholder", `cm_url, line 29: "vip:8088" is also used`, "node xxx.xxx.xxx.xx1 is also listed"} {
		if !strings.Contains(all.Error(), w) {
			t.Errorf("want %q in:\n%v", w, all)
		}
	}
	fill := strings.NewReplacer("xxx.xxx.xxx.xxx", "10.0.0.1", "*************", "'tsdbpw'", "***********", "'metapw'", "*********", "'metapw'")
	hzF := strings.NewReplacer("VIP", "10.1.0.100", "xxx.xxx.xxx.xx1", "10.1.0.1", "xxx.xxx.xxx.xx2", "10.1.0.2").Replace(fill.Replace(string(hz)))
	hlF := strings.NewReplacer("VIP", "10.2.0.100", "xxx.xxx.xxx.xx1", "10.2.0.1", "xxx.xxx.xxx.xx2", "10.2.0.2").Replace(fill.Replace(string(hl)))
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "1-hangzhou.yaml"), []byte(hzF), 0o600)
	os.WriteFile(filepath.Join(dir, "2-heilongjiang.yaml"), []byte(hlF), 0o600)
	c, err := LoadCluster(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Err(); err != nil {
		t.Fatalf("filled-in seed samples: %v", err)
	}
	cs := c.Configs()
	if len(cs) != 2 || cs[0].CMRegion != "cn-hangzhou" || cs[1].HeartbeatDB != "oms_cm_heartbeat_1" {
		t.Fatalf("configs: %+v", cs)
	}
}

func TestFormatRoundTrip(t *testing.T) {
	c := Config{MetaHost: "10.0.0.1", MetaPort: 3306, MetaUser: "oms", MetaPassword: "*we:ird #pw",
		RMDB: "oms_rm", CMDB: "oms_cm", HeartbeatDB: "oms_cm_hb", CMURL: "http://10.1.0.100:8088",
		CMLocation: 1, CMRegion: "cn-hangzhou", CMRegionCN: "cn-hangzhou", CMIsDefault: true,
		CMNodes: []string{"10.1.0.1", "10.1.0.2"}, TSDBEnabled: true, TSDBService: "INFLUXDB",
		TSDBURL: "10.0.0.9:8086", TSDBUsername: "admin", TSDBPassword: "123",
		AuditEnabled: true, AuditSink: "http", AuditHTTPURL: "http://10.0.0.9:9/audit"}
	r := Parse(Format(c))
	if !r.OK() {
		t.Fatalf("problems: %v\n%s", r.Problems, Format(c))
	}
	got := r.Config
	if got.MetaPassword.Reveal() != "*we:ird #pw" || got.TSDBPassword.Reveal() != "123" || got.AuditHTTPURL != c.AuditHTTPURL ||
		len(got.CMNodes) != 2 || got.CMURL != c.CMURL || !got.CMIsDefault {
		t.Fatalf("round trip: %+v", got)
	}
	cl := ParseCluster(FormatCluster([]Config{c, c}), "x")
	if len(cl.Regions) != 2 {
		t.Fatalf("cluster regions: %d", len(cl.Regions))
	}
}

func TestAuditKeys(t *testing.T) {
	base := regionDoc(1, "cn-hangzhou", "oms_cm_hb", "10.1.0.100", true, "10.1.0.1")
	cases := []struct{ add, want string }{
		{"audit_enabled: true\naudit_sink: file\naudit_file: /var/log/oms-audit.log\n", ""},
		{"audit_enabled: true\naudit_sink: http\naudit_http_url: http://10.0.0.9/audit\n", ""},
		{"audit_enabled: true\naudit_sink: sls\n", `"sls" is not a sink`},
		{"audit_enabled: true\naudit_sink: file\naudit_file: audit.log\n", "is not an absolute file path"},
		{"audit_enabled: true\naudit_sink: http\naudit_http_url: 10.0.0.9/audit\n", "is not an http:// or https:// URL"},
		{"audit_sink: nonsense\n", ""}, // ignored while audit is off
	}
	for _, tc := range cases {
		r := Parse([]byte(base + tc.add))
		err := r.Err()
		if tc.want == "" && err != nil {
			t.Errorf("%q: %v", tc.add, err)
		}
		if tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%q: want %q, got %v", tc.add, tc.want, err)
		}
	}
}
