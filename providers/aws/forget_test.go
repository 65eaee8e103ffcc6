package aws_test

import (
	"context"
	"testing"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// What nothing follows any more is forgotten at the next sweep: a secret
// whose last reader went (its namespace deleted) is new when another
// ExternalSecret reads it later — a rotation made in between is a first
// sighting, which triggers nothing, not a move that would make ESO fetch
// again what it has just fetched for the new ExternalSecret — and so are a
// dropped pattern's matches; a secret that failed is no longer a problem.
func TestASweepForgetsWhatNothingFollows(t *testing.T) {
	server, ids, url := identityBed(t)
	putAs(t, url, ownKey, "app/db", "v1")
	putAs(t, url, ownKey, "team/cache", "v1")
	server.Deny("app/denied")
	store := awsprovider.Store{Region: "us-east-1"}.ID()
	db := providers.Ref{Store: store, Key: "app/db"}
	denied := providers.Ref{Store: store, Key: "app/denied"}
	pattern := providers.Ref{Store: store, Path: "team/"}
	cache := providers.Ref{Store: store, Key: "team/cache"}

	poller := &awsprovider.Poller{Clients: ids.Client, Log: logr.Discard()}
	changes := make(chan providers.Change, 16)
	poller.Follow([]providers.Ref{db, denied, pattern}, nil)
	poller.Cycle(context.Background(), changes)
	drainChanges(changes)
	if _, ok := poller.Current(db); !ok {
		t.Fatal("the first sweep did not see app/db")
	}
	if _, ok := poller.Current(cache); !ok {
		t.Fatal("the first sweep did not see team/cache through the pattern")
	}
	if poller.Problem(denied) == nil {
		t.Fatal("app/denied is not a problem after a sweep: the test's premise is gone")
	}

	poller.Follow(nil, []providers.Ref{db, denied, pattern})
	poller.Cycle(context.Background(), changes)
	drainChanges(changes)
	if v, ok := poller.Current(db); ok {
		t.Errorf("app/db's version %s is still known after its last reader went", v.ID)
	}
	if v, ok := poller.Current(cache); ok {
		t.Errorf("team/cache's version %s is still known after the pattern that matched it went", v.ID)
	}
	if got := poller.Matching(pattern); len(got) > 0 {
		t.Errorf("the dropped pattern still matches %v", got)
	}
	if err := poller.Problem(denied); err != nil {
		t.Errorf("app/denied is still a problem after its last reader went: %v", err)
	}

	rotated, err := clientAs(url, ownKey).PutSecretValue(t.Context(), &secretsmanager.PutSecretValueInput{SecretId: sdkaws.String("app/db"), SecretString: sdkaws.String("v2")})
	if err != nil {
		t.Fatal(err)
	}
	poller.Follow([]providers.Ref{db}, nil)
	poller.Cycle(context.Background(), changes)
	close(changes)
	var seen []providers.Change
	for c := range changes {
		if c.Ref == db {
			seen = append(seen, c)
		}
	}
	if len(seen) != 1 || !seen[0].First || seen[0].Version.ID != sdkaws.ToString(rotated.VersionId) {
		t.Errorf("app/db followed again reported %+v, want one first sighting of the version put while nothing followed it", seen)
	}
}
