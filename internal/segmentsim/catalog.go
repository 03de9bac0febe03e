package segmentsim

import (
	"hash/fnv"
	"strings"
)

// Role names of the catalogue Generate creates (Segment's IAM roles),
// including legacy names still seen in older workspaces, plus one custom
// role no name table knows.
const (
	RoleWorkspaceOwner         = "Workspace Owner"
	RoleMinimalWorkspaceAccess = "Minimal Workspace Access"
	RoleSourceAdmin            = "Source Admin"
	RoleSourceReadOnly         = "Source Read-only"
	RoleFunctionAdmin          = "Function Admin"
	RoleFunctionReadOnly       = "Function Read-only"
	RoleUnifyEngageAdmin       = "Unify and Engage Admin"
	RoleUnifyEngageReadOnly    = "Unify and Engage Read-only"
	RoleUnifyReadOnly          = "Unify Read-only"
	RoleEngageUser             = "Engage User"
	RolePersonasAdmin          = "Personas Admin"
	RoleWarehouseDestAdmin     = "Warehouse Destination Admin"
	RoleWarehouseDestReadOnly  = "Warehouse Destination Read-only"
	RoleTrackingPlanAdmin      = "Tracking Plan Admin"
	RoleTrackingPlanReadOnly   = "Tracking Plan Read-only"
	RoleIdentityAdmin          = "Identity Admin"
	RoleEndUserPrivacyAdmin    = "End User Privacy Admin"
	RoleCustomAuditor          = "Custom Auditor"
)

// roleCatalogue is the GET /roles content in its stable order.
var roleCatalogue = []struct{ Name, Description string }{
	{RoleWorkspaceOwner, "Full read/edit access to everything, including workspace settings, billing and members."},
	{RoleMinimalWorkspaceAccess, "Can view the workspace; access to resources comes from other roles."},
	{RoleSourceAdmin, "Read/edit access to assigned sources, their settings, connected destinations and schemas."},
	{RoleSourceReadOnly, "Read access to assigned sources, their settings, connected destinations and schemas."},
	{RoleFunctionAdmin, "Create, edit and delete assigned functions."},
	{RoleFunctionReadOnly, "Read access to assigned functions."},
	{RoleUnifyEngageAdmin, "Full access to assigned Unify spaces, audiences, journeys and computed traits."},
	{RoleUnifyEngageReadOnly, "Read access to assigned Unify spaces, audiences and journeys."},
	{RoleUnifyReadOnly, "Read access to assigned Unify spaces without access to profiles' PII."},
	{RoleEngageUser, "Create and edit audiences and journeys in assigned spaces."},
	{RolePersonasAdmin, "Legacy: full access to assigned Personas spaces."},
	{RoleWarehouseDestAdmin, "Read/edit access to all warehouse destinations."},
	{RoleWarehouseDestReadOnly, "Read access to all warehouse destinations."},
	{RoleTrackingPlanAdmin, "Read/edit access to all tracking plans."},
	{RoleTrackingPlanReadOnly, "Read access to all tracking plans."},
	{RoleIdentityAdmin, "Manage identity resolution settings and profile merges."},
	{RoleEndUserPrivacyAdmin, "Manage end-user privacy requests and deletion suppression."},
	{RoleCustomAuditor, "Custom role: read access to audit-relevant settings of assigned sources."},
}

// catalogEntry is a source or warehouse catalog item, served as metadata.
type catalogEntry struct {
	ID, Slug, Name, Description, Category string
}

var sourceCatalog = []catalogEntry{
	{"IqDTy1TpoU", "javascript", "Javascript", "Analytics.js browser library", "Website"},
	{"9TMwNMpJHs", "ios", "iOS", "Analytics for iOS apps", "Mobile"},
	{"V6ynUvQgbc", "android", "Android", "Analytics for Android apps", "Mobile"},
	{"xqsbGjpUwM", "http-api", "HTTP API", "Send data from anywhere over HTTP", "Server"},
	{"yMZ4qsQmH1", "node-js", "Node.js", "Server-side Node.js library", "Server"},
	{"nXGvGHMEmR", "python", "Python", "Server-side Python library", "Server"},
	{"1bow82lmk0", "stripe", "Stripe", "Payments data from Stripe", "Payments"},
}

