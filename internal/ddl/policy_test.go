package ddl

import "testing"

func TestCompilePolicies(t *testing.T) {
	for _, c := range []struct {
		name    string
		strict  bool
		cfg     map[string]string
		skipAll bool
		want    map[string]string // classes checked
		err     bool
	}{
		{name: "defaults", want: map[string]string{ClassTable: PolicyApply, ClassTrigger: PolicySkip}},
		{name: "override", cfg: map[string]string{ClassTable: PolicyStop}, want: map[string]string{ClassTable: PolicyStop, ClassIndex: PolicyApply}},
		{name: "skip all", cfg: map[string]string{ClassTable: PolicyStop}, skipAll: true, want: map[string]string{ClassTable: PolicySkip, ClassView: PolicySkip}},
		{name: "unknown class", cfg: map[string]string{"tables": PolicyApply}, err: true},
		{name: "unknown action", cfg: map[string]string{ClassTable: "drop"}, err: true},
		{name: "stop default", strict: true, want: map[string]string{ClassTable: PolicyStop, ClassTrigger: PolicyStop, ClassIndex: PolicyStop}},
		{name: "stop over", strict: true, cfg: map[string]string{ClassIndex: PolicyApply, ClassTable: PolicySkip},
			want: map[string]string{ClassIndex: PolicyApply, ClassTable: PolicySkip, ClassView: PolicyStop}},
		{name: "stop unknown", strict: true, cfg: map[string]string{"idx": PolicyApply}, err: true},
	} {
		var p Policy
		var err error
		if c.strict {
			p, err = CompileStopPolicy(c.cfg)
		} else {
			p, err = CompilePolicy(c.cfg, c.skipAll)
		}
		if (err != nil) != c.err {
			t.Errorf("%s: error %v, want error %v", c.name, err, c.err)
			continue
		}
		if err == nil && len(p) != len(DefaultPolicy) {
			t.Errorf("%s: %d classes, want %d", c.name, len(p), len(DefaultPolicy))
		}
		for cl, a := range c.want {
			if p[cl] != a {
				t.Errorf("%s: %s is %q, want %q", c.name, cl, p[cl], a)
			}
		}
	}
}
