package guest

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/baton-runner/baton-runner/abi"
)

// Dispatch runs the export named export of c: it decodes input as that
// export's request document, calls the matching Connector method and
// encodes the abi.Result envelope. Connector errors are returned inside the
// envelope; the error result is for an unknown export or an unencodable
// result. Both the WebAssembly binding and the host's native runner use it,
// so the two cannot drift apart.
func Dispatch(ctx context.Context, c Connector, env Env, export string, input []byte) ([]byte, error) {
	switch export {
	case abi.ExportMetadata:
		return serve(input, func(abi.Call) (abi.Metadata, error) { return c.Metadata(), nil })
	case abi.ExportValidate:
		return serve(input, func(req abi.Call) (abi.Empty, error) { return abi.Empty{}, c.Validate(ctx, env, req) })
	case abi.ExportListResources:
		return serve(input, func(req abi.ListResourcesRequest) (abi.ResourcePage, error) {
			return c.ListResources(ctx, env, req)
		})
	case abi.ExportListEntitlements:
		return serve(input, func(req abi.ListEntitlementsRequest) (abi.EntitlementPage, error) {
			return c.ListEntitlements(ctx, env, req)
		})
	case abi.ExportListGrants:
		return serve(input, func(req abi.ListGrantsRequest) (abi.GrantPage, error) {
			return c.ListGrants(ctx, env, req)
		})
	case abi.ExportGrant, abi.ExportRevoke:
		p, ok := c.(Provisioner)
		if !ok {
			return serve(input, func(abi.Call) (abi.Empty, error) {
				return abi.Empty{}, abi.Errorf(abi.CodeUnimplemented, "this connector does not provision")
			})
		}
		if export == abi.ExportGrant {
			return serve(input, func(req abi.GrantRequest) (abi.GrantResult, error) { return p.Grant(ctx, env, req) })
		}
		return serve(input, func(req abi.RevokeRequest) (abi.RevokeResult, error) { return p.Revoke(ctx, env, req) })
	case abi.ExportCreateAccount:
		a, ok := c.(AccountCreator)
		if !ok {
			return unimplemented(input, "this connector does not create accounts")
		}
		return serve(input, func(req abi.CreateAccountRequest) (abi.CreateAccountResult, error) {
			return a.CreateAccount(ctx, env, req)
		})
	case abi.ExportDeleteResource:
		d, ok := c.(ResourceDeleter)
		if !ok {
			return unimplemented(input, "this connector does not delete resources")
		}
		return serve(input, func(req abi.DeleteResourceRequest) (abi.DeleteResourceResult, error) {
			return d.DeleteResource(ctx, env, req)
		})
	case abi.ExportGetResource:
		g, ok := c.(ResourceGetter)
		if !ok {
			return unimplemented(input, "this connector does not get single resources")
		}
		return serve(input, func(req abi.GetResourceRequest) (abi.Resource, error) {
			return g.GetResource(ctx, env, req)
		})
	}
	return nil, fmt.Errorf("unknown export %q", export)
}

func serve[Req, Res any](input []byte, fn func(Req) (Res, error)) ([]byte, error) {
	var req Req
	var out abi.Result[Res]
	if !decodeFast(input, &req) {
		if err := json.Unmarshal(input, &req); err != nil {
			out.Error = abi.Errorf(abi.CodeInvalidArgument, "decoding call input: %v", err)
			return json.Marshal(out)
		}
	}
	res, err := fn(req)
	if err != nil {
		out.Error = abi.AsError(err)
		return json.Marshal(out)
	}
	if b, ok := encodeOK(&res); ok {
		return b, nil
	}
	out.OK = &res
	return json.Marshal(out)
}

// encodeOK encodes the success envelope of the listing results with the
// append-based encoders of encode.go; ok is false for every other type.
func encodeOK(res any) (b []byte, ok bool) {
	switch r := res.(type) {
	case *abi.ResourcePage:
		return appendOK(make([]byte, 0, 256*len(r.Resources)+64), func(b []byte) []byte { return appendResourcePage(b, r) }), true
	case *abi.EntitlementPage:
		return appendOK(make([]byte, 0, 192*len(r.Entitlements)+64), func(b []byte) []byte { return appendEntitlementPage(b, r) }), true
	case *abi.GrantPage:
		return appendOK(make([]byte, 0, 160*len(r.Grants)+64), func(b []byte) []byte { return appendGrantPage(b, r) }), true
	}
	return nil, false
}

func unimplemented(input []byte, msg string) ([]byte, error) {
	return serve(input, func(abi.Call) (abi.Empty, error) {
		return abi.Empty{}, abi.Errorf(abi.CodeUnimplemented, "%s", msg)
	})
}
