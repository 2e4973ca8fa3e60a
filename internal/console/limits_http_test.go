package console_test

import (
	"context"
	"strings"
	"testing"

	"github.com/omsdev/oms/api"
	"github.com/omsdev/oms/internal/omserr"
)

// TestFieldTooLong: a value longer than the MetaDB column it is stored in is a 400 naming the
// field and the limit (the server's "Data too long" was a 500), and nothing is written.
func TestFieldTooLong(t *testing.T) {
	f := newFixture(t)
	f.con.SetAlerts(nil) // the alert actions; a refused request never reaches the notifier
	ctx := context.Background()
	ds := api.CreateMysqlDataSourceRequest{Name: "ok", Host: "127.0.0.1", Port: f.inst.Port, UserName: "root"}
	long := func(n int) string { return strings.Repeat("é", n) }
	for _, tc := range []struct {
		name, want string
		call       func() error
	}{
		{"data source name", "name is 129 characters long; at most 128", func() error {
			r := ds
			r.Name = long(129)
			_, err := f.cli.CreateMysqlDataSource(ctx, r)
			return err
		}},
		{"data source password (sealed into VARBINARY(1024))", "password is 997 bytes long; at most 996", func() error {
			r := ds
			r.Password = strings.Repeat("p", 997)
			_, err := f.cli.CreateMysqlDataSource(ctx, r)
			return err
		}},
		{"data source description", "description is 1025 characters long; at most 1024", func() error {
			r := ds
			r.Description = long(1025)
			_, err := f.cli.CreateMysqlDataSource(ctx, r)
			return err
		}},
		{"project name", "name is 129 characters long; at most 128", func() error {
			_, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: long(129), SourceEndpointID: "a", SinkEndpointID: "b",
				TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "d"}}}})
			return err
		}},
		{"nested table rule", "transferMapping.tables[1].renameDb is 65 characters long; at most 64", func() error {
			_, err := f.cli.CreateProject(ctx, api.CreateProjectRequest{Name: "p", SourceEndpointID: "a", SinkEndpointID: "b",
				TransferMapping: api.TransferMapping{Tables: []api.TableRule{{DB: "d"}, {DB: "e", RenameDB: long(65)}}}})
			return err
		}},
		{"user name", "userName is 65 characters long; at most 64", func() error {
			_, err := f.cli.CreateUser(ctx, api.CreateUserRequest{UserName: long(65), Password: "long-enough", Role: api.RoleViewer})
			return err
		}},
		{"project id", "id is 65 characters long; at most 64", func() error { return f.cli.StartProject(ctx, long(65)) }},
		{"alert channel name", "name is 65 characters long; at most 64", func() error {
			return f.cli.SetAlertChannel(ctx, api.AlertChannel{Name: long(65), Kind: "webhook", URL: "http://127.0.0.1:9/"})
		}},
		{"alert rule of a project", "projectId is 65 characters long; at most 64", func() error {
			return f.cli.SetAlertRule(ctx, api.AlertRule{Rule: "incr_lag", ProjectID: long(65), Threshold: 1, ForSeconds: 1, Enabled: true})
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call()
			apiErr(t, err, 400, omserr.APIInvalidArgument)
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not say %q", err, tc.want)
			}
		})
	}
	for _, table := range []string{"data_sources", "projects"} {
		var n int
		if err := f.db.QueryRow("SELECT COUNT(*) FROM `" + f.names.RM + "`." + table).Scan(&n); err != nil || n != 0 {
			t.Fatalf("%s: %d rows (%v), want none", table, n, err)
		}
	}
	var users int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM `" + f.names.RM + "`.users").Scan(&users); err != nil || users != 1 {
		t.Fatalf("users: %d (%v), want only admin", users, err)
	}
	// At the limit is accepted.
	r := ds
	r.Name, r.Password = long(128), strings.Repeat("p", 996)
	if _, err := f.cli.CreateMysqlDataSource(ctx, r); err != nil {
		t.Fatalf("a name of 128 characters and a password of 996 bytes: %v", err)
	}
}

// TestKeysAreCaseSensitive: encoding/json would fill Name from "NAME" or "Name"; the console
// refuses any key that is not spelt exactly, and writes nothing.
func TestKeysAreCaseSensitive(t *testing.T) {
	f := newFixture(t)
	for _, body := range []string{
		`{"NAME":"x","host":"h","port":1,"userName":"u"}`,
		`{"name":"x","Host":"h","port":1,"userName":"u"}`,
		`{"name":"x","host":"h","port":1,"username":"u"}`,
		`{"name":"x","host":"h","port":1,"userName":"u","TLSMODE":"disabled"}`,
	} {
		var out map[string]any
		_, err := f.cli.Call(context.Background(), api.ActionCreateMysqlDataSource, rawJSON(body), &out)
		apiErr(t, err, 400, omserr.APIBadRequest)
	}
	var n int
	if err := f.db.QueryRow("SELECT COUNT(*) FROM `" + f.names.RM + "`.data_sources").Scan(&n); err != nil || n != 0 {
		t.Fatalf("data_sources: %d rows (%v), want none", n, err)
	}
}

// rawJSON is a request body sent as it is.
type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }
