package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/conductorone/baton-sdk/pkg/bid"
	"github.com/urfave/cli/v2"
	"go.uber.org/zap"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/structpb"

	"github.com/baton-runner/baton-runner/host/localsync"
	"github.com/baton-runner/baton-runner/host/tenant"
)

// lifecycleFlags are baton-sdk's own one-shot flags (the names every baton
// connector accepts, with BATON_* environment variables), on the root
// command and on sync. A one-shot command is its own consent, as in
// baton-sdk's CLI: it needs no --provisioning.
func lifecycleFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "create-account-email", Usage: "create an account for this email (for the Segment guest, an invitation), then exit", EnvVars: []string{"BATON_CREATE_ACCOUNT_EMAIL"}},
		&cli.StringFlag{Name: "create-account-login", Usage: "with create-account: the account's login (Segment uses the email)", EnvVars: []string{"BATON_CREATE_ACCOUNT_LOGIN"}},
		&cli.StringFlag{Name: "create-account-profile", Usage: `create-account profile as JSON, e.g. '{"email":"a@x.test","roles":["<roleId>"],"groups":["<groupId>"]}'`, EnvVars: []string{"BATON_CREATE_ACCOUNT_PROFILE"}},
		&cli.StringFlag{Name: "create-account-resource-type", Usage: "resource type of the account to create (Segment: invite, the default; a baton-sdk connector: as it names its account type, e.g. user)", EnvVars: []string{"BATON_CREATE_ACCOUNT_RESOURCE_TYPE"}},
		&cli.StringFlag{Name: "delete-resource", Usage: "delete this resource (a user id, or an invite's email), then exit", EnvVars: []string{"BATON_DELETE_RESOURCE"}},
		&cli.StringFlag{Name: "delete-resource-type", Usage: "type of the resource to delete: user or invite", EnvVars: []string{"BATON_DELETE_RESOURCE_TYPE"}},
		&cli.StringSliceFlag{Name: "sync-resources", Usage: "sync only these resources (baton resource bids, e.g. bid:r:user/<id> or bid:r:workspace/<id>/user/<id>) into a new --file", EnvVars: []string{"BATON_SYNC_RESOURCES"}},
	}
}

// lifecycleAction runs the one-shot operation the lifecycle flags ask for;
// ok is false when none is asked for.
func lifecycleAction(c *cli.Context) (ok bool, err error) {
	create := c.String("create-account-email") != "" || c.String("create-account-profile") != "" || c.String("create-account-login") != ""
	del := c.String("delete-resource") != "" || c.String("delete-resource-type") != ""
	targets := c.StringSlice("sync-resources")
	n := 0
	for _, on := range []bool{create, del, len(targets) > 0} {
		if on {
			n++
		}
	}
	switch {
	case n == 0:
		return false, nil
	case n > 1:
		return true, errors.New("--create-account-*, --delete-resource and --sync-resources are separate one-shot operations: give one at a time")
	case create:
		return true, createAccountAction(c)
	case del:
		return true, deleteResourceAction(c)
	}
	return true, targetedSyncAction(c, targets)
}

// accountInfo builds baton-sdk's AccountInfo as its CLI does: the profile
// JSON, with --create-account-email and -login filling "email" and
// "login" when the profile lacks them.
func accountInfo(c *cli.Context) (*v2.AccountInfo, string, error) {
	profile := map[string]any{}
	if raw := c.String("create-account-profile"); raw != "" {
		if err := json.Unmarshal([]byte(raw), &profile); err != nil || profile == nil {
			return nil, "", fmt.Errorf("--create-account-profile (BATON_CREATE_ACCOUNT_PROFILE) must be a JSON object such as "+
				`'{"email":"a@x.test","roles":["<roleId>"],"groups":["<groupId>"]}'`+": %v", err)
		}
	}
	for key, flag := range map[string]string{"email": "create-account-email", "login": "create-account-login"} {
		if _, set := profile[key]; !set && c.String(flag) != "" {
			profile[key] = c.String(flag)
		}
	}
	email, _ := profile["email"].(string)
	login, _ := profile["login"].(string)
	if email == "" && login == "" {
		return nil, "", errors.New("create account needs an email: pass --create-account-email or \"email\" in --create-account-profile")
	}
	p, err := structpb.NewStruct(profile)
	if err != nil {
		return nil, "", fmt.Errorf("--create-account-profile: %w", err)
	}
	info := v2.AccountInfo_builder{Login: login, Profile: p}
	if email != "" {
		info.Emails = []*v2.AccountInfo_Email{v2.AccountInfo_Email_builder{Address: email, IsPrimary: true}.Build()}
	}
	return info.Build(), firstNonEmpty(email, login), nil
}

