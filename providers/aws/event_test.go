package aws_test

import (
	"errors"
	"strings"
	"testing"

	awsprovider "github.com/eso-bridge/eso-bridge/providers/aws"
)

// Events as EventBridge delivers them to an SQS target, after the examples
// in the Secrets Manager and CloudTrail documentation.
const (
	labelUpdatedEvent = `{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"Secret Label Updated","source":"aws.secretsmanager",
"account":"012345678901","time":"2024-02-06T16:43:48Z","region":"us-west-2",
"resources":["arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-a1b2c3"],
"detail":{"name":"mySecret","labelUpdated":"AWSCURRENT","versionId":"a1b2c3d4-5678-90ab-cdef-EXAMPLE11111"}}`
	putSecretValueEvent = `{"version":"0","id":"e1","detail-type":"AWS API Call via CloudTrail","source":"aws.secretsmanager","account":"012345678901",
"time":"2024-02-06T16:43:48Z","region":"us-west-2","resources":[],
"detail":{"eventSource":"secretsmanager.amazonaws.com","eventName":"PutSecretValue","awsRegion":"us-west-2",
"requestParameters":{"secretId":"app/db","clientRequestToken":"t","secretString":"HIDDEN_DUE_TO_SECURITY_REASONS"},
"responseElements":{"arn":"arn:aws:secretsmanager:us-west-2:012345678901:secret:app/db-AbCdEf","versionId":"v2","versionStages":["AWSCURRENT"]}}}`
	updateStageEvent = `{"id":"e2","detail-type":"AWS API Call via CloudTrail","source":"aws.secretsmanager","time":"2024-02-06T16:43:48Z","region":"eu-west-1",
"detail":{"eventName":"UpdateSecretVersionStage","requestParameters":{"secretId":"arn:aws:secretsmanager:eu-west-1:012345678901:secret:app/api-XyZ123","versionStage":"AWSCURRENT","moveToVersionId":"v3","removeFromVersionId":"v2"},
"responseElements":{"aRN":"arn:aws:secretsmanager:eu-west-1:012345678901:secret:app/api-XyZ123","name":"app/api"}}}`
	parameterChangeEvent = `{"version":"0","id":"p1","detail-type":"Parameter Store Change","source":"aws.ssm","account":"012345678901",
"time":"2024-02-06T16:43:48Z","region":"us-east-1","resources":["arn:aws:ssm:us-east-1:012345678901:parameter/app/db"],
"detail":{"operation":"Update","name":"/app/db","type":"SecureString","description":""}}`
	rotationSucceededEvent = `{"id":"e3","detail-type":"AWS Service Event via CloudTrail","source":"aws.secretsmanager","time":"2024-02-06T16:43:48Z","region":"us-east-1",
"detail":{"eventName":"RotationSucceeded","additionalEventData":{"SecretId":"arn:aws:secretsmanager:us-east-1:012345678901:secret:app/db-AbCdEf"}}}`
)

