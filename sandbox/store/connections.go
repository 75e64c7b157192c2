package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/recurhq/recur/chartmogul"
)

// Connected subscriptions: when a customer's billing moves from one system
// to another, its old subscription ends and a new one starts, which the
// analytics would report as churn and new business. Connecting them (POST
// /v1/customers/{uuid}/connect_subscriptions) says they are one
// subscription. The connection is kept by group (subscription_connections);
// the analytics compute a group as one subscription (see loader.connect).

// SubscriptionRef names a subscription in a connect or disconnect request:
// by its uuid, with or without the "sub_" prefix (a data source given with
// it is not needed, and not checked: the uuid alone names one), or by its
// external id, within its data source when one is given (the older
// clients' way).
type SubscriptionRef struct {
	UUID           string
	DataSourceUUID string
	ExternalID     string
}

// connectedSub is a subscription a request names, resolved.
type connectedSub struct {
	id, customer int64
}

// resolveConnection finds the customer (not one merged into another) and
// the subscriptions refs name among its own and those of the customers
// merged into it. It returns ENOTFOUND for an unknown customer and
// EINVALID naming the first reference that names none of them.
func resolveConnection(ctx context.Context, tx *txn, accountID int64, customerUUID string, refs []SubscriptionRef) (int64, []connectedSub, error) {
	var customer int64
	err := tx.queryRow(ctx, `SELECT id FROM customers WHERE uuid = $1 AND account_id = $2 AND merged_into_id IS NULL`, customerUUID, accountID).Scan(&customer)
	if isNoRows(err) {
		return 0, nil, chartmogul.NotFound("Customer")
	}
	if err != nil {
		return 0, nil, internal("find customer", err)
	}
	type found struct {
		id, customer int64
		uuid, ds     string
		ext          string
	}
	var all []found
	err = each(ctx, tx, `SELECT s.id, s.uuid, s.customer_id, d.uuid, s.external_id FROM subscriptions s JOIN data_sources d ON d.id = s.data_source_id
		JOIN customers c ON c.id = s.customer_id WHERE c.account_id = $1 AND (c.id = $2 OR c.merged_into_id = $2)`, []any{accountID, customer}, func(r rows) error {
		var f found
		if err := r.Scan(&f.id, &f.uuid, &f.customer, &f.ds, &f.ext); err != nil {
			return err
		}
		all = append(all, f)
		return nil
	})
	if err != nil {
		return 0, nil, internal("find subscriptions", err)
	}
	var out []connectedSub
	for _, ref := range refs {
		uuid := strings.TrimSpace(ref.UUID)
		if uuid != "" && !strings.HasPrefix(uuid, chartmogul.PrefixSubscription) {
			uuid = chartmogul.PrefixSubscription + uuid
		}
		var match []found
		for _, f := range all {
			switch {
			case uuid != "":
				if f.uuid == uuid {
					match = append(match, f)
				}
			case ref.ExternalID != "":
				if f.ext == ref.ExternalID && (ref.DataSourceUUID == "" || f.ds == ref.DataSourceUUID) {
					match = append(match, f)
				}
			}
		}
		name := chartmogul.Quote(ref.UUID)
		if uuid == "" {
			name = "with external_id " + chartmogul.Quote(ref.ExternalID)
		}
		switch {
		case uuid == "" && ref.ExternalID == "":
			return 0, nil, chartmogul.Invalid(map[string]string{"subscriptions": "name each subscription by its uuid, or by its external_id and data_source_uuid"})
		case len(match) == 0:
			return 0, nil, chartmogul.Invalid(map[string]string{"subscriptions": fmt.Sprintf(
				"the customer has no subscription %s; name its subscriptions by the uuid its subscription list shows", name)})
		case len(match) > 1:
			return 0, nil, chartmogul.Invalid(map[string]string{"subscriptions": fmt.Sprintf(
				"the customer has a subscription %s in more than one data source; give its data_source_uuid", name)})
		}
		if c := (connectedSub{match[0].id, match[0].customer}); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return customer, out, nil
}

// ConnectSubscriptions connects subscriptions of a customer (its own and
// those of customers merged into it) into one, joining any groups they
// already belong to, and queues the customer's recompute in the same
// transaction. It returns ENOTFOUND for an unknown customer, and EINVALID
// when fewer than two subscriptions are named or one is not the
// customer's.
func (s *Store) ConnectSubscriptions(ctx context.Context, accountID int64, customerUUID string, refs []SubscriptionRef) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		customer, subs, err := resolveConnection(ctx, tx, accountID, customerUUID, refs)
		if err != nil {
			return err
		}
		if len(subs) < 2 {
			return chartmogul.Invalid(map[string]string{"subscriptions": fmt.Sprintf("connect at least two subscriptions of the customer; got %d", len(subs))})
		}
		ids := make([]int64, len(subs))
		for i, sub := range subs {
			ids[i] = sub.id
		}
		// The groups they are in already join the new one.
		members := map[int64]bool{}
		for _, id := range ids {
			members[id] = true
		}
		err = each(ctx, tx, `SELECT subscription_id FROM subscription_connections WHERE group_id IN (
			SELECT group_id FROM subscription_connections WHERE `+inList(tx.eng, "subscription_id", 1)+`)`, []any{listArg(tx.eng, ids)}, func(r rows) error {
			var id int64
			err := r.Scan(&id)
			members[id] = true
			return err
		})
		if err != nil {
			return internal("read connections", err)
		}
		all := slices.Sorted(mapKeys(members))
		if _, err := tx.exec(ctx, `DELETE FROM subscription_connections WHERE `+inList(tx.eng, "subscription_id", 1), listArg(tx.eng, all)); err != nil {
			return internal("connect subscriptions", err)
		}
		err = tx.bulk(ctx, "subscription_connections", []string{"subscription_id", "group_id"}, len(all), func(i int, dst []any) []any {
			return append(dst, all[i], all[0])
		})
		if err != nil {
			return internal("connect subscriptions", err)
		}
		return s.touchConnected(ctx, tx, customer, subs)
	})
}

