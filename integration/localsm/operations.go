package localsm

import (
	"encoding/json"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// decode reads an operation's input.
func decode(body []byte, into any) error {
	if err := json.Unmarshal(body, into); err != nil {
		return &apiError{http.StatusBadRequest, "SerializationException", err.Error()}
	}
	return nil
}

// lookup finds a live secret by name or ARN.
func (s *Server) lookup(id string) (*secret, error) {
	if id == "" {
		return nil, invalidParameter("SecretId is required")
	}
	if s.faults.denied[id] {
		return nil, &apiError{http.StatusBadRequest, "AccessDeniedException", "User is not authorized to access this resource: " + id}
	}
	if sec, ok := s.secrets[id]; ok {
		return sec, nil
	}
	for _, sec := range s.secrets {
		// A full ARN, or a partial one: without the six random characters.
		if sec.arn == id || sec.arn[:len(sec.arn)-7] == id {
			return sec, nil
		}
	}
	return nil, notFound(id)
}

// live finds a secret by name or ARN that is not scheduled for deletion:
// as in AWS, only DescribeSecret (and DeleteSecret) may touch one that is.
func (s *Server) live(id string) (*secret, error) {
	sec, err := s.lookup(id)
	if err == nil && !sec.deleted.IsZero() {
		return nil, &apiError{http.StatusBadRequest, "InvalidRequestException", "You can't perform this operation on the secret because it was marked for deletion."}
	}
	return sec, err
}

type createSecretInput struct {
	Name               string
	Description        string
	SecretString       *string
	SecretBinary       []byte
	ClientRequestToken string
	Tags               []tag
}

func (s *Server) createSecret(body []byte) (any, error) {
	var in createSecretInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if in.Name == "" {
		return nil, invalidParameter("Name is required")
	}
	if _, exists := s.secrets[in.Name]; exists {
		return nil, &apiError{http.StatusBadRequest, "ResourceExistsException", "the secret " + in.Name + " already exists"}
	}
	now := s.now()
	sec := &secret{name: in.Name, arn: arnFor(s.region, s.account, in.Name), description: in.Description, tags: in.Tags,
		created: now, lastChanged: now, versions: map[string]*version{}}
	s.secrets[in.Name] = sec
	out := map[string]any{"ARN": sec.arn, "Name": sec.name}
	if in.SecretString != nil || in.SecretBinary != nil {
		id := in.ClientRequestToken
		if id == "" {
			id = newVersionID()
		}
		sec.addVersion(id, deref(in.SecretString), in.SecretBinary, []string{labelCurrent}, now)
		out["VersionId"] = id
	}
	return out, nil
}

type putSecretValueInput struct {
	SecretId           string
	SecretString       *string
	SecretBinary       []byte
	ClientRequestToken string
	VersionStages      []string
}

// putSecretValue stores a new version. Without VersionStages it becomes
// AWSCURRENT (the old current becomes AWSPREVIOUS); with them, only those
// labels move — a rotation Lambda's createSecret puts AWSPENDING this way. A
// repeated ClientRequestToken with the same value changes nothing.
func (s *Server) putSecretValue(body []byte) (any, error) {
	var in putSecretValueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.SecretString == nil && in.SecretBinary == nil {
		return nil, invalidParameter("you must provide either SecretString or SecretBinary")
	}
	labels := in.VersionStages
	if len(labels) == 0 {
		labels = []string{labelCurrent}
	}
	if existing, ok := sec.versions[in.ClientRequestToken]; ok {
		if existing.value != deref(in.SecretString) || string(existing.binary) != string(in.SecretBinary) {
			return nil, &apiError{http.StatusBadRequest, "ResourceExistsException", "a version with ClientRequestToken " + in.ClientRequestToken + " already exists with a different value"}
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": existing.id, "VersionStages": existing.labels}, nil
	}
	id := in.ClientRequestToken
	if id == "" {
		id = newVersionID()
	}
	v := sec.addVersion(id, deref(in.SecretString), in.SecretBinary, labels, s.now())
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.labels}, nil
}

type getSecretValueInput struct {
	SecretId     string
	VersionId    string
	VersionStage string
}

func (s *Server) getSecretValue(body []byte) (any, error) {
	var in getSecretValueInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	var v *version
	switch {
	case in.VersionId != "":
		v = sec.versions[in.VersionId]
		if v != nil && in.VersionStage != "" && !slices.Contains(v.labels, in.VersionStage) {
			return nil, invalidParameter("version %s does not have staging label %s", in.VersionId, in.VersionStage)
		}
	case in.VersionStage != "":
		v = sec.labelHolder(in.VersionStage)
	default:
		v = sec.labelHolder(labelCurrent)
	}
	if v == nil {
		return nil, &apiError{http.StatusBadRequest, "ResourceNotFoundException", "Secrets Manager can't find the specified secret value for VersionId: " + in.VersionId + " VersionStage: " + in.VersionStage}
	}
	return valueEntry(sec, v), nil
}

// valueEntry is one secret value as GetSecretValue and BatchGetSecretValue return it.
func valueEntry(sec *secret, v *version) map[string]any {
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "VersionId": v.id, "VersionStages": v.labels, "CreatedDate": epoch(v.created)}
	if v.binary != nil {
		out["SecretBinary"] = v.binary
	} else {
		out["SecretString"] = v.value
	}
	return out
}

