package aws

import (
	"context"
	"fmt"
	"sort"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"

	"github.com/eso-bridge/eso-bridge/providers"
)

// Limits of ListSecrets: entries per page, and values per filter.
const (
	listPageSize   = 100
	namesPerFilter = 10
)

// list visits the secrets of a store a sweep must see: the whole account
// when a pattern (dataFrom.find) must match against it, or while its size is
// unknown (the first sweep); otherwise, whichever costs fewer calls by the
// last full listing's count: the whole account in pages of 100, or the
// watched names, ten to a name filter. So a sweep costs what is watched, not
// what the account holds: 100 watched secrets of 20,000 are 10 calls, not 200.
func (p *Poller) list(ctx context.Context, api API, storeID string, byKey map[string][]providers.Ref, patterns bool, visit func(types.SecretListEntry)) error {
	p.mu.Lock()
	count, counted := p.listedCount[storeID]
	p.mu.Unlock()
	var names []string
	if !patterns && counted {
		names = watchedNames(byKey)
	}
	fullCalls := max(1, (count+listPageSize-1)/listPageSize)
	filteredCalls := (len(names) + namesPerFilter - 1) / namesPerFilter
	if patterns || !counted || filteredCalls >= fullCalls {
		n := 0
		err := p.listPages(ctx, api, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(listPageSize)}, func(entry types.SecretListEntry) {
			n++
			visit(entry)
		})
		if err == nil {
			p.mu.Lock()
			if p.listedCount == nil {
				p.listedCount = map[string]int{}
			}
			p.listedCount[storeID] = n
			p.mu.Unlock()
		}
		return err
	}
	for start := 0; start < len(names); start += namesPerFilter {
		batch := names[start:min(start+namesPerFilter, len(names))]
		input := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(listPageSize),
			Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: batch}}}
		if err := p.listPages(ctx, api, input, visit); err != nil {
			return err
		}
	}
	return nil
}

// listPages visits every entry of one listing, page by page.
func (p *Poller) listPages(ctx context.Context, api API, input *secretsmanager.ListSecretsInput, visit func(types.SecretListEntry)) error {
	// A listing that hands back the token it was given would page forever
	// (fuzzing found this): the SDK's paginator stops on it.
	stopOnRepeat := func(o *secretsmanager.ListSecretsPaginatorOptions) { o.StopOnDuplicateToken = true }
	for paginator := secretsmanager.NewListSecretsPaginator(api, input, stopOnRepeat); paginator.HasMorePages(); {
		page, err := paginator.NextPage(ctx)
		p.count("ListSecrets", err)
		if err != nil {
			return fmt.Errorf("ListSecrets: %w", err)
		}
		for _, entry := range page.SecretList {
			visit(entry)
		}
	}
	return nil
}

// watchedNames are the names a name filter finds the watched keys by (an
// ARN by its secret's name), sorted and once each. The filter matches
// prefixes, so it may find more: they are looked up and passed over.
func watchedNames(byKey map[string][]providers.Ref) []string {
	set := map[string]bool{}
	for key := range byKey {
		if name := nameOfARN(key); name != "" {
			key = name
		}
		set[key] = true
	}
	names := make([]string, 0, len(set))
	for name := range set {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}
