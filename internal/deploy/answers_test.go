package deploy

import (
	"strings"
	"testing"
)

// Every invalid answer the deployment guide's notes imply, with the message shown before the
// question is asked again.
func TestAnswerChecks(t *testing.T) {
	usedID := map[string]int{"cn-hangzhou": 1}
	usedLoc := map[int]string{1: "cn-hangzhou"}
	other := map[string]string{"10.1.0.1": "cn-hangzhou"}
	cases := []struct {
		name  string
		check Check
		in    string
		want  string // "" = accepted; else a substring of the error
		norm  string // normalised answer when accepted ("" = unchanged)
	}{
		{"host ok", checkHost, "10.0.0.1", "", ""},
		{"host 999", checkHost, "10.0.0.999", `"10.0.0.999" is not a valid IP address (four numbers 0-255`, ""},
		{"host placeholder", checkHost, "xxx.xxx.xxx.xx1", `"xxx.xxx.xxx.xx1" is not a valid IP address`, ""},
		{"host name", checkHost, "meta-1.example.com", "", ""},
		{"nodes 999", checkNodes(nil), "10.0.0.1,10.0.0.999", `"10.0.0.999" is not a valid IP address`, ""},
		{"nodes placeholder", checkNodes(nil), "xxx.xxx.xxx.xx1", "replace the guide's xxx placeholders", ""},
		{"host bad", checkHost, "10.0.0.1:3306", `"10.0.0.1:3306" is not an IP address or host name`, ""},
		{"port bad", checkPort, "0", `"0" is not a port number in 1-65535`, ""},
		{"port text", checkPort, "http", `"http" is not a port number`, ""},
		{"prefix ok", checkPrefix, "oms", "", ""},
		{"prefix dash", checkPrefix, "my-oms", `database name prefix "my-oms": use 1-50 letters, digits, _ or $`, ""},
		{"prefix long", checkPrefix, strings.Repeat("a", 51), "use 1-50 letters", ""},
		{"region ok", checkRegionID(usedID), "cn-heilongjiang", "", ""},
		{"region space", checkRegionID(usedID), "cn hz", `"cn hz" is not a valid region ID`, ""},
		{"region reused", checkRegionID(usedID), "cn-hangzhou", "region cn-hangzhou already exists (cm_location 1)", ""},
		{"location ok", checkLocation(usedLoc), "0", "", ""},
		{"location 127", checkLocation(usedLoc), "127", "", ""},
		{"location 128", checkLocation(usedLoc), "128", `"128" is not a number in [0,127]`, ""},
		{"location negative", checkLocation(usedLoc), "-1", `is not a number in [0,127]`, ""},
		{"location reused", checkLocation(usedLoc), "1", "cm_location 1 is already used by region cn-hangzhou", ""},
		{"cm_url ip", checkCMURL, "10.1.0.100", "", ""},
		{"cm_url ip:port", checkCMURL, "10.1.0.100:8088", "", ""},
		{"cm_url http", checkCMURL, "http://vip.example.com:8088", "", ""},
		{"cm_url https", checkCMURL, "https://10.1.0.100:8088", "the CM service is plain http", ""},
		{"cm_url path", checkCMURL, "http://10.1.0.100:8088/cm", "is not a VIP or domain name", ""},
		{"cm_url bad port", checkCMURL, "10.1.0.100:99999", "is not a VIP or domain name", ""},
		{"cm port not 8088", cmPortCheck, "80", "port 80 is not the CM port 8088", ""},
		{"nodes ok", checkNodes(other), " 10.2.0.1 ,10.2.0.2,", "", "10.2.0.1,10.2.0.2"},
		{"nodes empty", checkNodes(other), " , ", "give at least one node IP", ""},
		{"nodes dup", checkNodes(other), "10.2.0.1,10.2.0.1", "10.2.0.1 is listed twice", ""},
		{"nodes other region", checkNodes(other), "10.1.0.1", "10.1.0.1 is a node of region cn-hangzhou", ""},
		{"nodes bad", checkNodes(other), "10.2.0.1;10.2.0.2", "is not an IP address or host name", ""},
		{"tsdb influx", checkTSDBType, "influxdb", "", "INFLUXDB"},
		{"tsdb ceres", checkTSDBType, "CERESDB", `"CERESDB" is not supported: only INFLUXDB is`, ""},
		{"tsdb url", checkHostPort, "http://10.0.0.9:8086", "", "10.0.0.9:8086"},
		{"tsdb url no port", checkHostPort, "10.0.0.9", `"10.0.0.9" is not host:port`, ""},
		{"sink", checkSink, "HTTP", "", "http"},
		{"sink sls", checkSink, "sls", `"sls" is not a sink`, ""},
		{"abs path", checkAbsPath, "home/oms", `"home/oms" is not an absolute path`, ""},
		{"http url", checkHTTPURL, "ftp://x/y", "is not an http:// or https:// URL", ""},
		{"yes", YesNo, "YES", "", "y"},
		{"yes/no bad", YesNo, "1", `answer y or n, not "1"`, ""},
		{"admin short", checkAdminPassword, "a1", "at least 8 characters", ""},
		{"admin no digit", checkAdminPassword, "abcdefgh", "a letter and a digit", ""},
		{"admin ok", checkAdminPassword, "abcdefg1", "", ""},
		{"file missing", checkReadableFile, "/nonexistent/oms", "cannot read /nonexistent/oms", ""},
		{"file is dir", checkReadableFile, "/tmp", "/tmp is a directory, not a file", ""},
		{"user empty", checkNotEmpty("MetaDB username"), " ", "the MetaDB username must not be empty", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.check(tc.in)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("%q refused: %v", tc.in, err)
				}
				if tc.norm != "" && got != tc.norm {
					t.Fatalf("%q normalised to %q, want %q", tc.in, got, tc.norm)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("%q: want error containing %q, got %v", tc.in, tc.want, err)
			}
		})
	}
}
