package transparency

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/livingprofile/livingprofile/shared/catalog"
)

// TestLabels: English and Polish have the same labels with the same placeholders, and
// every legal basis, recipient kind and safeguard has one.
func TestLabels(t *testing.T) {
	en, pl := slices.Sorted(maps.Keys(labels["en"])), slices.Sorted(maps.Keys(labels["pl"]))
	if !slices.Equal(en, pl) {
		t.Fatalf("label keys differ:\nen %v\npl %v", en, pl)
	}
	for _, k := range en {
		if strings.Count(labels["en"][k], "%") != strings.Count(labels["pl"][k], "%") {
			t.Errorf("%s: placeholders differ", k)
		}
	}
	var need []string
	for _, b := range []catalog.LegalBasis{catalog.Consent, catalog.Contract, catalog.LegalObligation, catalog.VitalInterests, catalog.PublicTask, catalog.LegitimateInterests} {
		need = append(need, "basis."+string(b))
	}
	for _, k := range []catalog.RecipientKind{catalog.Processor, catalog.ThirdPartyController, catalog.PublicAuthority} {
		need = append(need, "kind."+string(k))
	}
	for _, s := range []catalog.Safeguard{catalog.AdequacyDecision, catalog.SCCs, catalog.BCRs, catalog.Derogation} {
		need = append(need, "safeguard."+string(s))
	}
	for _, k := range append(need, columns...) {
		if labels["en"][k] == "" {
			t.Errorf("no label %s", k)
		}
	}
	if Label("de", "none") != "none" || Label("pl", "none") != "brak" {
		t.Error("Label does not fall back to English")
	}
}
