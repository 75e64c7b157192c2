package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/recurhq/recur/chartmogul"
	"github.com/recurhq/recur/sandbox/store"
)

// keys manages API keys on the database a server uses: create, list, revoke.
func keys(ctx context.Context, args []string, getenv env, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return usageError{"sandbox keys needs a subcommand: create, list or revoke"}
	}
	sub, args := args[0], args[1:]
	fs := flags("keys "+sub, stderr)
	dbURL := fs.String("database", databaseURL(getenv), "database: sqlite:PATH or postgres://… (RECUR_DATABASE_URL)")
	var accountName *string
	var readOnly *bool
	if sub == "create" {
		accountName = fs.String("account", store.DefaultAccount, "account the key belongs to; created when new")
		readOnly = fs.Bool("read-only", false, "the key may only read")
	}
	if err := parse(fs, args); err != nil {
		return err
	}
	switch sub {
	case "create", "list", "revoke":
	default:
		return usageError{fmt.Sprintf("unknown keys subcommand %q; use create, list or revoke", sub)}
	}
	st, err := store.Open(ctx, *dbURL, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	switch sub {
	case "create":
		account, err := st.EnsureAccount(ctx, *accountName)
		if err != nil {
			return err
		}
		access := chartmogul.AccessReadWrite
		if *readOnly {
			access = chartmogul.AccessReadOnly
		}
		key, err := st.CreateKey(ctx, account.ID, access)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", key)
		fmt.Fprintf(stderr, "Created a %s key for account %q. It is shown only this once.\n", access, account.Name)
		return nil
	case "list":
		list, err := st.Keys(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tACCOUNT\tKEY\tACCESS\tCREATED\tREVOKED")
		for _, k := range list {
			revoked := "-"
			if k.RevokedAt != nil {
				revoked = k.RevokedAt.Format("2006-01-02 15:04")
			}
			fmt.Fprintf(tw, "%d\t%s\t%s…\t%s\t%s\t%s\n", k.ID, k.Account, k.Prefix, k.Access, k.CreatedAt.Format("2006-01-02 15:04"), revoked)
		}
		return tw.Flush()
	}
	if fs.NArg() != 1 {
		return usageError{"sandbox keys revoke needs the id of one key; `sandbox keys list` shows them"}
	}
	id, err := strconv.ParseInt(fs.Arg(0), 10, 64)
	if err != nil {
		return usageError{fmt.Sprintf("%q is not a key id; `sandbox keys list` shows them", fs.Arg(0))}
	}
	if err := st.RevokeKey(ctx, id); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Revoked key %d.\n", id)
	return nil
}
