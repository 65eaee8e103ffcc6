package workload

import (
	"encoding/json"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// BenchmarkDecodeDeployment measures the CPU and garbage of decoding a
// Deployment into a record, from protobuf (what controller-runtime asks for
// built-in kinds) and from JSON, against client-go's whole struct.
func BenchmarkDecodeDeployment(b *testing.B) {
	d := apiDeployment()
	raw, err := json.Marshal(d)
	if err != nil {
		b.Fatal(err)
	}
	wire, err := d.Marshal()
	if err != nil {
		b.Fatal(err)
	}
	b.Run("record from JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r DeploymentRecord
			if err := json.Unmarshal(raw, &r); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("record from protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var r DeploymentRecord
			if err := r.Unmarshal(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole from JSON", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var whole appsv1.Deployment
			if err := json.Unmarshal(raw, &whole); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("whole from protobuf", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var whole appsv1.Deployment
			if err := whole.Unmarshal(wire); err != nil {
				b.Fatal(err)
			}
		}
	})
}
