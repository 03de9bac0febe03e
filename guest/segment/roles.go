package segment

import "strings"

// roleScopes is the applicability table: for each Segment role name, the
// resource type whose instances the role can be granted on, or "" for roles
// that only exist on the whole workspace. It follows Segment's IAM role
// documentation (reference/segment-api.md §3), including the older names
// that workspaces created in earlier eras still carry:
//
//	source     Source Admin, Source Read-only
//	function   Function Admin, Function Read-only, Functions Admin, Functions Read-only
//	space      Unify and Engage Admin, Unify and Engage Read-only, Unify Read-only,
//	           Engage User, Engage Admin, Engage Read-only,
//	           Personas Admin, Personas User, Personas Read-only
//	warehouse  Warehouse Destination Admin, Warehouse Destination Read-only,
//	           Warehouse Admin, Warehouse Read-only
//	(none)     Workspace Owner, Minimal Workspace Access, Workspace Member,
//	           Tracking Plan Admin, Tracking Plan Read-only,
//	           Identity Admin, End User Privacy Admin
//
// GET /roles has no resource-type field, so names are the only signal. They
// are matched whole (case-insensitive, whitespace-trimmed): substring tests
// would let "Source" match unrelated custom roles. A role missing from the
// table (a custom role) gets per-resource entitlements only where it is
// actually seen granted; see extras in entitlements.go.
var roleScopes = map[string]string{
	"source admin":     typeSource,
	"source read-only": typeSource,

	"function admin":      typeFunction,
	"function read-only":  typeFunction,
	"functions admin":     typeFunction,
	"functions read-only": typeFunction,

	"unify and engage admin":     typeSpace,
	"unify and engage read-only": typeSpace,
	"unify read-only":            typeSpace,
	"engage user":                typeSpace,
	"engage admin":               typeSpace,
	"engage read-only":           typeSpace,
	"personas admin":             typeSpace,
	"personas user":              typeSpace,
	"personas read-only":         typeSpace,

	"warehouse destination admin":     typeWarehouse,
	"warehouse destination read-only": typeWarehouse,
	"warehouse admin":                 typeWarehouse,
	"warehouse read-only":             typeWarehouse,

	"workspace owner":          "",
	"minimal workspace access": "",
	"workspace member":         "",
	"tracking plan admin":      "",
	"tracking plan read-only":  "",
	"identity admin":           "",
	"end user privacy admin":   "",
}

// normRoleName is the table's key for a role name: lower case, trimmed,
// inner runs of whitespace collapsed to one space.
func normRoleName(name string) string {
	return strings.ToLower(strings.Join(strings.Fields(name), " "))
}

// roleScope returns the resource type a role applies to ("" for
// workspace-only roles) and whether the table knows the role at all.
func roleScope(name string) (scope string, known bool) {
	scope, known = roleScopes[normRoleName(name)]
	return scope, known
}

// roleApplies reports whether the table makes a role with this name
// grantable on individual resources of resourceType.
func roleApplies(name, resourceType string) bool {
	scope, known := roleScope(name)
	return known && scope != "" && scope == resourceType
}
