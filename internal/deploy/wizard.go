package deploy

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"sort"
	"strconv"
	"strings"

	"github.com/omsdev/oms/internal/config"
)

// WizardOptions are the deployment script's flags and the wizard's collaborators.
type WizardOptions struct {
	InstallDir    string // -o: default installation directory of every node
	ConfigPath    string // -c: config file, cluster file or directory ("" when none)
	HostIP        string // -i: this host's IP; its node is installed without SSH
	Binary        string // -d: the oms binary to install
	BinaryVersion func(path string) string
	OutDir        string // where the wizard writes its config files
	SSHUser       string // defaults offered for remote nodes
	SSHKeyFile    string

	// Probe connects to the MetaDB and returns which configured databases already exist.
	Probe func(ctx context.Context, c config.Config) ([]string, error)
	// Registered reads the regions already registered in the MetaDB (nil: none are).
	Registered func(ctx context.Context, c config.Config) ([]config.Config, error)
	// TSDBProbe checks that the time-series database answers with these credentials (nil: skip).
	TSDBProbe func(ctx context.Context, url, user string, password config.Secret) error
	Deployer  Deployer
	// Fix resumes a `deploy -c` whose file failed the checks: no mode or task question, the file
	// is read and the wizard goes straight to the failing settings.
	Fix bool
}

// Wizard asks the deployment guide's questions in its order, writes the config files and
// deploys region after region through the Deployer.
type Wizard struct {
	p      *Prompter
	opt    WizardOptions
	multi  bool
	prefix string // database-name prefix ("" when names came from a file and were not changed)
	shared config.Config
	// regions holds every region's own keys (cm_*, drc_cm_heartbeat_db); shared keys come from
	// shared. deployed counts how many of them are already deployed.
	regions  []config.Config
	deployed int
	admin    config.Secret
	// registered are the regions the MetaDB already holds (an earlier run deployed them): they
	// are kept in the cluster file and never redeployed, renamed or made non-default here.
	registered []config.Config
	unpacked   []string // folders holding binaries unpacked from packages, removed when Run ends
}

// NewWizard returns a wizard reading answers from p.
func NewWizard(p *Prompter, opt WizardOptions) *Wizard {
	if opt.InstallDir == "" {
		opt.InstallDir = "/home/oms"
	}
	if opt.OutDir == "" {
		opt.OutDir = "."
	}
	if opt.SSHUser == "" {
		opt.SSHUser = "root"
	}
	return &Wizard{p: p, opt: opt}
}

// Regions returns the configs the wizard built, with shared keys filled in.
func (w *Wizard) Regions() []config.Config {
	out := make([]config.Config, len(w.regions))
	for i, r := range w.regions {
		out[i] = w.compose(r)
	}
	return out
}

func (w *Wizard) compose(r config.Config) config.Config {
	c := w.shared
	c.HeartbeatDB, c.CMURL, c.CMLocation, c.CMRegion, c.CMRegionCN = r.HeartbeatDB, r.CMURL, r.CMLocation, r.CMRegion, r.CMRegionCN
	c.CMIsDefault, c.CMNodes = r.CMIsDefault, append([]string(nil), r.CMNodes...)
	c.HTTPSKey, c.HTTPSCrt = r.HTTPSKey, r.HTTPSCrt
	c.GhanaPort, c.ConsolePort, c.CMPort, c.SupervisorPort = r.GhanaPort, r.ConsolePort, r.CMPort, r.SupervisorPort
	for _, p := range []struct {
		v *int
		d int
	}{{&c.GhanaPort, config.DefaultGhanaPort}, {&c.ConsolePort, config.DefaultConsolePort}, {&c.CMPort, config.DefaultCMPort}, {&c.SupervisorPort, config.DefaultSupervisorPort}} {
		if *p.v == 0 {
			*p.v = p.d
		}
	}
	if c.TSDBService == "" {
		c.TSDBService = config.DefaultTSDBService
	}
	return c
}

