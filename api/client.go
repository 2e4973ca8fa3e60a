package api

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Client calls one node's OpenAPI (any node of a region answers any call).
type Client struct {
	BaseURL  string // e.g. http://10.0.0.1:8089
	User     string
	Password string
	HTTP     *http.Client
	// UserAgent is sent with every call; the oms CLI sends CLIUserAgent so the audit log tells
	// its calls from the console's.
	UserAgent string
}

// CLIUserAgent prefixes the User-Agent of the oms CLI.
const CLIUserAgent = "oms-cli"

// NewClient returns a client with a 30 s timeout. insecureTLS skips certificate checks (self-
// signed deployment certificates).
func NewClient(baseURL, user, password string, insecureTLS bool) *Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if insecureTLS {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // operator's choice for self-signed certs
	}
	if !strings.Contains(baseURL, "://") {
		baseURL = "http://" + baseURL
	}
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), User: user, Password: password,
		HTTP: &http.Client{Timeout: 30 * time.Second, Transport: tr}}
}

// Error is a failed call: the envelope's code, message and advice plus the HTTP status.
type Error struct {
	HTTPStatus int
	Code       string
	Message    string
	Advice     string
	RequestID  string
}

func (e *Error) Error() string {
	s := fmt.Sprintf("%s: %s", e.Code, e.Message)
	if e.Advice != "" {
		s += " (" + e.Advice + ")"
	}
	return s
}

// Call posts req to action and decodes the envelope's data into out (nil: ignore data). It
// returns the envelope for paging fields.
func (c *Client) Call(ctx context.Context, action string, req, out any) (*Envelope, error) {
	var body []byte
	if req == nil {
		body = []byte("{}")
	} else {
		var err error
		if body, err = json.Marshal(req); err != nil {
			return nil, fmt.Errorf("encode %s request: %w", action, err)
		}
	}
	u := c.BaseURL + "/api/v2?Action=" + url.QueryEscape(action)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", action, err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.SetBasicAuth(c.User, c.Password)
	if c.UserAgent != "" {
		hreq.Header.Set("User-Agent", c.UserAgent)
	}
	resp, err := c.HTTP.Do(hreq)
	if err != nil {
		return nil, fmt.Errorf("call %s at %s: %w", action, c.BaseURL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("read %s response: %w", action, err)
	}
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return nil, fmt.Errorf("%s: HTTP %d, not an OpenAPI envelope: %.200s", action, resp.StatusCode, raw)
	}
	if !env.Success {
		return &env, &Error{HTTPStatus: resp.StatusCode, Code: env.Code, Message: env.Message, Advice: env.Advice, RequestID: env.RequestID}
	}
	if out != nil && len(env.Data) > 0 {
		if err := json.Unmarshal(env.Data, out); err != nil {
			return &env, fmt.Errorf("decode %s data: %w", action, err)
		}
	}
	return &env, nil
}

// CreateMysqlDataSource registers a data source and returns its id.
func (c *Client) CreateMysqlDataSource(ctx context.Context, r CreateMysqlDataSourceRequest) (DataSource, error) {
	var ds DataSource
	_, err := c.Call(ctx, ActionCreateMysqlDataSource, r, &ds)
	return ds, err
}

// ListDataSource lists data sources.
func (c *Client) ListDataSource(ctx context.Context, r ListDataSourceRequest) ([]DataSource, error) {
	var out []DataSource
	_, err := c.Call(ctx, ActionListDataSource, r, &out)
	return out, err
}

// CreateProject creates a project.
func (c *Client) CreateProject(ctx context.Context, r CreateProjectRequest) (Project, error) {
	var p Project
	_, err := c.Call(ctx, ActionCreateProject, r, &p)
	return p, err
}

func (c *Client) projectVerb(ctx context.Context, action, id string) error {
	_, err := c.Call(ctx, action, ProjectIDRequest{ID: id}, nil)
	return err
}

// StartProject starts an INIT project.
func (c *Client) StartProject(ctx context.Context, id string) error {
	return c.projectVerb(ctx, ActionStartProject, id)
}

// StopProject pauses a running project (SUSPEND).
func (c *Client) StopProject(ctx context.Context, id string) error {
	return c.projectVerb(ctx, ActionStopProject, id)
}

// ResumeProject resumes a suspended or failed project.
func (c *Client) ResumeProject(ctx context.Context, id string) error {
	return c.projectVerb(ctx, ActionResumeProject, id)
}

// SkipProjectEvents makes the project's Incr-Sync skip source transactions (see the request).
func (c *Client) SkipProjectEvents(ctx context.Context, r SkipProjectEventsRequest) (SkipProjectEventsResponse, error) {
	var out SkipProjectEventsResponse
	_, err := c.Call(ctx, ActionSkipProjectEvents, r, &out)
	return out, err
}

// RetryProject restarts a failed project's failed components as they are (after the cause was
// fixed on the target).
func (c *Client) RetryProject(ctx context.Context, id string) error {
	return c.projectVerb(ctx, ActionRetryProject, id)
}

// SwitchoverProject makes the project's target the primary (see SwitchoverRequest).
func (c *Client) SwitchoverProject(ctx context.Context, r SwitchoverRequest) (SwitchPlan, error) {
	var out SwitchPlan
	_, err := c.Call(ctx, ActionSwitchoverProject, r, &out)
	return out, err
}

