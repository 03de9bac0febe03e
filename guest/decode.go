package guest

import (
	"github.com/baton-runner/baton-runner/abi"
	"github.com/baton-runner/baton-runner/guest/internal/jsonscan"
)

// The listing requests arrive once per resource and page, and
// encoding/json's reflection costs a WebAssembly guest far more than the
// call's own work on a small document. decodeFast reads them directly, but
// only in the plain form the host's json.Marshal writes: known keys spelled
// exactly, each at most once, strings without escapes, no null where a
// string is expected. Anything else reports false and the caller decodes
// with encoding/json, so the result is always the one json.Unmarshal gives
// (decode_test.go holds the two to that).

// decodeFast decodes input into v when v is one of the listing requests
// and input is in the plain form; otherwise it reports false and leaves v
// untouched.
func decodeFast(input []byte, v any) bool {
	d := fastDecoder{jsonscan.Scanner{B: input}}
	switch req := v.(type) {
	case *abi.ListResourcesRequest:
		var r abi.ListResourcesRequest
		if d.object(func(key string) bool {
			switch key {
			case "resourceType":
				return d.str(&r.ResourceType)
			case "parent":
				return d.resourceIDPtr(&r.Parent)
			case "pageToken":
				return d.str(&r.PageToken)
			}
			return d.call(key, &r.Call)
		}) && d.End() {
			*req = r
			return true
		}
	case *abi.ListEntitlementsRequest:
		var r abi.ListEntitlementsRequest
		if d.resourceRequest(&r.Call, &r.Resource, &r.PageToken) {
			*req = r
			return true
		}
	case *abi.ListGrantsRequest:
		var r abi.ListGrantsRequest
		if d.resourceRequest(&r.Call, &r.Resource, &r.PageToken) {
			*req = r
			return true
		}
	}
	return false
}

// resourceRequest reads the whole input as a request about one resource
// (the listing requests of entitlements and grants share this shape).
func (d *fastDecoder) resourceRequest(call *abi.Call, res *abi.Resource, pageToken *string) bool {
	return d.object(func(key string) bool {
		switch key {
		case "resource":
			return d.resource(res)
		case "pageToken":
			return d.str(pageToken)
		}
		return d.call(key, call)
	}) && d.End()
}

type fastDecoder struct{ jsonscan.Scanner }

func (d *fastDecoder) str(dst *string) bool {
	s, ok := d.RawString()
	*dst = s
	return ok
}

// object reads an object, calling member for each key with the decoder
// positioned at the value. A key seen twice fails, since encoding/json
// would merge the two values.
func (d *fastDecoder) object(member func(key string) bool) bool {
	if !d.Consume('{') {
		return false
	}
	if d.Consume('}') {
		return true
	}
	var seen []string
	for {
		key, ok := d.RawString()
		if !ok || !d.Consume(':') {
			return false
		}
		for _, k := range seen {
			if k == key {
				return false
			}
		}
		seen = append(seen, key)
		if !member(key) {
			return false
		}
		if d.Consume(',') {
			continue
		}
		return d.Consume('}')
	}
}

// call reads the members of abi.Call; any other key fails.
func (d *fastDecoder) call(key string, c *abi.Call) bool {
	switch key {
	case "config":
		return d.stringMap(&c.Config)
	case "syncId":
		return d.str(&c.SyncID)
	}
	return false
}

func (d *fastDecoder) stringMap(dst *map[string]string) bool {
	if d.Null() {
		*dst = nil
		return true
	}
	m := map[string]string{}
	*dst = m
	if !d.Consume('{') {
		return false
	}
	if d.Consume('}') {
		return true
	}
	for {
		k, ok := d.RawString()
		if !ok || !d.Consume(':') {
			return false
		}
		v, ok := d.RawString()
		if !ok {
			return false
		}
		m[k] = v
		if d.Consume(',') {
			continue
		}
		return d.Consume('}')
	}
}

func (d *fastDecoder) strings(dst *[]string) bool {
	if d.Null() {
		*dst = nil
		return true
	}
	if !d.Consume('[') {
		return false
	}
	out := []string{}
	if !d.Consume(']') {
		for {
			s, ok := d.RawString()
			if !ok {
				return false
			}
			out = append(out, s)
			if d.Consume(',') {
				continue
			}
			if !d.Consume(']') {
				return false
			}
			break
		}
	}
	*dst = out
	return true
}

func (d *fastDecoder) resourceID(id *abi.ResourceID) bool {
	return d.object(func(key string) bool {
		switch key {
		case "type":
			return d.str(&id.Type)
		case "id":
			return d.str(&id.ID)
		}
		return false
	})
}

func (d *fastDecoder) resourceIDPtr(dst **abi.ResourceID) bool {
	if d.Null() {
		*dst = nil
		return true
	}
	var id abi.ResourceID
	*dst = &id
	return d.resourceID(&id)
}

func (d *fastDecoder) resource(r *abi.Resource) bool {
	return d.object(func(key string) bool {
		switch key {
		case "id":
			return d.resourceID(&r.ID)
		case "parent":
			return d.resourceIDPtr(&r.Parent)
		case "displayName":
			return d.str(&r.DisplayName)
		case "description":
			return d.str(&r.Description)
		case "childTypes":
			return d.strings(&r.ChildTypes)
		case "profile":
			return d.stringMap(&r.Profile)
		case "user":
			if d.Null() {
				r.User = nil
				return true
			}
			u := &abi.UserTrait{}
			r.User = u
			return d.object(func(key string) bool {
				switch key {
				case "emails":
					return d.strings(&u.Emails)
				case "login":
					return d.str(&u.Login)
				case "status":
					var s string
					ok := d.str(&s)
					u.Status = abi.UserStatus(s)
					return ok
				}
				return false
			})
		}
		return false
	})
}