// Run is the whole deployment procedure.
func (w *Wizard) Run(ctx context.Context) error {
	defer func() {
		for _, d := range w.unpacked {
			os.RemoveAll(d)
		}
	}()
	if w.opt.Fix && w.opt.ConfigPath != "" {
		if err := w.fromFile(ctx); err != nil {
			return err
		}
		return w.afterSettings(ctx)
	}
	mode, err := w.p.Choose("Select a deployment mode:", []string{"Single region", "Multiple regions"})
	if err != nil {
		return err
	}
	w.multi = mode == 1
	for {
		task, err := w.p.Choose("Select a task:", []string{
			"No configuration file: deploy OMS starting from configuration file generation",
			"Use the configuration file given with option -c"})
		if err != nil {
			return err
		}
		if task == 0 {
			if err := w.fresh(ctx); err != nil {
				return err
			}
			break
		}
		if w.opt.ConfigPath == "" {
			w.p.Printf("No configuration file was given with -c. Choose task 1, or run again with -c <file or directory>.\n")
			continue
		}
		if err := w.fromFile(ctx); err != nil {
			return err
		}
		break
	}
	return w.afterSettings(ctx)
}

// afterSettings is the procedure once the settings are known: check, admin password, files,
// deployment region after region, and further regions.
func (w *Wizard) afterSettings(ctx context.Context) error {
	if err := w.finalCheck(ctx); err != nil {
		return err
	}
	if err := w.adminPassword(); err != nil {
		return err
	}
	if err := w.write(); err != nil {
		return err
	}
	for w.deployed < len(w.regions) {
		if err := w.deployRegion(ctx, w.deployed); err != nil {
			return err
		}
		w.deployed++
	}
	for w.multi {
		var names []string
		for _, r := range w.regions {
			names = append(names, r.CMRegion)
		}
		more, err := w.p.Confirm(fmt.Sprintf("OMS has been deployed in regions [%s]. Deploy OMS in a new region?", strings.Join(names, ",")))
		if err != nil {
			return err
		}
		if !more {
			break
		}
		w.regions = append(w.regions, config.Config{})
		if err := w.clusterSection(ctx, len(w.regions)-1, true); err != nil {
			return err
		}
		if err := w.write(); err != nil {
			return err
		}
		if err := w.deployRegion(ctx, w.deployed); err != nil {
			return err
		}
		w.deployed++
	}
	w.p.Printf("Deployment finished. Config files are in %s.\n", w.opt.OutDir)
	return nil
}

// fresh: the procedure without a configuration file.
func (w *Wizard) fresh(ctx context.Context) error {
	w.shared.TSDBService = config.DefaultTSDBService
	w.regions = []config.Config{{}}
	if err := w.metaSection(ctx); err != nil {
		return err
	}
	last := len(w.regions) - 1
	if err := w.clusterSection(ctx, last, last > 0); err != nil {
		return err
	}
	if err := w.tsdbSection(ctx); err != nil {
		return err
	}
	return w.auditSection()
}

// fromFile: the procedure with a configuration file (-c).
func (w *Wizard) fromFile(ctx context.Context) error {
	cl, err := config.LoadCluster(w.opt.ConfigPath)
	if err != nil {
		return err
	}
	cs := cl.Configs()
	if len(cs) > 1 && !w.multi {
		w.p.Printf("%s holds %d regions: deploying in multiple-regions mode.\n", w.opt.ConfigPath, len(cs))
		w.multi = true
	}
	w.shared = cs[0]
	w.regions = cs
	w.prefix = prefixOf(w.shared.RMDB)
	if w.prefix != "" && w.shared.CMDB != w.prefix+"_cm" {
		w.prefix = ""
	}
	for _, p := range cl.Problems() {
		w.p.Printf("%s\n", p)
	}
	if cl.OK() {
		if err := w.existingQuestion(ctx); errors.Is(err, errRedo) {
			return w.metaSection(ctx)
		} else if err != nil {
			return err
		}
		return w.loadRegistered(ctx)
	}
	return nil // finalCheck shows the failing settings and asks to modify them
}

