package segment

import (
	"context"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/internal/segmentids"
)

// target is what one resource of one permission entry grants: the role on
// the whole workspace (Type == "") or the role on one resource of a baton
// resource type.
type target struct {
	RoleID   string
	RoleName string
	Type     string
	ID       string
}

// segmentTypes maps the resource types of Segment permissions to the
// connector's resource types. WORKSPACE is handled separately.
var segmentTypes = map[string]string{
	"SOURCE":    typeSource,
	"WAREHOUSE": typeWarehouse,
	"SPACE":     typeSpace,
	"FUNCTION":  typeFunction,
}

// needsSources reports whether resolving perms needs the source list: only
// label-scoped WORKSPACE grants do, so most principals cost no lookup.
func needsSources(perms []permission) bool {
	for _, p := range perms {
		for _, r := range p.Resources {
			if strings.EqualFold(r.Type, "WORKSPACE") && len(p.Labels)+len(r.Labels) > 0 {
				return true
			}
		}
	}
	return false
}

// resolveTargets turns permission entries into targets. A WORKSPACE
// resource without labels is the role everywhere; with labels (on the entry
// or on the resource) it is the role on each source carrying all of them,
// which is the only way to express that grant on concrete resources.
func resolveTargets(perms []permission, sources []source, log logger) []target {
	var out []target
	for _, p := range perms {
		if p.RoleID == "" {
			log.warnf("permission without roleId (role %q) ignored", p.RoleName)
			continue
		}
		for _, r := range p.Resources {
			t := target{RoleID: p.RoleID, RoleName: p.RoleName}
			rt := strings.ToUpper(strings.TrimSpace(r.Type))
			if rt == "WORKSPACE" {
				labels := append(append([]label(nil), p.Labels...), r.Labels...)
				if len(labels) == 0 {
					out = append(out, t)
					continue
				}
				matched := false
				for _, s := range sources {
					if hasLabels(s.Labels, labels) {
						t.Type, t.ID = typeSource, s.ID
						out = append(out, t)
						matched = true
					}
				}
				if !matched {
					log.debugf("role %s scoped to labels %s matches no source; no grant", p.RoleID, formatLabels(labels))
				}
				continue
			}
			typ, ok := segmentTypes[rt]
			if !ok || r.ID == "" {
				log.warnf("role %s granted on unsupported resource %s %q; ignored", p.RoleID, r.Type, r.ID)
				continue
			}
			t.Type, t.ID = typ, r.ID
			out = append(out, t)
		}
	}
	return out
}

// hasLabels reports whether have contains every label of want, key and
// value both matching exactly.
func hasLabels(have, want []label) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Key == w.Key && h.Value == w.Value {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func formatLabels(ls []label) string {
	parts := make([]string, 0, len(ls))
	for _, l := range ls {
		parts = append(parts, l.Key+"="+l.Value)
	}
	return strings.Join(parts, ",")
}

// targetRef is the entitlement a target grants: the role's member
// entitlement, or the per-resource entitlement whose slug names the role
// (its id, unless slugs are baton-segment's names).
func targetRef(t target, slugs *segmentids.Names) abi.EntitlementRef {
	if t.Type == "" {
		return abi.EntitlementRef{Resource: abi.ResourceID{Type: typeRole, ID: t.RoleID}, Slug: memberSlug}
	}
	return abi.EntitlementRef{Resource: abi.ResourceID{Type: t.Type, ID: t.ID}, Slug: slugs.Slug(t.RoleID)}
}

// grantsFor builds the grants of targets to principal, each once, naming
// the entitlements as ListEntitlements does with slugs. expand is set on
// group grants so that baton-sdk extends them to the members.
func grantsFor(principal abi.ResourceID, targets []target, expand []abi.EntitlementRef, slugs *segmentids.Names) []abi.Grant {
	seen := map[abi.EntitlementRef]bool{}
	var out []abi.Grant
	for _, t := range targets {
		ref := targetRef(t, slugs)
		if seen[ref] {
			continue
		}
		seen[ref] = true
		out = append(out, abi.Grant{Entitlement: ref, Principal: principal, ExpandFrom: expand})
	}
	return out
}

// targetsOf resolves perms, loading the source list only when needed.
func (c *call) targetsOf(ctx context.Context, perms []permission) ([]target, error) {
	var sources []source
	if needsSources(perms) {
		var err error
		if sources, err = c.sources(ctx); err != nil {
			return nil, err
		}
	}
	return resolveTargets(perms, sources, c.log), nil
}
