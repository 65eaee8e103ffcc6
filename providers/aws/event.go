package aws

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Event is what eso-bridge takes from one Secrets Manager event that
// EventBridge delivered: which secret, in which region, and the version and
// label the event names, where it names them. Nothing else of the message is
// kept, and an event never carries a secret value.
type Event struct {
	// ID is EventBridge's event ID.
	ID string
	// Kind is the native detail-type or the CloudTrail event name, e.g.
	// "Secret Label Updated" or "PutSecretValue".
	Kind   string
	Region string
	// Service is ServiceParameterStore for a parameter's change, empty for
	// Secrets Manager.
	Service string
	// Secret is the secret's (or parameter's) name or ARN as the event
	// names it.
	Secret string
	// ARN is the secret's ARN when the event carries it besides Secret.
	ARN string
	// VersionID is the version the event moved a label to, or put; empty
	// when the event does not say (RotationSucceeded).
	VersionID string
	// Label is the staging label the event moved, when it says: the label
	// a PutSecretValue gave its version (AWSCURRENT unless it named one;
	// empty when it named several), empty for RotationSucceeded.
	Label string
	// Time is EventBridge's time of the event, to the second.
	Time time.Time
}

// Event kinds eso-bridge acts on.
const (
	// KindLabelUpdated is Secrets Manager's own event: a staging label other
	// than AWSPENDING and AWSPREVIOUS moved. It needs no CloudTrail trail.
	KindLabelUpdated = "Secret Label Updated"
	// The CloudTrail-based events (detail-type "AWS API Call via CloudTrail"
	// or "AWS Service Event via CloudTrail"), by event name.
	KindPutSecretValue           = "PutSecretValue"
	KindUpdateSecretVersionStage = "UpdateSecretVersionStage"
	KindRotationSucceeded        = "RotationSucceeded"
	// KindParameterChange is Parameter Store's own event of a parameter's
	// creation, update, label move or deletion.
	KindParameterChange = "Parameter Store Change"
)

// ErrNotSecretsManager marks a well-formed EventBridge event that is not one
// of the Secrets Manager events eso-bridge acts on: the queue's rule lets
// more through than it needs. It is not malformed.
var ErrNotSecretsManager = errors.New("not a Secrets Manager rotation or Parameter Store change event")

// envelope is an EventBridge event with the detail fields eso-bridge reads.
// requestParameters and responseElements are CloudTrail's record of the
// call; secretString and secretBinary are masked there, and not read here.
type envelope struct {
	ID         string    `json:"id"`
	Source     string    `json:"source"`
	DetailType string    `json:"detail-type"`
	Region     string    `json:"region"`
	Time       time.Time `json:"time"`
	Resources  []string  `json:"resources"`
	Detail     *struct {
		// Secret Label Updated
		Name         string `json:"name"`
		LabelUpdated string `json:"labelUpdated"`
		VersionID    string `json:"versionId"`
		// CloudTrail
		EventName         string `json:"eventName"`
		EventSource       string `json:"eventSource"`
		ErrorCode         string `json:"errorCode"`
		RequestParameters *struct {
			SecretID        string   `json:"secretId"`
			VersionStage    string   `json:"versionStage"`
			VersionStages   []string `json:"versionStages"`
			MoveToVersionID string   `json:"moveToVersionId"`
		} `json:"requestParameters"`
		ResponseElements *struct {
			ARN           string   `json:"arn"`
			ARNBefore     string   `json:"aRN"` // the spelling of events before February 2024
			VersionID     string   `json:"versionId"`
			VersionStages []string `json:"versionStages"`
		} `json:"responseElements"`
		AdditionalEventData *struct {
			SecretID string `json:"SecretId"`
		} `json:"additionalEventData"`
	} `json:"detail"`
}