// clusterSection asks region i's settings. A new region (after a deployment) is never the
// default; existing names and IDs are shown so none is reused.
func (w *Wizard) clusterSection(ctx context.Context, i int, isNew bool) error {
	usedID, usedLoc, otherNodes, usedURL := map[string]int{}, map[int]string{}, map[string]string{}, map[string]string{}
	for j, r := range w.regions {
		if j == i {
			continue
		}
		usedID[r.CMRegion] = r.CMLocation
		usedLoc[r.CMLocation] = r.CMRegion
		if h, p, err := splitCMURL(r.CMURL); err == nil {
			usedURL[fmt.Sprintf("%s:%d", strings.ToLower(h), p)] = r.CMRegion
		}
		for _, n := range r.CMNodes {
			otherNodes[n] = r.CMRegion
		}
	}
	if len(usedID) > 0 {
		var ex []string
		for id, loc := range usedID {
			ex = append(ex, fmt.Sprintf("%s (cm_location %d)", id, loc))
		}
		sort.Strings(ex)
		w.p.Printf("Existing regions: %s. Do not reuse their names or IDs.\n", strings.Join(ex, ", "))
	}
	for {
		r := w.regions[i]
		region, err := w.p.Ask("Region ID (cm_region), for example cn-hangzhou", r.CMRegion, checkRegionID(usedID))
		if err != nil {
			return err
		}
		cnDef := r.CMRegionCN
		if cnDef == "" || cnDef == r.CMRegion {
			cnDef = region // follows the region ID unless it was set to something else
		}
		cn, err := w.p.Ask("cm_region_cn (the same as the region ID)", cnDef, checkRegionID(nil))
		if err != nil {
			return err
		}
		if cn != region {
			w.p.Printf("  warning: cm_region_cn %s differs from cm_region %s; the deployment guide sets them equal.\n", cn, region)
		}
		askURLNodes := func() error {
			u, err := w.p.Ask("CM service URL: the VIP or domain name of all CM servers in the region (http:// optional; IP:port, or IP only)", r.CMURL, checkCMURL)
			if err != nil {
				return err
			}
			host, port, _ := splitCMURL(u)
			if port == 0 {
				ps, err := w.p.Ask("CM service port", strconv.Itoa(config.DefaultCMPort), cmPortCheck)
				if err != nil {
					return err
				}
				port, _ = strconv.Atoi(ps)
			} else if _, err := cmPortCheck(strconv.Itoa(port)); err != nil {
				w.p.Printf("  invalid: %v. Please enter it again.\n", err)
				return errRedo
			}
			if other, ok := usedURL[fmt.Sprintf("%s:%d", strings.ToLower(host), port)]; ok {
				w.p.Printf("  invalid: %s:%d is the CM URL of region %s; each region needs its own VIP. Please enter it again.\n", host, port, other)
				return errRedo
			}
			r.CMURL = fmt.Sprintf("http://%s:%d", host, port)
			nodes, err := w.p.Ask("IP addresses of all servers in the region, separated by commas", strings.Join(r.CMNodes, ","), checkNodes(otherNodes))
			if err != nil {
				return err
			}
			r.CMNodes = strings.Split(nodes, ",")
			return nil
		}
		askLoc := func() error {
			loc, err := w.p.Ask(fmt.Sprintf("Region code cm_location of this region, in [0,%d]", config.MaxCMLocation), itoaOr(r.CMLocation, itoaOr(i+1, "1")), checkLocation(usedLoc))
			if err != nil {
				return err
			}
			r.CMLocation, _ = strconv.Atoi(loc)
			return nil
		}
		askHB := func() error {
			def := r.HeartbeatDB
			if def == "" || r.CMLocation != w.regions[i].CMLocation || w.heartbeatsExcept(i)[def] != "" {
				saved := w.regions[i]
				w.regions[i].CMLocation, w.regions[i].HeartbeatDB = r.CMLocation, ""
				w.deriveHeartbeat(i) // the next free name for this cm_location
				def = w.regions[i].HeartbeatDB
				w.regions[i] = saved
			}
			hb, err := w.p.Ask("Heartbeat database of this region (drc_cm_heartbeat_db)", def, checkHeartbeatDB(w.heartbeatsExcept(i)))
			if err != nil {
				return err
			}
			r.HeartbeatDB = hb
			return nil
		}
		steps := []func() error{askURLNodes, askLoc, askHB} // the guide's order for the first region
		if isNew {
			steps = []func() error{askLoc, askURLNodes, askHB} // the guide's order for a new region
		}
		for _, st := range steps {
			for {
				err := st()
				if errors.Is(err, errRedo) {
					continue
				}
				if err != nil {
					return err
				}
				break
			}
		}
		r.CMRegion, r.CMRegionCN = region, cn
		if !w.multi {
			r.CMIsDefault = true
		} else {
			other := w.otherDefault(i)
			def, err := w.p.Ask("Access this region preferentially (cm_is_default)? Only one region may be the default (y/n)", map[bool]string{true: "n", false: "y"}[other != ""], func(s string) (string, error) {
				a, err := YesNo(s)
				switch {
				case err != nil:
					return "", err
				case a == "y" && other != "":
					return "", fmt.Errorf("region %s is already the default region; only one region may be: answer n", other)
				case a == "n" && other == "":
					return "", fmt.Errorf("exactly one region must be the default and no other region is: answer y")
				}
				return a, nil
			})
			if err != nil {
				return err
			}
			r.CMIsDefault = def == "y"
		}
		w.regions[i] = r
		w.p.Printf("\nOMS cluster settings of region %s:\n  cm_region: %s\n  cm_region_cn: %s\n  cm_url: %s\n  cm_nodes: %s\n  cm_location: %d\n  cm_is_default: %t\n  drc_cm_heartbeat_db: %s\n",
			r.CMRegion, r.CMRegion, r.CMRegionCN, r.CMURL, strings.Join(r.CMNodes, ", "), r.CMLocation, r.CMIsDefault, r.HeartbeatDB)
		ok, err := w.p.Confirm("Are the OMS cluster settings correct?")
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
	}
}

