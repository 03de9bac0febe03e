package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	v2 "github.com/conductorone/baton-sdk/pb/c1/connector/v2"
	"github.com/urfave/cli/v2"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/anypb"

	"github.com/baton-runner/baton-runner/host/egress"
	"github.com/baton-runner/baton-runner/host/sandbox"
	"github.com/baton-runner/baton-runner/host/tenant"
)

func capabilitiesCommand() *cli.Command {
	return &cli.Command{
		Name:  "capabilities",
		Usage: "print the connector's capabilities as JSON, as baton connectors do (no token or API call needed)",
		// The connector's flags are accepted, as baton connectors accept
		// theirs on every subcommand, so a command line that syncs also
		// asks for capabilities; they reach no API here.
		Flags: concat(tenantFlags(), runtimeFlags(), logFlags()),
		Action: func(c *cli.Context) error {
			logger, err := newLogger(c)
			if err != nil {
				return err
			}
			m, err := compileModule(c.Context, c, logger)
			if err != nil {
				return err
			}
			defer func() { _ = m.Close(c.Context) }()
			// Capabilities come from the guest's metadata and the host's
			// provisioning support; the Segment guest reaches no API, so it
			// needs neither a token nor a reachable origin. A baton-sdk
			// guest builds its connector from its fields first, as
			// baton-sdk's own capabilities command does, though without
			// requiring them: this is where a user learns what they are.
			tc := tenant.Config{Name: "capabilities", Egress: egress.Config{BaseURL: defaultBaseURL}, Logger: logger}
			if m.Kind() == sandbox.GuestBatonSDK {
				gc, err := batonSDKConfig(c, m, false)
				if err != nil {
					return err
				}
				gc.apply(&tc)
			}
			t, err := tenant.New(m, tc)
			if err != nil {
				return err
			}
			defer t.Close(c.Context)
			cc, err := t.Client(c.Context, tenant.ClientOptions{Provisioning: true})
			if err != nil {
				return err
			}
			defer cc.Close()
			md, err := cc.GetMetadata(c.Context, &v2.ConnectorServiceGetMetadataRequest{})
			if err != nil {
				return explain("capabilities", err)
			}
			if !md.GetMetadata().HasCapabilities() {
				return fmt.Errorf("the connector reports no capabilities")
			}
			return printCapabilities(md.GetMetadata().GetCapabilities())
		},
	}
}

// printCapabilities prints caps the way baton-sdk's capabilities command
// does: an Any wrapping the ConnectorCapabilities, as indented JSON.
func printCapabilities(caps *v2.ConnectorCapabilities) error {
	a := &anypb.Any{}
	if err := anypb.MarshalFrom(a, caps, proto.MarshalOptions{Deterministic: true}); err != nil {
		return err
	}
	raw, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(a)
	if err != nil {
		return err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, raw, "", "  "); err != nil {
		return err
	}
	out.WriteByte('\n')
	_, err = out.WriteTo(os.Stdout)
	return err
}
