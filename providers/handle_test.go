package providers

import "testing"

// A handle gives its Ref back whole, equal Refs share one handle, and Refs
// that differ in any field — the store included, which the handle keeps
// apart from the rest — have different ones.
func TestHandleGivesItsRefBack(t *testing.T) {
	refs := []Ref{
		{Store: "aws/eu-west-1/arn:aws:iam::123456789012:role/reader", Key: "team/db"},
		{Store: "aws/eu-west-1/arn:aws:iam::123456789012:role/reader", Key: "team/db", Label: "blue"},
		{Store: "aws/us-east-1/", Key: "team/db"},
		{Store: "aws/us-east-1/", NameRegexp: "^team/", Path: "team/", Tags: "env=prod"},
		{},
	}
	for i, r := range refs {
		if got := r.Handle().Value(); got != r {
			t.Errorf("%+v came back as %+v", r, got)
		}
		copied := Ref{Store: string([]byte(r.Store)), Key: string([]byte(r.Key)), Label: r.Label, NameRegexp: r.NameRegexp, Path: r.Path, Tags: r.Tags}
		if copied.Handle() != r.Handle() {
			t.Errorf("equal refs %+v have different handles", r)
		}
		for _, other := range refs[i+1:] {
			if other.Handle() == r.Handle() {
				t.Errorf("%+v and %+v share a handle", r, other)
			}
		}
	}
}