// otherDefault names the default region when it is not region i ("" when none is).
func (w *Wizard) otherDefault(i int) string {
	for j, r := range w.regions {
		if j != i && r.CMIsDefault {
			return r.CMRegion
		}
	}
	for _, r := range w.registered {
		if r.CMIsDefault && r.CMRegion != w.regions[i].CMRegion {
			return r.CMRegion
		}
	}
	return ""
}

func cmPortCheck(s string) (string, error) {
	if s != strconv.Itoa(config.DefaultCMPort) {
		return "", fmt.Errorf("port %s is not the CM port %d: the VIP must map port %d to the CM servers", s, config.DefaultCMPort, config.DefaultCMPort)
	}
	return s, nil
}

func (w *Wizard) tsdbSection(ctx context.Context) error {
	s := &w.shared
	url, user := s.TSDBURL, s.TSDBUsername // what was typed is proposed again after a failed check
	for {
		mon, err := w.p.Confirm("Monitor historical data of OMS (needs a time-series database)?")
		if err != nil {
			return err
		}
		if !mon {
			s.TSDBEnabled = false
			w.p.Printf("OMS will not monitor historical data.\n")
			return nil
		}
		have, err := w.p.Confirm("Have you deployed a time-series database?")
		if err != nil {
			return err
		}
		if !have {
			s.TSDBEnabled = false
			w.p.Printf("OMS will not monitor historical data; deploy InfluxDB and run `oms config set tsdb_enabled true` later.\n")
			return nil
		}
		typ, err := w.p.Ask("Type of the time-series database (only INFLUXDB is supported)", "INFLUXDB", checkTSDBType)
		if err != nil {
			return err
		}
		if url, err = w.p.Ask("URL of the time-series database (host:port)", url, checkHostPort); err != nil {
			return err
		}
		if user, err = w.p.Ask("Username of the time-series database", user, checkNotEmpty("username")); err != nil {
			return err
		}
		pw, err := w.p.Secret("Password of the time-series database", checkNotEmpty("password"))
		if err != nil {
			return err
		}
		if w.opt.TSDBProbe != nil {
			if err := w.opt.TSDBProbe(ctx, url, user, config.Secret(pw)); err != nil {
				w.p.Printf("The time-series database does not answer with these settings: %v\n", err)
				continue
			}
		}
		w.p.Printf("\nTime-series database settings:\n  tsdb_enabled: true\n  tsdb_service: %s\n  tsdb_url: %s\n  tsdb_username: %s\n  tsdb_password: %s\n", typ, url, user, config.Masked)
		ok, err := w.p.Confirm("Are the time-series database settings correct?")
		if err != nil {
			return err
		}
		if ok {
			s.TSDBEnabled, s.TSDBService, s.TSDBURL, s.TSDBUsername, s.TSDBPassword = true, typ, url, user, config.Secret(pw)
			return nil
		}
	}
}

