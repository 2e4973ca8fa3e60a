package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"sort"
	"strings"
)

// The web console: static ES modules, HTML and CSS embedded in the binary (no build step, no CDN).
// Asset URLs carry a hash of all the assets (/static/<hash>/app.js), so a new binary's assets
// have new URLs and browsers never run an old script against a new API.
//
//go:embed ui
var uiFS embed.FS

type assets struct {
	version string
	files   map[string][]byte // path under ui/ -> content
	index   []byte            // index.html with the version filled in
}

// versionPlaceholder in index.html is replaced by the assets' hash.
const versionPlaceholder = "{{VERSION}}"

func loadAssets() *assets {
	a := &assets{files: map[string][]byte{}}
	var names []string
	_ = fs.WalkDir(uiFS, "ui", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return err
	})
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		b, _ := uiFS.ReadFile(n)
		rel := strings.TrimPrefix(n, "ui/")
		a.files[rel] = b
		h.Write([]byte(rel + "\x00"))
		h.Write(b)
	}
	a.version = hex.EncodeToString(h.Sum(nil))[:16]
	a.index = bytes.ReplaceAll(a.files["index.html"], []byte(versionPlaceholder), []byte(a.version))
	return a
}

// securityHeaders: only this origin's scripts, styles and API; no framing.
func securityHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
}

func (s *Server) serveUI(mux *http.ServeMux) {
	a := s.assets
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		securityHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		_, _ = w.Write(a.index)
	})
	mux.HandleFunc("GET /static/{version}/{file...}", func(w http.ResponseWriter, r *http.Request) {
		name := r.PathValue("file")
		b, ok := a.files[name]
		if !ok || name == "index.html" {
			http.NotFound(w, r)
			return
		}
		securityHeaders(w)
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		w.Header().Set("Content-Type", ct)
		if r.PathValue("version") == a.version {
			w.Header().Set("Cache-Control", "public, max-age=31536000, immutable")
		} else {
			// A page of an older binary asks for its assets: serve today's, uncached.
			w.Header().Set("Cache-Control", "no-cache")
		}
		_, _ = w.Write(b)
	})
}
