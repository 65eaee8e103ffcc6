package aws

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/eso-bridge/eso-bridge/providers"
)

// ParameterAPI is the part of the SSM client the poller calls for Parameter
// Store. It has no GetParameter*: those return values, even undecrypted.
type ParameterAPI interface {
	DescribeParameters(context.Context, *ssm.DescribeParametersInput, ...func(*ssm.Options)) (*ssm.DescribeParametersOutput, error)
}

// ParameterClientFactory returns the Parameter Store client of a store.
type ParameterClientFactory func(ctx context.Context, store Store) (ParameterAPI, error)

// parametersPerCall is DescribeParameters' limit of names per filter and of
// results per page.
const parametersPerCall = 50

// pollParameters looks at the watched parameters of one Parameter Store:
// DescribeParameters by name, fifty to a call, which gives each one's
// version and change time and never its value. A new version is a
// rotation; a parameter that does not exist costs nothing beyond its share
// of a call.
func (p *Poller) pollParameters(ctx context.Context, storeID string, refs []providers.Ref, changes chan<- providers.Change) error {
	api, err := p.parameterClient(ctx, storeID)
	if err != nil {
		return err
	}
	if err := p.findParameters(ctx, api, storeID, changes); err != nil {
		return err
	}
	byName := map[string][]providers.Ref{}
	for _, ref := range refs {
		byName[ref.Key] = append(byName[ref.Key], ref)
	}
	names := make([]string, 0, len(byName))
	for name := range byName {
		names = append(names, name)
	}
	sort.Strings(names)
	for start := 0; start < len(names); start += parametersPerCall {
		batch := names[start:min(start+parametersPerCall, len(names))]
		err := p.describeParameters(ctx, api, batch, func(meta ssmtypes.ParameterMetadata) error {
			for _, ref := range byName[aws.ToString(meta.Name)] {
				if _, err := p.reportParameter(ctx, ref, meta, changes); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// findParameters expands the store's patterns: one DescribeParameters
// listing each, filtered by path (recursive) and tags as ESO's find is, the
// name matched here; each parameter found is followed like a named one.
func (p *Poller) findParameters(ctx context.Context, api ParameterAPI, storeID string, changes chan<- providers.Change) error {
	p.mu.Lock()
	patterns := slices.Clone(p.patterns[storeID])
	p.mu.Unlock()
	matched := map[providers.Ref][]providers.Ref{}
	for _, pattern := range patterns {
		var filters []ssmtypes.ParameterStringFilter
		if pattern.Path != "" {
			filters = append(filters, ssmtypes.ParameterStringFilter{Key: aws.String("Path"), Option: aws.String("Recursive"), Values: []string{pattern.Path}})
		}
		for _, tag := range tagPairs(pattern.Tags) {
			filters = append(filters, ssmtypes.ParameterStringFilter{Key: aws.String("tag:" + tag[0]), Option: aws.String("Equals"), Values: []string{tag[1]}})
		}
		name, err := regexp.Compile(pattern.NameRegexp)
		if err != nil {
			continue // ESO refuses it too: nothing matches
		}
		err = p.describeParametersWith(ctx, api, filters, func(meta ssmtypes.ParameterMetadata) error {
			if !name.MatchString(aws.ToString(meta.Name)) {
				return nil
			}
			ref := providers.Ref{Store: storeID, Key: aws.ToString(meta.Name)}
			matched[pattern] = append(matched[pattern], ref)
			_, err := p.reportParameter(ctx, ref, meta, changes)
			return err
		})
		if err != nil {
			return err
		}
	}
	p.setMatched(patterns, matched)
	return nil
}

// describeParameters visits the metadata of the parameters named.
func (p *Poller) describeParameters(ctx context.Context, api ParameterAPI, names []string, visit func(ssmtypes.ParameterMetadata) error) error {
	return p.describeParametersWith(ctx, api, []ssmtypes.ParameterStringFilter{{
		Key: aws.String("Name"), Option: aws.String("Equals"), Values: names,
	}}, visit)
}

// describeParametersWith visits the metadata of the parameters filters
// select, page by page.
func (p *Poller) describeParametersWith(ctx context.Context, api ParameterAPI, filters []ssmtypes.ParameterStringFilter, visit func(ssmtypes.ParameterMetadata) error) error {
	input := &ssm.DescribeParametersInput{MaxResults: aws.Int32(parametersPerCall), ParameterFilters: filters}
	stopOnRepeat := func(o *ssm.DescribeParametersPaginatorOptions) { o.StopOnDuplicateToken = true }
	for paginator := ssm.NewDescribeParametersPaginator(api, input, stopOnRepeat); paginator.HasMorePages(); {
		page, err := paginator.NextPage(ctx)
		p.count("DescribeParameters", err)
		if err != nil {
			return fmt.Errorf("DescribeParameters: %w", err)
		}
		for _, meta := range page.Parameters {
			if err := visit(meta); err != nil {
				return err
			}
		}
	}
	return nil
}

// reportParameter reports the version of ref's parameter unless it is the
// one known; it returns whether that was a move.
func (p *Poller) reportParameter(ctx context.Context, ref providers.Ref, meta ssmtypes.ParameterMetadata, changes chan<- providers.Change) (bool, error) {
	id := strconv.FormatInt(meta.Version, 10)
	known, seen := p.Current(ref)
	if seen && known.ID == id {
		return false, nil
	}
	version := providers.Version{ID: id, ChangedAt: aws.ToTime(meta.LastModifiedDate), ARN: aws.ToString(meta.ARN)}
	return seen, p.report(ctx, ref, version, !seen, changes)
}

// checkParameter describes one watched parameter now, out of the sweep: what
// an event about it asks for. It returns whether it reported a move.
func (p *Poller) checkParameter(ctx context.Context, ref providers.Ref, changes chan<- providers.Change) (bool, error) {
	api, err := p.parameterClient(ctx, ref.Store)
	if err != nil {
		return false, err
	}
	moved := false
	err = p.describeParameters(ctx, api, []string{ref.Key}, func(meta ssmtypes.ParameterMetadata) error {
		if aws.ToString(meta.Name) != ref.Key {
			return nil
		}
		m, err := p.reportParameter(ctx, ref, meta, changes)
		moved = moved || m
		return err
	})
	return moved, err
}

// parameterClient returns the cached Parameter Store client of storeID.
func (p *Poller) parameterClient(ctx context.Context, storeID string) (ParameterAPI, error) {
	return cachedClient(p, &p.parameterClients, storeID, func(store Store) (ParameterAPI, error) {
		factory := p.ParameterClients
		if factory == nil {
			factory = Identities{}.ParameterClient
		}
		c, err := factory(ctx, store)
		if err != nil {
			return nil, err
		}
		return boundedParameterAPI{api: c, timeout: p.callTimeout()}, nil
	})
}

// boundedParameterAPI gives each call its own deadline.
type boundedParameterAPI struct {
	api     ParameterAPI
	timeout time.Duration
}

func (b boundedParameterAPI) DescribeParameters(ctx context.Context, in *ssm.DescribeParametersInput, opts ...func(*ssm.Options)) (out *ssm.DescribeParametersOutput, err error) {
	ctx, cancel := context.WithTimeout(ctx, b.timeout)
	defer cancel()
	defer recoverDecoding(&err)
	return b.api.DescribeParameters(ctx, in, opts...)
}