func (w *Wizard) auditSection() error {
	s := &w.shared
	for {
		on, err := w.p.Confirm("Enable the audit log feature and export audit records to an external sink?")
		if err != nil {
			return err
		}
		if !on {
			s.AuditEnabled, s.AuditSink, s.AuditFile, s.AuditHTTPURL = false, "", "", ""
			w.p.Printf("Audit records stay in the MetaDB only.\n")
			return nil
		}
		sink, err := w.p.Ask("Audit sink: file or http", orDefault(s.AuditSink, config.AuditSinkFile), checkSink)
		if err != nil {
			return err
		}
		var file, url string
		if sink == config.AuditSinkFile {
			file, err = w.p.Ask("Audit file on each node (absolute path)", orDefault(s.AuditFile, defaultAuditFile(w.opt.InstallDir)), checkAbsPath)
		} else {
			url, err = w.p.Ask("Audit HTTP endpoint (records are POSTed as JSON)", s.AuditHTTPURL, checkHTTPURL)
		}
		if err != nil {
			return err
		}
		w.p.Printf("\nAudit settings:\n  audit_enabled: true\n  audit_sink: %s\n", sink)
		if file != "" {
			w.p.Printf("  audit_file: %s\n", file)
		} else {
			w.p.Printf("  audit_http_url: %s\n", url)
		}
		ok, err := w.p.Confirm("Are the audit settings correct?")
		if err != nil {
			return err
		}
		if ok {
			s.AuditEnabled, s.AuditSink, s.AuditFile, s.AuditHTTPURL = true, sink, file, url
			return nil
		}
	}
}

// defaultAuditFile is <install>/logs/audit.log; an installation directory with {ip} (nodes
// sharing one filesystem) gives the directory without it: audit_file is one path for all nodes.
func defaultAuditFile(installDir string) string {
	return path.Join(path.Clean(strings.ReplaceAll(installDir, "{ip}", "")), "logs", "audit.log")
}

// finalCheck checks the generated config with the file rules and the cross-region rules, shows
// every setting and asks "Modify any setting?"; failing settings must be modified.
func (w *Wizard) finalCheck(ctx context.Context) error {
	for {
		cs := w.Regions()
		probs := w.problems(cs)
		w.p.Printf("\nAll settings:\n")
		for _, c := range cs {
			w.p.Printf("--- region %s\n%s", c.CMRegion, c.String())
		}
		if len(probs) > 0 {
			var lines []string
			for _, p := range probs {
				lines = append(lines, p.text)
			}
			w.p.Printf("\nThe configuration fails the check:\n  %s\nModify the settings as prompted.\n", strings.Join(lines, "\n  "))
			// Resume at the first offending question's section.
			if err := w.askSection(ctx, probs[0].section, probs[0].region); err != nil {
				return err
			}
			continue
		}
		mod, err := w.p.Confirm("Modify any setting?")
		if err != nil {
			return err
		}
		if !mod {
			return nil
		}
		if err := w.modify(ctx); err != nil {
			return err
		}
	}
}

// Sections of the wizard, for resuming at the question a failing setting comes from.
const (
	sectionMeta = iota
	sectionCluster
	sectionTSDB
	sectionAudit
	sectionChoose // no single section: let the operator choose
)

// wizardProblem is a failing setting told as the question that sets it.
type wizardProblem struct {
	section, region int
	text            string
}

