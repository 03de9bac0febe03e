package abi_test

import (
	"fmt"

	"github.com/baton-runner/baton-runner/abi"
)

// The reply of baton_http_batch frames the bodies raw after a JSON head;
// a guest library splits it back into responses, in request order.
func ExampleDecodeBatchReply() {
	reply, _ := abi.EncodeBatchReply([]abi.HTTPResponse{
		{Status: 200, Body: []byte(`{"data":{"user":{"id":"u1"}}}`)},
		{Status: 404},
		{Error: abi.Errorf(abi.CodeRateLimited, "GET /users/u3: upstream rate limit")},
	})
	responses, err := abi.DecodeBatchReply(reply, 3)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, r := range responses {
		if r.Error != nil {
			fmt.Println("error:", r.Error.Code)
			continue
		}
		fmt.Println(r.Status, len(r.Body), "bytes")
	}
	// Output:
	// 200 29 bytes
	// 404 0 bytes
	// error: rate_limited
}
