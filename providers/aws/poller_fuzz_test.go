package aws_test

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	sdkaws "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	"github.com/go-logr/logr"

	"github.com/eso-bridge/eso-bridge/providers"
	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// FuzzPollerSurvivesAnyResponse answers the poller's ListSecrets and
// DescribeSecret with arbitrary bodies and statuses, from a server on
// loopback: whatever AWS (or something in between) sends, a cycle ends by
// itself, without a panic, and a version the poller then holds has an ID.
func FuzzPollerSurvivesAnyResponse(f *testing.F) {
	f.Add(200, `{"SecretList":[{"Name":"app/db","ARN":"arn:aws:secretsmanager:us-east-1:111122223333:secret:app/db-AbCdEf","SecretVersionsToStages":{"v1":["AWSCURRENT"]},"LastChangedDate":1.7e9}]}`)
	f.Add(200, `{"SecretList":[{"Name":"app/db","SecretVersionsToStages":{"v1":["AWSCURRENT"],"v2":["AWSCURRENT","AWSPENDING"]}}],"NextToken":"next"}`)
	f.Add(200, `{"SecretList":[{"Name":null,"SecretVersionsToStages":null,"Tags":[{"Key":null}]}]}`)
	f.Add(200, `{"Name":"app/db","VersionIdsToStages":{"":["AWSCURRENT"]},"LastChangedDate":"yesterday"}`)
	f.Add(200, `{}`)
	f.Add(200, `[]`)
	f.Add(200, `{"SecretList":`)
	f.Add(400, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	f.Add(400, `{"__type":"ResourceNotFoundException"}`)
	f.Add(500, `<html>bad gateway</html>`)
	f.Add(302, ``)
	f.Fuzz(func(t *testing.T, status int, body string) {
		if status < 200 || status > 599 {
			status = 200
		}
		listener, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/x-amz-json-1.1")
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		})}
		go func() { _ = server.Serve(listener) }()
		defer server.Close()

		client := clientAt("http://"+listener.Addr().String(), func(o *secretsmanager.Options) { o.Retryer = sdkaws.NopRetryer{} })
		poller := &awsprovider.Poller{Interval: time.Hour, Log: logr.Discard(),
			Clients: func(context.Context, awsprovider.Store) (awsprovider.API, error) { return client, nil }}
		store := awsprovider.Store{Region: "us-east-1"}.ID()
		watched := []providers.Ref{{Store: store, Key: "app/db"}, {Store: store, Key: "other"}, {Store: store, Path: "app/", Tags: "team=a"}}
		poller.Watch(watched)
		changes := make(chan providers.Change, 64)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		poller.Cycle(ctx, changes)
		if ctx.Err() != nil {
			t.Errorf("the cycle did not end by itself (status %d, body %q): it pages or waits forever", status, body)
		}
		close(changes)
		for change := range changes {
			if change.Failed == nil && change.Version.ID == "" {
				t.Errorf("a change of %s without a version ID or a failure", change.Ref.Key)
			}
		}
		for _, ref := range watched[:2] {
			if version, ok := poller.Current(ref); ok && strings.TrimSpace(version.ID) == "" {
				t.Errorf("current version of %s has no ID", ref.Key)
			}
		}
	})
}

// clientAt is a Secrets Manager client for a local endpoint, with static
// test keys; opts adjust it.
func clientAt(url string, opts ...func(*secretsmanager.Options)) *secretsmanager.Client {
	return secretsmanager.New(secretsmanager.Options{
		Region: "us-east-1", BaseEndpoint: sdkaws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("local", "local", ""),
	}, opts...)
}