// questionOf names the wizard question (and its section) that sets key.
func questionOf(key string) (string, int) {
	q := map[string]string{
		"oms_meta_host": "MetaDB URL", "oms_meta_port": "MetaDB port", "oms_meta_user": "MetaDB username",
		"oms_meta_password": "MetaDB password", "drc_rm_db": "Prefix for the names of the databases",
		"drc_cm_db": "Prefix for the names of the databases", "drc_cm_heartbeat_db": "Heartbeat database of this region",
		"cm_region": "Region ID", "cm_region_cn": "cm_region_cn", "cm_url": "CM service URL",
		"cm_nodes": "IP addresses of all servers in the region", "cm_location": "Region code cm_location",
		"cm_is_default": "Access this region preferentially (cm_is_default)",
		"https_key":     "https_key file", "https_crt": "https_crt file",
	}[key]
	switch {
	case strings.HasPrefix(key, "oms_meta_") || key == "drc_rm_db" || key == "drc_cm_db":
		return q, sectionMeta
	case strings.HasPrefix(key, "cm_") || key == "drc_cm_heartbeat_db":
		return q, sectionCluster
	case strings.HasPrefix(key, "tsdb_"):
		return "Time-series database settings (" + key + ")", sectionTSDB
	case strings.HasPrefix(key, "audit_"):
		return "Audit settings (" + key + ")", sectionAudit
	}
	if q == "" {
		q = key
	}
	return q, sectionChoose
}

// problems checks the settings with the file rules, the cross-region rules and the registered
// regions, and tells each failure by the question it comes from, not by a line of a file the
// operator never sees.
func (w *Wizard) problems(cs []config.Config) []wizardProblem {
	cl := config.ParseCluster(config.FormatCluster(cs), "generated")
	var out []wizardProblem
	for _, p := range cl.Problems() {
		if p.Severity != config.SevError {
			continue
		}
		region := 0
		if _, n, ok := strings.Cut(p.Source, "#"); ok {
			region, _ = strconv.Atoi(n)
			region--
		}
		q, sec := questionOf(p.Key)
		where := ""
		if sec == sectionCluster && region < len(cs) {
			where = " (region " + orDefault(cs[region].CMRegion, "(new)") + ")"
		}
		text := fmt.Sprintf("%s%s: %s", q, where, p.Message)
		if p.Advice != "" {
			text += "; " + p.Advice
		}
		out = append(out, wizardProblem{section: sec, region: region, text: text})
	}
	for i, c := range cs {
		if !w.isRegistered(i) {
			if err := RegionConflict(w.registered, c); err != nil {
				out = append(out, wizardProblem{section: sectionCluster, region: i, text: fmt.Sprintf("OMS cluster settings of region %s: %v", c.CMRegion, err)})
			}
		}
	}
	if w.opt.HostIP != "" && !w.hasNode(w.opt.HostIP) {
		out = append(out, wizardProblem{section: sectionCluster, region: 0, text: fmt.Sprintf("IP addresses of all servers in the region: this host's IP %s (-i) is not one of them in any region: add it, or run without -i to install every node over SSH", w.opt.HostIP)})
	}
	return out
}

// askSection asks a section again: the one a failing setting comes from.
func (w *Wizard) askSection(ctx context.Context, section, region int) error {
	switch {
	case section == sectionMeta:
		return w.metaSection(ctx)
	case section == sectionCluster && region < len(w.regions) && !w.isRegistered(region):
		return w.clusterSection(ctx, region, region >= w.deployed && region > 0)
	case section == sectionTSDB:
		return w.tsdbSection(ctx)
	case section == sectionAudit:
		return w.auditSection()
	}
	return w.modify(ctx)
}

func (w *Wizard) hasNode(ip string) bool {
	for _, r := range w.regions {
		for _, n := range r.CMNodes {
			if n == ip {
				return true
			}
		}
	}
	return false
}

func (w *Wizard) modify(ctx context.Context) error {
	opts := []string{"MetaDB settings"}
	var regionOf []int // option index-1 -> region index (registered regions are not modified here)
	for i, r := range w.regions {
		if !w.isRegistered(i) {
			opts = append(opts, "OMS cluster settings of region "+orDefault(r.CMRegion, "(new)"))
			regionOf = append(regionOf, i)
		}
	}
	opts = append(opts, "Time-series database settings", "Audit settings")
	k, err := w.p.Choose("Which settings do you want to modify?", opts)
	if err != nil {
		return err
	}
	switch {
	case k == 0:
		return w.metaSection(ctx)
	case k <= len(regionOf):
		i := regionOf[k-1]
		return w.clusterSection(ctx, i, i >= w.deployed && i > 0)
	case k == len(regionOf)+1:
		return w.tsdbSection(ctx)
	default:
		return w.auditSection()
	}
}

func itoaOr(n int, def string) string {
	if n == 0 {
		return def
	}
	return strconv.Itoa(n)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
