package dispatch

import (
	"context"
	"encoding/json"
	"log/slog"
	"testing"

	"github.com/livingprofile/livingprofile/shared/dsr"
)

// started records the jobs the dispatcher starts.
type started []dsr.JobMessage

func (s *started) Start(_ context.Context, _ dsr.Type, m dsr.JobMessage) error {
	*s = append(*s, m)
	return nil
}

// TestStartJob: a job is queued for a request.created event that does not hold it and for
// a request.released event; never for a held request (awaiting the person's confirmation
// or a cool-off), nor for types without a job or other events.
func TestStartJob(t *testing.T) {
	tests := []struct {
		name, event string
		payload     any
		want        bool
	}{
		{"created, verified", "request.created", dsr.CreatedEvent{ID: "rq_1", Type: dsr.Erasure, Verification: dsr.AttestedBrand}, true},
		{"created, held", "request.created", dsr.CreatedEvent{ID: "rq_1", Type: dsr.Erasure, Hold: true}, false},
		{"created, held export", "request.created", dsr.CreatedEvent{ID: "rq_1", Type: dsr.Access, Hold: true}, false},
		{"released", "request.released", map[string]any{"id": "rq_1", "type": "access", "status": "pending"}, true},
		{"confirmed into a cool-off", "request.confirmed", map[string]any{"id": "rq_1", "type": "erasure"}, false},
		{"no job", "request.created", dsr.CreatedEvent{ID: "rq_1", Type: dsr.Rectification}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s started
			d := New(nil, nil, &s, slog.New(slog.DiscardHandler))
			b, _ := json.Marshal(tt.payload)
			if err := d.startJob(context.Background(), "demo", tt.event, b); err != nil {
				t.Fatal(err)
			}
			if got := len(s) == 1; got != tt.want {
				t.Fatalf("started %v, want %v", s, tt.want)
			}
		})
	}
}