func createAccountAction(c *cli.Context) error {
	info, who, err := accountInfo(c)
	if err != nil {
		return err
	}
	what := "create account " + who
	return oneShot(c, what, func(t *tenant.Tenant) (string, error) {
		res, err := t.CreateAccount(c.Context, c.String("create-account-resource-type"), info)
		if err != nil {
			return "", err
		}
		switch r := res.(type) {
		case *v2.CreateAccountResponse_SuccessResult:
			return "created " + resourceName(r.GetResource()), nil
		case *v2.CreateAccountResponse_AlreadyExistsResult:
			return "already exists as " + resourceName(r.GetResource()) + ", nothing changed", nil
		case *v2.CreateAccountResponse_ActionRequiredResult:
			return "action required: " + r.GetMessage() + " (" + resourceName(r.GetResource()) + ")", nil
		}
		return fmt.Sprintf("finished (%T)", res), nil
	})
}

func deleteResourceAction(c *cli.Context) error {
	id, rt := c.String("delete-resource"), c.String("delete-resource-type")
	if id == "" || rt == "" {
		return errors.New("--delete-resource and --delete-resource-type go together: e.g. --delete-resource <userId> --delete-resource-type user, or --delete-resource <email> --delete-resource-type invite")
	}
	what := "delete " + rt + ":" + id
	return oneShot(c, what, func(t *tenant.Tenant) (string, error) {
		gone, err := t.DeleteResource(c.Context, v2.ResourceId_builder{ResourceType: rt, Resource: id}.Build(), nil)
		switch {
		case err != nil:
			return "", err
		case gone:
			return "already gone, nothing changed", nil
		}
		return "done", nil
	})
}

// oneShot runs one create-account or delete through the sandboxed
// connector and prints one line saying what happened.
func oneShot(c *cli.Context, what string, do func(*tenant.Tenant) (string, error)) error {
	return withTenant(c, func(t *tenant.Tenant, logger *zap.Logger) error {
		line, err := do(t)
		if err != nil {
			return explainOneShot(what, err)
		}
		fmt.Printf("%s: %s\n", what, line)
		logger.Debug("one-shot finished", zap.String("what", what))
		return nil
	})
}

// explainOneShot says what failed and, for refusals, why.
func explainOneShot(what string, err error) error {
	msg, code := oneSentence(err, what)
	switch code {
	case codes.Unimplemented:
		return fmt.Errorf("%s: not supported: %s", what, msg)
	case codes.InvalidArgument:
		return fmt.Errorf("%s: invalid request: %s", what, msg)
	case codes.NotFound:
		return fmt.Errorf("%s: not found: %s", what, msg)
	}
	return explain(what, err)
}

// targetedSyncAction syncs only the resources named by bids into a new
// --file. It refuses to replace an existing file: that may hold a full
// sync, which a partial one would replace.
func targetedSyncAction(c *cli.Context, bids []string) error {
	var targets []*v2.Resource
	var names []string
	for _, b := range bids {
		r, err := bid.ParseResourceBid(strings.TrimSpace(b))
		if err != nil {
			return fmt.Errorf("--sync-resources: %q is not a baton resource bid (bid:r:<type>/<id>, or bid:r:<parent type>/<parent id>/<type>/<id>): %v", b, err)
		}
		targets = append(targets, r)
		names = append(names, resourceName(r))
	}
	file := c.String("file")
	if _, err := os.Stat(file); err == nil {
		return fmt.Errorf("--sync-resources writes a new c1z holding only %s, and %s exists (it may hold a full sync): pass --file with a new path", strings.Join(names, ", "), file)
	}
	limits, err := syncLimits(c)
	if err != nil {
		return err
	}
	engine, err := storageEngine(c)
	if err != nil {
		return err
	}
	logger, err := newLogger(c)
	if err != nil {
		return err
	}
	defer func() { _ = logger.Sync() }()
	t, _, closeTenant, err := openTenant(c.Context, c, logger, c.String("token"), c.String("base-url"), limits, nil)
	if err != nil {
		return err
	}
	defer closeTenant()
	if err := t.Sync(c.Context, localsync.Options{Path: file, Targets: targets, StorageEngine: engine}); err != nil {
		return explain("sync of "+strings.Join(names, ", "), err)
	}
	fmt.Printf("synced %s into %s\n", strings.Join(names, ", "), file)
	return nil
}

// resourceName is "<type>:<id>".
func resourceName(r *v2.Resource) string {
	if r == nil {
		return "no resource"
	}
	return r.GetId().GetResourceType() + ":" + r.GetId().GetResource()
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
