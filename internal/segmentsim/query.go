package segmentsim

import (
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// queryArray reads an array query parameter in any of the encodings official
// clients use (segmentio/public-api-sdk-go and the TypeScript SDK): deepObject `name.0=`, qs-style
// `name[0]=` (and `name[]=`), and repeated `name=`. Indexed values are
// ordered by index. A value that looks like a JSON-encoded array
// (`name=["a@x"]`) is rejected: it is not a documented encoding and a strict
// fake must expose clients that send it.
func queryArray(q url.Values, name string) ([]string, *validationError) {
	type indexed struct {
		i   int
		key string
		v   string
	}
	var idx []indexed
	var plain []string
	for key, vals := range q {
		var is string
		switch {
		case key == name || key == name+"[]":
			plain = append(plain, vals...)
			continue
		case strings.HasPrefix(key, name+"."):
			is = key[len(name)+1:]
		case strings.HasPrefix(key, name+"[") && strings.HasSuffix(key, "]"):
			is = key[len(name)+1 : len(key)-1]
		default:
			continue
		}
		i, err := strconv.Atoi(is)
		if err != nil || i < 0 {
			return nil, invalid(key, name+" must be an array with numeric indices")
		}
		for _, v := range vals {
			idx = append(idx, indexed{i, key, v})
		}
	}
	// Map iteration is random; sort so the order is the client's.
	slices.SortStableFunc(idx, func(a, b indexed) int {
		if a.i != b.i {
			return a.i - b.i
		}
		return strings.Compare(a.key, b.key)
	})
	out := make([]string, 0, len(idx)+len(plain))
	for _, x := range idx {
		out = append(out, x.v)
	}
	out = append(out, plain...)
	for _, v := range out {
		if t := strings.TrimSpace(v); strings.HasPrefix(t, "[") || strings.HasPrefix(t, `"`) {
			return nil, invalid(name, name+" must be an array query parameter ("+name+".0=…), not a JSON-encoded string")
		}
	}
	return out, nil
}