func TestParseEventReadsEachKindOfRotationEvent(t *testing.T) {
	tests := []struct {
		name string
		body string
		want awsprovider.Event
		// concerns: whether it concerns a reader of AWSCURRENT, and of
		// the custom label "blue".
		current, blue bool
	}{
		{"native label move", labelUpdatedEvent, awsprovider.Event{ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", Kind: awsprovider.KindLabelUpdated, Region: "us-west-2",
			Secret: "mySecret", ARN: "arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-a1b2c3", VersionID: "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Label: "AWSCURRENT"}, true, false},
		{"a put through CloudTrail", putSecretValueEvent, awsprovider.Event{ID: "e1", Kind: awsprovider.KindPutSecretValue, Region: "us-west-2",
			Secret: "app/db", ARN: "arn:aws:secretsmanager:us-west-2:012345678901:secret:app/db-AbCdEf", VersionID: "v2", Label: "AWSCURRENT"}, true, false},
		{"a stage move, with the old aRN spelling", updateStageEvent, awsprovider.Event{ID: "e2", Kind: awsprovider.KindUpdateSecretVersionStage, Region: "eu-west-1",
			Secret: "arn:aws:secretsmanager:eu-west-1:012345678901:secret:app/api-XyZ123", ARN: "arn:aws:secretsmanager:eu-west-1:012345678901:secret:app/api-XyZ123", VersionID: "v3", Label: "AWSCURRENT"}, true, false},
		{"a finished rotation names no version", rotationSucceededEvent, awsprovider.Event{ID: "e3", Kind: awsprovider.KindRotationSucceeded, Region: "us-east-1",
			Secret: "arn:aws:secretsmanager:us-east-1:012345678901:secret:app/db-AbCdEf"}, true, true},
		{"a custom label move concerns its readers only", strings.Replace(labelUpdatedEvent, `"labelUpdated":"AWSCURRENT"`, `"labelUpdated":"blue"`, 1),
			awsprovider.Event{ID: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", Kind: awsprovider.KindLabelUpdated, Region: "us-west-2", Secret: "mySecret",
				ARN: "arn:aws:secretsmanager:us-west-2:012345678901:secret:mySecret-a1b2c3", VersionID: "a1b2c3d4-5678-90ab-cdef-EXAMPLE11111", Label: "blue"}, false, true},
		{"a stage move of AWSPENDING concerns neither", strings.Replace(updateStageEvent, `"versionStage":"AWSCURRENT"`, `"versionStage":"AWSPENDING"`, 1),
			awsprovider.Event{ID: "e2", Kind: awsprovider.KindUpdateSecretVersionStage, Region: "eu-west-1",
				Secret: "arn:aws:secretsmanager:eu-west-1:012345678901:secret:app/api-XyZ123", ARN: "arn:aws:secretsmanager:eu-west-1:012345678901:secret:app/api-XyZ123", VersionID: "v3", Label: "AWSPENDING"}, false, false},
		{"a parameter's new version", parameterChangeEvent, awsprovider.Event{ID: "p1", Kind: awsprovider.KindParameterChange, Region: "us-east-1",
			Service: awsprovider.ServiceParameterStore, Secret: "/app/db", ARN: "arn:aws:ssm:us-east-1:012345678901:parameter/app/db"}, true, true},
		{"a put that labels its version blue", strings.Replace(putSecretValueEvent, `"versionStages":["AWSCURRENT"]`, `"versionStages":["blue"]`, 1),
			awsprovider.Event{ID: "e1", Kind: awsprovider.KindPutSecretValue, Region: "us-west-2",
				Secret: "app/db", ARN: "arn:aws:secretsmanager:us-west-2:012345678901:secret:app/db-AbCdEf", VersionID: "v2", Label: "blue"}, false, true},
		{"a put with two labels concerns both", strings.Replace(putSecretValueEvent, `"versionStages":["AWSCURRENT"]`, `"versionStages":["AWSCURRENT","blue"]`, 1),
			awsprovider.Event{ID: "e1", Kind: awsprovider.KindPutSecretValue, Region: "us-west-2",
				Secret: "app/db", ARN: "arn:aws:secretsmanager:us-west-2:012345678901:secret:app/db-AbCdEf", VersionID: "v2"}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := awsprovider.ParseEvent(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			got.Time = tt.want.Time // checked below
			if got != tt.want {
				t.Errorf("ParseEvent =\n %+v\nwant\n %+v", got, tt.want)
			}
			if got.Concerns("") != tt.current || got.Concerns("blue") != tt.blue {
				t.Errorf("concerns AWSCURRENT %v and blue %v, want %v and %v", got.Concerns(""), got.Concerns("blue"), tt.current, tt.blue)
			}
		})
	}
	if e, _ := awsprovider.ParseEvent(labelUpdatedEvent); e.Time.IsZero() {
		t.Error("the event's time was not read")
	}
}

func TestParseEventTellsOtherEventsFromGarbage(t *testing.T) {
	other := []string{
		`{"id":"x","source":"aws.ec2","detail-type":"EC2 Instance State-change Notification","region":"us-east-1","detail":{}}`,
		strings.Replace(putSecretValueEvent, `"eventName":"PutSecretValue"`, `"eventName":"GetSecretValue"`, 1),
		strings.Replace(putSecretValueEvent, `"eventName":"PutSecretValue",`, `"eventName":"PutSecretValue","errorCode":"AccessDenied",`, 1),
		strings.Replace(parameterChangeEvent, `"Parameter Store Change"`, `"Parameter Store Policy Action"`, 1),
	}
	for _, body := range other {
		if _, err := awsprovider.ParseEvent(body); !errors.Is(err, awsprovider.ErrNotSecretsManager) {
			t.Errorf("ParseEvent(%.60s...) = %v, want ErrNotSecretsManager", body, err)
		}
	}
	garbage := []string{
		``, `hello`, `[]`, `{}`, `{"source":"aws.secretsmanager"}`,
		`{"source":"aws.secretsmanager","detail-type":"Secret Label Updated","detail":{"name":"a","labelUpdated":"AWSCURRENT"}}`, // no region
		`{"source":"aws.secretsmanager","detail-type":"Secret Label Updated","region":"us-east-1","detail":{"name":"a"}}`,
		`{"source":"aws.secretsmanager","detail-type":"Secret Label Updated","region":"us-east-1","detail":{"labelUpdated":"AWSCURRENT"}}`,
		`{"source":"aws.secretsmanager","detail-type":"Secret Label Updated","region":"us-east-1","time":"yesterday","detail":{"name":"a","labelUpdated":"AWSCURRENT"}}`,
		`{"source":"aws.secretsmanager","detail-type":"Secret Label Updated","region":"us-east-1","detail":{"name":7,"labelUpdated":"AWSCURRENT"}}`,
		`{"Message":"s3cr3t-value-from-a-misrouted-SNS-topic"}`,
		strings.Replace(parameterChangeEvent, `"name":"/app/db"`, `"name":""`, 1),
	}
	for _, body := range garbage {
		_, err := awsprovider.ParseEvent(body)
		if err == nil || errors.Is(err, awsprovider.ErrNotSecretsManager) {
			t.Errorf("ParseEvent(%q) = %v, want a malformed-event error", body, err)
		}
		if err != nil && strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("the error quotes the body: %v", err)
		}
	}
}

func TestEventNamesASecretByNameOrARN(t *testing.T) {
	e, err := awsprovider.ParseEvent(rotationSucceededEvent) // names the secret by ARN only
	if err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]bool{
		"app/db": true, "arn:aws:secretsmanager:us-east-1:012345678901:secret:app/db-AbCdEf": true,
		"app/db-AbCdEf": false, "app": false, "app/dbx": false, "": false,
	} {
		if got := e.Names(key); got != want {
			t.Errorf("Names(%q) = %v, want %v", key, got, want)
		}
	}
}

// FuzzParseEvent: whatever a queue holds, ParseEvent ends without a panic,
// and an event it accepts names a region and a secret.
func FuzzParseEvent(f *testing.F) {
	for _, body := range []string{labelUpdatedEvent, putSecretValueEvent, updateStageEvent, rotationSucceededEvent, `{}`, `{"detail":null}`} {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		e, err := awsprovider.ParseEvent(body)
		if err != nil {
			return
		}
		if e.Region == "" || e.Secret == "" || e.Kind == "" {
			t.Errorf("accepted an event without region, secret or kind: %+v", e)
		}
	})
}
