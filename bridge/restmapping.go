package bridge

import (
	"net/http"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// newMapper is controller-runtime's discovery-backed REST mapper, with the
// mappings it found kept (mappingCache).
func newMapper(cfg *rest.Config, httpClient *http.Client) (meta.RESTMapper, error) {
	mapper, err := apiutil.NewDynamicRESTMapper(cfg, httpClient)
	if err != nil {
		return nil, err
	}
	return &mappingCache{RESTMapper: mapper}, nil
}

// mappingCache keeps the REST mappings its mapper found. The cache of a
// set of namespaces and the typed client ask for one on every List and
// every write (is the kind namespaced?), and controller-runtime's mapper
// answers by asking each API group's mapper in turn, building a no-match
// error for each that does not know the kind: about a tenth of the
// controller's CPU per change (a profile of BenchmarkBesideReloader). The
// few kinds eso-bridge reads keep their mapping while the process lives;
// a kind not found yet is asked again each time, so a CRD installed later
// is found.
type mappingCache struct {
	meta.RESTMapper
	found sync.Map // mappingKey → *meta.RESTMapping
}

// mappingKey names one RESTMapping question.
type mappingKey struct {
	kind     schema.GroupKind
	versions string
}

// RESTMapping implements meta.RESTMapper.
func (c *mappingCache) RESTMapping(kind schema.GroupKind, versions ...string) (*meta.RESTMapping, error) {
	key := mappingKey{kind, strings.Join(versions, ",")}
	if found, ok := c.found.Load(key); ok {
		return found.(*meta.RESTMapping), nil
	}
	mapping, err := c.RESTMapper.RESTMapping(kind, versions...)
	if err != nil {
		return nil, err
	}
	c.found.Store(key, mapping)
	return mapping, nil
}
