package config

import (
	"fmt"
	"net/url"
	"path/filepath"
)

// Audit sinks: where audit records are exported when audit_enabled is true.
const (
	AuditSinkFile = "file"
	AuditSinkHTTP = "http"
)

// validateAudit checks the audit export keys: only meaningful with audit_enabled: true.
func validateAudit(c *Config, add adder) {
	if !c.AuditEnabled {
		return
	}
	switch c.AuditSink {
	case AuditSinkFile:
		if c.AuditFile == "" || !filepath.IsAbs(c.AuditFile) {
			add(SevError, "audit_file", fmt.Sprintf("%q is not an absolute file path", c.AuditFile), "give the file audit records are appended to, e.g. /home/oms/logs/audit.log")
		}
	case AuditSinkHTTP:
		if msg := CheckHTTPURL(c.AuditHTTPURL); msg != "" {
			add(SevError, "audit_http_url", msg, "give the endpoint audit records are POSTed to, e.g. http://10.0.0.9:8000/audit")
		}
	default:
		add(SevError, "audit_sink", fmt.Sprintf("%q is not a sink", c.AuditSink), "set audit_sink: file (with audit_file) or audit_sink: http (with audit_http_url)")
	}
}

// CheckHTTPURL returns "" for an http(s) URL with a host, else what is wrong.
func CheckHTTPURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Sprintf("%q is not an http:// or https:// URL", s)
	}
	return ""
}
