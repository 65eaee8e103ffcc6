package aws

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strings"

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
// last listings' counts: the whole account in pages of 100; the watched
// names, ten to a name filter; or the prefixes of the watched names (up to
// their first '/', ten to a filter), in pages of what each holds. So a
// sweep costs what is watched, not what the account holds: 100 watched
// secrets of 20,000 are 10 calls, not 200; and a shard watching the 1,000
// secrets under its team's prefix of an account of 2,000 lists those, 10
// calls, not all 20 pages.
func (p *Poller) list(ctx context.Context, api API, storeID string, byKey map[string][]providers.Ref, patterns bool, visit func(types.SecretListEntry)) error {
	p.mu.Lock()
	count, counted := p.listedCount[storeID]
	under := maps.Clone(p.listedUnder[storeID])
	p.mu.Unlock()
	var names, prefixes []string
	if !patterns && counted {
		names = watchedNames(byKey)
		prefixes = namePrefixes(names)
	}
	fullCalls := max(1, (count+listPageSize-1)/listPageSize)
	filteredCalls := (len(names) + namesPerFilter - 1) / namesPerFilter
	prefixCalls := 0
	for start := 0; start < len(prefixes); start += namesPerFilter {
		held := 0
		for _, prefix := range prefixes[start:min(start+namesPerFilter, len(prefixes))] {
			held += under[prefix]
		}
		prefixCalls += max(1, (held+listPageSize-1)/listPageSize)
	}
	if patterns || !counted || (filteredCalls >= fullCalls && prefixCalls >= fullCalls) {
		counts := map[string]int{}
		n := 0
		err := p.listPages(ctx, api, &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(listPageSize)}, func(entry types.SecretListEntry) {
			n++
			counts[namePrefix(aws.ToString(entry.Name))]++
			visit(entry)
		})
		if err == nil {
			p.mu.Lock()
			if p.listedCount == nil {
				p.listedCount, p.listedUnder = map[string]int{}, map[string]map[string]int{}
			}
			p.listedCount[storeID], p.listedUnder[storeID] = n, counts
			p.mu.Unlock()
		}
		return err
	}
	if prefixCalls < filteredCalls {
		return p.listUnder(ctx, api, storeID, prefixes, visit)
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

// listUnder lists the secrets under prefixes, ten to a name filter, and
// records how many each holds.
func (p *Poller) listUnder(ctx context.Context, api API, storeID string, prefixes []string, visit func(types.SecretListEntry)) error {
	counts := map[string]int{}
	for start := 0; start < len(prefixes); start += namesPerFilter {
		batch := prefixes[start:min(start+namesPerFilter, len(prefixes))]
		input := &secretsmanager.ListSecretsInput{MaxResults: aws.Int32(listPageSize),
			Filters: []types.Filter{{Key: types.FilterNameStringTypeName, Values: batch}}}
		err := p.listPages(ctx, api, input, func(entry types.SecretListEntry) {
			counts[namePrefix(aws.ToString(entry.Name))]++
			visit(entry)
		})
		if err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if under := p.listedUnder[storeID]; under != nil {
		for _, prefix := range prefixes {
			under[prefix] = counts[prefix]
		}
	}
	return nil
}

// namePrefix is a secret name up to and including its first '/', or the
// whole name when it has none.
func namePrefix(name string) string {
	if i := strings.IndexByte(name, '/'); i >= 0 {
		return name[:i+1]
	}
	return name
}

// namePrefixes are the prefixes of sorted names, sorted and once each.
func namePrefixes(names []string) []string {
	var prefixes []string
	for _, name := range names {
		if prefix := namePrefix(name); len(prefixes) == 0 || prefixes[len(prefixes)-1] != prefix {
			prefixes = append(prefixes, prefix)
		}
	}
	return prefixes
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
