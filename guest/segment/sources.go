package segment

import (
	"context"
	"strings"

	"github.com/baton-runner/baton-runner/abi"
)

// sourcePageSize is how many cached sources one ListResources call returns.
const sourcePageSize = 100

// listSources pages through the sync-wide source list, which label-scoped
// grants may already have loaded while users were listed.
func (c *call) listSources(ctx context.Context, ws abi.ResourceID, tok pageToken) (abi.ResourcePage, error) {
	sources, err := c.sources(ctx)
	if err != nil {
		return abi.ResourcePage{}, err
	}
	lo := min(tok.Offset, len(sources))
	hi := min(lo+sourcePageSize, len(sources))
	out := make([]abi.Resource, 0, hi-lo)
	for _, s := range sources[lo:hi] {
		out = append(out, sourceResource(s, ws))
	}
	page := abi.ResourcePage{Resources: out}
	if hi < len(sources) {
		page.NextPageToken = pageToken{Offset: hi, Page: tok.Page + 1}.String()
	}
	return page, nil
}

// sources returns the whole source list, from the session or from
// GET /sources.
func (c *call) sources(ctx context.Context) ([]source, error) {
	if c.sourceList != nil {
		return c.sourceList, nil
	}
	if sources, ok := recall[[]source](c.cache, sourcesKey); ok {
		c.sourceList = sources
		return sources, nil
	}
	var sources []source
	if !c.cache.load(ctx, sourcesKey, &sources) || sources == nil {
		var err error
		sources, err = fetchAll[source](ctx, c.api, "list sources", "/sources", "sources")
		if err != nil {
			return nil, err
		}
		if sources == nil {
			sources = []source{}
		}
		c.cache.store(ctx, sourcesKey, sources)
	}
	c.cache.remember(sourcesKey, sources)
	c.sourceList = sources
	return sources, nil
}

func sourceResource(s source, ws abi.ResourceID) abi.Resource {
	labels := make([]string, 0, len(s.Labels))
	for _, l := range s.Labels {
		labels = append(labels, l.Key+"="+l.Value)
	}
	enabled := "false"
	if s.Enabled {
		enabled = "true"
	}
	return abi.Resource{
		ID:          abi.ResourceID{Type: typeSource, ID: s.ID},
		Parent:      &ws,
		DisplayName: firstNonEmpty(s.Name, s.Slug, s.ID),
		Profile:     map[string]string{"slug": s.Slug, "labels": strings.Join(labels, ","), "enabled": enabled},
	}
}
