package gen_test

import (
	"fmt"
	"os"

	"github.com/recurhq/recur/sandbox/gen"
)

// Generate a small payload and report what it holds.
func ExamplePayload() {
	data, st, err := gen.Payload(gen.Options{Customers: 3, Seed: 1, ExternalID: "example"})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(len(data) == st.Bytes, st.Customers, st.Records() > 3)
	// Output: true 3 true
}
