package secret_test

import (
	"encoding/json"
	"fmt"

	"go.uber.org/zap"

	"github.com/baton-runner/baton-runner/host/secret"
)

// Hold a credential in a Secret from the moment it is read: a config
// struct holding it can then be printed, encoded or logged safely, and only
// the one call that sends it uses Reveal.
func ExampleSecret() {
	type tenant struct {
		Name  string
		Token secret.Secret
	}
	t := tenant{Name: "acme", Token: secret.New("sk-live-123")}

	fmt.Printf("%v %s\n", t.Token, t.Token)
	fmt.Printf("%+v\n", t)
	fmt.Printf("%#v\n", t.Token)
	b, err := json.Marshal(t)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(b))
	zap.NewExample().Info("tenant loaded", zap.Any("tenant", t), zap.Stringer("token", t.Token))

	fmt.Println("sent as:", "Bearer "+t.Token.Reveal())
	// Output:
	// [REDACTED] [REDACTED]
	// {Name:acme Token:[REDACTED]}
	// [REDACTED]
	// {"Name":"acme","Token":"[REDACTED]"}
	// {"level":"info","msg":"tenant loaded","tenant":{"Name":"acme","Token":"[REDACTED]"},"token":"[REDACTED]"}
	// sent as: Bearer sk-live-123
}