// DisconnectSubscriptions takes subscriptions of a customer out of their
// groups (a group left with one subscription is dissolved) and queues the
// customer's recompute in the same transaction. It returns ENOTFOUND for an
// unknown customer and EINVALID when none is named or one is not the
// customer's.
func (s *Store) DisconnectSubscriptions(ctx context.Context, accountID int64, customerUUID string, refs []SubscriptionRef) error {
	return s.eng.writeTx(ctx, func(tx *txn) error {
		customer, subs, err := resolveConnection(ctx, tx, accountID, customerUUID, refs)
		if err != nil {
			return err
		}
		if len(subs) == 0 {
			return chartmogul.Invalid(map[string]string{"subscriptions": "name at least one subscription of the customer to disconnect"})
		}
		ids := make([]int64, len(subs))
		for i, sub := range subs {
			ids[i] = sub.id
		}
		var groups []int64
		err = each(ctx, tx, `SELECT DISTINCT group_id FROM subscription_connections WHERE `+inList(tx.eng, "subscription_id", 1), []any{listArg(tx.eng, ids)}, func(r rows) error {
			var g int64
			err := r.Scan(&g)
			groups = append(groups, g)
			return err
		})
		if err != nil {
			return internal("read connections", err)
		}
		if _, err := tx.exec(ctx, `DELETE FROM subscription_connections WHERE `+inList(tx.eng, "subscription_id", 1), listArg(tx.eng, ids)); err != nil {
			return internal("disconnect subscriptions", err)
		}
		if len(groups) > 0 {
			// A group of one connects nothing.
			_, err := tx.exec(ctx, `DELETE FROM subscription_connections WHERE group_id IN (SELECT group_id FROM subscription_connections
				WHERE `+inList(tx.eng, "group_id", 1)+` GROUP BY group_id HAVING COUNT(*) < 2)`, listArg(tx.eng, groups))
			if err != nil {
				return internal("disconnect subscriptions", err)
			}
		}
		return s.touchConnected(ctx, tx, customer, subs)
	})
}

// touchConnected queues the recompute of the customer and of the owners of
// the subscriptions (customers merged into it are computed with it).
func (s *Store) touchConnected(ctx context.Context, tx *txn, customer int64, subs []connectedSub) error {
	if s.AfterWrite == nil {
		return nil
	}
	ids := []int64{customer}
	for _, sub := range subs {
		if !slices.Contains(ids, sub.customer) {
			ids = append(ids, sub.customer)
		}
	}
	return s.AfterWrite(ctx, Tx{tx}, ids)
}