// RollbackProject makes a switched project's source the primary again.
func (c *Client) RollbackProject(ctx context.Context, r SwitchoverRequest) (SwitchPlan, error) {
	var out SwitchPlan
	_, err := c.Call(ctx, ActionRollbackProject, r, &out)
	return out, err
}

// ReleaseProject stops and removes a project's components.
func (c *Client) ReleaseProject(ctx context.Context, id string) error {
	return c.projectVerb(ctx, ActionReleaseProject, id)
}

// DeleteProject deletes a project that is INIT, FAILED or RELEASED.
func (c *Client) DeleteProject(ctx context.Context, id string) error {
	return c.projectVerb(ctx, ActionDeleteProject, id)
}

// ListProjects lists projects.
func (c *Client) ListProjects(ctx context.Context, r ListProjectsRequest) ([]Project, error) {
	var out []Project
	_, err := c.Call(ctx, ActionListProjects, r, &out)
	return out, err
}

// DescribeProject returns one project with its steps.
func (c *Client) DescribeProject(ctx context.Context, id string) (Project, error) {
	var p Project
	_, err := c.Call(ctx, ActionDescribeProject, ProjectIDRequest{ID: id}, &p)
	return p, err
}

// DescribeProjectSteps returns a project's steps.
func (c *Client) DescribeProjectSteps(ctx context.Context, id string) ([]Step, error) {
	var out []Step
	_, err := c.Call(ctx, ActionDescribeProjectSteps, ProjectIDRequest{ID: id}, &out)
	return out, err
}

// DescribeProjectProgress returns a project's progress summary.
func (c *Client) DescribeProjectProgress(ctx context.Context, id string) (Progress, error) {
	var p Progress
	_, err := c.Call(ctx, ActionDescribeProjectProgress, ProjectIDRequest{ID: id}, &p)
	return p, err
}

// DescribeProjectComponents returns a project's component tasks.
func (c *Client) DescribeProjectComponents(ctx context.Context, id string) ([]Component, error) {
	var out []Component
	_, err := c.Call(ctx, ActionDescribeProjectComponents, ProjectIDRequest{ID: id}, &out)
	return out, err
}

// ListHosts lists the nodes of every region.
func (c *Client) ListHosts(ctx context.Context) ([]Host, error) {
	var out []Host
	_, err := c.Call(ctx, ActionListHosts, nil, &out)
	return out, err
}

// ListComponents lists component tasks (all projects when projectID is empty).
func (c *Client) ListComponents(ctx context.Context, projectID string) ([]Component, error) {
	var out []Component
	_, err := c.Call(ctx, ActionListComponents, ListComponentsRequest{ProjectID: projectID}, &out)
	return out, err
}

// ChangePassword changes the calling user's password (its other sessions end).
func (c *Client) ChangePassword(ctx context.Context, oldPassword, newPassword string) error {
	_, err := c.Call(ctx, ActionChangePassword, ChangePasswordRequest{OldPassword: oldPassword, NewPassword: newPassword}, nil)
	return err
}

// CreateUser creates a console user (admin only).
func (c *Client) CreateUser(ctx context.Context, r CreateUserRequest) (User, error) {
	var u User
	_, err := c.Call(ctx, ActionCreateUser, r, &u)
	return u, err
}

// ListUsers lists console users (admin only).
func (c *Client) ListUsers(ctx context.Context) ([]User, error) {
	var out []User
	_, err := c.Call(ctx, ActionListUsers, nil, &out)
	return out, err
}

// UpdateUser changes a user's role or resets its password (admin only).
func (c *Client) UpdateUser(ctx context.Context, r UpdateUserRequest) (User, error) {
	var u User
	_, err := c.Call(ctx, ActionUpdateUser, r, &u)
	return u, err
}

// DeleteUser deletes a console user (admin only).
func (c *Client) DeleteUser(ctx context.Context, userName string) error {
	_, err := c.Call(ctx, ActionDeleteUser, UserNameRequest{UserName: userName}, nil)
	return err
}

// ListAuditEvents queries the audit log; the envelope carries the paging fields.
func (c *Client) ListAuditEvents(ctx context.Context, r ListAuditEventsRequest) ([]AuditEvent, *Envelope, error) {
	var out []AuditEvent
	env, err := c.Call(ctx, ActionListAuditEvents, r, &out)
	return out, env, err
}

// UpdateMysqlDataSource edits a data source.
func (c *Client) UpdateMysqlDataSource(ctx context.Context, r UpdateMysqlDataSourceRequest) (DataSource, error) {
	var ds DataSource
	_, err := c.Call(ctx, ActionUpdateMysqlDataSource, r, &ds)
	return ds, err
}

// TestDataSource tests a connection to a data source.
func (c *Client) TestDataSource(ctx context.Context, r TestDataSourceRequest) (TestDataSourceResult, error) {
	var out TestDataSourceResult
	_, err := c.Call(ctx, ActionTestDataSource, r, &out)
	return out, err
}

// ValidateProject checks a project request as CreateProject would, without creating anything.
func (c *Client) ValidateProject(ctx context.Context, r CreateProjectRequest) error {
	_, err := c.Call(ctx, ActionValidateProject, r, nil)
	return err
}
