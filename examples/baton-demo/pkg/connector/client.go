package connector

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/conductorone/baton-sdk/pkg/uhttp"

	"github.com/baton-runner/baton-runner/examples/baton-demo/pkg/config"
)

// pageSize is small enough that a test sync pages.
const pageSize = "50"

// client is the demo API's client, built on baton-sdk's uhttp as
// ConductorOne's connectors build theirs: an OAuth2 client-credentials
// token on every request, the API key on those that need it.
type client struct {
	http   *uhttp.BaseHttpClient
	base   *url.URL
	apiKey string
}

func newClient(ctx context.Context, cfg *config.Demo) (*client, error) {
	base, err := parseURL(config.BaseURLField.FieldName, cfg.BaseURL)
	if err != nil {
		return nil, err
	}
	tokenURL, err := parseURL(config.TokenURLField.FieldName, cfg.TokenURL)
	if err != nil {
		return nil, err
	}
	creds := uhttp.NewOAuth2ClientCredentials(cfg.ClientID, cfg.ClientSecret, tokenURL, nil)
	hc, err := creds.GetClient(ctx, uhttp.WithUserAgent("baton-demo"))
	if err != nil {
		return nil, fmt.Errorf("baton-demo: creating the HTTP client: %w", err)
	}
	bc, err := uhttp.NewBaseHttpClientWithContext(ctx, hc)
	if err != nil {
		return nil, fmt.Errorf("baton-demo: creating the HTTP client: %w", err)
	}
	return &client{http: bc, base: base, apiKey: cfg.APIKey}, nil
}

func parseURL(name, raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("baton-demo: %s %q is not an http(s) URL: set --%s (BATON_%s)",
			name, raw, name, strings.ToUpper(strings.ReplaceAll(name, "-", "_")))
	}
	if u.Path == "" {
		u.Path = "/" // so that error messages show the paths joined to it whole
	}
	return u, nil
}

// The API's objects, as it sends them.
type (
	org struct {
		ID      string `json:"id"`
		Name    string `json:"name"`
		HelpURL string `json:"help_url"`
	}
	user struct {
		ID          string `json:"id"`
		Login       string `json:"login"`
		Email       string `json:"email"`
		DisplayName string `json:"display_name"`
		Status      string `json:"status"`
		Department  string `json:"department"`
	}
	group struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	member struct {
		UserID string `json:"user_id"`
		Since  string `json:"since"`
	}
	role struct {
		ID          string `json:"id"`
		Name        string `json:"name"`
		Description string `json:"description"`
	}
	assignment struct {
		PrincipalType string `json:"principal_type"`
		PrincipalID   string `json:"principal_id"`
	}
	page[T any] struct {
		Items         []T    `json:"items"`
		NextPageToken string `json:"next_page_token"`
	}
)

// apiError is the API's error body, for uhttp's error messages.
type apiError struct {
	Code string `json:"error"`
	Text string `json:"message"`
}

func (e *apiError) Message() string { return e.Code + ": " + e.Text }

func (c *client) org(ctx context.Context) (*org, error) {
	var o org
	return &o, c.do(ctx, http.MethodGet, nil, nil, false, &o, "v1", "org")
}

func (c *client) users(ctx context.Context, token string) (*page[user], error) {
	var p page[user]
	return &p, c.do(ctx, http.MethodGet, pageQuery(token), nil, false, &p, "v1", "users")
}

func (c *client) user(ctx context.Context, id string) (*user, error) {
	var u user
	return &u, c.do(ctx, http.MethodGet, nil, nil, false, &u, "v1", "users", id)
}

// createUser reports whether the user is new: an email or login already
// taken gives the user who has it.
func (c *client) createUser(ctx context.Context, email, login, displayName string) (bool, *user, error) {
	in := struct {
		Email       string `json:"email"`
		Login       string `json:"login,omitempty"`
		DisplayName string `json:"display_name,omitempty"`
	}{email, login, displayName}
	var out struct {
		Created bool `json:"created"`
		User    user `json:"user"`
	}
	err := c.do(ctx, http.MethodPost, nil, in, false, &out, "v1", "users")
	return out.Created, &out.User, err
}

// deleteUser fails with codes.NotFound for a user who is not there.
func (c *client) deleteUser(ctx context.Context, id string) error {
	return c.do(ctx, http.MethodDelete, nil, nil, false, &struct{}{}, "v1", "users", id)
}

func (c *client) group(ctx context.Context, id string) (*group, error) {
	var g group
	return &g, c.do(ctx, http.MethodGet, nil, nil, false, &g, "v1", "groups", id)
}

func (c *client) groups(ctx context.Context, token string) (*page[group], error) {
	var p page[group]
	return &p, c.do(ctx, http.MethodGet, pageQuery(token), nil, false, &p, "v1", "groups")
}

func (c *client) members(ctx context.Context, groupID, token string) (*page[member], error) {
	var p page[member]
	return &p, c.do(ctx, http.MethodGet, pageQuery(token), nil, false, &p, "v1", "groups", groupID, "members")
}

// addMember reports whether the user was not a member before.
func (c *client) addMember(ctx context.Context, groupID, userID string) (bool, *member, error) {
	var out struct {
		Changed bool   `json:"changed"`
		Member  member `json:"member"`
	}
	err := c.do(ctx, http.MethodPut, nil, nil, false, &out, "v1", "groups", groupID, "members", userID)
	return out.Changed, &out.Member, err
}

// removeMember reports whether the user was a member before.
func (c *client) removeMember(ctx context.Context, groupID, userID string) (bool, error) {
	var out struct {
		Changed bool `json:"changed"`
	}
	err := c.do(ctx, http.MethodDelete, nil, nil, false, &out, "v1", "groups", groupID, "members", userID)
	return out.Changed, err
}

func (c *client) roles(ctx context.Context, token string) (*page[role], error) {
	var p page[role]
	return &p, c.do(ctx, http.MethodGet, pageQuery(token), nil, true, &p, "v1", "roles")
}

func (c *client) assignments(ctx context.Context, roleID, token string) (*page[assignment], error) {
	var p page[assignment]
	return &p, c.do(ctx, http.MethodGet, pageQuery(token), nil, true, &p, "v1", "roles", roleID, "assignments")
}

func pageQuery(token string) url.Values {
	q := url.Values{"limit": {pageSize}}
	if token != "" {
		q.Set("page_token", token)
	}
	return q
}

// do sends one request to the API, with body as JSON if it is not nil,
// and decodes its JSON answer into out;
// an error answer becomes a gRPC status of its HTTP status (uhttp's
// mapping), so baton-sdk retries what can heal.
func (c *client) do(ctx context.Context, method string, query url.Values, body any, apiKey bool, out any, path ...string) error {
	u := c.base.JoinPath(path...)
	u.RawQuery = query.Encode()
	opts := []uhttp.RequestOption{uhttp.WithAcceptJSONHeader()}
	if apiKey {
		opts = append(opts, uhttp.WithHeader("X-Api-Key", c.apiKey))
	}
	if body != nil {
		opts = append(opts, uhttp.WithJSONBody(body))
	}
	req, err := c.http.NewRequest(ctx, method, u, opts...)
	if err != nil {
		return err
	}
	resp, err := c.http.Do(req, uhttp.WithJSONResponse(out), uhttp.WithErrorResponse(&apiError{}))
	if resp != nil {
		resp.Body.Close()
	}
	if err != nil {
		return fmt.Errorf("baton-demo: %s %s: %w", method, u.Path, err)
	}
	return nil
}