var warehouseCatalog = []catalogEntry{
	{"JeDg9Ct7d8", "snowflake", "Snowflake", "Cloud data warehouse", "Warehouse"},
	{"55d3d3aea3c", "bigquery", "BigQuery", "Google's serverless data warehouse", "Warehouse"},
	{"55a8b7b2a3c", "redshift", "Redshift", "Amazon's data warehouse", "Warehouse"},
	{"57b8c1b0a3c", "postgres", "Postgres", "PostgreSQL database", "Warehouse"},
	{"Gv6LdWNn9Q", "databricks", "Databricks", "Databricks lakehouse", "Warehouse"},
}

// lookupCatalog finds name in cat; for names a hand-built Workspace may use
// that are not in the table it derives a stable entry, so responses never
// lack metadata.
func lookupCatalog(cat []catalogEntry, name string) catalogEntry {
	for _, e := range cat {
		if e.Name == name {
			return e
		}
	}
	h := fnv.New32a()
	h.Write([]byte(name))
	id := make([]byte, 10)
	v := h.Sum32()
	for i := range id {
		id[i] = base62[v%62]
		v = v*1103515245 + 12345
	}
	slug := strings.ToLower(strings.Join(strings.Fields(name), "-"))
	return catalogEntry{ID: string(id), Slug: slug, Name: name, Description: name, Category: "Other"}
}

// Word lists for generated names; small on purpose, collisions are resolved
// with numeric suffixes.
var (
	firstNames = []string{"Ada", "Ben", "Chloe", "Dana", "Eli", "Fatima", "Gus", "Hana", "Ivan", "Jade",
		"Kofi", "Lena", "Mateo", "Nina", "Omar", "Priya", "Quinn", "Rosa", "Sam", "Tariq",
		"Uma", "Victor", "Wen", "Ximena", "Yusuf", "Zoe", "Aarav", "Bianca", "Carlos", "Dmitri"}
	lastNames = []string{"Fox", "Garcia", "Huang", "Ito", "Jensen", "Kim", "Lopez", "Mensah", "Novak", "Okafor",
		"Patel", "Quist", "Rossi", "Schmidt", "Tanaka", "Udeh", "Varga", "Wong", "Xu", "Young",
		"Zhang", "Abbott", "Brennan", "Castro", "Diallo"}
	serviceAccounts = []string{"ops-bot", "etl", "ci", "svc-analytics", "integration", "reporting-bot"}
	companies       = []string{"Acme", "Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Wonka", "Tyrell", "Soylent"}
	groupNames      = []string{"Data Engineering", "Growth", "Web Platform", "Analytics", "Marketing Ops", "Security",
		"Customer Success", "Mobile", "Finance", "Product", "Support", "Platform", "Sales Ops", "Data Science",
		"Privacy", "Executives"}
	sourceBases = []struct{ Name, Catalog string }{
		{"Web", "Javascript"}, {"Marketing Site", "Javascript"}, {"Checkout", "Javascript"},
		{"iOS App", "iOS"}, {"Android App", "Android"}, {"Backend", "Node.js"},
		{"Billing Service", "Python"}, {"Partner Webhooks", "HTTP API"}, {"Data Pipeline", "Python"},
		{"Payments", "Stripe"},
	}
	envs              = []string{"prod", "dev", "staging"}
	teams             = []string{"data", "growth", "web"}
	warehousePurposes = []string{"Analytics", "Reporting", "Finance", "Marketing", "Data Science", "Archive"}
	spaceNames        = []string{"Production", "Staging", "Sandbox", "EU Production", "Marketing", "Development"}
	functionNames     = map[string][]string{
		FunctionSource:               {"Webhook ingest", "Zendesk tickets", "Typeform responses", "Shopify orders"},
		FunctionDestination:          {"Slack alerts", "CRM sync", "Audit log forwarder", "Discord notifier"},
		FunctionInsertDestination:    {"PII scrubber", "Event enricher", "Consent filter"},
		FunctionInsertSource:         {"Bot filter", "Schema normaliser", "Geo enricher"},
		FunctionInsertTransformation: {"Currency converter", "Timestamp fixer", "Property renamer"},
	}
)

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			b.WriteRune(c)
			dash = false
		case !dash && b.Len() > 0:
			b.WriteByte('-')
			dash = true
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}

func normEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }
