package controlplane

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ApplyOptions tune ApplyYAML.
type ApplyOptions struct {
	// Namespace is set on namespaced objects that name none.
	Namespace string
	// DryRun asks the API server to validate and admit everything, and store nothing.
	DryRun bool
	// FieldOwner is the server-side apply field manager; "eso-bridge" when empty.
	FieldOwner string
}

// ApplyYAML applies every object of a multi-document YAML stream with
// server-side apply, as `kubectl apply --server-side` does, and returns them.
// An error names the object that failed.
func ApplyYAML(ctx context.Context, c client.Client, manifest []byte, opts ApplyOptions) ([]*unstructured.Unstructured, error) {
	objects, err := DecodeYAML(manifest)
	if err != nil {
		return nil, err
	}
	return objects, ApplyObjects(ctx, c, objects, opts)
}

// ApplyObjects applies objects with server-side apply, in order.
func ApplyObjects(ctx context.Context, c client.Client, objects []*unstructured.Unstructured, opts ApplyOptions) error {
	owner := opts.FieldOwner
	if owner == "" {
		owner = "eso-bridge"
	}
	patchOpts := []client.PatchOption{client.FieldOwner(owner), client.ForceOwnership}
	if opts.DryRun {
		patchOpts = append(patchOpts, client.DryRunAll)
	}
	for _, obj := range objects {
		if opts.Namespace != "" && obj.GetNamespace() == "" {
			namespaced, err := c.IsObjectNamespaced(obj)
			if err != nil {
				return fmt.Errorf("%s %s: %w", obj.GetKind(), obj.GetName(), err)
			}
			if namespaced {
				obj.SetNamespace(opts.Namespace)
			}
		}
		if err := c.Patch(ctx, obj, client.Apply, patchOpts...); err != nil {
			return fmt.Errorf("applying %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	return nil
}

// DecodeYAML splits a multi-document YAML stream into objects, skipping
// empty documents.
func DecodeYAML(manifest []byte) ([]*unstructured.Unstructured, error) {
	decoder := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objects []*unstructured.Unstructured
	for {
		obj := &unstructured.Unstructured{}
		err := decoder.Decode(&obj.Object)
		if errors.Is(err, io.EOF) {
			return objects, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding YAML: %w", err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		objects = append(objects, obj)
	}
}