// ParseEvent reads an SQS message body that EventBridge wrote: the event
// itself, as a rule's target receives it without an input transformer. It
// returns ErrNotSecretsManager for a valid event of another kind, and
// another error for a body that is not an event at all. Errors never quote
// the body.
func ParseEvent(body string) (Event, error) {
	var e envelope
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		return Event{}, fmt.Errorf("not an EventBridge event: %s", jsonProblem(err))
	}
	if e.DetailType == "" || e.Source == "" || e.Detail == nil {
		return Event{}, errors.New("not an EventBridge event: no source, detail-type or detail")
	}
	if e.Source != "aws.secretsmanager" && e.Source != "aws.ssm" {
		return Event{}, fmt.Errorf("%w: source %q", ErrNotSecretsManager, truncate(e.Source))
	}
	if e.Region == "" {
		return Event{}, errors.New("the event names no region")
	}
	if e.Source == "aws.ssm" {
		return parameterEvent(e)
	}
	d := e.Detail
	out := Event{ID: e.ID, Region: e.Region, Time: e.Time}
	if len(e.Resources) > 0 && strings.HasPrefix(e.Resources[0], "arn:") {
		out.ARN = e.Resources[0]
	}
	switch e.DetailType {
	case KindLabelUpdated:
		out.Kind, out.Secret, out.Label, out.VersionID = KindLabelUpdated, d.Name, d.LabelUpdated, d.VersionID
		if out.Label == "" {
			return Event{}, errors.New("a Secret Label Updated event without labelUpdated")
		}
	case "AWS API Call via CloudTrail", "AWS Service Event via CloudTrail":
		if d.ErrorCode != "" {
			return Event{}, fmt.Errorf("%w: a failed %s call", ErrNotSecretsManager, truncate(d.EventName))
		}
		if d.ResponseElements != nil {
			out.ARN = firstOf(d.ResponseElements.ARN, d.ResponseElements.ARNBefore, out.ARN)
		}
		switch d.EventName {
		case KindPutSecretValue:
			// A put labels its version AWSCURRENT unless it names the
			// labels; with several, the event concerns every label.
			out.Kind, out.Label = KindPutSecretValue, LabelCurrent
			var stages []string
			if d.RequestParameters != nil {
				out.Secret, stages = d.RequestParameters.SecretID, d.RequestParameters.VersionStages
			}
			if d.ResponseElements != nil {
				out.VersionID = d.ResponseElements.VersionID
				stages = firstNonEmpty(d.ResponseElements.VersionStages, stages)
			}
			switch len(stages) {
			case 0:
			case 1:
				out.Label = stages[0]
			default:
				out.Label = ""
			}
		case KindUpdateSecretVersionStage:
			out.Kind = KindUpdateSecretVersionStage
			if d.RequestParameters != nil {
				out.Secret, out.Label, out.VersionID = d.RequestParameters.SecretID, d.RequestParameters.VersionStage, d.RequestParameters.MoveToVersionID
			}
		case KindRotationSucceeded:
			out.Kind = KindRotationSucceeded
			if d.AdditionalEventData != nil {
				out.Secret = d.AdditionalEventData.SecretID
			}
		default:
			return Event{}, fmt.Errorf("%w: CloudTrail event %q", ErrNotSecretsManager, truncate(d.EventName))
		}
	default:
		return Event{}, fmt.Errorf("%w: detail-type %q", ErrNotSecretsManager, truncate(e.DetailType))
	}
	out.Secret = firstOf(out.Secret, out.ARN)
	if out.Secret == "" {
		return Event{}, fmt.Errorf("a %s event that names no secret", out.Kind)
	}
	return out, nil
}

// Concerns reports whether the event can have moved label ("" for
// AWSCURRENT) of its secret: the label it names; AWSPREVIOUS too when it
// names AWSCURRENT (Secrets Manager moves AWSPREVIOUS with it); any label
// when it names none. A move of AWSPENDING (a rotation's first step)
// concerns only someone who reads AWSPENDING.
func (e Event) Concerns(label string) bool {
	label = stage(label)
	return e.Label == "" || e.Label == label || (e.Label == LabelCurrent && label == LabelPrevious)
}

// Names reports whether the event is about the secret key (a name or an
// ARN, as an ExternalSecret's remoteRef.key holds it).
func (e Event) Names(key string) bool {
	return key != "" && (key == e.Secret || key == e.ARN || key == nameOfARN(e.ARN) || key == nameOfARN(e.Secret))
}

// nameOfARN returns the secret name of a Secrets Manager ARN: the part after
// "secret:" without the six-character suffix AWS appends; "" for a name.
func nameOfARN(arn string) string {
	if partial := partialARN(arn); partial != "" {
		arn = partial
	}
	_, name, ok := strings.Cut(arn, ":secret:")
	if !strings.HasPrefix(arn, "arn:") || !ok {
		return ""
	}
	return name
}

func firstOf(values ...string) string {
	for _, v := range values {
		if v != "" {
			return v
		}
	}
	return ""
}

// truncate bounds a field quoted in an error: a field is not a secret value,
// but a garbled message should not flood the log.
func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}

// jsonProblem describes a JSON error without quoting the input.
func jsonProblem(err error) string {
	var syntax *json.SyntaxError
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		return fmt.Sprintf("invalid JSON at byte %d", syntax.Offset)
	case errors.As(err, &typeErr):
		return fmt.Sprintf("field %q has the wrong type", typeErr.Field)
	default:
		return "invalid JSON"
	}
}

// firstNonEmpty returns the first of lists that has elements.
func firstNonEmpty(lists ...[]string) []string {
	for _, l := range lists {
		if len(l) > 0 {
			return l
		}
	}
	return nil
}

// parameterEvent reads an event of source aws.ssm: a Parameter Store
// Change names its parameter, which may have a new version (or a label
// moved: it concerns every reader).
func parameterEvent(e envelope) (Event, error) {
	if e.DetailType != KindParameterChange {
		return Event{}, fmt.Errorf("%w: detail-type %q", ErrNotSecretsManager, truncate(e.DetailType))
	}
	if e.Detail.Name == "" {
		return Event{}, errors.New("a Parameter Store Change event that names no parameter")
	}
	out := Event{ID: e.ID, Kind: KindParameterChange, Region: e.Region, Time: e.Time, Service: ServiceParameterStore, Secret: e.Detail.Name}
	if len(e.Resources) > 0 && strings.HasPrefix(e.Resources[0], "arn:") {
		out.ARN = e.Resources[0]
	}
	return out, nil
}