type secretIDInput struct {
	SecretId string
}

func (s *Server) describeSecret(body []byte) (any, error) {
	var in secretIDInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.lookup(in.SecretId)
	if err != nil {
		return nil, err
	}
	return listEntry(sec, "VersionIdsToStages"), nil
}

// listEntry is the metadata of a secret, with its versions' labels under the
// key DescribeSecret (VersionIdsToStages) or ListSecrets (SecretVersionsToStages)
// uses.
func listEntry(sec *secret, versionsKey string) map[string]any {
	out := map[string]any{
		"ARN": sec.arn, "Name": sec.name, "CreatedDate": epoch(sec.created), "LastChangedDate": epoch(sec.lastChanged),
		versionsKey: sec.versionIDsToStages(),
	}
	if sec.description != "" {
		out["Description"] = sec.description
	}
	if !sec.deleted.IsZero() {
		out["DeletedDate"] = epoch(sec.deleted)
	}
	if len(sec.tags) > 0 {
		out["Tags"] = sec.tags
	}
	return out
}

type filter struct {
	Key    string
	Values []string
}

type listSecretsInput struct {
	MaxResults             int
	NextToken              string
	Filters                []filter
	IncludePlannedDeletion bool
}

// listSecrets pages through secrets sorted by name, at most 100 a page as in
// AWS. Filters on one key match any of their values; filters on several keys
// must all match.
func (s *Server) listSecrets(body []byte) (any, error) {
	var in listSecretsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	for _, f := range in.Filters {
		if !slices.Contains([]string{"name", "description", "tag-key", "tag-value", "all", "primary-region", "owning-service"}, f.Key) {
			return nil, invalidParameter("unknown filter key %q", f.Key)
		}
	}
	var matching []*secret
	for _, name := range sortedNames(s.secrets) {
		sec := s.secrets[name]
		if (sec.deleted.IsZero() || in.IncludePlannedDeletion) && matchesAll(sec, in.Filters) {
			matching = append(matching, sec)
		}
	}
	page, next, err := paginate(matching, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, 0, len(page))
	for _, sec := range page {
		list = append(list, listEntry(sec, "SecretVersionsToStages"))
	}
	out := map[string]any{"SecretList": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

func matchesAll(sec *secret, filters []filter) bool {
	for _, f := range filters {
		if !slices.ContainsFunc(f.Values, func(value string) bool { return matches(sec, f.Key, value) }) {
			return false
		}
	}
	return true
}

// matches applies one filter value: a prefix match (case-insensitive for
// description and all), negated by a leading "!".
func matches(sec *secret, key, value string) bool {
	if negated, ok := strings.CutPrefix(value, "!"); ok {
		return !matches(sec, key, negated)
	}
	prefix := func(candidates []string, fold bool) bool {
		return slices.ContainsFunc(candidates, func(c string) bool {
			if fold {
				return strings.HasPrefix(strings.ToLower(c), strings.ToLower(value))
			}
			return strings.HasPrefix(c, value)
		})
	}
	var tagKeys, tagValues []string
	for _, t := range sec.tags {
		tagKeys, tagValues = append(tagKeys, t.Key), append(tagValues, t.Value)
	}
	switch key {
	case "name":
		return prefix([]string{sec.name}, false)
	case "description":
		return prefix([]string{sec.description}, true)
	case "tag-key":
		return prefix(tagKeys, false)
	case "tag-value":
		return prefix(tagValues, false)
	case "all":
		all := append(append([]string{sec.name, sec.description}, tagKeys...), tagValues...)
		return prefix(all, true)
	}
	return false // primary-region, owning-service: nothing here is replicated or service-owned
}

type batchGetInput struct {
	SecretIdList []string
	Filters      []filter
	MaxResults   int
	NextToken    string
}

// batchGetSecretValue returns the current values of the named secrets, or of
// those the filters match (ESO's dataFrom.find by tags or path uses it).
func (s *Server) batchGetSecretValue(body []byte) (any, error) {
	var in batchGetInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	if (len(in.SecretIdList) == 0) == (len(in.Filters) == 0) {
		return nil, invalidParameter("give either SecretIdList or Filters")
	}
	var selected []*secret
	var errs []map[string]any
	if len(in.SecretIdList) > 0 {
		for _, id := range in.SecretIdList {
			sec, err := s.live(id)
			if err != nil {
				errs = append(errs, map[string]any{"SecretId": id, "ErrorCode": "ResourceNotFoundException", "ErrorMessage": err.Error()})
				continue
			}
			selected = append(selected, sec)
		}
	} else {
		for _, name := range sortedNames(s.secrets) {
			if sec := s.secrets[name]; sec.deleted.IsZero() && matchesAll(sec, in.Filters) {
				selected = append(selected, sec)
			}
		}
	}
	max := in.MaxResults
	if max <= 0 || max > 20 {
		max = 20
	}
	page, next, err := paginate(selected, max, in.NextToken)
	if err != nil {
		return nil, err
	}
	values := make([]map[string]any, 0, len(page))
	for _, sec := range page {
		v := sec.labelHolder(labelCurrent)
		if v == nil {
			continue
		}
		values = append(values, valueEntry(sec, v))
	}
	out := map[string]any{"SecretValues": values, "Errors": errs}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

type listVersionsInput struct {
	SecretId   string
	MaxResults int
	NextToken  string
}

func (s *Server) listSecretVersionIDs(body []byte) (any, error) {
	var in listVersionsInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.lookup(in.SecretId)
	if err != nil {
		return nil, err
	}
	versions := make([]*version, 0, len(sec.order))
	for _, id := range sec.order {
		versions = append(versions, sec.versions[id])
	}
	page, next, err := paginate(versions, in.MaxResults, in.NextToken)
	if err != nil {
		return nil, err
	}
	list := make([]map[string]any, 0, len(page))
	for _, v := range page {
		entry := map[string]any{"VersionId": v.id, "CreatedDate": epoch(v.created)}
		if len(v.labels) > 0 {
			entry["VersionStages"] = v.labels
		}
		list = append(list, entry)
	}
	out := map[string]any{"ARN": sec.arn, "Name": sec.name, "Versions": list}
	if next != "" {
		out["NextToken"] = next
	}
	return out, nil
}

type updateStageInput struct {
	SecretId            string
	VersionStage        string
	MoveToVersionId     string
	RemoveFromVersionId string
}

// updateSecretVersionStage moves a label, as a rotation Lambda's finishSecret
// does with AWSCURRENT. As in AWS, moving a label that is attached elsewhere
// requires naming that version in RemoveFromVersionId.
func (s *Server) updateSecretVersionStage(body []byte) (any, error) {
	var in updateStageInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.live(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.VersionStage == "" {
		return nil, invalidParameter("VersionStage is required")
	}
	holder := sec.labelHolder(in.VersionStage)
	if in.RemoveFromVersionId != "" && (holder == nil || holder.id != in.RemoveFromVersionId) {
		return nil, invalidParameter("the staging label %s is not attached to version %s", in.VersionStage, in.RemoveFromVersionId)
	}
	if in.MoveToVersionId == "" {
		if holder != nil {
			holder.labels = slices.DeleteFunc(holder.labels, func(l string) bool { return l == in.VersionStage })
			sec.lastChanged = s.now()
		}
		return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
	}
	target, ok := sec.versions[in.MoveToVersionId]
	if !ok {
		return nil, invalidParameter("version %s does not exist", in.MoveToVersionId)
	}
	if holder != nil && holder != target && in.RemoveFromVersionId == "" {
		return nil, invalidParameter("the staging label %s is attached to version %s; name it in RemoveFromVersionId to move it", in.VersionStage, holder.id)
	}
	sec.moveLabel(in.VersionStage, target, s.now())
	return map[string]any{"ARN": sec.arn, "Name": sec.name}, nil
}

type deleteSecretInput struct {
	SecretId                   string
	ForceDeleteWithoutRecovery bool
	RecoveryWindowInDays       int
}

// deleteSecret removes a secret at once with ForceDeleteWithoutRecovery;
// otherwise it schedules the deletion, as AWS does: the secret stays,
// described with its DeletedDate and left out of listings, and nothing
// else may touch it (nothing here restores it, or deletes it later).
func (s *Server) deleteSecret(body []byte) (any, error) {
	var in deleteSecretInput
	if err := decode(body, &in); err != nil {
		return nil, err
	}
	sec, err := s.lookup(in.SecretId)
	if err != nil {
		return nil, err
	}
	if in.ForceDeleteWithoutRecovery && in.RecoveryWindowInDays != 0 {
		return nil, invalidParameter("ForceDeleteWithoutRecovery and RecoveryWindowInDays are mutually exclusive")
	}
	if in.ForceDeleteWithoutRecovery {
		delete(s.secrets, sec.name)
	} else if sec.deleted.IsZero() {
		sec.deleted = s.now()
	} else {
		return nil, &apiError{http.StatusBadRequest, "InvalidRequestException", "The secret is already scheduled for deletion."}
	}
	days := in.RecoveryWindowInDays
	if days == 0 && !in.ForceDeleteWithoutRecovery {
		days = 30
	}
	return map[string]any{"ARN": sec.arn, "Name": sec.name, "DeletionDate": epoch(s.now().Add(time.Duration(days) * 24 * time.Hour))}, nil
}

// paginate returns one page of items and the token of the next. Tokens are
// offsets; AWS's are opaque, and callers treat them so.
func paginate[T any](items []T, max int, token string) ([]T, string, error) {
	if max <= 0 || max > 100 {
		max = 100
	}
	start := 0
	if token != "" {
		n, err := strconv.Atoi(token)
		if err != nil || n < 0 || n > len(items) {
			return nil, "", invalidParameter("invalid NextToken")
		}
		start = n
	}
	end := min(start+max, len(items))
	next := ""
	if end < len(items) {
		next = strconv.Itoa(end)
	}
	return items[start:end], next, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
